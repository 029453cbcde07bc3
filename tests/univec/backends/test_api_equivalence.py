"""``Encoder.api`` returns what ``Encoder.local`` computes, through a real HTTP server.

The server (``jina_api_server``) answers with vectors computed by the tiny local checkpoint, so
the API client's payload, base64 decoding, ordering and splitting are checked end to end.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

import univec

TEXTS = [
    "The cat sat on the mat.",
    "Paris is the capital of France.",
    "def add(a, b):\n    return a + b",
    "A much longer passage about embeddings, retrieval, and the late interaction of tokens.",
]
TASKS = ["retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage"]


@pytest.fixture
def mixed_inputs(jina_api_server, golden_images):
    """Text and images in every form the client sends: path, bytes, PIL and URL."""
    from PIL import Image as PILImage

    first, second = golden_images
    jina_api_server.images["second.png"] = second.read_bytes()
    pil = PILImage.open(io.BytesIO(first.read_bytes()))
    pil.load()
    return [
        TEXTS[0],
        univec.Image(first),
        univec.Image(second.read_bytes()),
        TEXTS[1],
        univec.Image(pil),
        univec.Image(jina_api_server.image_url("second.png"), allow_private_network=True),
    ]


@pytest.mark.parametrize("task", TASKS)
def test_text_single_vectors_match_local(api_encoder, tiny_encoder, jina_api_server, task):
    got = api_encoder.encode(TEXTS, task=task)
    want = tiny_encoder.encode(TEXTS, task=task)
    assert got.shape == want.shape == (len(TEXTS), 64) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, atol=1e-6)
    (request,) = jina_api_server.embedding_requests
    assert request.json == {
        "model": "jina-embeddings-v4",
        "input": TEXTS,
        "task": task,
        "embedding_type": "base64",
        "truncate": True,
        "return_multivector": False,
    }


@pytest.mark.parametrize("dimensions", [16, 32])
def test_matryoshka_dimensions_match_local(api_encoder, tiny_encoder, jina_api_server, dimensions):
    got = api_encoder.encode(TEXTS, task="retrieval.passage", dimensions=dimensions)
    want = tiny_encoder.encode(TEXTS, task="retrieval.passage", dimensions=dimensions)
    assert got.shape == (len(TEXTS), dimensions)
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert jina_api_server.embedding_requests[0].json["dimensions"] == dimensions


def test_images_match_local(
    api_encoder, tiny_encoder, jina_api_server, mixed_inputs, golden_images
):
    got = api_encoder.encode(mixed_inputs, task="retrieval.passage")
    local_inputs = [
        univec.Image(golden_images[1])
        if isinstance(item, univec.Image) and item.kind == "url"
        else item
        for item in mixed_inputs
    ]
    want = tiny_encoder.encode(local_inputs, task="retrieval.passage")
    np.testing.assert_allclose(got, want, atol=1e-5)
    # The same image sent as a path, as bytes and by URL gives the same vector.
    np.testing.assert_allclose(got[2], got[5], atol=1e-6)
    sent = jina_api_server.embedding_requests[0].json["input"]
    assert sent[0] == TEXTS[0] and sent[3] == TEXTS[1]
    assert base64.b64decode(sent[1]["image"]) == golden_images[0].read_bytes()
    assert base64.b64decode(sent[2]["image"]) == golden_images[1].read_bytes()
    assert sent[5] == {"image": jina_api_server.image_url("second.png")}
    assert base64.b64decode(sent[4]["image"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_multivectors_match_local(
    api_encoder, tiny_encoder, jina_api_server, mixed_inputs, golden_images
):
    inputs = mixed_inputs[:4]
    got = api_encoder.encode(inputs, task="code.query", multivector=True)
    want = tiny_encoder.encode(inputs, task="code.query", multivector=True)
    assert [m.shape for m in got] == [m.shape for m in want]
    assert all(m.shape[1] == 128 for m in got)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    body = jina_api_server.embedding_requests[0].json
    assert body["return_multivector"] is True and "dimensions" not in body


def test_encode_both_matches_local(api_encoder, tiny_encoder, jina_api_server):
    got = api_encoder.encode_both(TEXTS, task="retrieval.query", dimensions=32)
    want = tiny_encoder.encode_both(TEXTS, task="retrieval.query", dimensions=32)
    np.testing.assert_allclose(got.dense, want.dense, atol=1e-6)
    for a, b in zip(got.multi, want.multi, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert len(jina_api_server.embedding_requests) == 2  # one per kind of output
    assert got.usage.total_tokens > 0


async def test_aencode_matches_local(api_encoder, tiny_encoder):
    got = await api_encoder.aencode(TEXTS, task="text-matching", dimensions=16)
    np.testing.assert_allclose(
        got, tiny_encoder.encode(TEXTS, task="text-matching", dimensions=16), atol=1e-6
    )


def test_split_requests_match_local(jina_api_server, tiny_encoder):
    import dataclasses

    info = dataclasses.replace(tiny_encoder.info, name="jina-embeddings-v4")
    inputs = [f"sentence {i} about topic {i % 7}" for i in range(23)]
    options = {"max_batch_size": 5, "max_concurrency": 3, "model_info": info}
    with univec.Encoder.api("test-key", base_url=jina_api_server.base_url, **options) as encoder:
        got = encoder.encode(inputs, task="retrieval.passage")
    assert sorted(len(r.json["input"]) for r in jina_api_server.embedding_requests) == [
        3,
        5,
        5,
        5,
        5,
    ]
    np.testing.assert_allclose(
        got, tiny_encoder.encode(inputs, task="retrieval.passage"), atol=1e-6
    )
