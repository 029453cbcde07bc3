"""UnivecEmbeddings gives exactly Encoder.encode's vectors, with the right task on each side."""

from __future__ import annotations

import numpy as np
import pytest

import univec
from langchain_univec import UnivecEmbeddings
from tests.support.families import FAMILIES, QUERIES

DOCUMENTS = ["Paris is the capital of France.", "return a + b", "Berlin is in Germany."]


def test_all_is_pinned() -> None:
    import langchain_univec as module

    assert module.__all__ == ["UnivecEmbeddings", "UnivecVectorStore"]


@pytest.mark.parametrize(("family", "query_task", "document_task"), FAMILIES)
def test_vectors_equal_encoder_with_family_tasks(
    tiny_encoder, family: str, query_task: str, document_task: str
) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder, task=family)

    query = np.array(embeddings.embed_query(QUERIES[0]))
    documents = np.array(embeddings.embed_documents(DOCUMENTS))

    np.testing.assert_allclose(query, tiny_encoder.encode(QUERIES[:1], query_task)[0], atol=1e-6)
    np.testing.assert_allclose(documents, tiny_encoder.encode(DOCUMENTS, document_task), atol=1e-6)


def test_query_and_document_sides_differ(tiny_encoder) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder)
    assert not np.allclose(
        embeddings.embed_query(DOCUMENTS[0]), embeddings.embed_documents(DOCUMENTS[:1])[0]
    )


async def test_async_matches_encoder(tiny_encoder) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder, task="code", dimensions=32)

    query = np.array(await embeddings.aembed_query(QUERIES[1]))
    documents = np.array(await embeddings.aembed_documents(DOCUMENTS))

    assert query.shape == (32,)
    np.testing.assert_allclose(
        query, tiny_encoder.encode(QUERIES[1:], "code.query", dimensions=32)[0], atol=1e-6
    )
    np.testing.assert_allclose(
        documents, tiny_encoder.encode(DOCUMENTS, "code.passage", dimensions=32), atol=1e-6
    )


def test_built_from_config_matches_encoder(tiny_encoder, tiny_model_path) -> None:
    embeddings = UnivecEmbeddings(
        backend="local", model=str(tiny_model_path), device="cpu", dimensions=16, batch_size=2
    )

    documents = np.array(embeddings.embed_documents(DOCUMENTS))

    assert documents.shape == (3, 16)
    np.testing.assert_allclose(
        documents, tiny_encoder.encode(DOCUMENTS, "retrieval.passage", dimensions=16), atol=1e-6
    )
    np.testing.assert_allclose(
        embeddings.embed_query(QUERIES[0]),
        tiny_encoder.encode(QUERIES[:1], "retrieval.query", dimensions=16)[0],
        atol=1e-6,
    )


def test_embed_image_matches_encoder(tiny_encoder, golden_images) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder)
    uris = [str(path) for path in golden_images]

    vectors = np.array(embeddings.embed_image(uris))

    expected = tiny_encoder.encode([univec.Image(uri) for uri in uris], "retrieval.passage")
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


async def test_aembed_image_matches_encoder(tiny_encoder, golden_images) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder, task="text-matching")
    vectors = np.array(await embeddings.aembed_image([str(golden_images[0])]))
    expected = tiny_encoder.encode([golden_images[0]], "text-matching")
    np.testing.assert_allclose(vectors, expected, atol=1e-6)


def test_in_memory_vector_store_ranks_by_encoder_scores(tiny_encoder) -> None:
    from langchain_core.vectorstores import InMemoryVectorStore

    store = InMemoryVectorStore.from_texts(DOCUMENTS, UnivecEmbeddings(encoder=tiny_encoder))

    found = store.similarity_search_with_score(QUERIES[0], k=3)

    scores = (
        tiny_encoder.encode(QUERIES[:1], "retrieval.query")
        @ tiny_encoder.encode(DOCUMENTS, "retrieval.passage").T
    )
    assert [doc.page_content for doc, _ in found] == [DOCUMENTS[i] for i in np.argsort(-scores[0])]
    np.testing.assert_allclose([score for _, score in found], np.sort(scores[0])[::-1], atol=1e-5)


# ------------------------------------------------------------------------------- API backend
def test_api_encoder_matches_local(api_encoder, tiny_encoder) -> None:
    embeddings = UnivecEmbeddings(encoder=api_encoder, task="code")

    np.testing.assert_allclose(
        embeddings.embed_documents(DOCUMENTS),
        tiny_encoder.encode(DOCUMENTS, "code.passage"),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        embeddings.embed_query(QUERIES[1]),
        tiny_encoder.encode(QUERIES[1:], "code.query")[0],
        atol=1e-6,
    )


async def test_api_built_from_config_matches_local(
    jina_api_server, api_encoder, tiny_encoder, monkeypatch
) -> None:
    monkeypatch.setenv("JINA_API_KEY", jina_api_server.api_key)
    embeddings = UnivecEmbeddings(
        backend="api",
        base_url=jina_api_server.base_url,
        dimensions=32,
        # The tiny model's sizes (the API backend otherwise assumes the real model's).
        encoder_options={"model_info": api_encoder.info},
    )

    query = await embeddings.aembed_query(QUERIES[0])
    documents = await embeddings.aembed_documents(DOCUMENTS)

    np.testing.assert_allclose(
        query, tiny_encoder.encode(QUERIES[:1], "retrieval.query", dimensions=32)[0], atol=1e-6
    )
    np.testing.assert_allclose(
        documents, tiny_encoder.encode(DOCUMENTS, "retrieval.passage", dimensions=32), atol=1e-6
    )
    sent = [(r.json["task"], r.json["dimensions"]) for r in jina_api_server.embedding_requests]
    assert sorted(set(sent)) == [("retrieval.passage", 32), ("retrieval.query", 32)]


# ------------------------------------------------------------------------------- wrong input
@pytest.mark.parametrize(
    ("call", "bad"),
    [
        ("embed_query", 42),
        ("embed_query", None),
        ("embed_documents", "a single string"),
        ("embed_documents", ["ok", None]),
        ("embed_image", "photo.png"),
    ],
)
def test_wrong_input_is_a_type_error(tiny_encoder, call: str, bad: object) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder)
    with pytest.raises(TypeError, match="str"):
        getattr(embeddings, call)(bad)


def test_missing_image_file_is_file_not_found(tiny_encoder, tmp_path) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder)
    with pytest.raises(FileNotFoundError):
        embeddings.embed_image([str(tmp_path / "missing.png")])


def test_unknown_task_family_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"retrieval\.query"):
        UnivecEmbeddings(task="retrival")  # a typo: the message lists the model's tasks


def test_encoder_and_configuration_together_are_refused(tiny_encoder) -> None:
    # pydantic wraps it in a ValidationError, itself a ValueError.
    with pytest.raises(ValueError, match=r"either encoder= or configuration \(model\)"):
        UnivecEmbeddings(encoder=tiny_encoder, model="other")


def test_bad_dimensions_name_the_allowed_ones(tiny_encoder) -> None:
    embeddings = UnivecEmbeddings(encoder=tiny_encoder, dimensions=20)
    with pytest.raises(ValueError, match=r"\[16, 32, 64\]"):
        embeddings.embed_query("x")


def test_api_key_is_hidden(monkeypatch) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    embeddings = UnivecEmbeddings(backend="api", api_key="jina_secret_123")
    assert "jina_secret_123" not in repr(embeddings)
    assert "jina_secret_123" not in embeddings.model_dump_json()
