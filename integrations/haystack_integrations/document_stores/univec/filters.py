"""Haystack's filter syntax as univec's filter tree (:mod:`univec.collections.filters`).

Haystack filters are dicts: a comparison ``{"field": "meta.year", "operator": ">=", "value":
2020}`` or a logical node ``{"operator": "AND" | "OR" | "NOT", "conditions": [...]}`` (``NOT``
negates the AND of its conditions). Fields are ``meta.<key>`` (dotted keys reach into nested
meta dicts), ``content`` and ``id``. The semantics are Haystack's: ``!=`` and ``not in`` also
match documents without the field, ``== None`` matches them, and a range operator with an ISO
8601 string compares dates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from haystack.errors import FilterError

from univec.collections.filters import (
    And,
    Comparison,
    FilterNode,
    Not,
    Or,
    parse_iso_datetime,
)
from univec.errors import InvalidFilterError, UnsupportedFilterError

__all__ = ["UnivecFilterError", "UnsupportedUnivecFilterError", "convert_filters", "field_path"]

#: Where the store keeps each part of a Document in the collection's metadata.
META, CONTENT, ID, BLOB = "meta", "content", "id", "blob"

_COMPARISONS = ("==", "!=", ">", ">=", "<", "<=", "in", "not in")
_LOGICAL = ("AND", "OR", "NOT")


class UnivecFilterError(FilterError, InvalidFilterError):
    """A malformed Haystack filter: Haystack's ``FilterError`` and univec's ``InvalidFilterError``."""


class UnsupportedUnivecFilterError(FilterError, UnsupportedFilterError):
    """A filter the database cannot express: Haystack's ``FilterError``, univec's own error."""


def convert_filters(filters: Mapping[str, Any] | None) -> FilterNode | None:
    """A Haystack filter dict as a univec filter tree (``None`` or ``{}``: no filter).

    Raises:
        UnivecFilterError: The filter is malformed: a missing key, an unknown operator or
            field, a range with a list or a non-date string, ``in`` without a list.
    """
    if not filters:
        return None
    if not isinstance(filters, Mapping):
        raise UnivecFilterError(
            f"Filters must be a dict, got {type(filters).__name__}; see "
            "https://docs.haystack.deepset.ai/docs/metadata-filtering for the syntax."
        )
    return _node(filters)


def _node(condition: Any) -> FilterNode:
    if not isinstance(condition, Mapping):
        raise UnivecFilterError(f"A filter condition must be a dict, got {condition!r:.60}.")
    if "field" in condition:
        return _comparison(condition)
    if "operator" not in condition:
        raise UnivecFilterError(
            f"Filter {dict(condition)!r:.80} has no 'operator': a logical filter needs "
            "'operator' ('AND', 'OR' or 'NOT') and 'conditions'; a comparison needs 'field', "
            "'operator' and 'value'."
        )
    if "conditions" not in condition:
        raise UnivecFilterError(
            f"Logical filter {dict(condition)!r:.80} has no 'conditions'; add a list of conditions."
        )
    operator, conditions = condition["operator"], condition["conditions"]
    if operator not in _LOGICAL:
        raise UnivecFilterError(
            f"Unknown logical operator {operator!r}; use one of {list(_LOGICAL)} (or a "
            "comparison with 'field')."
        )
    if not isinstance(conditions, list):
        raise UnivecFilterError(f"'conditions' of {operator!r} must be a list of filters.")
    clauses = tuple(_node(c) for c in conditions)
    if operator == "AND":
        return And(clauses)
    if operator == "OR":
        return Or(clauses)
    return Not(And(clauses))


def field_path(field: Any) -> tuple[str, ...]:
    """The metadata path of a Haystack filter field (``"meta.a.b"`` -> ``("meta", "a", "b")``).

    Raises:
        UnivecFilterError: The field is not ``meta.<key>``, ``content`` or ``id``.
    """
    if isinstance(field, str):
        if field in (CONTENT, ID):
            return (field,)
        segments = field.split(".")
        if len(segments) > 1 and segments[0] == META and all(segments):
            return tuple(segments)
    raise UnivecFilterError(
        f"Cannot filter on the field {field!r}: use 'meta.<key>' (e.g. 'meta.year'), "
        "'content' or 'id'."
    )


def _comparison(condition: Mapping[str, Any]) -> FilterNode:
    for key in ("operator", "value"):
        if key not in condition:
            raise UnivecFilterError(
                f"Comparison {dict(condition)!r:.80} has no {key!r}; a comparison needs 'field', "
                "'operator' and 'value'."
            )
    path, operator, value = (
        field_path(condition["field"]),
        condition["operator"],
        condition["value"],
    )
    if operator not in _COMPARISONS:
        raise UnivecFilterError(
            f"Unknown comparison operator {operator!r} on {condition['field']!r}; use one of "
            f"{list(_COMPARISONS)}."
        )
    if operator in ("in", "not in"):
        if not isinstance(value, list):
            raise UnivecFilterError(
                f"{operator!r} on {condition['field']!r} takes a list of values, got "
                f"{type(value).__name__}: write [{value!r:.40}]."
            )
        values = tuple(_scalar(v, operator, condition["field"]) for v in value)
        present = tuple(v for v in values if v is not None)
        node: FilterNode = Comparison(path, "in", present)
        if None in values:  # Haystack: None in the list matches documents without the field
            node = Or((node, Comparison(path, "missing")))
        return node if operator == "in" else Not(node)
    if operator in ("==", "!="):
        value = _scalar(value, operator, condition["field"])
        if value is None:
            return Comparison(path, "missing" if operator == "==" else "exists")
        return Comparison(path, operator, value)
    # > >= < <=
    if value is None:
        return Or(())  # Haystack: a range with None matches no document
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise UnivecFilterError(
            f"{operator!r} on {condition['field']!r} compares numbers or ISO 8601 dates, got "
            f"{type(value).__name__} {value!r:.40}."
        )
    if isinstance(value, str):
        parsed = parse_iso_datetime(value)
        if parsed is None:
            raise UnivecFilterError(
                f"{operator!r} on {condition['field']!r} compares numbers or dates; {value!r} is "
                "neither. Pass a number or an ISO 8601 date such as '2024-01-31T12:00:00'."
            )
        return Comparison(path, operator, parsed)
    return Comparison(path, operator, value)


def _scalar(value: Any, operator: str, field: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise UnivecFilterError(
        f"{operator!r} on {field!r} takes a str, number, bool or None, got "
        f"{type(value).__name__} {value!r:.40}."
    )
