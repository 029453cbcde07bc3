"""The behaviour every multi-vector collection shares, written once for every engine.

Not collected by itself: ``tests/integrations/qdrant/test_contract.py`` (Qdrant Edge, on disk,
and ``QdrantClient(":memory:")``) and ``tests/integrations/milvus/test_contract.py`` (Milvus
Lite, one instance per session) import these tests with a ``store`` fixture over their engines
(:func:`store_fixture`). Every test runs the real engine and the real tiny checkpoint
(``tiny_encoder``); scores are compared with NumPy MaxSim / cosine of the encoder's own
vectors. Engine-specific behaviour (constructors, locks, layouts, secrets) is tested in
``tests/integrations/<engine>/``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import univec
from tests.integrations.collection_support import TEXTS, exact_maxsim, make_pdf, release_lite
from univec.collections import And, Comparison, MultiVectorCollection, Not, Or
from univec.collections.filters import COMPARISON_OPERATORS
from univec.errors import (
    ClosedError,
    CollectionError,
    InvalidArgumentError,
    InvalidDimensionsError,
    InvalidFilterError,
    SchemaMismatchError,
)

pytest.importorskip("pypdfium2")

ENGINES = ["qdrant-edge", "qdrant-memory", "milvus-lite"]
MODES = ("multi", "dense", "hybrid")


@dataclass
class Store:
    """One engine under test: opens collections on it and closes them at the end."""

    kind: str
    make: Callable[..., MultiVectorCollection]
    #: Native filters of the engine and the ids they select in ``test_filters...``.
    native_filters: list[tuple[Any, set[str]]]
    #: A filter of a type the engine refuses, and the words of the error.
    foreign_filter: tuple[Any, str]
    #: Whether the data left the process (a file or directory on disk).
    persisted: Callable[[], bool]
    #: Called after every collection is closed: the next one reads the storage afresh.
    reload: Callable[[], None] = lambda: None
    opened: list[MultiVectorCollection] = field(default_factory=list)

    def open(self, **kwargs: Any) -> MultiVectorCollection:
        collection = self.make(**kwargs)
        self.opened.append(collection)
        return collection

    def close_all(self) -> None:
        for collection in self.opened:
            collection.close()

    def restart(self) -> None:
        """Close every collection and make the engine read what it stored again."""
        self.close_all()
        self.reload()


def _qdrant_store(kind: str, tmp_path: Path, encoder: Any) -> tuple[Store, Any]:
    pytest.importorskip("qdrant_client")
    qdrant_edge = pytest.importorskip("qdrant_edge")
    from qdrant_client import QdrantClient, models

    from univec_qdrant import QdrantCollection

    if kind == "qdrant-memory":
        client = QdrantClient(":memory:")
        where: dict[str, Any] = {"client": client}
        native = models.Filter(
            must=[models.FieldCondition(key="metadata.lang", match=models.MatchValue(value="fr"))]
        )
    else:
        client = None
        where = {"path": tmp_path / "qdrant"}
        native = qdrant_edge.Filter(
            must=[
                qdrant_edge.FieldCondition(key="metadata.lang", match=qdrant_edge.MatchValue("fr"))
            ]
        )

    def make(**kwargs: Any) -> MultiVectorCollection:
        return QdrantCollection("docs", encoder, progress=False, **where, **kwargs)

    def persisted() -> bool:
        return client is not None or (tmp_path / "qdrant" / "docs" / "edge_config.json").is_file()

    store = Store(
        kind,
        make,
        native_filters=[(native, {"b", "e"})],
        foreign_filter=("lang == 'en'", "dict"),
        persisted=persisted,
    )
    return store, client


def _milvus_store(request: pytest.FixtureRequest, encoder: Any) -> Store:
    pytest.importorskip("pymilvus")
    pytest.importorskip("milvus_lite")
    from univec_milvus import MilvusCollection

    uri = request.getfixturevalue("lite_uri")
    name = request.getfixturevalue("collection_name")

    def make(**kwargs: Any) -> MultiVectorCollection:
        return MilvusCollection(name, encoder, uri=uri, progress=False, **kwargs)

    return Store(
        "milvus-lite",
        make,
        native_filters=[('payload["metadata"]["year"] >= 2023', {"d", "e"})],
        foreign_filter=(42, "expression"),
        persisted=lambda: Path(uri).is_dir(),
        reload=lambda: release_lite(uri),  # the next client starts Milvus Lite from disk
    )


def store_fixture(engines: list[str]) -> Any:
    """The ``store`` fixture over ``engines`` (some of :data:`ENGINES`) for a test module."""
    assert set(engines) <= set(ENGINES), engines
    return pytest.fixture(params=engines, name="store")(_store)


def _store(request, tmp_path, tiny_encoder):
    """The engine under test; closes every collection it opened."""
    client = None
    if request.param == "milvus-lite":
        engine = _milvus_store(request, tiny_encoder)
    else:
        engine, client = _qdrant_store(request.param, tmp_path, tiny_encoder)
    yield engine
    engine.close_all()
    if client is not None:
        client.close()


@pytest.fixture
def collection(store) -> MultiVectorCollection:
    return store.open()


@pytest.fixture(scope="module")
def mixed_items(golden_images) -> list:
    """Texts, the golden images and the pages of a generated PDF."""
    pages = univec.pdf_pages(make_pdf(["white", "yellow"]), dpi=50)
    return [*TEXTS, *(univec.Image(path) for path in golden_images), *pages]


# --------------------------------------------------------------------------- search
@pytest.mark.parametrize("query_kind", ["text", "image"])
def test_multi_scores_equal_numpy_maxsim(
    collection, tiny_encoder, mixed_items, golden_images, query_kind
):
    ids = [f"doc{i}" for i in range(len(mixed_items))]
    collection.add(mixed_items, ids=ids)
    assert len(collection) == len(mixed_items) == 9
    query = "Where do cats sit?" if query_kind == "text" else univec.Image(golden_images[1])
    exact = exact_maxsim(tiny_encoder, query, mixed_items)

    hits = collection.search(query, k=len(ids), mode="multi")
    assert [h.id for h in hits] == [ids[i] for i in np.argsort(-exact, kind="stable")]
    for hit in hits:
        assert hit.score == pytest.approx(exact[ids.index(hit.id)], abs=1e-4)
    by_id = {h.id: h for h in hits}
    assert by_id["doc2"].text == TEXTS[2] and by_id["doc6"].text is None  # an image


def test_dense_scores_are_cosines_of_the_encoder(collection, tiny_encoder, mixed_items):
    collection.add(mixed_items)
    query = "a capital city"
    query_dense = tiny_encoder.encode([query], "retrieval.query")[0]
    cosines = tiny_encoder.encode(mixed_items, "retrieval.passage") @ query_dense
    hits = collection.search(query, k=4, mode="dense")
    assert [h.score for h in hits] == pytest.approx(sorted(cosines, reverse=True)[:4], abs=1e-4)


def test_hybrid_reranks_dense_candidates_by_exact_maxsim(collection, tiny_encoder, mixed_items):
    ids = collection.add(mixed_items)
    query = "programming languages"
    exact = exact_maxsim(tiny_encoder, query, mixed_items)
    full = collection.search(query, k=5, mode="hybrid", candidates=len(ids))
    assert [h.id for h in full] == [ids[i] for i in np.argsort(-exact, kind="stable")[:5]]
    assert [h.score for h in full] == pytest.approx(sorted(exact, reverse=True)[:5], abs=1e-4)

    few = collection.search(query, k=3, mode="hybrid", candidates=4)
    dense_top = [h.id for h in collection.search(query, k=4, mode="dense")]
    assert {h.id for h in few} <= set(dense_top)  # reranked within the dense candidates
    assert [h.score for h in few] == sorted((h.score for h in few), reverse=True)
    for hit in few:
        assert hit.score == pytest.approx(exact[ids.index(hit.id)], abs=1e-4)


def test_filters_eq_in_and_native(store):
    collection = store.open()
    title = 'A "quoted"\\ title\n'
    metadata = [
        {"lang": "en", "year": 2020, "note": "n0", "a.b": 1},
        {"lang": "fr", "year": 2021, "note": "n1", "a": {"b": 1}},
        {"lang": "en", "year": 2022, "note": "n2", "title": title},
        {"lang": "de", "year": 2023, "note": "n3"},
        {"lang": "fr", "year": 2024, "draft": True, "score": 0.5, "note": None},
    ]
    collection.add(TEXTS, ids=list("abcde"), metadata=metadata)

    def found(filter: Any, **kwargs: Any) -> set:
        return {h.id for h in collection.search("text", k=10, filter=filter, **kwargs)}

    for mode in MODES:
        assert found({"lang": "en"}, mode=mode) == {"a", "c"}, mode
        assert found({"year": {"in": [2021, 2023]}}, mode=mode) == {"b", "d"}, mode
    assert found({"lang": ["de", "fr"], "year": 2024}) == {"e"}
    assert found({"draft": True}) == {"e"} and found({"draft": True, "score": 0.5}) == {"e"}
    assert found({"score": {"in": [0.5, 2.0]}}) == {"e"}
    assert found({"title": title}) == {"c"}  # quotes, backslash and newline escaped
    # None: the value is None or the key is missing, on every engine.
    assert found({"note": None}) == {"e"}
    assert found({"draft": None}) == {"a", "b", "c", "d"}
    # A dotted key is a path into nested metadata; a tuple key names a dotted key literally.
    assert found({"a.b": 1}) == {"b"}
    assert found(Comparison(("a.b",), "==", 1)) == {"a"}
    with pytest.raises(InvalidFilterError, match="'lang' lists no values"):
        collection.search("x", filter={"lang": []})
    for native, expected in store.native_filters:
        assert found(native) == expected
        assert collection.count(native) == len(expected)
    assert collection.count({"lang": ["en", "de"]}) == 3
    foreign, words = store.foreign_filter
    with pytest.raises(InvalidArgumentError, match=words):
        collection.search("text", filter=foreign)
    with pytest.raises(InvalidArgumentError, match="dict"):
        collection.search("text", filter=42)


# --------------------------------------------------------------------------- filter language
# A reference evaluation of the filter tree, written independently of the library's own
# ``filters.evaluate``: the engines must select exactly the documents it selects.
_ABSENT = object()


def _lookup(meta: dict, key: Any) -> Any:
    value: Any = meta
    for segment in key.split(".") if isinstance(key, str) else key:
        if not isinstance(value, dict) or segment not in value:
            return _ABSENT
        value = value[segment]
    return _ABSENT if value is None else value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return "datetime" if isinstance(value, datetime) else type(value).__name__


def _holds(stored: Any, operator: str, value: Any) -> bool:
    if _kind(value) == "datetime":
        if not isinstance(stored, str):
            return False
        stored = datetime.fromisoformat(stored)
    elif _kind(stored) != _kind(value):
        return False
    return {
        "==": stored == value,
        ">": stored > value,
        ">=": stored >= value,
        "<": stored < value,
        "<=": stored <= value,
    }[operator]


def reference_match(node: Any, meta: dict) -> bool:
    """Whether ``meta`` matches the filter tree ``node`` (brute force, by the documented rules)."""
    if isinstance(node, And):
        return all(reference_match(c, meta) for c in node.clauses)
    if isinstance(node, Or):
        return any(reference_match(c, meta) for c in node.clauses)
    if isinstance(node, Not):
        return not reference_match(node.clause, meta)
    stored = _lookup(meta, node.key)
    operator = node.operator
    if operator in ("exists", "missing"):
        return (stored is not _ABSENT) == (operator == "exists")
    if operator == "!=":
        return not reference_match(Comparison(node.key, "==", node.value), meta)
    if operator == "not in":
        return not reference_match(Comparison(node.key, "in", node.value), meta)
    if stored is _ABSENT:
        return False
    if operator == "in":
        return any(_holds(stored, "==", v) for v in node.value)
    return _holds(stored, operator, node.value)


_WORDS = ["alpha", "beta", 'quote " me', "üñí ✓", "back\\slash", ""]
_DATES = [datetime(2020, 1, 1) + timedelta(days=37 * i, seconds=3607 * i) for i in range(8)]


def _random_metadata(rng: random.Random) -> dict:
    meta: dict[str, Any] = {}

    def maybe(key: str, make: Callable[[], Any]) -> None:
        roll = rng.random()
        if roll < 0.15:
            return  # missing
        meta[key] = None if roll < 0.25 else make()

    maybe("n", lambda: rng.choice([rng.randint(-3, 3), rng.choice([-1.5, 0.5, 2.0, 2.5])]))
    maybe("s", lambda: rng.choice(_WORDS))
    maybe("b", lambda: rng.random() < 0.5)
    maybe("d", lambda: rng.choice(_DATES).isoformat())
    maybe("o", lambda: rng.choice([{"k": rng.randint(0, 3), "t": rng.choice(_WORDS)}, {}, 7]))
    return meta


def _random_comparison(rng: random.Random) -> Comparison:
    key, values = rng.choice(
        [
            ("n", lambda: rng.choice([rng.randint(-3, 3), -1.5, 0.5, 2.0, 2.5])),
            ("s", lambda: rng.choice(_WORDS)),
            ("b", lambda: rng.random() < 0.5),
            ("d", lambda: rng.choice(_DATES)),
            ("o.k", lambda: rng.randint(0, 3)),
            ("o.t", lambda: rng.choice(_WORDS)),
            ("o", None),
        ]
    )
    if values is None:
        return Comparison(key, rng.choice(["exists", "missing"]))
    operators = ["==", "!=", "in", "not in", "exists", "missing"]
    if key in _ORDERED and rng.random() < 0.5:
        operators = [">", ">=", "<", "<="]
    return _comparison_of(rng, key, rng.choice(operators), values)


_ORDERED = ("n", "d", "o.k")


def _comparison_of(rng: random.Random, key: str, operator: str, values: Any) -> Comparison:
    if operator in ("exists", "missing"):
        return Comparison(key, operator)
    if operator in ("in", "not in"):
        return Comparison(key, operator, tuple(values() for _ in range(rng.randint(1, 3))))
    return Comparison(key, operator, values())


def random_filter(rng: random.Random, depth: int = 0) -> Any:
    """A random filter tree: every operator, And/Or/Not nested up to three levels."""
    roll = rng.random()
    if depth >= 3 or roll < 0.4:
        return _random_comparison(rng)
    if roll < 0.6:
        return Not(random_filter(rng, depth + 1))
    clauses = tuple(random_filter(rng, depth + 1) for _ in range(rng.randint(1, 3)))
    return And(clauses) if roll < 0.8 else Or(clauses)


def _every_comparison(rng: random.Random) -> list[Comparison]:
    """Every operator on every key it applies to, with random values."""
    domains: dict[str, Any] = {
        "n": lambda: rng.choice([rng.randint(-3, 3), -1.5, 0.5, 2.0, 2.5]),
        "s": lambda: rng.choice(_WORDS),
        "b": lambda: rng.random() < 0.5,
        "d": lambda: rng.choice(_DATES),
        "o.k": lambda: rng.randint(0, 3),
    }
    return [
        _comparison_of(rng, key, operator, values)
        for key, values in domains.items()
        for operator in COMPARISON_OPERATORS
        if key in _ORDERED or operator not in (">", ">=", "<", "<=")
    ]


@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])
def test_filter_language_selects_what_a_brute_force_evaluation_selects(store, seed):
    rng = random.Random(seed)
    collection = store.open()
    metadata = [_random_metadata(rng) for _ in range(40)]
    ids = [f"d{i}" for i in range(len(metadata))]
    collection.add(
        [f"document {i} {_WORDS[i % 3]}" for i in range(len(ids))], ids=ids, metadata=metadata
    )
    stored = {d.id: d.metadata for d in collection.get(ids)}
    assert stored == dict(zip(ids, metadata, strict=True))
    # Every operator on every kind of value, alone and nested.
    filters = [*_every_comparison(rng), *(random_filter(rng) for _ in range(50))]
    for number, tree in enumerate(filters):
        expected = {i for i in ids if reference_match(tree, stored[i])}
        assert collection.count(tree) == len(expected), tree
        mode = MODES[number % len(MODES)]
        hits = collection.search("document", k=len(ids), mode=mode, filter=tree, candidates=64)
        assert {h.id for h in hits} == expected, (mode, tree)


def test_filter_dict_forms_and_dates(store):
    collection = store.open()
    metadata = [
        {"year": 2020, "lang": "en", "date": "2021-05-01T10:00:00", "author": {"name": "Ada"}},
        {"year": 2022, "lang": "fr", "date": "2023-01-15T08:30:00", "author": {"name": "Bo"}},
        {"year": 2024, "lang": "de", "draft": True},
        {"year": 2021.5, "lang": "en", "date": "2022-12-31T23:59:59"},
    ]
    collection.add(TEXTS[:4], ids=list("abcd"), metadata=metadata)

    def found(filter: Any) -> set:
        hits = collection.search("text", k=10, filter=filter)
        assert collection.count(filter) == len(hits)
        return {h.id for h in hits}

    assert found({"year": {"gte": 2021, "lt": 2024}}) == {"b", "d"}
    assert found({"year": {"$gt": 2020}, "lang": {"$ne": "de"}}) == {"b", "d"}
    assert found({"lang": {"nin": ["en"]}}) == {"b", "c"}
    assert found({"draft": {"exists": True}}) == {"c"}
    assert found({"draft": {"exists": False}}) == {"a", "b", "d"}
    assert found({"author.name": "Ada"}) == {"a"}
    assert found({"$or": [{"lang": "fr"}, {"$not": {"year": {"lt": 2024}}}]}) == {"b", "c"}
    assert found({"$and": [{"lang": ["en", "fr"]}, {"date": {"gt": "2022-01-01"}}]}) == {"b", "d"}
    assert found({"date": {"lte": datetime(2022, 12, 31, 23, 59, 59)}}) == {"a", "d"}
    assert found({"date": {"<": date(2022, 1, 1)}}) == {"a"}
    # Listing by filter (no query): every match, with its metadata and text.
    listed = collection.list_documents({"lang": "en"})
    assert {(d.id, d.text) for d in listed} == {("a", TEXTS[0]), ("d", TEXTS[3])}
    assert {d.id: d.metadata for d in listed}["a"] == metadata[0]
    assert len(collection.list_documents()) == 4 and len(collection.list_documents(limit=3)) == 3
    with pytest.raises(InvalidFilterError, match="'greater'"):
        collection.search("text", filter={"year": {"greater": 1}})
    with pytest.raises(InvalidFilterError, match="ISO 8601"):
        collection.count({"lang": {"gt": "en"}})


# --------------------------------------------------------------------------- add / get / delete
def test_readd_keeps_the_count_and_updates(collection):
    collection.add(TEXTS)
    collection.add(TEXTS)
    assert len(collection) == len(TEXTS)
    collection.add(TEXTS[:2], ids=[1, "1"], metadata=[{"v": 1}, {"v": 1}])
    collection.add(["new text", TEXTS[1]], ids=[1, "1"], metadata=[{"v": 2}, None])
    assert len(collection) == len(TEXTS) + 2
    int_doc, str_doc = collection.get([1, "1"])
    assert (int_doc.id, int_doc.text, int_doc.metadata) == (1, "new text", {"v": 2})
    assert (str_doc.id, str_doc.metadata) == ("1", {})


def test_get_and_delete(collection, tiny_encoder):
    collection.add(TEXTS, ids=list("abcde"), metadata=[{"i": i} for i in range(5)])
    got = collection.get(["e", "missing", "a"], with_vectors=True)
    assert [(d.id, d.metadata, d.text) for d in got] == [
        ("e", {"i": 4}, TEXTS[4]),
        ("a", {"i": 0}, TEXTS[0]),
    ]
    expected = tiny_encoder.encode_both([TEXTS[4]], "retrieval.passage")
    np.testing.assert_allclose(got[0].multi, expected.multi[0], atol=1e-5)
    np.testing.assert_allclose(got[0].dense, expected.dense[0], atol=1e-5)
    collection.delete(["a", "c", "missing"])
    assert len(collection) == 3 and collection.get(["a", "c"]) == []
    assert "a" not in {h.id for h in collection.search(TEXTS[0], k=10, mode="multi")}


def test_pdf_pages_are_added_as_images(collection, tiny_encoder, tmp_path: Path):
    pdf = tmp_path / "doc.pdf"
    pdf.write_bytes(make_pdf(["white", "yellow", "cyan"]))
    pages = univec.pdf_pages(pdf, dpi=40)
    ids = collection.add(
        pages, ids=[f"doc.pdf#{i}" for i in range(3)], metadata=[{"page": i} for i in range(3)]
    )
    assert len(collection) == 3
    hits = collection.search(pages[1], k=1, mode="multi")
    exact = exact_maxsim(tiny_encoder, pages[1], pages)
    assert hits[0].id == ids[int(np.argmax(exact))] and hits[0].text is None
    assert hits[0].score == pytest.approx(exact.max(), abs=1e-4)
    assert collection.get(["doc.pdf#2"])[0].metadata == {"page": 2}


def test_empty_inputs_and_k_beyond_the_count(collection):
    for mode in MODES:
        assert collection.search("anything", mode=mode) == [], mode
    assert collection.add([]) == [] and collection.get([]) == [] and len(collection) == 0
    collection.delete([])
    collection.add(TEXTS[:3])
    for mode in MODES:
        assert len(collection.search("cat", k=50, mode=mode)) == 3, mode


def test_failure_mid_add_keeps_stored_batches_and_rerun_does_not_duplicate(store, monkeypatch):
    collection = store.open(batch_size=2)
    engine, calls = collection.engine, []
    upsert = engine.upsert

    def flaky(records):
        calls.append(len(records))
        if len(calls) == 2:
            raise CollectionError("simulated outage")
        upsert(records)

    monkeypatch.setattr(engine, "upsert", flaky)
    with pytest.raises(CollectionError, match="simulated"):
        collection.add(TEXTS)
    assert len(collection) == 2  # the first batch is stored
    collection.add(TEXTS)  # the re-run
    assert len(collection) == len(TEXTS) and engine.count() == len(TEXTS)


def test_long_document_is_split_and_found_once(store, tiny_encoder):
    collection = store.open()
    collection.max_part_tokens = 40  # short texts stay whole
    long_text = " ".join(f"Sentence {i} talks about topic {i % 7}." for i in range(12))
    collection.add(
        [long_text, *TEXTS], ids=["long", *"abcde"], metadata=[{"long": True}] + [None] * 5
    )
    tokens = tiny_encoder.encode([long_text], "retrieval.passage", multivector=True)[0]
    parts = -(-len(tokens) // 40)
    assert parts >= 3
    assert collection.engine.count() == parts + 5 and len(collection) == 6
    query = "topic 3"
    exact = univec.maxsim(
        tiny_encoder.encode([query], "retrieval.query", multivector=True)[0], tokens
    )
    for mode in ("multi", "hybrid", "dense"):
        hits = collection.search(query, k=6, mode=mode)
        ids = [h.id for h in hits]
        assert ids.count("long") == 1 and len(ids) == 6, mode
        hit = hits[ids.index("long")]
        assert hit.text == long_text and hit.metadata == {"long": True}
        if mode != "dense":
            assert hit.score == pytest.approx(exact, abs=1e-4)
    assert collection.count({"long": True}) == 1
    (stored,) = collection.get(["long"], with_vectors=True)
    np.testing.assert_allclose(stored.multi, tokens, atol=1e-5)
    collection.add(["now it is short"], ids=["long"])  # the stale parts go away
    assert collection.engine.count() == 6
    collection.delete(["long"])
    assert collection.engine.count() == 5


# --------------------------------------------------------------------------- schema / lifecycle
def test_other_dimensions_are_a_schema_mismatch(store):
    store.open().add(["x"])
    store.close_all()  # an Edge path is locked while open
    with pytest.raises(SchemaMismatchError, match="dimensions=64"):
        store.open(dimensions=32)
    assert len(store.open()) == 1  # nothing was changed
    with pytest.raises(InvalidDimensionsError):
        store.open(dimensions=12)


def test_matryoshka_dimensions_are_stored(store, tiny_encoder):
    collection = store.open(dimensions=16)
    collection.add(TEXTS[:2], ids=["a", "b"])
    (stored,) = collection.get(["a"], with_vectors=True)
    assert stored.dense.shape == (16,)
    expected = tiny_encoder.encode([TEXTS[0]], "retrieval.passage", dimensions=16)[0]
    np.testing.assert_allclose(stored.dense, expected, atol=1e-5)


def test_reopen_keeps_everything(store, mixed_items):
    collection = store.open()
    collection.add(mixed_items, metadata=[{"n": i} for i in range(len(mixed_items))])
    before = collection.search("cat", k=9, mode="hybrid")
    store.restart()
    assert store.persisted()
    reopened = store.open()
    assert len(reopened) == len(mixed_items)
    if store.kind == "milvus-lite":
        assert reopened.layout == "portable"  # read back from the stored schema
    after = reopened.search("cat", k=9, mode="hybrid")
    assert [(h.id, h.metadata) for h in after] == [(h.id, h.metadata) for h in before]
    assert [h.score for h in after] == pytest.approx([h.score for h in before], abs=1e-6)
    assert [h.id for h in reopened.search("cat", k=9, mode="multi")] == [h.id for h in after]
    store.close_all()
    with pytest.raises(SchemaMismatchError):
        store.open(dimensions=16)
    assert len(store.open()) == len(mixed_items)  # the failed open released the lock


def test_closed_collection_refuses_work(collection):
    with collection:
        collection.add(["x"])
    collection.close()  # idempotent
    with pytest.raises(ClosedError, match="closed"):
        collection.search("x")
