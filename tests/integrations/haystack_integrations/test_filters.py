"""Haystack filter syntax -> univec filter tree, and a brute-force check against Haystack's own
filter evaluation (``haystack.utils.filters.document_matches_filter``) on both engines."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from haystack import Document
from haystack.errors import FilterError
from haystack.utils.filters import document_matches_filter
from haystack_integrations.document_stores.univec.filters import (
    UnivecFilterError,
    convert_filters,
)

from tests.integrations.haystack_integrations.store_support import ENGINES, open_store
from univec.collections import And, Comparison, Not, Or
from univec.errors import InvalidFilterError


# --------------------------------------------------------------------------- conversion
def test_comparisons_and_logic_become_the_tree():
    assert convert_filters(None) is None and convert_filters({}) is None
    assert convert_filters({"field": "meta.a.b", "operator": "==", "value": 1}) == Comparison(
        ("meta", "a", "b"), "==", 1
    )
    assert convert_filters({"field": "meta.x", "operator": "==", "value": None}) == Comparison(
        ("meta", "x"), "missing"
    )
    assert convert_filters({"field": "meta.x", "operator": "!=", "value": None}) == Comparison(
        ("meta", "x"), "exists"
    )
    assert convert_filters({"field": "meta.d", "operator": ">", "value": "2020-01-02"}) == (
        Comparison(("meta", "d"), ">", datetime(2020, 1, 2))
    )
    assert convert_filters({"field": "meta.n", "operator": "<", "value": None}) == Or(())
    assert convert_filters({"field": "content", "operator": "in", "value": ["a", None]}) == Or(
        (Comparison(("content",), "in", ("a",)), Comparison(("content",), "missing"))
    )
    condition = {"field": "id", "operator": "not in", "value": ["x"]}
    assert convert_filters(condition) == Not(Comparison(("id",), "in", ("x",)))
    assert convert_filters({"operator": "NOT", "conditions": [condition, condition]}) == Not(
        And((convert_filters(condition), convert_filters(condition)))
    )
    assert convert_filters({"operator": "OR", "conditions": [condition]}) == Or(
        (convert_filters(condition),)
    )


@pytest.mark.parametrize(
    ("filters", "words"),
    [
        ({"field": "meta.x", "operator": "like", "value": 1}, "Unknown comparison operator 'like'"),
        ({"operator": "XOR", "conditions": []}, "Unknown logical operator 'XOR'"),
        ({"field": "meta.x", "operator": ">", "value": "abc"}, "ISO 8601"),
        ({"field": "meta.x", "operator": ">", "value": [1]}, "numbers or ISO 8601 dates"),
        ({"field": "meta.x", "operator": "in", "value": (1, 2)}, "takes a list"),
        ({"field": "meta.x", "operator": "==", "value": {"a": 1}}, "takes a str, number"),
        ({"field": "embedding", "operator": "==", "value": 1}, "'meta.<key>'"),
        ({"field": "meta.x", "value": 1}, "no 'operator'"),
        ({"field": "meta.x", "operator": "=="}, "no 'value'"),
        ({"conditions": []}, "no 'operator'"),
        ({"operator": "AND"}, "no 'conditions'"),
        ("meta.x == 1", "must be a dict"),
    ],
)
def test_malformed_filters_raise_filter_error_naming_the_fix(filters, words):
    with pytest.raises(UnivecFilterError) as info:
        convert_filters(filters)
    assert isinstance(info.value, FilterError) and isinstance(info.value, InvalidFilterError)
    assert words in str(info.value)


# --------------------------------------------------------------------------- brute force
_NAMES = ["ada", "bo", 'say "hi"', "üñí"]
_DATES = [(datetime(1970, 1, 1) + timedelta(days=400 * i, hours=i)).isoformat() for i in range(6)]


def _meta(rng: random.Random) -> dict:
    meta: dict = {}
    for key, make in (
        ("number", lambda: rng.choice([-2, 0, 1, 2.5, 10])),
        ("name", lambda: rng.choice(_NAMES)),
        ("flag", lambda: rng.random() < 0.5),
        ("date", lambda: rng.choice(_DATES)),
        ("author", lambda: {"age": rng.randint(1, 4), "name": rng.choice(_NAMES)}),
    ):
        roll = rng.random()
        if roll > 0.2:
            meta[key] = make() if roll > 0.3 else None
    return meta


def _condition(rng: random.Random) -> dict:
    field, values, ordered = rng.choice(
        [
            ("meta.number", lambda: rng.choice([-2, 0, 1, 2.5, 10, None]), True),
            ("meta.name", lambda: rng.choice([*_NAMES, None]), False),
            ("meta.flag", lambda: rng.choice([True, False, None]), False),
            ("meta.date", lambda: rng.choice(_DATES), True),
            ("meta.author.age", lambda: rng.randint(0, 5), True),
            ("meta.author.name", lambda: rng.choice(_NAMES), False),
        ]
    )
    operators = ["==", "!=", "in", "not in"] + ([">", ">=", "<", "<="] if ordered else [])
    operator = rng.choice(operators)
    if operator in ("in", "not in"):
        value = [values() for _ in range(rng.randint(1, 3))]
    else:
        value = values()
    return {"field": field, "operator": operator, "value": value}


def _filters(rng: random.Random, depth: int = 0) -> dict:
    if depth >= 2 or rng.random() < 0.5:
        return _condition(rng)
    conditions = [_filters(rng, depth + 1) for _ in range(rng.randint(1, 3))]
    return {"operator": rng.choice(["AND", "OR", "NOT"]), "conditions": conditions}


@pytest.mark.parametrize("engine", ENGINES)
def test_filters_select_what_haystack_itself_selects(request, tiny_encoder, engine):
    rng = random.Random(7)
    store = open_store(request, engine, tiny_encoder)
    try:
        documents = [Document(id=f"d{i}", content=f"doc {i}", meta=_meta(rng)) for i in range(30)]
        store.write_documents(documents)
        for _ in range(80):
            filters = _filters(rng)
            expected = {d.id for d in documents if document_matches_filter(filters, d)}
            assert {d.id for d in store.filter_documents(filters)} == expected, filters
            assert store.count_documents_by_filter(filters) == len(expected), filters
    finally:
        store.close()
