"""UnivecDocumentEmbedder: init, to_dict, from_dict, run (local and API), batching, wrong input."""

from __future__ import annotations

import numpy as np
import pytest
from haystack import Document
from haystack.utils import Secret

from haystack_integrations.components.embedders.univec import UnivecDocumentEmbedder
from tests.support.spies import count_encode_calls

TYPE = "haystack_integrations.components.embedders.univec.document_embedder.UnivecDocumentEmbedder"
TEXTS = ["Paris is the capital of France.", "return a + b", "Berlin is in Germany."]


def _documents() -> list[Document]:
    return [Document(content=text, meta={"title": f"T{i}"}) for i, text in enumerate(TEXTS)]


def test_init_defaults() -> None:
    embedder = UnivecDocumentEmbedder()
    assert (embedder.batch_size, embedder.progress_bar) == (32, True)
    assert (embedder.meta_fields_to_embed, embedder.embedding_separator) == ([], "\n")


def test_to_dict_and_from_dict_round_trip() -> None:
    embedder = UnivecDocumentEmbedder(
        backend="local",
        model="some/dir",
        device="cpu",
        dtype="float32",
        max_length=512,
        task="code",
        dimensions=32,
        batch_size=4,
        progress_bar=False,
        meta_fields_to_embed=["title"],
        embedding_separator=" | ",
    )
    data = embedder.to_dict()
    assert data["type"] == TYPE
    assert data["init_parameters"] == {
        "backend": "local",
        "model": "some/dir",
        "device": "cpu",
        "dtype": "float32",
        "max_length": 512,
        "api_key": {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": False},
        "base_url": None,
        "encoder_options": None,
        "task": "code",
        "dimensions": 32,
        "batch_size": 4,
        "progress_bar": False,
        "meta_fields_to_embed": ["title"],
        "embedding_separator": " | ",
        "late_chunking": False,
    }
    loaded = UnivecDocumentEmbedder.from_dict(data)
    assert loaded.to_dict() == data
    assert loaded.api_key == Secret.from_env_var("JINA_API_KEY", strict=False)


@pytest.mark.parametrize(
    ("family", "task"),
    [
        ("retrieval", "retrieval.passage"),
        ("code", "code.passage"),
        ("text-matching", "text-matching"),
    ],
)
def test_run_matches_encoder_passage_task(tiny_encoder, family: str, task: str) -> None:
    documents = _documents()
    embedder = UnivecDocumentEmbedder(encoder=tiny_encoder, task=family, progress_bar=False)

    result = embedder.run(documents)["documents"]

    np.testing.assert_allclose(
        [d.embedding for d in result], tiny_encoder.encode(TEXTS, task), atol=1e-6
    )
    assert [d.id for d in result] == [d.id for d in documents]
    assert all(d.embedding is None for d in documents)  # inputs are not modified


def test_meta_fields_are_embedded_with_the_separator(tiny_encoder) -> None:
    documents = [*_documents(), Document(content=None, meta={"title": "only a title"})]
    embedder = UnivecDocumentEmbedder(
        encoder=tiny_encoder,
        meta_fields_to_embed=["title", "missing"],
        embedding_separator=" | ",
        progress_bar=False,
    )

    result = embedder.run(documents)["documents"]

    texts = [f"T{i} | {text}" for i, text in enumerate(TEXTS)] + ["only a title | "]
    expected = tiny_encoder.encode(texts, "retrieval.passage")
    np.testing.assert_allclose([d.embedding for d in result], expected, atol=1e-6)


def test_batches_and_progress_bar(tiny_encoder, monkeypatch, capsys) -> None:
    expected = tiny_encoder.encode(TEXTS, "retrieval.passage")
    sizes = count_encode_calls(tiny_encoder, monkeypatch)
    embedder = UnivecDocumentEmbedder(encoder=tiny_encoder, batch_size=2, progress_bar=True)

    result = embedder.run(_documents())["documents"]

    assert sizes == [2, 1]
    assert "Embedding" in capsys.readouterr().err
    np.testing.assert_allclose([d.embedding for d in result], expected, atol=1e-6)
    embedder.progress_bar = False
    embedder.run(_documents())
    assert "Embedding" not in capsys.readouterr().err


def test_run_built_from_config(tiny_encoder, tiny_model_path) -> None:
    embedder = UnivecDocumentEmbedder(
        backend="local", model=str(tiny_model_path), device="cpu", dimensions=32, progress_bar=False
    )
    result = embedder.run(_documents())["documents"]
    expected = tiny_encoder.encode(TEXTS, "retrieval.passage", dimensions=32)
    np.testing.assert_allclose([d.embedding for d in result], expected, atol=1e-6)


async def test_run_async_matches_encoder(tiny_encoder) -> None:
    embedder = UnivecDocumentEmbedder(
        encoder=tiny_encoder, task="code", batch_size=2, progress_bar=False
    )
    result = (await embedder.run_async(_documents()))["documents"]
    np.testing.assert_allclose(
        [d.embedding for d in result], tiny_encoder.encode(TEXTS, "code.passage"), atol=1e-6
    )


async def test_api_backend_from_config(
    jina_api_server, api_encoder, tiny_encoder, monkeypatch
) -> None:
    monkeypatch.setenv("JINA_API_KEY", jina_api_server.api_key)
    embedder = UnivecDocumentEmbedder(
        backend="api",
        base_url=jina_api_server.base_url,
        encoder_options={"model_info": api_encoder.info},
        task="code",
        progress_bar=False,
    )
    expected = tiny_encoder.encode(TEXTS, "code.passage")

    np.testing.assert_allclose(
        [d.embedding for d in embedder.run(_documents())["documents"]], expected, atol=1e-6
    )
    result = (await embedder.run_async(_documents()))["documents"]
    np.testing.assert_allclose([d.embedding for d in result], expected, atol=1e-6)
    assert {r.json["task"] for r in jina_api_server.embedding_requests} == {"code.passage"}


def test_api_encoder_matches_local(api_encoder, tiny_encoder) -> None:
    embedder = UnivecDocumentEmbedder(encoder=api_encoder, dimensions=16, progress_bar=False)
    result = embedder.run(_documents())["documents"]
    expected = tiny_encoder.encode(TEXTS, "retrieval.passage", dimensions=16)
    np.testing.assert_allclose([d.embedding for d in result], expected, atol=1e-6)


@pytest.mark.parametrize("bad", ["a string", [Document(content="ok"), "not a document"], None])
async def test_wrong_input_is_a_type_error(tiny_encoder, bad: object) -> None:
    embedder = UnivecDocumentEmbedder(encoder=tiny_encoder)
    with pytest.raises(TypeError, match="UnivecTextEmbedder"):
        embedder.run(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of Documents"):
        await embedder.run_async(bad)  # type: ignore[arg-type]


def test_empty_list_gives_no_documents(tiny_encoder) -> None:
    assert UnivecDocumentEmbedder(encoder=tiny_encoder).run([])["documents"] == []
