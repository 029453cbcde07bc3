"""Indexing and query pipelines end to end, their YAML round trip, and Pipeline.run_async."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from haystack import Document, Pipeline
from haystack.components.retrievers.in_memory import InMemoryEmbeddingRetriever
from haystack.components.writers import DocumentWriter
from haystack.core.errors import PipelineRuntimeError
from haystack.document_stores.in_memory import InMemoryDocumentStore

from haystack_integrations.components.embedders.univec import (
    UnivecDocumentEmbedder,
    UnivecTextEmbedder,
)

TEXTS = [
    "Paris is the capital of France.",
    "return a + b",
    "Berlin is in Germany.",
    "The Seine flows through Paris.",
]
QUERY = "Where is Paris?"


@pytest.fixture
def config(tiny_model_path) -> dict:
    return {"backend": "local", "model": str(tiny_model_path), "device": "cpu", "dimensions": 32}


@pytest.fixture
def store() -> InMemoryDocumentStore:
    # A named index: a pipeline loaded back from YAML reopens the same in-memory documents.
    return InMemoryDocumentStore(index=f"univec-{uuid.uuid4()}")


def _indexing(config: dict, store: InMemoryDocumentStore) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("embedder", UnivecDocumentEmbedder(**config, progress_bar=False))
    pipeline.add_component("writer", DocumentWriter(document_store=store))
    pipeline.connect("embedder.documents", "writer.documents")
    return pipeline


def _query(config: dict, store: InMemoryDocumentStore) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("text_embedder", UnivecTextEmbedder(**config))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=3))
    pipeline.connect("text_embedder.embedding", "retriever.query_embedding")
    return pipeline


def _expected(tiny_encoder) -> tuple[list[str], np.ndarray]:
    query = tiny_encoder.encode([QUERY], "retrieval.query", dimensions=32)[0]
    scores = tiny_encoder.encode(TEXTS, "retrieval.passage", dimensions=32) @ query
    order = np.argsort(-scores)[:3]
    return [TEXTS[i] for i in order], scores[order]


def test_indexing_and_query_pipelines(tiny_encoder, config, store) -> None:
    written = _indexing(config, store).run(
        {"embedder": {"documents": [Document(content=t) for t in TEXTS]}}
    )
    assert written["writer"]["documents_written"] == len(TEXTS)
    stored = {d.content: d.embedding for d in store.filter_documents()}
    np.testing.assert_allclose(
        [stored[t] for t in TEXTS],
        tiny_encoder.encode(TEXTS, "retrieval.passage", dimensions=32),
        atol=1e-6,
    )

    found = _query(config, store).run({"text_embedder": {"text": QUERY}})["retriever"]["documents"]

    texts, scores = _expected(tiny_encoder)
    assert [d.content for d in found] == texts
    np.testing.assert_allclose([d.score for d in found], scores, atol=1e-5)


def test_yaml_round_trip(tiny_encoder, config, store) -> None:
    _indexing(config, store).run({"embedder": {"documents": [Document(content=t) for t in TEXTS]}})
    for pipeline in (_indexing(config, store), _query(config, store)):
        yaml_text = pipeline.dumps()
        assert (
            "haystack_integrations.components.embedders.univec" in yaml_text
            and "JINA_API_KEY" in yaml_text
        )

        loaded = Pipeline.loads(yaml_text)

        assert loaded.dumps() == yaml_text
        assert loaded.to_dict() == pipeline.to_dict()

    found = Pipeline.loads(_query(config, store).dumps()).run({"text_embedder": {"text": QUERY}})[
        "retriever"
    ]["documents"]
    assert [d.content for d in found] == _expected(tiny_encoder)[0]


def test_embedders_of_one_configuration_share_one_model(tiny_model_path, store) -> None:
    import gc

    from univec.backends.local.backend import LocalBackend

    def live_models() -> int:
        gc.collect()
        return sum(type(obj) is LocalBackend for obj in gc.get_objects())

    # max_length=123: a configuration no other test uses, so no model of it is loaded yet.
    config = {
        "backend": "local",
        "model": str(tiny_model_path),
        "device": "cpu",
        "max_length": 123,
        "dimensions": 16,
    }
    before = live_models()
    indexing, query = _indexing(config, store), _query(config, store)
    indexing.warm_up()
    query.warm_up()
    indexing.run({"embedder": {"documents": [Document(content=t) for t in TEXTS]}})
    query.run({"text_embedder": {"text": QUERY}})

    assert live_models() == before + 1
    text_embedder = query.get_component("text_embedder")
    document_embedder = indexing.get_component("embedder")
    assert text_embedder._family.encoder is document_embedder._family.encoder


async def test_pipeline_run_async(tiny_encoder, config, store) -> None:
    documents = [Document(content=t) for t in TEXTS]
    await _indexing(config, store).run_async({"embedder": {"documents": documents}})

    result = await _query(config, store).run_async({"text_embedder": {"text": QUERY}})

    texts, scores = _expected(tiny_encoder)
    assert [d.content for d in result["retriever"]["documents"]] == texts
    np.testing.assert_allclose(
        [d.score for d in result["retriever"]["documents"]], scores, atol=1e-5
    )


def test_query_pipeline_on_the_api_backend(
    jina_api_server, api_encoder, tiny_encoder, store, monkeypatch
) -> None:
    monkeypatch.setenv("JINA_API_KEY", jina_api_server.api_key)
    api_config = {
        "backend": "api",
        "base_url": jina_api_server.base_url,
        "encoder_options": {"model_info": api_encoder.info},
        "dimensions": 32,
    }
    _indexing(api_config, store).run(
        {"embedder": {"documents": [Document(content=t) for t in TEXTS]}}
    )

    found = _query(api_config, store).run({"text_embedder": {"text": QUERY}})["retriever"][
        "documents"
    ]

    texts, scores = _expected(tiny_encoder)
    assert [d.content for d in found] == texts
    np.testing.assert_allclose([d.score for d in found], scores, atol=1e-5)
    assert {r.json["task"] for r in jina_api_server.embedding_requests} == {
        "retrieval.passage",
        "retrieval.query",
    }


def test_pipeline_rejects_wrong_input_type(config, store) -> None:
    # Pipelines wrap component errors; the component's own error is the TypeError.
    with pytest.raises(PipelineRuntimeError, match="expects a string") as caught:
        _query(config, store).run({"text_embedder": {"text": ["not", "a", "string"]}})
    assert isinstance(caught.value.__cause__, TypeError)


def test_a_fresh_process_loads_the_yaml_with_default_settings(config, store, tmp_path) -> None:
    """Haystack trusts the haystack_integrations namespace: no allowlist, no variable."""
    import os
    import subprocess
    import sys

    path = tmp_path / "query.yaml"
    path.write_text(_query(config, store).dumps())
    script = (
        "import sys; from haystack import Pipeline; "
        f"p = Pipeline.loads(open({str(path)!r}).read()); "
        "print(type(p.get_component('text_embedder')).__name__)"
    )
    env = {k: v for k, v in os.environ.items() if k != "HAYSTACK_DESERIALIZATION_ALLOWLIST"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "UnivecTextEmbedder"
