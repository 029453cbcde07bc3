"""Late chunking on both backends (``encode(chunks, task, late_chunking=True)``).

The local expectations are computed here from the full-sequence hidden states of the model
and the tokenizer's offset mapping, with the SPEC's rules re-implemented independently.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import univec
from univec.errors import InvalidArgumentError, InvalidInputError

CHUNKS = [
    "Berlin is the capital of Germany.",
    " It has 3.8 million inhabitants.",
    " The city lies on the Spree.",
]


def hidden_rows(backend, ids: list[int]) -> np.ndarray:
    with torch.inference_mode():
        tensor = torch.tensor([ids])
        return backend.model.hidden_states(tensor, torch.ones_like(tensor))[0].float().numpy()


def expected_vectors(backend, chunks, prefix, window=None):
    """Mean of each chunk's token rows: prefix tokens to the first chunk, every other token to
    the chunk its first character lies in (the chunks here carry their own separators)."""
    text = "".join(chunks)
    encoding = backend.preprocessor.tokenizer.encode(prefix + text, add_special_tokens=False)
    window = window or len(encoding.ids)
    rows = np.concatenate(
        [
            hidden_rows(backend, encoding.ids[i : i + window])
            for i in range(0, len(encoding.ids), window)
        ]
    )
    bounds = np.cumsum([len(prefix)] + [len(c) for c in chunks])
    owner = [
        min(int(np.searchsorted(bounds, start, side="right")) - 1, len(chunks) - 1)
        for start, _ in encoding.offsets
    ]
    owner = [max(0, o) for o in owner]
    vectors = np.stack([rows[[t for t, o in enumerate(owner) if o == c]].mean(0) for c in range(3)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), owner


def count_forward_passes(monkeypatch, backend) -> list[int]:
    calls: list[int] = []
    original = backend.model.hidden_states

    def counting(input_ids, attention_mask, **kwargs):
        calls.append(int(input_ids.shape[1]))
        return original(input_ids, attention_mask, **kwargs)

    monkeypatch.setattr(backend.model, "hidden_states", counting)
    return calls


def test_local_chunks_pool_their_tokens_in_one_forward_pass(tiny_encoder, monkeypatch):
    backend = tiny_encoder.backend
    calls = count_forward_passes(monkeypatch, backend)
    vectors = tiny_encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
    assert len(calls) == 1  # one forward pass for the whole document
    monkeypatch.undo()
    expected, owner = expected_vectors(backend, CHUNKS, "Passage: ")
    np.testing.assert_allclose(vectors, expected, atol=1e-5)
    # The prefix "Passage: " is pooled into the first chunk; the last token into the last.
    assert owner[0] == 0 and owner[-1] == 2
    assert calls[0] == len(owner)
    # Late chunks differ from chunks encoded alone (they saw the whole document).
    alone = tiny_encoder.encode(CHUNKS, "retrieval.passage")
    assert not np.allclose(vectors[1], alone[1], atol=1e-3)


def test_local_single_chunk_equals_plain_encoding(tiny_encoder):
    late = tiny_encoder.encode(CHUNKS[:1], "retrieval.query", late_chunking=True, dimensions=32)
    plain = tiny_encoder.encode(CHUNKS[:1], "retrieval.query", dimensions=32)
    np.testing.assert_allclose(late, plain, atol=1e-5)


def test_local_long_document_runs_in_windows(tiny_model_path, monkeypatch):
    encoder = univec.Encoder.local(
        str(tiny_model_path), device="cpu", dtype="float32", max_length=8
    )
    try:
        backend = encoder.backend
        calls = count_forward_passes(monkeypatch, backend)
        vectors = encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
        monkeypatch.undo()
        total = len(backend.preprocessor.tokenizer.encode("Passage: " + "".join(CHUNKS)).ids)
        assert calls == [8] * (total // 8) + ([total % 8] if total % 8 else [])
        expected, _ = expected_vectors(backend, CHUNKS, "Passage: ", window=8)
        np.testing.assert_allclose(vectors, expected, atol=1e-5)
    finally:
        encoder.close()


def test_chunks_without_whitespace_are_joined_with_a_space():
    text, starts = univec.late_chunking.join_chunks(["one.", "two.", " three"])
    assert text == "one. two. three" and starts == [0, 5, 9]


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (lambda e: e.encode(["a", 3], "retrieval.passage", late_chunking=True), InvalidInputError),
        (lambda e: e.encode(["a", ""], "retrieval.passage", late_chunking=True), InvalidInputError),
        (
            lambda e: e.encode(["a"], "retrieval.passage", multivector=True, late_chunking=True),
            InvalidArgumentError,
        ),
    ],
)
def test_refusals(tiny_encoder, call, error):
    with pytest.raises(error):
        call(tiny_encoder)


def test_images_are_refused(tiny_encoder, golden_images):
    with pytest.raises(InvalidInputError, match="text only"):
        tiny_encoder.encode(
            ["a", univec.Image(golden_images[0])], "text-matching", late_chunking=True
        )


def test_api_sends_late_chunking_true_and_maps_the_answer(
    api_encoder, jina_api_server, tiny_encoder
):
    vectors = api_encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
    (request,) = jina_api_server.embedding_requests
    assert request.json["late_chunking"] is True
    assert request.json["input"] == CHUNKS and request.json["return_multivector"] is False
    local = tiny_encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
    np.testing.assert_allclose(vectors, local, atol=1e-6)
    api_encoder.encode(CHUNKS, "retrieval.passage")
    assert "late_chunking" not in jina_api_server.embedding_requests[-1].json


def test_api_keeps_a_document_in_one_request(jina_api_server, tiny_encoder):
    import dataclasses

    info = dataclasses.replace(tiny_encoder.info, name="jina-embeddings-v4")
    encoder = univec.Encoder.api(
        "test-key", base_url=jina_api_server.base_url, model_info=info, max_batch_size=2
    )
    with encoder:
        encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
        assert len(jina_api_server.embedding_requests) == 1
        with pytest.raises(InvalidInputError, match="at most 512 inputs"):
            encoder.encode(["x"] * 513, "retrieval.passage", late_chunking=True)
    assert len(jina_api_server.embedding_requests) == 1


def test_embed_chunks_helper(tiny_encoder):
    document = "First sentence here. Second one is longer than that. Third! Fourth?"
    chunks = univec.late_chunking.embed_chunks(tiny_encoder, document, max_chars=30)
    assert "".join(c.text for c in chunks) == document
    assert all(document[c.start : c.end] == c.text and len(c.text) <= 30 for c in chunks)
    assert [c.text for c in chunks][:2] == ["First sentence here. ", "Second one is longer than "]
    direct = tiny_encoder.encode([c.text for c in chunks], "retrieval.passage", late_chunking=True)
    np.testing.assert_array_equal(np.stack([c.vector for c in chunks]), direct)
    by_chars = univec.late_chunking.split_text("aaaa bbbb cccc", max_chars=6, by="character")
    assert by_chars == [(0, 5), (5, 10), (10, 14)]
