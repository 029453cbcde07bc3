"""LangChain filter dicts -> univec's filter tree (pure translation; engines are tested apart)."""

from __future__ import annotations

import datetime as dt

import pytest

from langchain_univec._filters import to_filter
from univec.collections.filters import And, Comparison, Not, Or
from univec.errors import UnsupportedFilterError

UTC = dt.timezone.utc


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ({"lang": "en"}, Comparison("lang", "==", "en")),
        ({"lang": {"$eq": "en"}}, Comparison("lang", "==", "en")),
        ({"lang": {"$ne": "en"}}, Comparison("lang", "!=", "en")),
        ({"year": {"$gt": 2020}}, Comparison("year", ">", 2020)),
        ({"year": {"$gte": 2020}}, Comparison("year", ">=", 2020)),
        ({"score": {"$lt": 1.5}}, Comparison("score", "<", 1.5)),
        ({"score": {"$lte": 1.5}}, Comparison("score", "<=", 1.5)),
        ({"lang": {"$in": ["en", "fr"]}}, Comparison("lang", "in", ("en", "fr"))),
        ({"lang": {"$nin": ["en"]}}, Comparison("lang", "not in", ("en",))),
        ({"lang": {"$exists": True}}, Comparison("lang", "exists")),
        ({"lang": {"$exists": False}}, Comparison("lang", "missing")),
        ({"draft": True}, Comparison("draft", "==", True)),
        ({"a.b": 1}, Comparison("a.b", "==", 1)),
        (
            {"date": {"$gte": "2021-01-01"}},
            Comparison("date", ">=", dt.datetime(2021, 1, 1, tzinfo=UTC)),
        ),
        (
            {"date": {"$lt": "2021-01-01T10:00:00+02:00"}},
            Comparison("date", "<", dt.datetime(2021, 1, 1, 8, tzinfo=UTC)),
        ),
        (
            {"year": {"$between": [2019, 2021]}},
            And((Comparison("year", ">=", 2019), Comparison("year", "<=", 2021))),
        ),
        (
            {"lang": "en", "year": {"$gte": 2020, "$lt": 2024}},
            And(
                (
                    Comparison("lang", "==", "en"),
                    Comparison("year", ">=", 2020),
                    Comparison("year", "<", 2024),
                )
            ),
        ),
        (
            {"$or": [{"lang": "en"}, {"$and": [{"lang": "fr"}, {"draft": False}]}]},
            Or(
                (
                    Comparison("lang", "==", "en"),
                    And((Comparison("lang", "==", "fr"), Comparison("draft", "==", False))),
                )
            ),
        ),
        ({"$not": {"lang": "en"}}, Not(Comparison("lang", "==", "en"))),
        (
            {"$not": [{"lang": "en"}, {"year": 2020}]},
            Not(Or((Comparison("lang", "==", "en"), Comparison("year", "==", 2020)))),
        ),
    ],
)
def test_every_operator_translates(given, expected):
    assert to_filter(given) == expected


def test_none_empty_trees_and_native_filters_pass_through():
    tree = Comparison("lang", "==", "en")
    assert to_filter(None) is None
    assert to_filter({}) is None
    assert to_filter(tree) is tree
    assert to_filter('payload["metadata"]["lang"] == "en"') == 'payload["metadata"]["lang"] == "en"'


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"lang": {"$like": "e%"}}, r"'\$like' is not supported; use one of"),
        ({"$nor": [{"lang": "en"}]}, r"'\$nor' is not supported; use one of"),
        ({"lang": {"$in": []}}, "non-empty list"),
        ({"lang": {"$in": "en"}}, "non-empty list"),
        ({"$and": {"lang": "en"}}, "non-empty list"),
        ({"year": {"$gt": None}}, "range needs a number or an ISO date"),
        ({"lang": {"$eq": ["en"]}}, "use 'in' for several values"),
        ({"lang": {"$exists": "yes"}}, "True or False"),
        ({"year": {"$between": [1]}}, r"\[low, high\]"),
    ],
)
def test_unsupported_filters_raise_value_errors_naming_the_fix(given, message):
    with pytest.raises(UnsupportedFilterError, match=message) as caught:
        to_filter(given)
    assert isinstance(caught.value, ValueError)
