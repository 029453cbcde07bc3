"""``MilvusEngine`` on Milvus Lite with synthetic vectors: exact MaxSim, paging, packing, layouts."""

from __future__ import annotations

import numpy as np
import pytest

import univec
from univec.collections import (
    PAYLOAD_DOCUMENT_ID,
    CollectionSchema,
    FieldCondition,
    PointRecord,
    point_id,
)
from univec.errors import ConfigurationError, SchemaMismatchError
from univec.scoring import maxsim_many
from univec_milvus import _create, _engine, _portable
from univec_milvus._engine import MilvusEngine
from univec_milvus._packing import (
    PIECE_BYTES,
    maxsim_bounds,
    pack_int8,
    pack_tokens,
    survivors,
    unpack_int8,
    unpack_tokens,
)

SCHEMA = CollectionSchema(dense_dim=16, multi_dim=128)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def corpus() -> dict:
    """40 documents of 1..300 unit token vectors, their dense vectors and a query."""
    rng = np.random.default_rng(7)
    lengths = [1, 2, 300, *rng.integers(3, 120, size=37).tolist()]
    tokens = [_unit(rng.normal(size=(n, 128))) for n in lengths]
    return {
        "tokens": tokens,
        "dense": _unit(rng.normal(size=(len(tokens), 16))),
        "query": _unit(rng.normal(size=(12, 128))),
        "query_dense": _unit(rng.normal(size=16)),
    }


def _records(corpus: dict) -> list[PointRecord]:
    return [
        PointRecord(
            point_id=point_id(i),
            document_id=i,
            part=0,
            part_count=1,
            dense=corpus["dense"][i],
            multi=tokens,
            payload={
                "document_id": i,
                "part": 0,
                "part_count": 1,
                "metadata": {"group": i % 4, "name": f'doc "{i}"\n'},
            },
        )
        for i, tokens in enumerate(corpus["tokens"])
    ]


@pytest.fixture
def engine(lite_uri, collection_name, corpus):
    engine = MilvusEngine(collection_name, uri=lite_uri)
    engine.ensure_collection(SCHEMA)
    engine.upsert(_records(corpus))
    yield engine
    engine.close()


def _exact(corpus: dict, subset=None) -> np.ndarray:
    ids = range(len(corpus["tokens"])) if subset is None else subset
    return np.array([univec.maxsim(corpus["query"], corpus["tokens"][i]) for i in ids])


def _ids(hits) -> list[int]:
    return [hit.payload[PAYLOAD_DOCUMENT_ID] for hit in hits]


# --------------------------------------------------------------------------- packing
@pytest.mark.parametrize("tokens", [0, 1, 95, 96, 97, 300, 1000])
def test_tokens_pack_into_varchar_pieces_and_back_bit_for_bit(tokens):
    multi = np.random.default_rng(tokens).normal(size=(tokens, 128)).astype(np.float32)
    pieces = pack_tokens(multi)
    assert all(len(piece) <= 65_535 for piece in pieces)  # the VARCHAR cap of servers
    assert len(pieces) == -(-multi.nbytes // PIECE_BYTES)
    unpacked = unpack_tokens(pieces, 128)
    assert unpacked.dtype == np.float32 and np.array_equal(unpacked, multi)


def test_maxsim_batch_equals_maxsim_per_document(corpus):
    documents = [*corpus["tokens"][:5], np.zeros((0, 128), np.float32)]
    expected = [univec.maxsim(corpus["query"], d) for d in documents]
    assert maxsim_many(corpus["query"], documents) == pytest.approx(expected, abs=1e-5)
    assert maxsim_many(corpus["query"], []).shape == (0,)


def test_int8_bounds_always_contain_the_exact_maxsim():
    rng = np.random.default_rng(3)
    documents = [
        rng.normal(size=(n, 128)).astype(np.float32) * rng.uniform(0.1, 5)  # any norms
        for n in (1, 7, 300, 64)
    ]
    documents += [np.zeros((0, 128), np.float32), np.zeros((3, 128), np.float32)]
    query = rng.normal(size=(9, 128)).astype(np.float32)
    sketches = [unpack_int8(pack_int8(d), 128) for d in documents]
    assert [len(codes) for codes, _, _ in sketches] == [len(d) for d in documents]
    lower, upper = maxsim_bounds(query, sketches)
    exact = np.array([univec.maxsim(query, d) for d in documents])
    assert np.all(lower <= exact + 1e-4) and np.all(exact <= upper + 1e-4)
    # Tight for unit vectors (what the model makes): under 0.025 per query token.
    unit_query = _unit(query)
    unit_documents = [_unit(d) for d in documents[:4]]
    lower, upper = maxsim_bounds(
        unit_query, [unpack_int8(pack_int8(d), 128) for d in unit_documents]
    )
    exact = np.array([univec.maxsim(unit_query, d) for d in unit_documents])
    assert np.all(lower <= exact + 1e-5) and np.all(exact <= upper + 1e-5)
    assert np.all(upper - lower < 0.025 * len(query))


def test_survivors_keep_every_possible_top_k_document():
    rng = np.random.default_rng(5)
    query = rng.normal(size=(16, 128)).astype(np.float32)
    documents = [
        rng.normal(size=(int(n), 128)).astype(np.float32) for n in rng.integers(1, 80, 300)
    ]
    lower, upper = maxsim_bounds(query, [unpack_int8(pack_int8(d), 128) for d in documents])
    exact = np.array([univec.maxsim(query, d) for d in documents])
    for k in (1, 10, 50):
        kept = set(survivors(lower, upper, k).tolist())
        assert set(np.argsort(-exact)[:k].tolist()) <= kept
        assert len(kept) < len(documents)  # and some were pruned
    assert survivors(lower[:3], upper[:3], 10).tolist() == [0, 1, 2]


# --------------------------------------------------------------------------- search
def test_multi_is_exact_maxsim_over_every_document(engine, corpus):
    exact = _exact(corpus)
    hits = engine.search(
        mode="multi", dense=None, multi=corpus["query"], limit=10, candidates=5, filter=None
    )
    assert _ids(hits) == np.argsort(-exact, kind="stable")[:10].tolist()
    assert [h.score for h in hits] == pytest.approx(np.sort(exact)[::-1][:10], abs=1e-4)


def test_hybrid_reranks_the_dense_candidates_exactly(engine, corpus):
    dense_top = np.argsort(-(corpus["dense"] @ corpus["query_dense"]))[:8]
    hits = engine.search(
        mode="hybrid",
        dense=corpus["query_dense"],
        multi=corpus["query"],
        limit=5,
        candidates=8,
        filter=None,
    )
    exact = _exact(corpus, dense_top)
    assert _ids(hits) == dense_top[np.argsort(-exact, kind="stable")[:5]].tolist()
    assert [h.score for h in hits] == pytest.approx(np.sort(exact)[::-1][:5], abs=1e-4)


def test_dense_scores_are_cosines(engine, corpus):
    cosines = corpus["dense"] @ corpus["query_dense"]
    hits = engine.search(
        mode="dense", dense=corpus["query_dense"], multi=None, limit=4, candidates=4, filter=None
    )
    assert _ids(hits) == np.argsort(-cosines)[:4].tolist()
    assert [h.score for h in hits] == pytest.approx(np.sort(cosines)[::-1][:4], abs=1e-4)


@pytest.mark.parametrize("mode", ["multi", "dense", "hybrid"])
def test_filters_apply_in_every_mode(engine, corpus, mode):
    conditions = [FieldCondition("group", (1, 3), "in"), FieldCondition("name", ('doc "5"\n',))]
    hits = engine.search(
        mode=mode,
        dense=corpus["query_dense"],
        multi=corpus["query"],
        limit=10,
        candidates=40,
        filter=conditions,
    )
    assert _ids(hits) == [5]
    native = 'payload["metadata"]["group"] == 2'
    hits = engine.search(
        mode=mode,
        dense=corpus["query_dense"],
        multi=corpus["query"],
        limit=40,
        candidates=40,
        filter=native,
    )
    assert sorted(_ids(hits)) == [i for i in range(40) if i % 4 == 2]
    assert engine.count(native) == 10 and engine.count_documents(conditions) == 1


def test_listing_more_rows_than_a_query_returns_splits_by_id_prefix(engine, corpus, monkeypatch):
    monkeypatch.setattr(_engine, "QUERY_CAP", 3)  # Milvus' 16,384, scaled down
    calls = []
    query = engine.client.query
    monkeypatch.setattr(engine.client, "query", lambda *a, **k: calls.append(k) or query(*a, **k))
    ids = engine.list_ids(None)
    assert ids == sorted(point_id(i) for i in range(40))
    assert len(calls) > 17 and all(call["limit"] == 3 for call in calls)
    assert any('id like "' in call["filter"] for call in calls)
    hits = engine.search(
        mode="multi", dense=None, multi=corpus["query"], limit=3, candidates=3, filter=None
    )
    assert _ids(hits) == np.argsort(-_exact(corpus), kind="stable")[:3].tolist()


def test_upserts_are_split_into_requests_under_the_size_cap(
    lite_uri, collection_name, corpus, monkeypatch
):
    monkeypatch.setattr(_engine, "MAX_REQUEST_BYTES", 200_000)
    engine = MilvusEngine(collection_name, uri=lite_uri)
    engine.ensure_collection(SCHEMA)
    sizes = []
    upsert = engine.client.upsert
    monkeypatch.setattr(
        engine.client, "upsert", lambda name, rows: sizes.append(len(rows)) or upsert(name, rows)
    )
    engine.upsert(_records(corpus))
    assert len(sizes) > 3 and sum(sizes) == 40 and engine.count() == 40
    engine.close()


# --------------------------------------------------------------------------- reads and writes
def test_retrieve_delete_and_reupsert(engine, corpus):
    got = engine.retrieve([point_id(2), "missing", point_id(0)], with_multi=True)
    assert [r.document_id for r in got] == [2, 0]
    assert np.array_equal(got[0].multi, corpus["tokens"][2])  # bit-for-bit
    assert got[0].multi.flags.writeable
    np.testing.assert_allclose(got[0].dense, corpus["dense"][2], atol=1e-6)
    assert engine.retrieve([point_id(1)])[0].multi.shape == (0, 128)  # no tokens asked for
    engine.delete([point_id(0), point_id(1), "missing"])
    assert engine.count() == 38 and engine.retrieve([point_id(0)]) == []
    engine.upsert(_records(corpus)[:2])
    assert engine.count() == 40


# --------------------------------------------------------------------------- layouts
def test_lite_gets_the_portable_layout(engine):
    assert engine.layout.name == "portable"
    described = engine.client.describe_collection(engine.name)
    assert described["properties"]["univec.multi_dim"] == "128"
    assert "portable" in repr(engine)


def test_native_attempt_on_lite_falls_back_after_checking_the_schema(
    lite_uri, collection_name, monkeypatch
):
    # Pretend the server is new enough: Milvus Lite accepts the StructArray field, drops it,
    # and the engine must notice from describe_collection and build the portable layout.
    monkeypatch.setattr(_create, "supports_native", lambda version: True)
    engine = MilvusEngine(collection_name, uri=lite_uri)
    created, indexed = [], []
    create, index = engine.client.create_collection, engine.client.create_index
    monkeypatch.setattr(
        engine.client, "create_collection", lambda *a, **k: created.append(k) or create(*a, **k)
    )
    monkeypatch.setattr(
        engine.client, "create_index", lambda *a, **k: indexed.append(a) or index(*a, **k)
    )
    engine.ensure_collection(SCHEMA)
    assert engine.layout.name == "portable"
    assert "struct_fields" in created[0]["schema"].to_dict()  # the native schema was tried
    # ... and abandoned on reading the schema back, before indexing the embedding lists
    assert indexed and not any("tokens[vector]" in str(call) for call in indexed)
    assert (
        engine.client.describe_collection(collection_name)["properties"]["univec.layout"]
        == "portable"
    )
    engine.close()


def test_native_demanded_where_unsupported_is_an_error_and_leaves_nothing(
    lite_uri, collection_name
):
    engine = MilvusEngine(collection_name, uri=lite_uri, layout="native")
    with pytest.raises(ConfigurationError, match="native layout"):
        engine.ensure_collection(SCHEMA)
    assert not engine.client.has_collection(collection_name)
    engine.close()


def test_existing_layout_wins_and_a_contradicting_one_is_a_mismatch(engine, lite_uri):
    again = MilvusEngine(engine.name, uri=lite_uri, layout="native")
    with pytest.raises(SchemaMismatchError, match="portable layout"):
        again.ensure_collection(SCHEMA)
    again.close()


def test_foreign_collections_are_a_mismatch(lite_uri, collection_name):
    from pymilvus import MilvusClient

    client = MilvusClient(lite_uri)
    client.create_collection(collection_name, dimension=16)  # pymilvus' quick setup
    engine = MilvusEngine(collection_name, client=client)
    with pytest.raises(SchemaMismatchError, match="not created by univec"):
        engine.ensure_collection(SCHEMA)
    engine.close()
    assert client.has_collection(collection_name)  # untouched, client still open


@pytest.mark.parametrize("name", ["9lives", "has-dash", "", "a" * 256])
def test_invalid_names_are_refused_before_connecting(name):
    with pytest.raises(ConfigurationError, match="letters, digits"):
        MilvusEngine(name, uri="http://127.0.0.1:9")


def test_multi_bounds_from_int8_pages_then_reads_few_float32_rows(engine, corpus, monkeypatch):
    monkeypatch.setattr(_portable, "INT8_PAGE", 7)
    monkeypatch.setattr(_portable, "TOKEN_PAGE", 5)
    calls = []
    get = engine.client.get
    monkeypatch.setattr(
        engine.client,
        "get",
        lambda *a, **k: calls.append((k["output_fields"], len(k["ids"]))) or get(*a, **k),
    )
    hits = engine.search(
        mode="multi", dense=None, multi=corpus["query"], limit=2, candidates=2, filter=None
    )
    exact = _exact(corpus)
    assert _ids(hits) == np.argsort(-exact, kind="stable")[:2].tolist()
    assert [h.score for h in hits] == pytest.approx(np.sort(exact)[::-1][:2], abs=1e-4)
    int8 = [n for fields, n in calls if fields == ["tokens_int8"]]
    assert max(int8) == 7 and sum(int8) == 40  # every document bounded from its int8 codes
    float32 = [n for fields, n in calls if "tokens" in fields]
    assert max(float32) <= 5 and 2 <= sum(float32) < 20  # few read in full
