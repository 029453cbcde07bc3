"""The engine-independent collection logic, on a small in-memory engine and a stand-in encoder.

The real engines (Qdrant Edge, qdrant-client, Milvus Lite) are tested under
tests/integrations/<name>/ with the tiny checkpoint.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest

import univec
from univec.backends.base import Embeddings, ModelInfo, truncate_dims
from univec.collections import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_METADATA,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    PAYLOAD_TEXT,
    CollectionEngine,
    CollectionSchema,
    Comparison,
    EngineHit,
    FieldCondition,
    MultiVectorCollection,
    PointRecord,
    SearchHit,
    StoredDocument,
    content_id,
    document_key,
    normalize_filter,
    point_id,
)
from univec.collections.filters import evaluate
from univec.errors import (
    ClosedError,
    CollectionError,
    InvalidArgumentError,
    InvalidDimensionsError,
    InvalidFilterError,
    InvalidInputError,
)
from univec.inputs import normalize_inputs


# --------------------------------------------------------------------------- stand-ins
class WordEncoder:
    """Deterministic encoder: one random unit token vector per word (seeded by the word)."""

    info = ModelInfo("word-encoder", 64, (16, 32, 64), 128)

    def __init__(self) -> None:
        self.calls: list[tuple[int, str]] = []

    @property
    def dim(self) -> int:
        return self.info.dim

    def _tokens(self, item: Any, task: str) -> np.ndarray:
        if isinstance(item, str):
            words = [task.split(".")[-1], *item.split()]
        else:
            digest = hashlib.sha256(item.read_bytes()).hexdigest()
            words = [digest[i : i + 8] for i in range(0, 40, 8)]
        rows = [
            np.random.default_rng(int(hashlib.md5(w.encode()).hexdigest()[:8], 16)).normal(size=128)
            for w in words
        ]
        matrix = np.asarray(rows, np.float32)
        return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)

    def encode_both(self, inputs: Any, task: str, *, dimensions: int | None = None) -> Embeddings:
        items = normalize_inputs(inputs)
        self.calls.append((len(items), task))
        multi = [self._tokens(item, task) for item in items]
        dense = np.asarray([np.resize(m.mean(axis=0), 64) for m in multi], np.float32)
        dense /= np.linalg.norm(dense, axis=1, keepdims=True)
        return Embeddings(truncate_dims(dense, dimensions), multi)

    def encode(
        self, inputs: Any, task: str, *, dimensions: int | None = None, multivector: bool = False
    ) -> Any:
        both = self.encode_both(inputs, task, dimensions=dimensions)
        return both.multi if multivector else both.dense


class MemoryEngine(CollectionEngine):
    """A dict-backed CollectionEngine with exact scoring (the reference behaviour)."""

    def __init__(self, *, fail_on_upsert: int | None = None, count_documents: bool = True) -> None:
        self.points: dict[str, PointRecord] = {}
        self.schema: CollectionSchema | None = None
        self.upserts = 0
        self.fail_on_upsert = fail_on_upsert
        self.closed = False
        self.searches: list[dict[str, Any]] = []
        self.counts_documents = count_documents

    def ensure_collection(self, schema: CollectionSchema) -> None:
        self.schema = schema

    def upsert(self, records: Sequence[PointRecord]) -> None:
        self.upserts += 1
        if self.upserts == self.fail_on_upsert:
            raise CollectionError("simulated outage")
        for record in records:
            self.points[record.point_id] = record

    def delete(self, point_ids: Sequence[str]) -> None:
        for pid in point_ids:
            self.points.pop(pid, None)

    def retrieve(self, point_ids: Sequence[str], *, with_multi: bool = False) -> list[PointRecord]:
        found = [self.points[pid] for pid in point_ids if pid in self.points]
        if with_multi:
            return found
        return [
            PointRecord(
                r.point_id,
                r.document_id,
                r.part,
                r.part_count,
                r.dense,
                np.zeros((0, 128), np.float32),
                r.payload,
            )
            for r in found
        ]

    def _matches(self, record: PointRecord, filter: Any) -> bool:
        if filter is None:
            return True
        if callable(filter):  # the "native" filter of this engine
            return bool(filter(record.payload))
        return evaluate(filter, record.payload[PAYLOAD_METADATA])

    def count(self, filter: Any = None) -> int:
        return sum(self._matches(r, filter) for r in self.points.values())

    def count_documents(self, filter: Any = None) -> int:
        if not self.counts_documents:  # the engine contract's default: count points
            return super().count_documents(filter)
        return sum(
            self._matches(r, filter) and r.payload[PAYLOAD_PART] == 0 for r in self.points.values()
        )

    def search(self, *, mode, dense, multi, limit, candidates, filter) -> list[EngineHit]:
        self.searches.append(
            {"mode": mode, "limit": limit, "candidates": candidates, "filter": filter}
        )
        pool = [r for r in self.points.values() if self._matches(r, filter)]
        if mode in ("dense", "hybrid"):
            pool.sort(key=lambda r: float(r.dense @ dense), reverse=True)
        if mode == "hybrid":
            pool = pool[:candidates]
        if mode == "dense":
            scored = [(float(r.dense @ dense), r) for r in pool]
        else:
            scored = [(univec.maxsim(multi, r.multi), r) for r in pool]
            scored.sort(key=lambda pair: pair[0], reverse=True)
        return [EngineHit(r.point_id, s, r.payload) for s, r in scored[:limit]]

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def encoder() -> WordEncoder:
    return WordEncoder()


@pytest.fixture
def engine() -> MemoryEngine:
    return MemoryEngine()


@pytest.fixture
def collection(encoder, engine) -> MultiVectorCollection:
    return MultiVectorCollection("docs", encoder, engine, progress=False)


TEXTS = [
    "the cat sat on the mat",
    "dogs bark at night",
    "paris is the capital of france",
    "rust and python are programming languages",
]


# --------------------------------------------------------------------------- ids
def test_point_ids_are_deterministic_and_type_tagged():
    assert point_id("a") == point_id("a") == point_id("a", 0)
    assert point_id("a", 1) != point_id("a", 0)
    assert point_id(5) != point_id("5")
    assert document_key(5) == "int:5" and document_key("5") == "str:5"
    with pytest.raises(InvalidInputError, match="True"):
        point_id(True)  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError):
        point_id(1.5)  # type: ignore[arg-type]


def test_content_ids_hash_text_and_image_bytes(golden_images):
    assert content_id("x") == content_id("x") != content_id("y")
    image = univec.Image(golden_images[0])
    same = univec.Image(golden_images[0].read_bytes())
    assert content_id(image) == content_id(same) != content_id(univec.Image(golden_images[1]))
    assert content_id(image).startswith("image-") and content_id("x").startswith("text-")


# --------------------------------------------------------------------------- add
def test_add_stores_dense_multi_metadata_and_text(collection, engine, encoder):
    ids = collection.add(TEXTS, ids=["a", "b", 3, "d"], metadata=[{"n": i} for i in range(4)])
    assert ids == ["a", "b", 3, "d"]
    assert len(collection) == 4 and engine.schema == CollectionSchema(64, 128)
    # One encoding pass per batch, with the passage task.
    assert encoder.calls == [(4, "retrieval.passage")]
    record = engine.points[point_id(3)]
    expected = encoder.encode_both([TEXTS[2]], "retrieval.passage")
    np.testing.assert_allclose(record.dense, expected.dense[0])
    np.testing.assert_allclose(record.multi, expected.multi[0])
    assert record.payload == {
        PAYLOAD_DOCUMENT_ID: 3,
        PAYLOAD_PART: 0,
        PAYLOAD_PART_COUNT: 1,
        PAYLOAD_METADATA: {"n": 2},
        PAYLOAD_TEXT: TEXTS[2],
    }


def test_add_images_keeps_no_text(collection, engine, golden_images):
    (image_id,) = collection.add([univec.Image(golden_images[0])])
    record = engine.points[point_id(image_id)]
    assert PAYLOAD_TEXT not in record.payload and image_id.startswith("image-")


def test_readding_replaces_instead_of_duplicating(collection, engine):
    first = collection.add(TEXTS)
    assert collection.add(TEXTS) == first
    assert len(collection) == 4 and len(engine.points) == 4
    collection.add(TEXTS[:2], ids=["x", "y"])
    collection.add(["changed", "also changed"], ids=["x", "y"], metadata=[{"v": 2}, None])
    assert len(collection) == 6
    assert collection.get(["x"])[0] == StoredDocument("x", {"v": 2}, "changed")


def test_identical_content_in_one_call_is_stored_once(collection):
    ids = collection.add(["same", "same", "other"])
    assert ids[0] == ids[1] != ids[2] and len(collection) == 2


def test_batches_and_dimensions(encoder, engine):
    collection = MultiVectorCollection(
        "docs", encoder, engine, dimensions=16, batch_size=3, progress=False
    )
    collection.add([*TEXTS, "one more", "and another"])
    assert engine.upserts == 2 and [n for n, _ in encoder.calls] == [3, 3]
    assert engine.schema.dense_dim == 16
    assert all(r.dense.shape == (16,) for r in engine.points.values())
    collection.add(["x", "y", "z"], batch_size=1)
    assert engine.upserts == 5


def test_progress_bar_can_be_shown_or_hidden(encoder, capsys):
    MultiVectorCollection("shown", encoder, MemoryEngine(), progress=True).add(TEXTS)
    assert "Adding to shown" in capsys.readouterr().err
    MultiVectorCollection("hidden", encoder, MemoryEngine(), progress=False).add(TEXTS)
    assert "Adding to hidden" not in capsys.readouterr().err


def test_failure_mid_add_keeps_stored_batches_and_rerun_does_not_duplicate(encoder):
    engine = MemoryEngine(fail_on_upsert=2)
    collection = MultiVectorCollection("docs", encoder, engine, batch_size=2, progress=False)
    with pytest.raises(CollectionError, match="simulated"):
        collection.add(TEXTS)
    assert len(collection) == 2  # the first batch is stored
    collection.add(TEXTS)  # the re-run
    assert len(collection) == 4 and len(engine.points) == 4


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"ids": ["a"]}, InvalidArgumentError, "1 ids for 4 items"),
        ({"ids": "abcd"}, InvalidArgumentError, "one id per item"),
        ({"ids": ["a", "b", "a", "c"]}, InvalidArgumentError, "repeat"),
        ({"ids": ["a", "b", None, "c"]}, InvalidInputError, "None"),
        ({"metadata": [{}]}, InvalidArgumentError, "1 metadata dicts for 4"),
        ({"metadata": {"lang": "en"}}, InvalidArgumentError, r"\[meta\] \* len"),
        ({"metadata": [{}, {}, {}, "x"]}, InvalidInputError, "metadata #3"),
        ({"batch_size": 0}, InvalidArgumentError, "batch_size=0"),
    ],
)
def test_bad_add_arguments_are_typed_errors(collection, kwargs, error, match):
    with pytest.raises(error, match=match):
        collection.add(TEXTS, **kwargs)
    assert len(collection) == 0


def test_bad_items_are_rejected(collection):
    with pytest.raises(InvalidInputError):
        collection.add("a bare string")
    with pytest.raises(InvalidInputError, match="#1"):
        collection.add(["ok", 42])


def test_bad_constructor_arguments(encoder, engine):
    with pytest.raises(InvalidDimensionsError, match="16, 32, 64"):
        MultiVectorCollection("docs", encoder, engine, dimensions=20)
    with pytest.raises(univec.errors.ConfigurationError):
        MultiVectorCollection("", encoder, engine)
    with pytest.raises(InvalidArgumentError, match="candidates"):
        MultiVectorCollection("docs", encoder, engine, candidates=0)


# --------------------------------------------------------------------------- search
def test_search_modes_score_exactly(collection, encoder):
    collection.add(TEXTS, ids=list("abcd"))
    query = "where is the cat"
    query_multi = encoder.encode([query], "retrieval.query", multivector=True)[0]
    query_dense = encoder.encode([query], "retrieval.query")[0]
    docs = encoder.encode_both(TEXTS, "retrieval.passage")
    exact = {i: univec.maxsim(query_multi, m) for i, m in zip("abcd", docs.multi, strict=True)}
    cosine = {i: float(d @ query_dense) for i, d in zip("abcd", docs.dense, strict=True)}

    multi = collection.search(query, k=4, mode="multi")
    assert [h.id for h in multi] == sorted(exact, key=exact.get, reverse=True)
    for hit in multi:
        assert hit.score == pytest.approx(exact[hit.id], abs=1e-5)
    dense = collection.search(query, k=2, mode="dense")
    assert [h.id for h in dense] == sorted(cosine, key=cosine.get, reverse=True)[:2]
    hybrid = collection.search(query, k=4, candidates=4)
    assert [(h.id, h.score) for h in hybrid] == [(h.id, h.score) for h in multi]
    assert hybrid[0].text in TEXTS and isinstance(hybrid[0], SearchHit)


def test_search_passes_candidates_and_filters_to_the_engine(collection, engine):
    collection.add(TEXTS, metadata=[{"lang": lang} for lang in ("en", "fr", "en", "de")])
    hits = collection.search("cat", k=10, filter={"lang": ["fr", "de"]}, candidates=7)
    assert {h.metadata["lang"] for h in hits} == {"fr", "de"} and len(hits) == 2
    call = engine.searches[-1]
    assert call["candidates"] == 10 and call["limit"] == 10  # never fewer candidates than k
    assert call["filter"] == Comparison("lang", "in", ("fr", "de"))
    native = lambda payload: payload[PAYLOAD_METADATA]["lang"] == "en"  # noqa: E731
    assert {h.metadata["lang"] for h in collection.search("cat", filter=native)} == {"en"}
    assert engine.searches[-1]["filter"] is native
    assert collection.count({"lang": "en"}) == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"mode": "sparse"}, InvalidArgumentError, "sparse"),
        ({"k": 0}, InvalidArgumentError, "k=0"),
        ({"candidates": -1}, InvalidArgumentError, "candidates=-1"),
        ({"filter": {"lang": {"greater": 3}}}, univec.errors.InvalidFilterError, "greater"),
    ],
)
def test_bad_search_arguments_are_typed_errors(collection, kwargs, error, match):
    collection.add(TEXTS)
    with pytest.raises(error, match=match):
        collection.search("cat", **kwargs)


def test_search_takes_one_query(collection):
    with pytest.raises(InvalidInputError, match="one query"):
        collection.search(["a", "b"])
    with pytest.raises(InvalidInputError):
        collection.search(None)


def test_normalize_filter_forms():
    assert normalize_filter({"a": 1, "b": [1, 2], "c": {"in": ("x",)}, "d": {"eq": None}}) == [
        FieldCondition("a", (1,), "eq"),
        FieldCondition("b", (1, 2), "in"),
        FieldCondition("c", ("x",), "in"),
        FieldCondition("d", (None,), "eq"),
    ]


@pytest.mark.parametrize("empty", [[], {"in": []}, set()])
def test_normalize_filter_rejects_an_empty_value_list(empty):
    with pytest.raises(InvalidFilterError, match="'tag' lists no values"):
        normalize_filter({"tag": empty})


# --------------------------------------------------------------------------- long documents
LONG = " ".join(f"word{i}" for i in range(25))  # 26 tokens with the task token


@pytest.fixture
def split_collection(encoder, engine, monkeypatch) -> MultiVectorCollection:
    collection = MultiVectorCollection("docs", encoder, engine, progress=False)
    monkeypatch.setattr(collection, "max_part_tokens", 10)
    return collection


def test_long_document_is_split_and_found_once_with_exact_score(split_collection, engine, encoder):
    split_collection.add(
        [LONG, *TEXTS], ids=["long", *"abcd"], metadata=[{"kind": "long"}] + [{}] * 4
    )
    parts = [r for r in engine.points.values() if r.document_id == "long"]
    assert sorted(r.part for r in parts) == [0, 1, 2] and {r.part_count for r in parts} == {3}
    assert len(split_collection) == 5 and len(engine.points) == 7
    assert all(np.array_equal(r.dense, parts[0].dense) for r in parts)  # the document's dense
    assert [
        r.payload.get(PAYLOAD_TEXT) is not None for r in sorted(parts, key=lambda r: r.part)
    ] == [
        True,
        False,
        False,
    ]
    query = "word3 word14 word22 cat"
    query_multi = encoder.encode([query], "retrieval.query", multivector=True)[0]
    long_multi = encoder.encode([LONG], "retrieval.passage", multivector=True)[0]
    exact = univec.maxsim(query_multi, long_multi)
    for mode in ("multi", "hybrid", "dense"):
        hits = split_collection.search(query, k=5, mode=mode)
        ids = [h.id for h in hits]
        assert ids.count("long") == 1 and len(ids) == 5, mode
        hit = hits[ids.index("long")]
        assert hit.text == LONG and hit.metadata == {"kind": "long"}
        if mode != "dense":
            assert hit.score == pytest.approx(exact, abs=1e-5)  # over all parts' tokens
            assert ids[0] == "long"  # beats every single part's score
    (stored,) = split_collection.get(["long"], with_vectors=True)
    np.testing.assert_allclose(stored.multi, long_multi)


def test_k_documents_even_when_parts_fill_the_first_page(split_collection, engine):
    split_collection.add([LONG, *TEXTS], ids=["long", *"abcd"])
    hits = split_collection.search("word1 word2", k=3, mode="dense")
    assert len({h.id for h in hits}) == 3
    assert engine.searches[-1]["limit"] > 3  # asked again for more points


def test_readding_a_shorter_document_removes_its_stale_parts(split_collection, engine):
    split_collection.add([LONG], ids=["long"])
    assert len(engine.points) == 3
    split_collection.add(["now short"], ids=["long"])
    assert len(engine.points) == 1 and len(split_collection) == 1
    assert split_collection.get(["long"])[0].text == "now short"


def test_delete_removes_all_parts(split_collection, engine):
    split_collection.add([LONG, "short"], ids=["long", "short"])
    split_collection.delete(["long", "missing"])
    assert [r.document_id for r in engine.points.values()] == ["short"]
    assert len(split_collection) == 1


def test_count_without_count_documents_counts_points(encoder):
    engine = MemoryEngine(count_documents=False)
    collection = MultiVectorCollection("docs", encoder, engine, progress=False)
    collection.add(TEXTS)
    assert collection.count() == 4


# --------------------------------------------------------------------------- get / lifecycle
def test_get_returns_documents_in_order_and_skips_missing(collection, encoder):
    collection.add(TEXTS, ids=list("abcd"), metadata=[{"i": i} for i in range(4)])
    got = collection.get(["c", "zzz", "a"])
    assert [(d.id, d.metadata, d.text, d.dense) for d in got] == [
        ("c", {"i": 2}, TEXTS[2], None),
        ("a", {"i": 0}, TEXTS[0], None),
    ]
    (with_vectors,) = collection.get(["b"], with_vectors=True)
    expected = encoder.encode_both([TEXTS[1]], "retrieval.passage")
    np.testing.assert_allclose(with_vectors.dense, expected.dense[0])
    np.testing.assert_allclose(with_vectors.multi, expected.multi[0])
    with pytest.raises(InvalidArgumentError, match="wrap"):
        collection.get("a")


def test_close_and_context_manager(encoder):
    engine = MemoryEngine()
    with MultiVectorCollection("docs", encoder, engine, progress=False) as collection:
        collection.add(["x"])
    assert engine.closed
    with pytest.raises(ClosedError, match="closed"):
        collection.search("x")
    collection.close()  # idempotent


def test_engine_is_closed_when_opening_fails(encoder):
    class Refusing(MemoryEngine):
        def ensure_collection(self, schema):
            raise univec.errors.SchemaMismatchError("other dims")

    engine = Refusing()
    with pytest.raises(univec.errors.SchemaMismatchError):
        MultiVectorCollection("docs", encoder, engine)
    assert engine.closed


def test_add_stores_precomputed_embeddings_without_encoding(collection, engine, encoder):
    both = encoder.encode_both(TEXTS[:2], "retrieval.passage")
    encoder.calls.clear()
    collection.add(TEXTS[:2], ids=["a", "b"], embeddings=both, batch_size=1)
    assert encoder.calls == []  # the pass already ran: the vectors are stored as given
    np.testing.assert_allclose(engine.points[point_id("b")].dense, both.dense[1])
    np.testing.assert_allclose(engine.points[point_id("b")].multi, both.multi[1])
    with pytest.raises(univec.errors.InvalidArgumentError, match="all 3 items"):
        collection.add(TEXTS[:3], ids=["a", "b", "c"], embeddings=both)
    small = encoder.encode_both(TEXTS[:2], "retrieval.passage", dimensions=16)
    with pytest.raises(univec.errors.InvalidDimensionsError, match="encode with dimensions=None"):
        collection.add(TEXTS[:2], ids=["a", "b"], embeddings=small)
    with pytest.raises(univec.errors.InvalidArgumentError, match="exclude each other"):
        collection.add(TEXTS[:2], ids=["a", "b"], embeddings=both, late_chunking=True)


def test_maximal_marginal_relevance_trades_relevance_for_diversity():
    from univec.scoring import maximal_marginal_relevance

    vectors = np.array([[1.0, 0.0], [0.99, 0.141], [0.0, 1.0]], np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    query = np.array([1.0, 0.0], np.float32)
    assert maximal_marginal_relevance(query, vectors, 2, 1.0) == [0, 1]  # relevance only
    assert maximal_marginal_relevance(query, vectors, 2, 0.3) == [0, 2]  # the near-duplicate waits
    assert maximal_marginal_relevance(query, vectors[:0], 2, 0.5) == []
