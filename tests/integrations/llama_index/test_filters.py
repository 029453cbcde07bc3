"""LlamaIndex MetadataFilters -> univec's filter tree (pure translation)."""

from __future__ import annotations

import datetime as dt

import pytest
from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from llama_index.vector_stores.univec._filters import OPERATORS, to_filter
from univec.collections.filters import And, Comparison, Not, Or
from univec.errors import UnsupportedFilterError


def one(key, value, operator) -> MetadataFilters:
    return MetadataFilters(filters=[MetadataFilter(key=key, value=value, operator=operator)])


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("==", "en", Comparison("lang", "==", "en")),
        ("!=", "en", Comparison("lang", "!=", "en")),
        (">", 2020, Comparison("lang", ">", 2020)),
        (">=", 2.5, Comparison("lang", ">=", 2.5)),
        ("<", 2020, Comparison("lang", "<", 2020)),
        ("<=", 2020, Comparison("lang", "<=", 2020)),
        ("in", ["en", "fr"], Comparison("lang", "in", ("en", "fr"))),
        ("nin", ["en"], Comparison("lang", "not in", ("en",))),
        ("is_empty", None, Comparison("lang", "missing")),
        (
            ">=",
            "2021-01-01T00:00:00Z",
            Comparison("lang", ">=", dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)),
        ),
    ],
)
def test_every_mappable_operator_translates(operator, value, expected):
    assert to_filter(one("lang", value, operator)) == expected


def test_every_operator_is_mapped_or_refused():
    for operator in FilterOperator:
        if operator in OPERATORS:
            continue
        with pytest.raises(
            UnsupportedFilterError, match=f"{operator.name} on 'k' is not supported"
        ):
            to_filter(one("k", ["x"], operator))


def test_conditions_and_nesting():
    en, year = (
        MetadataFilter(key="lang", value="en"),
        MetadataFilter(key="year", value=2020, operator=">"),
    )
    tree_en, tree_year = Comparison("lang", "==", "en"), Comparison("year", ">", 2020)
    assert to_filter(MetadataFilters(filters=[en, year])) == And((tree_en, tree_year))
    assert to_filter(MetadataFilters(filters=[en, year], condition="or")) == Or(
        (tree_en, tree_year)
    )
    assert to_filter(MetadataFilters(filters=[en, year], condition=FilterCondition.NOT)) == Not(
        Or((tree_en, tree_year))
    )
    nested = MetadataFilters(
        filters=[en, MetadataFilters(filters=[year, en], condition="or")], condition="and"
    )
    assert to_filter(nested) == And((tree_en, Or((tree_year, tree_en))))
    assert to_filter(None) is None
    assert to_filter(MetadataFilters(filters=[])) is None
