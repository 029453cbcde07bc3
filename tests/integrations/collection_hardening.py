"""Hardening behaviour every collection shares (issue 12): run on each engine like the contract.

Imported by ``tests/integrations/univec_qdrant/test_contract.py`` and
``tests/integrations/univec_milvus/test_contract.py`` next to the contract tests, with the same
``store`` fixture.
"""

from __future__ import annotations

import datetime

import numpy as np
import pytest

from tests.integrations.collection_support import TEXTS
from univec.errors import InvalidArgumentError, InvalidInputError


def _nested(levels: int) -> dict:
    value: dict = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_bad_metadata_is_refused_before_anything_is_written(store):
    """Item 1: 130 levels deep made Qdrant Edge unreadable; now nothing of the batch is written."""
    collection = store.open()
    collection.add(TEXTS[:2], ids=["a", "b"], metadata=[{"lang": "en"}, {"lang": "fr"}])
    batch = [{"ok": 1}, _nested(130), {"ok": 3}]
    with pytest.raises(InvalidArgumentError, match=r"metadata #1: .* nested more than 32"):
        collection.add(TEXTS[2:5], ids=["c", "d", "e"], metadata=batch)
    with pytest.raises(InvalidInputError, match=r"metadata #2: the value at 'when'.*isoformat"):
        collection.add(
            TEXTS[2:5], ids=["c", "d", "e"], metadata=[{}, {}, {"when": datetime.date.today()}]
        )
    assert collection.engine.count() == 2  # not one point of the refused batches
    assert collection.count() == 2 and collection.count({"lang": "fr"}) == 1
    assert [h.id for h in collection.search("x", k=5, filter={"lang": "en"})] == ["a"]
    collection.delete(["b"])
    store.restart()  # close and reopen: the store is still readable
    assert len(store.open()) == 1


def test_metadata_is_converted_the_same_on_every_engine(store):
    """Item 1: one rule; tuples and numpy scalars become JSON, read back identically."""
    collection = store.open()
    meta = {"tags": ("x", ("y", 2)), "n": np.int64(5), "f": np.float32(0.25), "ok": np.bool_(True)}
    collection.add(["text"], ids=["a"], metadata=[meta])
    (stored,) = collection.get(["a"])
    assert stored.metadata == {"tags": ["x", ["y", 2]], "n": 5, "f": 0.25, "ok": True}
    assert collection.count({"n": 5}) == 1 and collection.count({"ok": True}) == 1


@pytest.mark.parametrize("bad_id", [2**64, 2**63, -(2**63) - 1])
def test_ids_outside_int64_are_refused(store, bad_id):
    """Item 4: Qdrant stored 2**64 as a float that could never be read back or deleted."""
    collection = store.open()
    with pytest.raises(InvalidInputError, match="64-bit"):
        collection.add(["big"], ids=[bad_id])
    assert collection.engine.count() == 0
    edge_ids = [2**63 - 1, -(2**63)]
    collection.add(["max", "min"], ids=edge_ids)
    assert [d.id for d in collection.get(edge_ids)] == edge_ids
    assert {h.id for h in collection.search("max", k=5)} == set(edge_ids)
    collection.delete(edge_ids)
    assert len(collection) == 0


def _long(topic: str) -> str:
    return " ".join(f"Sentence {i} is about {topic} number {i % 5}." for i in range(12))


@pytest.mark.parametrize("interrupted", ["upsert", "delete"])
def test_an_interrupted_readd_never_shows_a_mixed_document(store, tiny_encoder, interrupted):
    """Item 5: readers see the old or the new version of a split document, never a mix."""
    collection = store.open()
    collection.max_part_tokens = 40
    old, new = _long("cats"), _long("ships and the sea")
    collection.add([old, *TEXTS], ids=["long", *"abcde"], metadata=[{"v": 1}] + [None] * 5)
    engine = collection.engine
    calls: list[str] = []
    real = {"upsert": engine.upsert, "delete": engine.delete}

    def crash(records):  # dies half-way through its first call, like a kill -9
        calls.append(interrupted)
        if len(calls) == 1:
            if interrupted == "upsert":
                real["upsert"](records[: max(1, len(records) // 2)])
            raise RuntimeError("simulated crash")
        real[interrupted](records)

    setattr(engine, interrupted, crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        collection.add([new], ids=["long"], metadata=[{"v": 2}])
    setattr(engine, interrupted, real[interrupted])

    # Before the switch the old version is whole; after it, the new one.
    text, version = (old, 1) if interrupted == "upsert" else (new, 2)
    tokens = tiny_encoder.encode([text], "retrieval.passage", multivector=True)[0]
    (stored,) = collection.get(["long"], with_vectors=True)
    assert (stored.text, stored.metadata) == (text, {"v": version})
    np.testing.assert_allclose(stored.multi, tokens, atol=1e-5)
    for query in ("cats", "ships and the sea"):
        query_tokens = tiny_encoder.encode([query], "retrieval.query", multivector=True)[0]
        for mode in ("multi", "hybrid", "dense"):
            hits = [h for h in collection.search(query, k=6, mode=mode) if h.id == "long"]
            assert len(hits) == 1, mode
            assert (hits[0].text, hits[0].metadata) == (text, {"v": version}), mode
            if mode != "dense":
                expected = float(np.max(query_tokens @ tokens.T, axis=1).sum())
                assert hits[0].score == pytest.approx(expected, abs=1e-4), mode
        assert collection.count({"v": 3 - version}) == 0
    # The re-run completes the add and leaves nothing behind.
    collection.add([new], ids=["long"], metadata=[{"v": 2}])
    new_tokens = tiny_encoder.encode([new], "retrieval.passage", multivector=True)[0]
    assert engine.count() == -(-len(new_tokens) // 40) + 5
    (stored,) = collection.get(["long"], with_vectors=True)
    np.testing.assert_allclose(stored.multi, new_tokens, atol=1e-5)
    collection.delete(["long"])
    assert engine.count() == 5
