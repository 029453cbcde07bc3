"""Migrating from langchain-community's JinaEmbeddings: each parity item of issue 13."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

import univec
from langchain_univec import UnivecEmbeddings

CHUNKS = ["Berlin is the capital of Germany.", " It lies on the Spree."]


def api_embeddings(server, info, **options) -> UnivecEmbeddings:
    return UnivecEmbeddings(
        backend="api",
        api_key="test-key",
        base_url=server.base_url,
        encoder_options={"model_info": info, "requests_per_minute": None},
        **options,
    )


def test_full_task_string_picks_each_sides_task(jina_api_server, api_encoder):
    embeddings = api_embeddings(jina_api_server, api_encoder.info, task="retrieval.passage")
    embeddings.embed_documents(["doc"])
    embeddings.embed_query("query")
    assert [r.json["task"] for r in jina_api_server.embedding_requests] == [
        "retrieval.passage",
        "retrieval.query",
    ]


def test_incumbent_field_names(monkeypatch):
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    embeddings = UnivecEmbeddings(backend="api", model_name="jina-embeddings-v3", jina_api_key="k")
    assert embeddings.model == "jina-embeddings-v3"
    assert embeddings.api_key is not None and embeddings.api_key.get_secret_value() == "k"
    assert embeddings._family.query_task == "retrieval.query"
    classification = UnivecEmbeddings(backend="api", model="jina-embeddings-v3", task="separation")
    assert classification._family.document_task == "separation"  # v3's own task


def test_late_chunking_local(tiny_encoder):
    embeddings = UnivecEmbeddings(encoder=tiny_encoder, late_chunking=True)
    expected = tiny_encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
    np.testing.assert_allclose(embeddings.embed_documents(CHUNKS), expected, atol=1e-6)
    plain = tiny_encoder.encode(CHUNKS, "retrieval.passage")
    assert not np.allclose(embeddings.embed_documents(CHUNKS)[1], plain[1], atol=1e-4)


def test_late_chunking_api_sends_the_field(jina_api_server, api_encoder):
    embeddings = api_embeddings(jina_api_server, api_encoder.info, late_chunking=True)
    embeddings.embed_documents(CHUNKS)
    assert jina_api_server.embedding_requests[0].json["late_chunking"] is True


def test_unknown_keyword_is_an_error():
    with pytest.raises(ValidationError, match="late_chunkin"):
        UnivecEmbeddings(late_chunkin=True)


def test_base_url_as_full_endpoint(jina_api_server, api_encoder, tiny_encoder):
    embeddings = UnivecEmbeddings(
        backend="api",
        api_key="test-key",
        base_url=jina_api_server.base_url + "/embeddings",
        encoder_options={"model_info": api_encoder.info},
    )
    vector = embeddings.embed_query("Where is Paris?")
    assert jina_api_server.embedding_requests[0].path == "/v1/embeddings"
    expected = tiny_encoder.encode(["Where is Paris?"], "retrieval.query")[0]
    np.testing.assert_allclose(vector, expected, atol=1e-6)


def test_api_model_name_with_local_backend_says_add_backend_api():
    with pytest.raises(ValueError, match="backend='api'") as info:
        UnivecEmbeddings(model="jina-embeddings-v4")
    assert "jinaai/jina-embeddings-v4" in str(info.value)
    assert isinstance(info.value.__cause__ or info.value, (ValueError, univec.UnivecError))


def test_embed_images_is_the_incumbents_name(tiny_encoder, golden_images):
    embeddings = UnivecEmbeddings(encoder=tiny_encoder)
    paths = [str(path) for path in golden_images]
    expected = tiny_encoder.encode(golden_images, "retrieval.passage")
    np.testing.assert_allclose(embeddings.embed_images(paths), expected, atol=1e-6)
