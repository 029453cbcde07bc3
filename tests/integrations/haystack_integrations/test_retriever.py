"""UnivecMultiVectorRetriever and UnivecDocumentStore beyond Haystack's suites, on both engines.

Scores against the collection's MaxSim, filter policies, images, re-adding, deleting, typed
errors, the event loop, and pipelines saved and loaded back with plain ``Pipeline.loads``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import numpy as np
import pytest
from haystack import Document, Pipeline
from haystack.components.writers import DocumentWriter
from haystack.core.errors import SerializationError
from haystack.dataclasses import ByteStream
from haystack.document_stores.types import DuplicatePolicy, FilterPolicy
from haystack.errors import FilterError
from haystack.utils import Secret
from haystack_integrations.components.retrievers.univec import UnivecMultiVectorRetriever
from haystack_integrations.document_stores.univec import UnivecDocumentStore

from tests.integrations.collection_support import TEXTS, exact_maxsim
from tests.integrations.haystack_integrations.store_support import ENGINES, open_store
from univec.errors import ClosedError, InvalidArgumentError

QUERY = "Where is the capital of France?"


@pytest.fixture(params=ENGINES)
def store(request, tiny_encoder):
    store = open_store(request, request.param, tiny_encoder)
    yield store
    store.close()


def _documents() -> list[Document]:
    return [
        Document(id=f"t{i}", content=text, meta={"i": i, "lang": "en" if i % 2 else "fr"})
        for i, text in enumerate(TEXTS)
    ]


# --------------------------------------------------------------------------- scores
@pytest.mark.parametrize("mode", ["multi", "hybrid", "dense"])
def test_scores_equal_the_collections_maxsim(store, tiny_encoder, mode):
    store.write_documents(_documents())
    retriever = UnivecMultiVectorRetriever(store, top_k=4, mode=mode)
    documents = retriever.run(query=QUERY)["documents"]
    hits = store.collection.search(QUERY, k=4, mode=mode)
    assert [d.id for d in documents] == [h.id for h in hits] and len(documents) == 4
    np.testing.assert_allclose([d.score for d in documents], [h.score for h in hits], atol=1e-5)
    assert [d.content for d in documents] == [h.text for h in hits]
    if mode != "dense":  # and those are MaxSim scores of the encoder's own token vectors
        exact = dict(
            zip([d.id for d in _documents()], exact_maxsim(tiny_encoder, QUERY, TEXTS), strict=True)
        )
        np.testing.assert_allclose(
            [d.score for d in documents], [exact[d.id] for d in documents], atol=1e-4
        )
    assert documents[0].meta == next(d.meta for d in _documents() if d.id == documents[0].id)


def test_filter_policy_replace_and_merge(store):
    store.write_documents(_documents())
    init = {"field": "meta.lang", "operator": "==", "value": "en"}
    runtime = {"field": "meta.i", "operator": ">=", "value": 2}
    replace = UnivecMultiVectorRetriever(store, filters=init, top_k=10)
    assert {d.id for d in replace.run(query=QUERY)["documents"]} == {"t1", "t3"}
    assert {d.id for d in replace.run(query=QUERY, filters=runtime)["documents"]} == {
        "t2",
        "t3",
        "t4",
    }
    merge = UnivecMultiVectorRetriever(store, filters=init, filter_policy="merge", top_k=10)
    assert {d.id for d in merge.run(query=QUERY, filters=runtime)["documents"]} == {"t3"}
    assert len(merge.run(query=QUERY, top_k=1)["documents"]) == 1


# --------------------------------------------------------------------------- writes / deletes
def test_rewriting_the_same_ids_never_duplicates(store):
    documents = _documents()
    assert store.write_documents(documents) == len(documents)
    assert store.write_documents(documents, policy=DuplicatePolicy.SKIP) == 0
    changed = [Document(id="t0", content="A new text.", meta={"i": 99})]
    assert store.write_documents(changed, policy=DuplicatePolicy.OVERWRITE) == 1
    assert store.count_documents() == len(documents)
    (t0,) = store.filter_documents({"field": "id", "operator": "==", "value": "t0"})
    assert (t0.content, t0.meta) == ("A new text.", {"i": 99})
    # Duplicates inside one batch: SKIP keeps the first, OVERWRITE the last.
    twice = [Document(id="x", content="first"), Document(id="x", content="second")]
    assert store.write_documents(twice, policy=DuplicatePolicy.SKIP) == 1
    assert store.write_documents(twice, policy=DuplicatePolicy.OVERWRITE) == 1
    assert [
        d.content for d in store.filter_documents({"field": "id", "operator": "==", "value": "x"})
    ] == ["second"]
    assert store.count_documents() == len(documents) + 1


def test_delete_sticks(store):
    store.write_documents(_documents())
    store.delete_documents(["t2", "missing"])
    retriever = UnivecMultiVectorRetriever(store, top_k=10, mode="multi")
    assert "t2" not in {d.id for d in retriever.run(query=QUERY)["documents"]}
    assert store.count_documents() == len(TEXTS) - 1
    assert store.filter_documents({"field": "id", "operator": "==", "value": "t2"}) == []


def test_images_from_blobs_and_file_paths(store, golden_images, tiny_encoder):
    first, second = golden_images[:2]
    documents = [
        Document(
            id="blob", blob=ByteStream(first.read_bytes(), mime_type="image/png"), meta={"k": 1}
        ),
        Document(id="path", meta={"file_path": str(second), "k": 2}),
        Document(id="text", content=TEXTS[0]),
    ]
    assert store.write_documents(documents) == 3
    by_id = {d.id: d for d in store.filter_documents()}
    assert by_id["blob"].blob is not None and by_id["blob"].blob.data == first.read_bytes()
    assert by_id["blob"].blob.mime_type == "image/png" and by_id["blob"].content is None
    assert by_id["path"].meta == {"file_path": str(second), "k": 2}
    hits = UnivecMultiVectorRetriever(store, top_k=3, mode="multi").run(query="a picture")
    import univec

    items = [univec.Image(first), univec.Image(second), TEXTS[0]]
    exact = dict(
        zip(["blob", "path", "text"], exact_maxsim(tiny_encoder, "a picture", items), strict=True)
    )
    for document in hits["documents"]:
        assert document.score == pytest.approx(exact[document.id], abs=1e-4)


# --------------------------------------------------------------------------- errors
def test_bad_input_gets_the_expected_error_types(store):
    store.write_documents(_documents())
    with pytest.raises(FilterError, match=r"Unknown comparison operator 'like'.*use one of"):
        store.filter_documents({"field": "meta.i", "operator": "like", "value": 1})
    with pytest.raises(FilterError, match=r"'meta\.<key>'"):
        store.filter_documents({"field": "embedding", "operator": "==", "value": 1})
    with pytest.raises(FilterError, match="not a finite number"):  # what no engine can compare
        store.filter_documents({"field": "meta.i", "operator": "==", "value": float("nan")})
    with pytest.raises(ValueError, match=r"Haystack ids are str.*str\(3\)"):
        store.delete_documents([3])
    with pytest.raises(ValueError, match="no text content, no image blob"):
        store.write_documents([Document(id="empty", meta={"k": 1})])
    with pytest.raises(ValueError, match="list of haystack Document"):
        store.write_documents([{"content": "x"}])
    with pytest.raises(InvalidArgumentError, match="top_k=0"):
        UnivecMultiVectorRetriever(store).run(query=QUERY, top_k=0)
    with pytest.raises(ValueError, match="mode='sparse'"):
        UnivecMultiVectorRetriever(store, mode="sparse")  # type: ignore[arg-type]
    assert store.count_documents() == len(TEXTS)  # nothing was written by the failed calls


def test_a_closed_store_raises_closed_error(store):
    store.write_documents(_documents()[:1])
    retriever = UnivecMultiVectorRetriever(store)
    store.close()
    calls = [
        store.count_documents,
        store.filter_documents,
        lambda: store.write_documents([Document(content="x")]),
        lambda: store.delete_documents(["t0"]),
        lambda: retriever.run(query=QUERY),
    ]
    for call in calls:
        with pytest.raises(ClosedError, match="closed; create a new one"):
            call()
    with pytest.raises(ClosedError):
        asyncio.run(retriever.run_async(query=QUERY))


# --------------------------------------------------------------------------- async
def test_run_async_does_not_block_the_event_loop(store):
    store.write_documents(_documents())
    retriever = UnivecMultiVectorRetriever(store, top_k=2)
    collection = store.collection
    search = collection.search
    loop_ran = threading.Event()

    def search_waiting_for_the_loop(*args, **kwargs):
        # Runs in the worker thread: only a free event loop can set the event.
        assert loop_ran.wait(timeout=60), "the event loop was blocked during the search"
        return search(*args, **kwargs)

    collection.search = search_waiting_for_the_loop  # type: ignore[method-assign]

    async def main():
        task = asyncio.ensure_future(retriever.run_async(query=QUERY))
        await asyncio.sleep(0)
        loop_ran.set()
        return await task

    try:
        documents = asyncio.run(main())["documents"]
    finally:
        del collection.search
    assert [d.id for d in documents] == [d.id for d in retriever.run(query=QUERY)["documents"]]


# --------------------------------------------------------------------------- serialisation
def _config(tiny_model_path: Path) -> dict:
    return {"backend": "local", "model": str(tiny_model_path), "device": "cpu", "dtype": "float32"}


def test_to_dict_keeps_secrets_as_references(tiny_model_path, monkeypatch):
    monkeypatch.setenv("QDRANT_TEST_KEY", "qdrant-secret-value")
    store = UnivecDocumentStore(
        collection_name="docs",
        url="http://localhost:6333",
        database_api_key=Secret.from_env_var("QDRANT_TEST_KEY"),
        **_config(tiny_model_path),
    )
    data = UnivecMultiVectorRetriever(store, top_k=3, mode="multi").to_dict()
    assert "qdrant-secret-value" not in repr(data)
    parameters = data["init_parameters"]["document_store"]["init_parameters"]
    assert parameters["database_api_key"] == {
        "type": "env_var",
        "env_vars": ["QDRANT_TEST_KEY"],
        "strict": True,
    }
    assert parameters["api_key"]["env_vars"] == ["JINA_API_KEY"]
    loaded = UnivecMultiVectorRetriever.from_dict(data)
    assert (loaded.top_k, loaded.mode, loaded.filter_policy) == (3, "multi", FilterPolicy.REPLACE)
    assert loaded.document_store.database_api_key.resolve_value() == "qdrant-secret-value"
    assert loaded.document_store.to_dict() == store.to_dict()
    with pytest.raises(SerializationError, match="ready collection"):
        UnivecDocumentStore(collection=object()).to_dict()  # type: ignore[arg-type]


@pytest.mark.parametrize("database", ["qdrant", "milvus"])
def test_saved_pipelines_load_back_with_plain_pipeline_loads(
    tmp_path, tiny_model_path, database, request
):
    location = (
        {"path": str(tmp_path / "qdrant")}
        if database == "qdrant"
        else {"uri": request.getfixturevalue("lite_uri")}
    )
    name = request.getfixturevalue("collection_name")
    store = UnivecDocumentStore(
        collection_name=name, database=database, **location, **_config(tiny_model_path)
    )
    indexing = Pipeline()
    indexing.add_component("writer", DocumentWriter(document_store=store))
    indexing.run({"writer": {"documents": _documents()}})

    query = Pipeline()
    query.add_component("retriever", UnivecMultiVectorRetriever(store, top_k=3))
    expected = query.run({"retriever": {"query": QUERY}})["retriever"]["documents"]
    saved = query.dumps()
    store.close()  # an embedded Qdrant shard has one owner at a time

    loaded = Pipeline.loads(saved)
    try:
        documents = loaded.run({"retriever": {"query": QUERY}})["retriever"]["documents"]
        assert [(d.id, d.content) for d in documents] == [(d.id, d.content) for d in expected]
        np.testing.assert_allclose(
            [d.score for d in documents], [d.score for d in expected], atol=1e-5
        )
        assert loaded.get_component("retriever").document_store.count_documents() == len(TEXTS)
    finally:
        loaded.get_component("retriever").document_store.close()
