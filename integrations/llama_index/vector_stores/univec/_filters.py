"""LlamaIndex ``MetadataFilters`` as univec's filter tree (values checked by ``parse_filter``)."""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from univec.collections.filters import And, FilterNode, Not, Or, parse_filter
from univec.errors import UnsupportedFilterError

__all__ = ["OPERATORS", "to_filter"]

#: The ``FilterOperator`` s the collections express, as operators of the dict form.
OPERATORS = {
    FilterOperator.EQ: "$eq",
    FilterOperator.NE: "$ne",
    FilterOperator.GT: "$gt",
    FilterOperator.GTE: "$gte",
    FilterOperator.LT: "$lt",
    FilterOperator.LTE: "$lte",
    FilterOperator.IN: "$in",
    FilterOperator.NIN: "$nin",
    FilterOperator.IS_EMPTY: "$exists",
}


def to_filter(filters: MetadataFilters | None) -> FilterNode | None:
    """``filters`` as a filter tree: AND / OR of its filters, NOT = none of them holds.

    Raises:
        UnsupportedFilterError: An operator the collections cannot express (``ANY``, ``ALL``,
            ``CONTAINS``, ``TEXT_MATCH``...), naming the supported ones (a ``ValueError``).
        InvalidFilterError: A value of an unsupported type (a ``ValueError``).
    """
    if filters is None or not filters.filters:
        return None
    if not isinstance(filters, MetadataFilters):
        raise UnsupportedFilterError(
            f"filters must be llama_index MetadataFilters, got {type(filters).__name__}."
        )
    clauses = tuple(_clause(item) for item in filters.filters)
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.NOT:
        return Not(clauses[0] if len(clauses) == 1 else Or(clauses))
    if len(clauses) == 1:
        return clauses[0]
    if condition == FilterCondition.OR:
        return Or(clauses)
    if condition == FilterCondition.AND:
        return And(clauses)
    raise UnsupportedFilterError(f"Filter condition {condition!r}: use AND, OR or NOT.")


def _clause(item: Any) -> FilterNode:
    if isinstance(item, MetadataFilters):
        node = to_filter(item)
        if node is None:
            raise UnsupportedFilterError("A nested MetadataFilters holds no filter.")
        return node
    if not isinstance(item, MetadataFilter):
        raise UnsupportedFilterError(f"{item!r:.60} is not a MetadataFilter or MetadataFilters.")
    operator = FilterOperator(item.operator)
    name = OPERATORS.get(operator)
    if name is None:
        raise UnsupportedFilterError(
            f"Filter operator {operator.name} on {item.key!r} is not supported; use one of "
            f"{[op.name for op in OPERATORS]} (e.g. IN instead of ANY)."
        )
    value: Any = item.value
    if operator == FilterOperator.IS_EMPTY:
        value = False  # {"$exists": False}: the key is missing (or None)
    elif name in ("$in", "$nin") and not isinstance(value, (list, tuple)):
        value = [value]
    node = parse_filter({item.key: {name: value}})
    assert node is not None  # one key, one operator: one Comparison
    return node
