"""LangChain metadata filter dicts as univec's filter tree.

The dict conventions LangChain stores share (Chroma, PGVector, langchain-tests' self-query):
``{"lang": "en"}`` (equality), ``{"year": {"$gte": 2020}}``, ``{"$and": [...]}``,
``{"$or": [...]}``, ``{"$not": {...}}``; several keys in one dict are ANDed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from univec.collections.filters import And, Comparison, FilterNode, Not, Or
from univec.errors import UnsupportedFilterError
from univec_frameworks.filters import all_of, any_of, compare, need_clauses, none_of

__all__ = ["FIELD_OPERATORS", "LOGICAL_OPERATORS", "to_filter"]

#: Field operators and the tree operator each becomes.
FIELD_OPERATORS = {
    "$eq": "==",
    "$ne": "!=",
    "$gt": ">",
    "$gte": ">=",
    "$lt": "<",
    "$lte": "<=",
    "$in": "in",
    "$nin": "not in",
}
LOGICAL_OPERATORS = ("$and", "$or", "$not")
_SUPPORTED = [*FIELD_OPERATORS, "$exists", "$between", *LOGICAL_OPERATORS]


def to_filter(filter: object) -> FilterNode | Any | None:
    """A LangChain filter dict as a filter tree; a tree or an engine's native filter passes.

    Raises:
        UnsupportedFilterError: An unknown ``$operator`` (a ``ValueError``), naming the
            supported ones.
    """
    if filter is None or isinstance(filter, (Comparison, And, Or, Not)):
        return filter
    if not isinstance(filter, Mapping):
        return filter  # a native qdrant Filter / Milvus expression: the collection checks it
    if not filter:
        return None
    return _node(filter)


def _node(filter: Mapping[str, Any]) -> FilterNode:
    clauses: list[FilterNode] = []
    for key, value in filter.items():
        if key == "$and":
            clauses.append(all_of([_node(_dict(c)) for c in need_clauses("$and", value)]))
        elif key == "$or":
            clauses.append(any_of([_node(_dict(c)) for c in need_clauses("$or", value)]))
        elif key == "$not":
            clauses.append(none_of([_node(_dict(c)) for c in _as_list(value)]))
        elif isinstance(key, str) and key.startswith("$"):
            raise _unknown(key)
        elif isinstance(value, Mapping) and any(str(k).startswith("$") for k in value):
            clauses.extend(_field(key, operator, operand) for operator, operand in value.items())
        else:
            clauses.append(compare(key, "==", value))
    if not clauses:
        raise UnsupportedFilterError("An empty filter dict inside $and/$or/$not matches nothing.")
    return all_of(clauses)


def _field(key: str, operator: object, operand: object) -> FilterNode:
    if operator in FIELD_OPERATORS:
        return compare(key, FIELD_OPERATORS[str(operator)], operand)
    if operator == "$exists":
        if not isinstance(operand, bool):
            raise UnsupportedFilterError(
                f"$exists on {key!r} takes True or False, not {operand!r}."
            )
        return compare(key, "exists" if operand else "missing")
    if operator == "$between":
        if not isinstance(operand, (list, tuple)) or len(operand) != 2:
            raise UnsupportedFilterError(f"$between on {key!r} takes [low, high], not {operand!r}.")
        return all_of([compare(key, ">=", operand[0]), compare(key, "<=", operand[1])])
    raise _unknown(operator)


def _dict(clause: object) -> Mapping[str, Any]:
    if not isinstance(clause, Mapping):
        raise UnsupportedFilterError(f"A condition must be a dict, got {clause!r:.60}.")
    return clause


def _as_list(value: object) -> list[Any]:
    return [value] if isinstance(value, Mapping) else need_clauses("$not", value)


def _unknown(operator: object) -> UnsupportedFilterError:
    return UnsupportedFilterError(
        f"Filter operator {operator!r} is not supported; use one of {_SUPPORTED} "
        "(or pass the engine's native filter)."
    )
