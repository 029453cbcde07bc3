"""UnivecEmbedding: exact vectors per task side, batching, serialisation, an index end to end."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from llama_index.core import Document, Settings, VectorStoreIndex

import univec
from llama_index.embeddings.univec import UnivecEmbedding
from tests.support.families import FAMILIES, QUERIES
from tests.support.spies import count_encode_calls

TEXTS = [
    "Paris is the capital of France.",
    "return a + b",
    "Berlin is in Germany.",
    "The Seine flows through Paris.",
    "Rome is in Italy.",
]


def assert_retrieval_vectors(embed_model: UnivecEmbedding, tiny_encoder) -> None:
    """Texts get ``retrieval.passage`` vectors and queries ``retrieval.query`` ones, as encoded."""
    np.testing.assert_allclose(
        embed_model.get_text_embedding_batch(TEXTS),
        tiny_encoder.encode(TEXTS, "retrieval.passage"),
        atol=1e-6,
    )
    np.testing.assert_allclose(
        embed_model.get_query_embedding(QUERIES[0]),
        tiny_encoder.encode(QUERIES[:1], "retrieval.query")[0],
        atol=1e-6,
    )


def test_all_is_pinned() -> None:
    import llama_index.embeddings.univec as module

    assert module.__all__ == ["UnivecEmbedding"]


@pytest.mark.parametrize(("family", "query_task", "document_task"), FAMILIES)
def test_vectors_equal_encoder_with_family_tasks(
    tiny_encoder, family: str, query_task: str, document_task: str
) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder, task=family)

    query = embed_model.get_query_embedding(QUERIES[0])
    text = embed_model.get_text_embedding(TEXTS[0])
    texts = embed_model.get_text_embedding_batch(TEXTS)

    np.testing.assert_allclose(query, tiny_encoder.encode(QUERIES[:1], query_task)[0], atol=1e-6)
    expected = tiny_encoder.encode(TEXTS, document_task)
    np.testing.assert_allclose(text, expected[0], atol=1e-6)
    np.testing.assert_allclose(texts, expected, atol=1e-6)


async def test_async_matches_encoder(tiny_encoder) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder, task="code", dimensions=32)

    query = await embed_model.aget_query_embedding(QUERIES[1])
    text = await embed_model.aget_text_embedding(TEXTS[1])
    texts = await embed_model.aget_text_embedding_batch(TEXTS)

    expected = tiny_encoder.encode(TEXTS, "code.passage", dimensions=32)
    np.testing.assert_allclose(
        query, tiny_encoder.encode(QUERIES[1:], "code.query", dimensions=32)[0], atol=1e-6
    )
    np.testing.assert_allclose(text, expected[1], atol=1e-6)
    np.testing.assert_allclose(texts, expected, atol=1e-6)


def test_built_from_config_matches_encoder(tiny_encoder, tiny_model_path) -> None:
    embed_model = UnivecEmbedding(backend="local", model=str(tiny_model_path), device="cpu")

    assert embed_model.model_name == str(tiny_model_path)
    assert_retrieval_vectors(embed_model, tiny_encoder)


async def test_embed_batch_size_is_one_encoder_call_per_batch(tiny_encoder, monkeypatch) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder, embed_batch_size=2)
    sizes = count_encode_calls(tiny_encoder, monkeypatch)

    vectors = embed_model.get_text_embedding_batch(TEXTS)
    assert sizes == [2, 2, 1]
    sizes.clear()
    await embed_model.aget_text_embedding_batch(TEXTS)
    assert sorted(sizes) == [1, 2, 2]
    np.testing.assert_allclose(vectors, tiny_encoder.encode(TEXTS, "retrieval.passage"), atol=1e-6)


def test_image_embeddings_match_encoder(tiny_encoder, golden_images, monkeypatch) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder, embed_batch_size=1)
    paths = [str(path) for path in golden_images]
    expected = tiny_encoder.encode(golden_images, "retrieval.passage")
    sizes = count_encode_calls(tiny_encoder, monkeypatch)

    np.testing.assert_allclose(embed_model.get_image_embedding_batch(paths), expected, atol=1e-6)
    assert sizes == [1, 1]
    in_memory = io.BytesIO(golden_images[1].read_bytes())
    np.testing.assert_allclose(embed_model.get_image_embedding(in_memory), expected[1], atol=1e-6)


async def test_async_image_embeddings_match_encoder(tiny_encoder, golden_images) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder, task="text-matching")
    paths = [str(path) for path in golden_images]
    expected = tiny_encoder.encode(golden_images, "text-matching")

    np.testing.assert_allclose(
        await embed_model.aget_image_embedding(paths[0]), expected[0], atol=1e-6
    )
    np.testing.assert_allclose(
        await embed_model.aget_image_embedding_batch(paths), expected, atol=1e-6
    )


def _expected_ranking(encoder, query: str) -> list[str]:
    scores = (
        encoder.encode([query], "retrieval.query") @ encoder.encode(TEXTS, "retrieval.passage").T
    )
    return [TEXTS[i] for i in np.argsort(-scores[0])]


def test_vector_store_index_and_retriever_end_to_end(tiny_encoder) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder)
    documents = [Document(text=text, id_=f"doc-{i}") for i, text in enumerate(TEXTS)]

    index = VectorStoreIndex.from_documents(documents, embed_model=embed_model)
    found = index.as_retriever(similarity_top_k=3).retrieve(QUERIES[0])

    assert [hit.node.get_content() for hit in found] == _expected_ranking(tiny_encoder, QUERIES[0])[
        :3
    ]
    stored = index.vector_store.get(found[0].node.node_id)
    np.testing.assert_allclose(
        stored,
        tiny_encoder.encode([found[0].node.get_content()], "retrieval.passage")[0],
        atol=1e-6,
    )


async def test_index_with_settings_embed_model_async(tiny_encoder) -> None:
    previous = Settings._embed_model
    Settings.embed_model = UnivecEmbedding(encoder=tiny_encoder)
    try:
        index = VectorStoreIndex.from_documents(
            [Document(text=text) for text in TEXTS], use_async=True
        )
        found = await index.as_retriever(similarity_top_k=2).aretrieve(QUERIES[0])
    finally:
        Settings._embed_model = previous
    assert [hit.node.get_content() for hit in found] == _expected_ranking(tiny_encoder, QUERIES[0])[
        :2
    ]


# ------------------------------------------------------------------------------- serialisation
def test_serialised_form_holds_no_secret(monkeypatch) -> None:
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    embed_model = UnivecEmbedding(
        backend="api", api_key="jina_secret_123", base_url="http://127.0.0.1:9/v1", dimensions=64
    )

    as_json = embed_model.to_json()
    as_dict = embed_model.to_dict()
    assert "jina_secret_123" not in as_json
    assert "jina_secret_123" not in repr(embed_model)
    assert "jina_secret_123" not in json.dumps(embed_model.to_payload())
    assert "api_key" not in as_dict
    assert as_dict["class_name"] == "UnivecEmbedding"

    loaded = UnivecEmbedding.from_json(as_json)
    assert (loaded.backend, loaded.base_url, loaded.dimensions, loaded.model_name) == (
        "api",
        "http://127.0.0.1:9/v1",
        64,
        "jina-embeddings-v4",
    )
    assert loaded.api_key is None


def test_loaded_from_dict_works_with_env_key(
    jina_api_server, api_encoder, tiny_encoder, monkeypatch
) -> None:
    saved = UnivecEmbedding(
        backend="api",
        api_key=jina_api_server.api_key,
        base_url=jina_api_server.base_url,
        embed_batch_size=2,
    ).to_dict()
    monkeypatch.setenv("JINA_API_KEY", jina_api_server.api_key)

    # model_info (the tiny model's sizes) is a Python object: given again, not serialised.
    loaded = UnivecEmbedding.from_dict(saved, encoder_options={"model_info": api_encoder.info})

    assert loaded.embed_batch_size == 2
    assert_retrieval_vectors(loaded, tiny_encoder)
    sent = {r.json["task"] for r in jina_api_server.embedding_requests}
    assert sent == {"retrieval.passage", "retrieval.query"}


# ------------------------------------------------------------------------------- API backend
async def test_api_encoder_matches_local(api_encoder, tiny_encoder, golden_images) -> None:
    embed_model = UnivecEmbedding(encoder=api_encoder, task="code", dimensions=16)

    texts = await embed_model.aget_text_embedding_batch(TEXTS)
    query = embed_model.get_query_embedding(QUERIES[1])
    image = embed_model.get_image_embedding(str(golden_images[0]))

    np.testing.assert_allclose(
        texts, tiny_encoder.encode(TEXTS, "code.passage", dimensions=16), atol=1e-6
    )
    np.testing.assert_allclose(
        query, tiny_encoder.encode(QUERIES[1:], "code.query", dimensions=16)[0], atol=1e-6
    )
    np.testing.assert_allclose(
        image, tiny_encoder.encode(golden_images[:1], "code.passage", dimensions=16)[0], atol=1e-6
    )


# ------------------------------------------------------------------------------- wrong input
def test_wrong_input_is_a_type_error(tiny_encoder) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder)
    with pytest.raises(TypeError, match="str"):
        embed_model.get_query_embedding(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="str"):
        embed_model.get_text_embedding_batch(["ok", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="image"):
        embed_model.get_image_embedding(42)  # type: ignore[arg-type]


def test_missing_image_is_file_not_found(tiny_encoder, tmp_path) -> None:
    embed_model = UnivecEmbedding(encoder=tiny_encoder)
    with pytest.raises(FileNotFoundError):
        embed_model.get_image_embedding(str(tmp_path / "missing.png"))


def test_bad_configuration_is_a_value_error(tiny_encoder) -> None:
    with pytest.raises(ValueError):
        UnivecEmbedding(task="retrieval.queries")
    with pytest.raises(univec.errors.ConfigurationError, match="not both"):
        UnivecEmbedding(encoder=tiny_encoder, device="cpu")
    with pytest.raises(ValueError):
        UnivecEmbedding(embed_batch_size=0)
