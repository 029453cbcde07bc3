"""UnivecVectorStore for LangChain beyond the standard suite: scores, images, MMR, async, errors."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from langchain_core.documents import Document

import univec
from langchain_univec import UnivecEmbeddings, UnivecVectorStore
from tests.integrations.store_support import (
    ENGINES,
    ROWS,
    TEXTS,
    exact_maxsim,
    expected_ids,
    open_collection,
)
from univec.collections.filters import parse_filter

QUERY = "Where is Paris?"
METAS = [{"position": i} for i in range(len(TEXTS))]
IDS = [f"d{i}" for i in range(len(TEXTS))]


@pytest.fixture(params=ENGINES)
def collection(request, tiny_encoder, tmp_path, lite_uri, collection_name):
    if request.param == "milvus_lite":
        pytest.importorskip("milvus_lite")
    with open_collection(request.param, tiny_encoder, tmp_path, lite_uri, collection_name) as made:
        yield made


@pytest.fixture
def store(collection):
    store = UnivecVectorStore(collection)
    store.add_texts(TEXTS, METAS, ids=IDS)
    return store


@pytest.mark.parametrize("mode", ["hybrid", "multi", "dense"])
def test_scores_are_the_collection_search_and_maxsim(store, collection, mode):
    found = store.similarity_search_with_score(QUERY, k=5, mode=mode)
    hits = collection.search(QUERY, k=5, mode=mode)
    assert [doc.id for doc, _ in found] == [h.id for h in hits]
    np.testing.assert_allclose([s for _, s in found], [h.score for h in hits], atol=1e-5)
    for doc, score in found:
        assert doc.page_content == TEXTS[int(doc.id[1:])]
        assert doc.metadata == {"position": int(doc.id[1:])}
        if mode != "dense":
            assert score == pytest.approx(
                exact_maxsim(collection.encoder, QUERY, doc.page_content), abs=1e-5
            )


def test_readding_replaces_and_delete_sticks(store, collection):
    store.add_texts(["The cat sat on the sofa."], [{"position": 0, "new": True}], ids=["d0"])
    store.add_documents(
        [Document(id=i, page_content=t) for i, t in zip(IDS[1:], TEXTS[1:], strict=True)]
    )
    assert len(collection) == len(TEXTS)
    assert store.get_by_ids(["d0"])[0].page_content == "The cat sat on the sofa."
    store.delete(["d0", "d1"])
    assert [d.id for d in store.similarity_search(QUERY, k=10)] == [
        h.id for h in collection.search(QUERY, k=10)
    ]
    assert len(collection) == 3 and store.get_by_ids(["d0", "d1"]) == []


def test_retriever_passes_k_filter_and_mode(store, collection):
    retriever = store.as_retriever(search_kwargs={"k": 2, "mode": "multi"})
    assert [d.id for d in retriever.invoke(QUERY)] == [
        h.id for h in collection.search(QUERY, k=2, mode="multi")
    ]


def test_retriever_filter(store):
    filtered = store.as_retriever(search_kwargs={"k": 5, "filter": {"position": 3}})
    assert [d.id for d in filtered.invoke(QUERY)] == ["d3"]


#: LangChain filter dicts covering every operator, nesting, dotted keys, bools and ISO dates.
FILTERS = [
    {"lang": "en"},
    {"lang": {"$eq": "fr"}},
    {"lang": {"$ne": "en"}},
    {"year": {"$gt": 2021}},
    {"year": {"$gte": 2021}},
    {"score": {"$lt": 2.5}},
    {"score": {"$lte": 2.5}},
    {"year": {"$gte": 2020, "$lte": 2023}},
    {"lang": {"$in": ["en", "fr"]}},
    {"lang": {"$nin": ["en", "fr"]}},
    {"year": {"$nin": [2019]}},
    {"date": {"$exists": True}},
    {"year": {"$exists": False}},
    {"draft": True},
    {"draft": {"$ne": True}},
    {"date": {"$gte": "2021-01-01"}},
    {"date": {"$lt": "2022-01-01T00:00:00Z"}},
    {"author.name": "Ada"},
    {"$and": [{"lang": "en"}, {"draft": True}]},
    {"$or": [{"year": {"$lt": 2020}}, {"score": {"$gt": 3}}]},
    {"$not": {"lang": "en"}},
    {"$and": [{"lang": "en"}, {"lang": "fr"}]},
    {"$or": [{"$not": {"author.name": {"$exists": True}}}, {"score": {"$gte": 2.5}}]},
]


@pytest.mark.parametrize("mode", ["hybrid", "multi"])
def test_filters_select_exactly_the_brute_force_documents(collection, mode):
    store = UnivecVectorStore(collection, mode=mode)
    store.add_texts(TEXTS, ROWS, ids=IDS)
    for given in FILTERS:
        expected = expected_ids(parse_filter(given), IDS, ROWS)
        found = {d.id for d in store.similarity_search(QUERY, k=10, filter=given)}
        assert found == expected, given
        mmr = store.max_marginal_relevance_search(QUERY, k=10, fetch_k=10, filter=given)
        assert {d.id for d in mmr} == expected, given
    assert {len(expected_ids(parse_filter(f), IDS, ROWS)) for f in FILTERS} >= {0, 1, 2, 3, 4}


def test_images_by_path_and_bytes(collection, golden_images, tiny_encoder):
    store = UnivecVectorStore(collection)
    ids = store.add_images(
        [str(golden_images[0]), golden_images[1].read_bytes()], [{"n": 0}, {"n": 1}]
    )
    stored = collection.get(ids, with_vectors=True)
    expected = tiny_encoder.encode(
        [univec.Image(p) for p in golden_images[:2]], "retrieval.passage"
    )
    np.testing.assert_allclose([d.dense for d in stored], expected, atol=1e-5)
    assert store.get_by_ids(ids) == [
        Document(id=ids[0], page_content="", metadata={"n": 0, "image": str(golden_images[0])}),
        Document(id=ids[1], page_content="", metadata={"n": 1}),
    ]
    assert {d.id for d in store.similarity_search("a picture", k=2)} == set(ids)


def test_mmr_diversifies_by_the_stored_dense_vectors(store, collection, tiny_encoder):
    relevant = store.max_marginal_relevance_search(QUERY, k=3, fetch_k=5, lambda_mult=1.0)
    assert [d.id for d in relevant] == [h.id for h in collection.search(QUERY, k=3, mode="dense")]
    diverse = store.max_marginal_relevance_search(QUERY, k=3, fetch_k=5, lambda_mult=0.0)
    dense = {d.id: d.dense for d in collection.get(IDS, with_vectors=True)}
    query = tiny_encoder.encode([QUERY], "retrieval.query")[0]
    picked = [max(IDS, key=lambda i: dense[i] @ query)]
    while len(picked) < 3:  # each next pick is the least similar to those already picked
        rest = [i for i in IDS if i not in picked]
        picked.append(min(rest, key=lambda i: max(dense[i] @ dense[p] for p in picked)))
    assert [d.id for d in diverse] == picked


def test_from_texts_builds_the_collection(tiny_encoder, tmp_path, lite_uri, collection_name):
    embedding = UnivecEmbeddings(encoder=tiny_encoder)
    qdrant = UnivecVectorStore.from_texts(
        TEXTS, embedding, METAS, ids=IDS, path=tmp_path, progress=False
    )
    with qdrant:
        assert type(qdrant.collection).__name__ == "QdrantCollection"
        assert [d.id for d in qdrant.similarity_search(QUERY, k=5)] == [
            h.id for h in qdrant.collection.search(QUERY, k=5)
        ]
        assert qdrant.embeddings is embedding
    pytest.importorskip("milvus_lite")
    milvus = UnivecVectorStore.from_texts(
        TEXTS, embedding, collection_name=collection_name, uri=lite_uri, progress=False
    )
    with milvus:
        assert (
            type(milvus.collection).__name__ == "MilvusCollection" and len(milvus.collection) == 5
        )
        milvus.delete()  # ids=None: every document
        assert len(milvus.collection) == 0
    with pytest.raises(univec.errors.ClosedError):
        milvus.similarity_search(QUERY)


async def test_async_search_leaves_the_event_loop_free(store, collection, monkeypatch):
    entered, release = threading.Event(), threading.Event()
    search = collection.search

    def gated_search(*args, **kwargs):
        entered.set()
        # Only the event loop releases the gate: a search blocking the loop never returns here.
        if not release.wait(timeout=20):
            raise AssertionError("the event loop was blocked while the search ran")
        return search(*args, **kwargs)

    monkeypatch.setattr(collection, "search", gated_search)
    task = asyncio.create_task(store.asimilarity_search(QUERY, k=2))
    assert await asyncio.to_thread(entered.wait, 20)
    assert not task.done()  # the search waits in its thread while this coroutine runs
    release.set()
    assert [d.id for d in await task] == [h.id for h in search(QUERY, k=2)]


async def test_async_forms(collection):
    store = UnivecVectorStore(collection)
    assert await store.aadd_texts(TEXTS[:2], ids=["a", "b"]) == ["a", "b"]
    assert [d.id for d in await store.aget_by_ids(["b", "a"])] == ["b", "a"]
    found = await store.asimilarity_search_with_score(QUERY, k=1, mode="multi")
    assert found[0][1] == pytest.approx(collection.search(QUERY, k=1, mode="multi")[0].score)
    assert len(await store.amax_marginal_relevance_search(QUERY, k=2, fetch_k=2)) == 2
    await store.adelete(["a"])
    assert [d.id for d in await store.aget_by_ids(["a", "b"])] == ["b"]


def test_bad_input_gets_typed_errors_naming_the_fix(store, tmp_path):
    with pytest.raises(ValueError, match=r"unknown operator '\$regex'; use one of"):
        store.similarity_search(QUERY, filter={"position": {"$regex": "x"}})
    with pytest.raises(TypeError, match="LangChain ids are str"):
        store.add_texts(["x"], ids=[5])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="every item must be a str"):
        store.add_texts([tmp_path])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="Pass a path, an http"):
        store.add_images([3.5])
    with pytest.raises(ValueError, match="search mode"):
        store.similarity_search(QUERY, mode="sparse")
    with pytest.raises(ValueError, match="UnivecEmbeddings"):
        UnivecVectorStore.from_texts(["x"], embedding=object())
    store.close()
    with pytest.raises(univec.errors.ClosedError, match="closed"):
        store.add_texts(["x"])
