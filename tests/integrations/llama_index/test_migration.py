"""Migrating from llama-index-embeddings-jinaai's JinaEmbedding: each parity item of issue 13."""

from __future__ import annotations

import numpy as np
import pytest

import univec
from llama_index.embeddings.univec import UnivecEmbedding

CHUNKS = ["Berlin is the capital of Germany.", " It lies on the Spree."]


def test_late_chunking_is_applied_not_ignored(tiny_encoder):
    embed_model = UnivecEmbedding(encoder=tiny_encoder, late_chunking=True)
    expected = tiny_encoder.encode(CHUNKS, "retrieval.passage", late_chunking=True)
    np.testing.assert_allclose(embed_model.get_text_embedding_batch(CHUNKS), expected, atol=1e-6)


def test_late_chunking_api_sends_the_field(jina_api_server, api_encoder):
    embed_model = UnivecEmbedding(
        backend="api",
        api_key="test-key",
        base_url=jina_api_server.base_url,
        encoder_options={"model_info": api_encoder.info},
        late_chunking=True,
        task="retrieval.passage",
    )
    embed_model.get_text_embedding_batch(CHUNKS)
    embed_model.get_query_embedding("where?")
    first, second = (r.json for r in jina_api_server.embedding_requests)
    assert first["late_chunking"] is True and first["task"] == "retrieval.passage"
    assert "late_chunking" not in second and second["task"] == "retrieval.query"


@pytest.mark.parametrize("typo", [{"late_chunkin": True}, {"encoding_type": "float"}])
def test_unknown_keyword_is_an_error(typo):
    with pytest.raises(ValueError, match=next(iter(typo))):
        UnivecEmbedding(**typo)


def test_reports_the_model_really_used(tiny_encoder, tiny_model_path):
    assert UnivecEmbedding(backend="api").model_name == "jina-embeddings-v4"
    assert UnivecEmbedding().model_name == "jinaai/jina-embeddings-v4"
    assert UnivecEmbedding(encoder=tiny_encoder).model_name == str(tiny_model_path)
    v3 = UnivecEmbedding(backend="api", model_name="jina-embeddings-v3", task="classification")
    assert (v3.model, v3.model_name) == ("jina-embeddings-v3", "jina-embeddings-v3")
    assert v3._family.config().model == "jina-embeddings-v3"
    with pytest.raises(univec.errors.ConfigurationError, match="model_name='jina-embeddings-v3'"):
        UnivecEmbedding(backend="api", model="jina-embeddings-v4", model_name="jina-embeddings-v3")


def test_api_model_name_with_local_backend_says_add_backend_api():
    with pytest.raises(univec.errors.ConfigurationError, match="backend='api'"):
        UnivecEmbedding(model="jina-embeddings-v4")


def test_base_url_as_full_endpoint(jina_api_server, api_encoder, tiny_encoder):
    embed_model = UnivecEmbedding(
        backend="api",
        api_key="test-key",
        base_url=jina_api_server.base_url + "/embeddings/",
        encoder_options={"model_info": api_encoder.info},
    )
    vector = embed_model.get_query_embedding("Where is Paris?")
    expected = tiny_encoder.encode(["Where is Paris?"], "retrieval.query")[0]
    np.testing.assert_allclose(vector, expected, atol=1e-6)
    assert jina_api_server.embedding_requests[0].path == "/v1/embeddings"
