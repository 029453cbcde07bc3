"""Storage options (``pool_factor``, ``token_precision``, ``first_stage``) on every engine.

Collection-level tests run the real engines with the tiny checkpoint (``store`` fixture of
``collection_contract``); the rescoring tests write controlled token vectors through the
engines directly, so that the quantised and the float rankings are known to differ.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.integrations.collection_contract import store_fixture
from tests.integrations.collection_support import TEXTS, exact_maxsim
from univec.collections import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_METADATA,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    CollectionSchema,
    PointRecord,
    point_id,
)
from univec.collections.compression import StorageOptions, pool_tokens
from univec.errors import InvalidArgumentError, SchemaMismatchError

store = store_fixture(["qdrant-edge", "qdrant-memory", "milvus-lite"])

OPTIONS: list[dict[str, Any]] = [
    {"pool_factor": 2},
    {"token_precision": "float16"},
    {"token_precision": "int8"},
    {"token_precision": "binary"},
    {"first_stage": "muvera"},
    {"pool_factor": 3, "token_precision": "binary", "first_stage": "muvera"},
]


def _label(options: dict[str, Any]) -> str:
    return ",".join(f"{k}={v}" for k, v in options.items())


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("options", OPTIONS, ids=_label)
def test_options_round_trip_and_a_mismatching_reopen_is_refused(store, tiny_encoder, options):
    if "muvera" in options.values():
        pytest.importorskip("muvera")
    collection = store.open(**options)
    collection.add(TEXTS, ids=list("abcde"))
    before = collection.search("Where do cats sit?", k=5, mode="hybrid")
    store.restart()

    reopened = store.open(**options)
    assert reopened.schema.storage == StorageOptions(**options)
    assert len(reopened) == len(TEXTS)
    after = reopened.search("Where do cats sit?", k=5, mode="hybrid")
    assert [h.id for h in after] == [h.id for h in before]
    assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-5)
    store.close_all()

    for other in (
        {},  # the defaults
        {**options, "pool_factor": options.get("pool_factor", 1) + 1},
        {**options, "token_precision": "float32" if "token_precision" in options else "int8"},
    ):
        with pytest.raises(SchemaMismatchError, match="was created with") as caught:
            store.open(**other)
        for name, value in options.items():
            assert f"{name}={value!r}" in str(caught.value)  # names what to pass
    assert len(store.open(**options)) == len(TEXTS)  # the refused opens released the store


def test_a_collection_made_before_options_opens_with_the_defaults(store):
    store.open().add(TEXTS[:2])
    store.restart()
    assert len(store.open(pool_factor=1, token_precision="float32", first_stage="dense")) == 2
    store.close_all()
    with pytest.raises(SchemaMismatchError, match="pool_factor=1"):
        store.open(pool_factor=2)


def test_bad_options_are_refused_before_anything_is_written(store):
    with pytest.raises(InvalidArgumentError, match="token_precision='half'"):
        store.open(token_precision="half")
    with pytest.raises(InvalidArgumentError, match="pool_factor=0"):
        store.open(pool_factor=0)
    assert len(store.open(pool_factor=2)) == 0  # nothing was created with the bad options


# --------------------------------------------------------------------------- pooling
def test_pool_factor_one_is_exactly_todays_storage_and_scores(store, tiny_encoder):
    explicit = store.open(pool_factor=1)
    explicit.add(TEXTS, ids=list("abcde"))
    expected = tiny_encoder.encode(TEXTS, "retrieval.passage", multivector=True)
    stored = explicit.get(list("abcde"), with_vectors=True)
    for document, tokens in zip(stored, expected, strict=True):
        assert np.array_equal(document.multi, tokens)  # bit for bit, every token
    exact = exact_maxsim(tiny_encoder, "a capital city", TEXTS)
    hits = explicit.search("a capital city", k=5, mode="multi")
    assert [h.id for h in hits] == [list("abcde")[i] for i in np.argsort(-exact, kind="stable")]
    assert [h.score for h in hits] == pytest.approx(sorted(exact, reverse=True), abs=1e-4)


def test_pooled_documents_store_the_pooled_tokens_and_score_them(store, tiny_encoder):
    collection = store.open(pool_factor=2)
    collection.add(TEXTS, ids=list("abcde"))
    tokens = tiny_encoder.encode(TEXTS, "retrieval.passage", multivector=True)
    pooled = [pool_tokens(np.asarray(t, np.float32), 2) for t in tokens]
    for document, original, expected in zip(
        collection.get(list("abcde"), with_vectors=True), tokens, pooled, strict=True
    ):
        assert len(document.multi) == math.ceil(len(original) / 2)
        np.testing.assert_allclose(document.multi, expected, atol=1e-6)
        # Every original token is in one cluster: its pooled vector still points its way.
        assert (np.asarray(original) @ document.multi.T).max(axis=1).min() > 0
    query = tiny_encoder.encode(["a capital city"], "retrieval.query", multivector=True)[0]
    exact = np.array([float(np.max(query @ p.T, axis=1).sum()) for p in pooled])
    hits = collection.search("a capital city", k=5, mode="multi")
    assert [h.score for h in hits] == pytest.approx(sorted(exact, reverse=True), abs=1e-4)
    assert collection.get(["a"], with_vectors=False)[0].text == TEXTS[0]


# --------------------------------------------------------------------------- rescoring
def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _corpus(seed: int = 0, docs: int = 400, tokens: int = 40, dim: int = 128) -> dict[str, Any]:
    """Clustered token vectors: binary codes rank these documents far from MaxSim's order."""
    rng = np.random.default_rng(seed)
    centroids = _unit(rng.normal(size=(16, dim)))
    multi = _unit(
        centroids[rng.integers(0, 16, (docs, tokens))]
        + rng.normal(scale=0.3, size=(docs, tokens, dim))
    )
    query = _unit(centroids[rng.integers(0, 16, 8)] + rng.normal(scale=0.3, size=(8, dim)))
    exact = np.einsum("qd,ntd->nqt", query, multi).max(axis=2).sum(axis=1)
    return {
        "multi": multi,
        "dense": _unit(multi.mean(axis=1)),
        "query": query,
        "query_dense": _unit(query.mean(axis=0)),
        "exact": exact,
    }


def _records(corpus: dict[str, Any]) -> list[PointRecord]:
    return [
        PointRecord(
            point_id=point_id(i),
            document_id=i,
            part=0,
            part_count=1,
            dense=corpus["dense"][i],
            multi=corpus["multi"][i],
            payload={
                PAYLOAD_DOCUMENT_ID: i,
                PAYLOAD_PART: 0,
                PAYLOAD_PART_COUNT: 1,
                PAYLOAD_METADATA: {},
            },
        )
        for i in range(len(corpus["multi"]))
    ]


def _engine(kind: str, tmp_path: Path, precision: str, lite_uri: str, name: str) -> Any:
    schema = CollectionSchema(dense_dim=128, storage=StorageOptions(token_precision=precision))
    if kind == "qdrant-edge":
        pytest.importorskip("qdrant_edge")
        from univec_qdrant._edge import EdgeEngine

        engine: Any = EdgeEngine(tmp_path / "qdrant", "rescoring")
    else:
        pytest.importorskip("milvus_lite")
        from univec_milvus._engine import MilvusEngine

        engine = MilvusEngine(name, uri=lite_uri)
    engine.ensure_collection(schema)
    return engine


@pytest.fixture(scope="module")
def corpus() -> dict[str, Any]:
    return _corpus()


@pytest.mark.parametrize("kind", ["qdrant-edge", "milvus-lite"])
@pytest.mark.parametrize("precision", ["int8", "binary"])
def test_quantised_hybrid_returns_the_float_top_k_of_its_candidates(
    kind, precision, corpus, tmp_path, request
):
    lite_uri = request.getfixturevalue("lite_uri") if kind == "milvus-lite" else ""
    name = request.getfixturevalue("collection_name")
    engine = _engine(kind, tmp_path, precision, lite_uri, name)
    try:
        engine.upsert(_records(corpus))
        engine.flush()
        exact = corpus["exact"]
        for candidates in (len(exact), 100):
            pool = np.argsort(-(corpus["dense"] @ corpus["query_dense"]))[:candidates]
            expected = pool[np.argsort(-exact[pool], kind="stable")][:10]
            hits = engine.search(
                mode="hybrid",
                dense=corpus["query_dense"],
                multi=corpus["query"],
                limit=10,
                candidates=candidates,
                filter=None,
            )
            found = [int(h.payload[PAYLOAD_DOCUMENT_ID]) for h in hits]
            assert found == expected.tolist(), candidates
            assert [h.score for h in hits] == pytest.approx(exact[expected].tolist(), abs=1e-5)
    finally:
        engine.close()


def test_qdrant_quantised_rerank_trap_is_rescored_in_float(corpus, tmp_path, monkeypatch):
    """Qdrant reranks prefetched points by quantised scores unless told to rescore in float.

    It then reports float scores of the points it chose, so the mistake is silent: the
    ranking is the quantised one. Without the final-stage parameters this very search
    misses most of the float top 10 (the trap of the issue: recall@10 0.57 and below).
    """
    from univec_qdrant._edge import EdgeEngine

    engine = _engine("qdrant-edge", tmp_path, "binary", "", "")
    try:
        engine.upsert(_records(corpus))
        engine.flush()
        exact = corpus["exact"]
        pool = np.argsort(-(corpus["dense"] @ corpus["query_dense"]))[:100]
        expected = set(pool[np.argsort(-exact[pool], kind="stable")][:10].tolist())

        def top() -> set[int]:
            hits = engine.search(
                mode="hybrid",
                dense=corpus["query_dense"],
                multi=corpus["query"],
                limit=10,
                candidates=100,
                filter=None,
            )
            return {int(h.payload[PAYLOAD_DOCUMENT_ID]) for h in hits}

        assert top() == expected
        monkeypatch.setattr(EdgeEngine, "_final_params", lambda self, mode: None)
        trapped = top()
        assert len(trapped & expected) <= 6  # the trap is real in this Qdrant version
    finally:
        engine.close()


def test_quantised_multi_search_rescoring_finds_the_float_top_k(corpus, tmp_path):
    engine = _engine("qdrant-edge", tmp_path, "int8", "", "")
    try:
        engine.upsert(_records(corpus))
        engine.flush()
        hits = engine.search(
            mode="multi", dense=None, multi=corpus["query"], limit=10, candidates=10, filter=None
        )
        found = [int(h.payload[PAYLOAD_DOCUMENT_ID]) for h in hits]
        expected = np.argsort(-corpus["exact"], kind="stable")[:10]
        assert len(set(found) & set(expected.tolist())) >= 9
        assert [h.score for h in hits] == pytest.approx(corpus["exact"][found].tolist(), abs=1e-5)
    finally:
        engine.close()


def test_muvera_first_stage_candidates_are_reranked_exactly(store, tiny_encoder):
    pytest.importorskip("muvera")
    collection = store.open(first_stage="muvera")
    collection.add(TEXTS, ids=list("abcde"))
    exact = exact_maxsim(tiny_encoder, "programming languages", TEXTS)
    hits = collection.search("programming languages", k=3, mode="hybrid", candidates=5)
    assert [h.id for h in hits] == [list("abcde")[i] for i in np.argsort(-exact)[:3]]
    assert [h.score for h in hits] == pytest.approx(sorted(exact, reverse=True)[:3], abs=1e-4)
    few = collection.search("programming languages", k=2, mode="hybrid", candidates=2)
    assert len(few) == 2


def test_each_engine_stores_its_muvera_shape_and_refuses_an_earlier_one(store, monkeypatch):
    """Qdrant keeps 3,072-d float16 encodings, Milvus 1,152-d float32 ones; a collection
    holding the first univec shape (10 x 16 partitions x 8, 1,280-d) is refused on reopen,
    since its encodings would not match this version's queries."""
    pytest.importorskip("muvera")
    import univec.collections.engine as engine_module
    import univec_milvus._detect as milvus_detect
    import univec_milvus._portable as milvus_portable
    import univec_qdrant._schema as qdrant_schema
    from univec.collections.compression import MuveraEncoding

    class Earlier(MuveraEncoding):
        def __init__(self, dim: int = 128, **_: object) -> None:
            super().__init__(dim, 10, 4, 8)

    with monkeypatch.context() as patch:  # the first shape, wherever an engine picks it
        for module in (engine_module, milvus_portable, milvus_detect, qdrant_schema):
            patch.setattr(module, "MuveraEncoding", Earlier)
        earlier = store.open(first_stage="muvera")
        assert earlier.engine.muvera_encoding(128).output_dim == 1280
        earlier.add(TEXTS[:2], ids=["a", "b"])
        store.restart()
    with pytest.raises(SchemaMismatchError, match=r"(?i)muvera"):
        store.open(first_stage="muvera")


def test_each_engine_searches_its_own_muvera_shape(store, tiny_encoder):
    pytest.importorskip("muvera")
    collection = store.open(first_stage="muvera")
    size = 3072 if store.kind.startswith("qdrant") else 1152
    assert collection.engine.muvera_encoding(128).output_dim == size
    collection.add(TEXTS, ids=list("abcde"))
    exact = exact_maxsim(tiny_encoder, "Where do cats sit?", TEXTS)
    hits = collection.search("Where do cats sit?", k=5, mode="hybrid", candidates=5)
    assert [h.score for h in hits] == pytest.approx(sorted(exact, reverse=True), abs=1e-4)
