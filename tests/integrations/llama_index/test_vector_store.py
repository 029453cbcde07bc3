"""UnivecVectorStore for LlamaIndex: an index over text and image nodes, one pass per node."""

from __future__ import annotations

import numpy as np
import pytest
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.llms import MockLLM
from llama_index.core.schema import (
    ImageNode,
    MetadataMode,
    NodeRelationship,
    RelatedNodeInfo,
    TextNode,
)
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters, VectorStoreQuery

import univec
from llama_index.embeddings.univec import UnivecEmbedding
from llama_index.vector_stores.univec import UnivecVectorStore
from llama_index.vector_stores.univec._filters import to_filter
from tests.integrations.store_support import (
    ENGINES,
    ROWS,
    TEXTS,
    exact_maxsim,
    expected_ids,
    image_b64,
    open_collection,
)
from tests.support.spies import count_forward_rows

QUERY = "Where is Paris?"


@pytest.fixture(params=ENGINES)
def collection(request, tiny_encoder, tmp_path, lite_uri, collection_name):
    if request.param == "milvus_lite":
        pytest.importorskip("milvus_lite")
    with open_collection(request.param, tiny_encoder, tmp_path, lite_uri, collection_name) as made:
        yield made


@pytest.fixture
def store(collection):
    return UnivecVectorStore(collection)


def text_nodes(source: str = "doc-a") -> list[TextNode]:
    return [
        TextNode(
            id_=f"t{i}",
            text=text,
            metadata={"position": i},
            relationships={
                NodeRelationship.SOURCE: RelatedNodeInfo(node_id=source if i < 3 else "doc-b")
            },
        )
        for i, text in enumerate(TEXTS)
    ]


def image_nodes(golden_images) -> list[ImageNode]:
    return [
        ImageNode(id_="img-path", image_path=str(golden_images[0]), metadata={"kind": "path"}),
        ImageNode(id_="img-b64", image=image_b64(golden_images[1]), metadata={"kind": "base64"}),
    ]


def index_of(store: UnivecVectorStore, nodes) -> VectorStoreIndex:
    context = StorageContext.from_defaults(vector_store=store)
    return VectorStoreIndex(nodes, storage_context=context, embed_model=store.embed_model)


@pytest.mark.parametrize("mode", ["hybrid", "multi", "dense"])
def test_retriever_returns_the_collection_search(store, collection, golden_images, mode):
    texts = text_nodes()
    index_of(store, texts + image_nodes(golden_images))
    index = VectorStoreIndex.from_vector_store(store, embed_model=store.embed_model)
    retriever = index.as_retriever(similarity_top_k=7, vector_store_kwargs={"mode": mode})
    retrieved = retriever.retrieve(QUERY)
    hits = collection.search(QUERY, k=7, mode=mode)
    assert [n.node.node_id for n in retrieved] == [str(h.id) for h in hits]
    np.testing.assert_allclose([n.score for n in retrieved], [h.score for h in hits], atol=1e-5)
    assert {n.node.node_id for n in retrieved} == {f"t{i}" for i in range(5)} | {
        "img-path",
        "img-b64",
    }
    if mode != "dense":  # scores are the exact MaxSim of the query text against each node
        # what LlamaIndex embeds for a text node: its text with its metadata
        items: dict = {n.node_id: n.get_content(metadata_mode=MetadataMode.EMBED) for n in texts}
        items |= {
            "img-path": univec.Image(golden_images[0]),
            "img-b64": univec.Image(golden_images[1]),
        }
        for found in retrieved:
            expected = exact_maxsim(collection.encoder, QUERY, items[found.node.node_id])
            assert found.score == pytest.approx(expected, abs=1e-5)


def test_image_nodes_are_stored_as_images(store, collection, golden_images, tiny_encoder):
    store.add(image_nodes(golden_images))
    stored = collection.get(["img-path", "img-b64"], with_vectors=True)
    expected = tiny_encoder.encode(
        [univec.Image(p) for p in golden_images[:2]], "retrieval.passage"
    )
    np.testing.assert_allclose([d.dense for d in stored], expected, atol=1e-5)
    nodes = store.get_nodes(["img-path", "img-b64"])
    assert [type(n) for n in nodes] == [ImageNode, ImageNode]
    assert nodes[0].image_path == str(golden_images[0]) and nodes[1].metadata == {"kind": "base64"}


def test_query_engine_answers_from_the_store(store, collection):
    index_of(store, text_nodes())
    engine = index_of(store, []).as_query_engine(llm=MockLLM(), similarity_top_k=2)
    response = engine.query(QUERY)
    assert [n.node.node_id for n in response.source_nodes] == [
        str(h.id) for h in collection.search(QUERY, k=2)
    ]


def test_index_ingest_runs_the_model_once_per_node(store, collection, tiny_encoder, monkeypatch):
    rows = count_forward_rows(tiny_encoder, monkeypatch)
    index_of(store, text_nodes())
    assert sum(rows) == len(TEXTS) and collection.count() == len(TEXTS)
    # A plain embed model cannot hand its pass to the store: the store encodes again.
    rows.clear()
    context = StorageContext.from_defaults(vector_store=store)
    plain = UnivecEmbedding(encoder=tiny_encoder)
    VectorStoreIndex(text_nodes("doc-c"), storage_context=context, embed_model=plain)
    assert sum(rows) == 2 * len(TEXTS)


def test_transformation_ingest_runs_once_per_node_images_too(
    store, collection, golden_images, tiny_encoder, monkeypatch
):
    rows = count_forward_rows(tiny_encoder, monkeypatch)
    nodes = text_nodes() + image_nodes(golden_images)
    index_of(store, store.embed_model(nodes))
    assert sum(rows) == len(nodes)
    rows.clear()
    IngestionPipeline(transformations=[store.embed_model], vector_store=store).run(
        nodes=text_nodes()
    )
    assert sum(rows) == len(TEXTS)
    assert collection.count() == len(nodes)  # the same ids again: replaced, not duplicated
    stored = collection.get(["img-path"], with_vectors=True)[0]
    expected = tiny_encoder.encode([univec.Image(golden_images[0])], "retrieval.passage")[0]
    np.testing.assert_allclose(stored.dense, expected, atol=1e-5)


def test_readding_replaces_and_deletes_stick(store, collection):
    store.add(text_nodes())
    store.add(text_nodes())
    assert collection.count() == len(TEXTS)
    store.delete("doc-a")  # the ref doc of t0..t2
    assert sorted(str(d.id) for d in collection.list_documents()) == ["t3", "t4"]
    store.delete_nodes(["t3"])
    assert [n.node_id for n in store.get_nodes(["t3", "t4"])] == ["t4"]
    store.clear()
    assert collection.count() == 0
    assert store.query(VectorStoreQuery(query_str=QUERY, similarity_top_k=3)).ids == []


async def test_async_forms(store, collection):
    await store.async_add(text_nodes())
    result = await store.aquery(VectorStoreQuery(query_str=QUERY, similarity_top_k=2))
    assert result.ids == [str(h.id) for h in collection.search(QUERY, k=2)]
    assert [n.node_id for n in await store.aget_nodes(["t1"])] == ["t1"]
    await store.adelete_nodes(["t1"])
    await store.adelete("doc-b")
    assert sorted(str(d.id) for d in collection.list_documents()) == ["t0", "t2"]
    await store.aclear()
    assert collection.count() == 0


def test_bad_input_gets_typed_errors_naming_the_fix(store):
    with pytest.raises(TypeError, match="node ids are non-empty str"):
        store.get_nodes([7])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="TextNode"):
        store.add([object()])  # type: ignore[list-item]
    with pytest.raises(ValueError, match=r"CONTAINS .* not supported; use one of"):
        store.query(
            VectorStoreQuery(
                query_str=QUERY,
                filters=MetadataFilters(
                    filters=[MetadataFilter(key="a", value="x", operator="contains")]
                ),
            )
        )
    with pytest.raises(ValueError, match="query_str"):
        store.query(VectorStoreQuery(query_embedding=[0.1] * 64))
    store.close()
    with pytest.raises(univec.errors.ClosedError, match="closed"):
        store.add(text_nodes())


def mf(key, value, operator="==") -> MetadataFilter:
    return MetadataFilter(key=key, value=value, operator=operator)


#: MetadataFilters covering every mapped operator, AND / OR / NOT and nesting.
FILTERS = [
    MetadataFilters(filters=[mf("lang", "en")]),
    MetadataFilters(filters=[mf("lang", "en", "!=")]),
    MetadataFilters(filters=[mf("year", 2021, ">")]),
    MetadataFilters(filters=[mf("year", 2021, ">=")]),
    MetadataFilters(filters=[mf("score", 2.5, "<")]),
    MetadataFilters(filters=[mf("score", 2.5, "<=")]),
    MetadataFilters(filters=[mf("lang", ["en", "fr"], "in")]),
    MetadataFilters(filters=[mf("lang", ["en", "fr"], "nin")]),
    MetadataFilters(filters=[mf("year", None, "is_empty")]),
    MetadataFilters(filters=[mf("year", 2019, "!=")]),
    MetadataFilters(filters=[mf("date", "2021-01-01", ">=")]),
    MetadataFilters(filters=[mf("author.name", "Ada")]),
    MetadataFilters(filters=[mf("lang", "en"), mf("year", 2024)], condition="and"),
    MetadataFilters(filters=[mf("year", 2020, "<"), mf("score", 3, ">")], condition="or"),
    MetadataFilters(filters=[mf("lang", "en"), mf("lang", "de")], condition="not"),
    MetadataFilters(
        filters=[
            mf("score", 1.0, ">"),
            MetadataFilters(filters=[mf("year", 2023, ">="), mf("lang", "es")], condition="or"),
        ]
    ),
]


def test_filters_select_exactly_the_brute_force_nodes(store):
    nodes = [
        TextNode(id_=f"n{i}", text=text, metadata=row)
        for i, (text, row) in enumerate(zip(TEXTS, ROWS, strict=True))
    ]
    store.add(nodes)
    ids = [n.node_id for n in nodes]
    for filters in FILTERS:
        expected = expected_ids(to_filter(filters), ids, ROWS)
        query = VectorStoreQuery(query_str=QUERY, similarity_top_k=10, filters=filters)
        assert set(store.query(query).ids) == expected, filters
        assert {n.node_id for n in store.get_nodes(filters=filters)} == expected, filters
        assert {n.node_id for n in store.get_nodes(ids[:3], filters=filters)} == expected & set(
            ids[:3]
        )
    assert {len(expected_ids(to_filter(f), ids, ROWS)) for f in FILTERS} >= {1, 2, 3, 4}
    store.delete_nodes(filters=FILTERS[0])  # lang == en
    assert sorted(str(d.id) for d in store.client.list_documents()) == ["n1", "n2", "n4"]


def test_documents_written_by_other_means_come_back_as_nodes(store, collection, golden_images):
    collection.add(
        [TEXTS[0], univec.Image(golden_images[0])],
        ids=["plain", "picture"],
        metadata=[{"a": 1}, None],
    )
    found = {n.node_id: n for n in store.get_nodes(["plain", "picture"])}
    assert isinstance(found["picture"], ImageNode) and found["picture"].metadata == {}
    assert found["plain"].get_content() == TEXTS[0] and found["plain"].metadata == {"a": 1}
    index = VectorStoreIndex.from_vector_store(store, embed_model=store.embed_model)
    retrieved = index.as_retriever(similarity_top_k=2).retrieve(QUERY)
    hits = collection.search(QUERY, k=2)
    assert [(r.node.node_id, r.score) for r in retrieved] == [(str(h.id), h.score) for h in hits]
