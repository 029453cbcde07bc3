"""Migrating from jina-haystack: each parity item of issue 13, in real Haystack pipelines."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from haystack import Document, Pipeline, component
from haystack.components.preprocessors import DocumentSplitter
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.dataclasses import ByteStream
from haystack.document_stores.in_memory import InMemoryDocumentStore
from haystack.utils import Secret

import univec
from haystack_integrations.components.embedders.univec import (
    UnivecDocumentEmbedder,
    UnivecDocumentImageEmbedder,
    UnivecImageEmbedder,
    UnivecTextEmbedder,
)


@component
class MetaSink:
    """Receives an embedder's ``meta`` output, as a user's own component would."""

    @component.output_types(model=str, total_tokens=int)
    def run(self, meta: dict[str, Any]) -> dict[str, Any]:
        return {"model": meta["model"], "total_tokens": meta["usage"]["total_tokens"]}


def api_options(server, info) -> dict[str, Any]:
    return {"backend": "api", "base_url": server.base_url, "encoder_options": {"model_info": info}}


def test_full_task_strings(jina_api_server, api_encoder, monkeypatch):
    monkeypatch.setenv("JINA_API_KEY", "test-key")
    options = api_options(jina_api_server, api_encoder.info)
    UnivecDocumentEmbedder(task="retrieval.passage", progress_bar=False, **options).run(
        [Document(content="doc")]
    )
    UnivecTextEmbedder(task="retrieval.query", **options).run("query")
    assert [r.json["task"] for r in jina_api_server.embedding_requests] == [
        "retrieval.passage",
        "retrieval.query",
    ]


def test_late_chunking_groups_chunks_by_source_document(tiny_encoder):
    long_texts = [
        "Berlin is the capital of Germany. It lies on the Spree. It has many museums.",
        "Paris is in France. The Seine flows through it.",
    ]
    pipeline = Pipeline()
    pipeline.add_component("splitter", DocumentSplitter(split_by="period", split_length=1))
    pipeline.add_component(
        "embedder", UnivecDocumentEmbedder(encoder=tiny_encoder, late_chunking=True)
    )
    pipeline.connect("splitter.documents", "embedder.documents")
    result = pipeline.run({"splitter": {"documents": [Document(content=t) for t in long_texts]}})
    chunks = result["embedder"]["documents"]
    assert len(chunks) == 5
    for source in {d.meta["source_id"] for d in chunks}:
        own = [d for d in chunks if d.meta["source_id"] == source]
        expected = tiny_encoder.encode(
            [d.content for d in own], "retrieval.passage", late_chunking=True
        )
        np.testing.assert_allclose([d.embedding for d in own], expected, atol=1e-6)
    assert UnivecDocumentEmbedder(late_chunking=True).to_dict()["init_parameters"]["late_chunking"]


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="late_chunkin"):
        UnivecDocumentEmbedder(late_chunkin=True)  # type: ignore[call-arg]


def test_meta_connects_in_a_pipeline(tiny_encoder, tiny_model_path):
    pipeline = Pipeline()
    pipeline.add_component("embedder", UnivecTextEmbedder(encoder=tiny_encoder))
    pipeline.add_component("sink", MetaSink())
    pipeline.connect("embedder.meta", "sink.meta")
    result = pipeline.run({"embedder": {"text": "Where is Paris?"}})
    tokens = len(tiny_encoder.backend.preprocessor.tokenizer.encode("Query: Where is Paris?").ids)
    assert result["sink"] == {"model": str(tiny_model_path), "total_tokens": tokens}
    documents = UnivecDocumentEmbedder(encoder=tiny_encoder).run([Document(content="a b c")])
    assert documents["meta"]["usage"]["total_tokens"] > 0


def test_plain_string_api_key_is_wrapped(jina_api_server, api_encoder, monkeypatch):
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    embedder = UnivecTextEmbedder(
        api_key="test-key", **api_options(jina_api_server, api_encoder.info)
    )
    assert isinstance(embedder.api_key, Secret)
    assert len(embedder.run("query")["embedding"]) == api_encoder.dim
    with pytest.raises(ValueError, match="env"):  # Haystack refuses to serialise a token
        embedder.to_dict()


def test_pipeline_close_releases_the_encoder(tiny_model_path):
    # A configuration no other test uses: this component is the shared encoder's only user.
    embedder = UnivecTextEmbedder(model=str(tiny_model_path), device="cpu", max_length=321)
    pipeline = Pipeline()
    pipeline.add_component("embedder", embedder)
    pipeline.run({"embedder": {"text": "hello"}})
    encoder = embedder._family.encoder
    pipeline.close()
    assert not embedder._family.is_built
    with pytest.raises(univec.errors.UnivecError):
        encoder.encode(["x"], "retrieval.query")
    assert len(pipeline.run({"embedder": {"text": "again"}})["embedder"]["embedding"]) == 64


def test_image_embedder_reads_blobs(tiny_encoder, golden_images, tmp_path):
    data = golden_images[0].read_bytes()
    path_doc = Document(content="b", meta={"file_path": str(golden_images[1])})
    blob_doc = Document(content="a", blob=ByteStream(data, mime_type="image/png"))
    embedder = UnivecDocumentImageEmbedder(encoder=tiny_encoder, progress_bar=False)
    out = embedder.run([blob_doc, path_doc])["documents"]
    expected = tiny_encoder.encode([univec.Image(data), golden_images[1]], "retrieval.passage")
    np.testing.assert_allclose([d.embedding for d in out], expected, atol=1e-6)


def test_image_to_image_search(tiny_encoder, golden_images):
    store = InMemoryDocumentStore()
    indexing = Pipeline()
    indexing.add_component(
        "embedder", UnivecDocumentImageEmbedder(encoder=tiny_encoder, progress_bar=False)
    )
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.connect("embedder.documents", "writer.documents")
    documents = [Document(content=p.name, meta={"file_path": str(p)}) for p in golden_images]
    indexing.run({"embedder": {"documents": documents}})

    query = Pipeline()
    query.add_component("image_embedder", UnivecImageEmbedder(encoder=tiny_encoder))
    query.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=2))
    query.connect("image_embedder.embedding", "retriever.query_embedding")
    image = ByteStream(golden_images[1].read_bytes())
    hits = query.run({"image_embedder": {"image": image}})["retriever"]["documents"]
    vector = tiny_encoder.encode(
        [univec.Image(io.BytesIO(image.data).getvalue())], "retrieval.query"
    )
    stored = tiny_encoder.encode(golden_images, "retrieval.passage")
    scores = stored @ vector[0]
    assert hits[0].content == golden_images[int(np.argmax(scores))].name
    assert hits[0].score == pytest.approx(float(scores.max()), abs=1e-5)
    with pytest.raises(TypeError, match="UnivecTextEmbedder"):
        UnivecImageEmbedder(encoder=tiny_encoder).run(42)  # type: ignore[arg-type]


def test_base_url_as_full_endpoint(jina_api_server, api_encoder, tiny_encoder):
    embedder = UnivecTextEmbedder(
        api_key=Secret.from_token("test-key"),
        backend="api",
        base_url=jina_api_server.base_url + "/embeddings",
        encoder_options={"model_info": api_encoder.info},
    )
    embedding = embedder.run("Where is Paris?")["embedding"]
    assert jina_api_server.embedding_requests[0].path == "/v1/embeddings"
    expected = tiny_encoder.encode(["Where is Paris?"], "retrieval.query")[0]
    np.testing.assert_allclose(embedding, expected, atol=1e-6)


def test_api_model_name_with_local_backend_says_add_backend_api():
    with pytest.raises(univec.errors.ConfigurationError, match="backend='api'"):
        UnivecTextEmbedder(model="jina-embeddings-v4")
