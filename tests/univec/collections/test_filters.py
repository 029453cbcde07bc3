"""The filter language: dict forms -> tree, negation, the reference semantics, errors."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from univec.collections.filters import (
    And,
    Comparison,
    FieldCondition,
    Not,
    Or,
    engine_filter,
    evaluate,
    key_path,
    negate,
    parse_filter,
    parse_iso_datetime,
)
from univec.errors import InvalidArgumentError, InvalidFilterError


def test_todays_dict_form_keeps_working():
    assert parse_filter({"lang": "en"}) == Comparison("lang", "==", "en")
    assert parse_filter({"lang": ["en", "fr"]}) == Comparison("lang", "in", ("en", "fr"))
    assert parse_filter({"k": {"in": [1, 2]}}) == Comparison("k", "in", (1, 2))
    assert parse_filter({"k": {"eq": 3}, "j": None}) == And(
        (Comparison("k", "==", 3), Comparison("j", "missing"))
    )


def test_operator_dict_form():
    assert parse_filter({"year": {"gte": 2020, "$lt": 2024}}) == And(
        (Comparison("year", ">=", 2020), Comparison("year", "<", 2024))
    )
    assert parse_filter({"k": {"ne": 1}}) == Comparison("k", "!=", 1)
    assert parse_filter({"k": {"!=": None}}) == Comparison("k", "exists")
    assert parse_filter({"k": {"$nin": ["a"]}}) == Comparison("k", "not in", ("a",))
    assert parse_filter({"k": {"not in": ["a", None]}}) == And(
        (Comparison("k", "not in", ("a",)), Comparison("k", "exists"))
    )
    assert parse_filter({"k": {"exists": False}}) == Comparison("k", "missing")
    assert parse_filter({"$or": [{"a": 1}, {"$not": {"b": 2}}]}) == Or(
        (Comparison("a", "==", 1), Not(Comparison("b", "==", 2)))
    )
    assert parse_filter({"$and": [{"a": 1}], "b": 2}) == And(
        (And((Comparison("a", "==", 1),)), Comparison("b", "==", 2))
    )


def test_dates():
    assert parse_filter({"d": {"gt": "2024-01-31"}}) == Comparison("d", ">", datetime(2024, 1, 31))
    assert parse_filter({"d": {"lte": date(2024, 1, 31)}}) == Comparison(
        "d", "<=", datetime(2024, 1, 31)
    )
    assert parse_filter({"d": "2024-01-31"}) == Comparison("d", "==", "2024-01-31")  # text
    assert parse_iso_datetime("2024-01-31T10:00:00Z") is not None
    assert parse_iso_datetime("31/01/2024") is None and parse_iso_datetime("2024") is None


@pytest.mark.parametrize(
    ("filter", "words"),
    [
        ({"k": {"greater": 1}}, "unknown operator 'greater'"),
        ({"$xor": []}, "Unknown filter operator '.xor'"),
        ({"k": {"gt": "abc"}}, "ISO 8601"),
        ({"k": {"gt": True}}, "not the bool"),
        ({"k": {"in": "abc"}}, "takes a list"),
        ({"k": []}, "lists no values"),
        ({"k": {"exists": 1}}, "True or False"),
        ({"k": {"eq": {"a": 1}}}, "dict"),
        ({"": 1}, "non-empty"),
        ({"a..b": 1}, "empty segment"),
        ({"$not": [1]}, "one filter dict"),
        ({"$or": {"a": 1}}, "list of filter dicts"),
        ({"k": {}}, "no operator"),
    ],
)
def test_malformed_filters_name_the_problem(filter, words):
    with pytest.raises(InvalidFilterError, match=words) as info:
        parse_filter(filter)
    assert isinstance(info.value, InvalidArgumentError) and isinstance(info.value, ValueError)


def test_negation_normal_form():
    assert negate(Comparison("a", "==", 1)) == Comparison("a", "!=", 1)
    assert negate(Comparison("a", "exists")) == Comparison("a", "missing")
    assert negate(Comparison("a", ">", 1)) == Not(Comparison("a", ">", 1))
    assert negate(And((Comparison("a", "in", (1,)), Not(Comparison("b", "<", 2))))) == Or(
        (Comparison("a", "not in", (1,)), Comparison("b", "<", 2))
    )


def test_reference_semantics():
    meta = {
        "n": 2,
        "f": 2.0,
        "b": True,
        "s": "x",
        "d": "2024-01-31T00:00:00",
        "o": {"k": 1},
        "z": None,
    }
    assert evaluate(Comparison("n", "==", 2.0), meta) and evaluate(
        Comparison("f", "in", (2,)), meta
    )
    assert not evaluate(Comparison("b", "==", 1), meta)  # booleans are not numbers
    assert evaluate(Comparison("o.k", ">=", 1), meta) and evaluate(
        Comparison(("o",), "exists"), meta
    )
    assert evaluate(Comparison("z", "missing"), meta) and evaluate(
        Comparison("o.k.x", "missing"), meta
    )
    assert evaluate(Comparison("absent", "!=", 1), meta) and not evaluate(
        Comparison("absent", "<", 1), meta
    )
    assert evaluate(Comparison("d", ">", datetime(2024, 1, 30)), meta)
    assert not evaluate(Comparison("s", ">", datetime(2024, 1, 30)), meta)
    assert evaluate(And(()), meta) and not evaluate(Or(()), meta)
    assert evaluate(Comparison(("a.b",), "==", 1), {"a.b": 1})
    assert not evaluate(Comparison("a.b", "==", 1), {"a.b": 1})


def test_key_paths():
    assert key_path("a.b") == ("a", "b") and key_path(("a.b",)) == ("a.b",)
    with pytest.raises(InvalidFilterError):
        key_path(3)  # type: ignore[arg-type]


def test_engine_filter_passes_trees_and_natives_and_converts_conditions():
    tree = Comparison("a", "==", 1)
    native = object()
    assert engine_filter(tree) is tree and engine_filter(native) is native
    assert engine_filter(None) is None
    assert engine_filter([FieldCondition("a.b", (1, None), "in")]) == Or(
        (Comparison(("a.b",), "in", (1,)), Comparison(("a.b",), "missing"))
    )
