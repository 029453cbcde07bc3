"""LlamaIndex ``MetadataFilters`` as univec's filter tree."""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from univec.collections.filters import FilterNode
from univec.errors import UnsupportedFilterError
from univec_frameworks.filters import all_of, any_of, compare, none_of

__all__ = ["OPERATORS", "to_filter"]

#: The ``FilterOperator`` s the collections express, and the tree operator of each.
OPERATORS = {
    FilterOperator.EQ: "==",
    FilterOperator.NE: "!=",
    FilterOperator.GT: ">",
    FilterOperator.GTE: ">=",
    FilterOperator.LT: "<",
    FilterOperator.LTE: "<=",
    FilterOperator.IN: "in",
    FilterOperator.NIN: "not in",
    FilterOperator.IS_EMPTY: "missing",
}


def to_filter(filters: MetadataFilters | None) -> FilterNode | None:
    """``filters`` as a filter tree: AND / OR of its filters, NOT = none of them holds.

    Raises:
        UnsupportedFilterError: An operator the collections cannot express (``ANY``, ``ALL``,
            ``CONTAINS``, ``TEXT_MATCH``...), naming the supported ones (a ``ValueError``).
    """
    if filters is None or not filters.filters:
        return None
    if not isinstance(filters, MetadataFilters):
        raise UnsupportedFilterError(
            f"filters must be llama_index MetadataFilters, got {type(filters).__name__}."
        )
    clauses = [_clause(item) for item in filters.filters]
    condition = filters.condition or FilterCondition.AND
    if condition == FilterCondition.AND:
        return all_of(clauses)
    if condition == FilterCondition.OR:
        return any_of(clauses)
    if condition == FilterCondition.NOT:
        return none_of(clauses)
    raise UnsupportedFilterError(f"Filter condition {condition!r}: use AND, OR or NOT.")


def _clause(item: Any) -> FilterNode:
    if isinstance(item, MetadataFilters):
        node = to_filter(item)
        if node is None:
            raise UnsupportedFilterError("A nested MetadataFilters holds no filter.")
        return node
    if not isinstance(item, MetadataFilter):
        raise UnsupportedFilterError(f"{item!r:.60} is not a MetadataFilter or MetadataFilters.")
    operator = OPERATORS.get(FilterOperator(item.operator))
    if operator is None:
        raise UnsupportedFilterError(
            f"Filter operator {FilterOperator(item.operator).name} on {item.key!r} is not "
            f"supported; use one of {[op.name for op in OPERATORS]} (e.g. IN instead of ANY)."
        )
    value: Any = item.value
    if operator in ("in", "not in") and not isinstance(value, (list, tuple)):
        value = [value]
    return compare(item.key, operator, value)
