"""Filters as Milvus boolean expressions, with the filter values bound as template parameters.

A filter tree (:mod:`univec.collections.filters`) becomes an :class:`Expression`: the text
names each value by a placeholder (``payload["metadata"]["year"] >= {univec_0}``) and
``params`` holds the values, sent as ``filter_params`` so that no value is ever pasted into the
text. Milvus Lite (3.x) has no expression templates: for it the values are written as escaped
literals by :func:`literal`, the only place that writes a value into an expression.

Milvus compares with SQL's three-valued logic (a comparison on a missing key is *unknown*, and
``not unknown`` is unknown), so the tree is first brought to negation normal form and every
negated comparison also holds where the key is missing: the result is exactly
:func:`univec.collections.filters.evaluate`'s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from univec.collections import PAYLOAD_METADATA, PAYLOAD_PART
from univec.collections.filters import (
    RANGE_OPERATORS,
    And,
    Comparison,
    FieldCondition,
    FilterNode,
    Not,
    Or,
    comparison_kind,
    comparison_values,
    engine_filter,
    is_filter_node,
    iso_text,
    key_path,
    negate,
)
from univec.errors import InvalidArgumentError, InvalidFilterError, UnsupportedFilterError

#: JSON field holding each point's payload (metadata, text and bookkeeping).
PAYLOAD_FIELD = "payload"

# Escapes understood by both Milvus' expression parser and Milvus Lite's (a raw newline
# ends a string literal in both, so it must be escaped).
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: An expression no point matches (point ids are never empty): the translation of ``in []``.
MATCH_NOTHING = 'id == ""'
#: An expression every point matches.
MATCH_ALL = 'id != ""'


@dataclass(frozen=True)
class Expression:
    """A Milvus boolean expression and the values of its ``{placeholders}``.

    Attributes:
        text: The expression, e.g. ``'payload["metadata"]["lang"] == {univec_0}'``.
        params: Placeholder name -> value, sent as ``filter_params``.
    """

    text: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def request(self) -> dict[str, Any]:
        """The keyword arguments of a ``MilvusClient`` call: ``filter`` (and ``filter_params``)."""
        if self.params:
            return {"filter": self.text, "filter_params": dict(self.params)}
        return {"filter": self.text}


def request(expression: Expression | None) -> dict[str, Any]:
    """``filter`` / ``filter_params`` keyword arguments (``filter=""`` when there is none)."""
    return expression.request() if expression is not None else {"filter": ""}


def quote(text: str) -> str:
    """A Milvus string literal for ``text``: double-quoted, with ``\\``, ``"`` and newlines escaped."""
    return '"' + "".join(_ESCAPES.get(char, char) for char in text) + '"'


def literal(value: Any, *, key: str = "") -> str:
    """A Milvus literal for a filter value (str, int, float, bool or datetime).

    Raises:
        InvalidFilterError: ``value`` is another type (a list, a dict, bytes, ...).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise InvalidFilterError(f"Filter value {value!r} on {key!r} is not a finite number.")
        return repr(value)
    if isinstance(value, str):
        return quote(value)
    if isinstance(value, datetime):
        return quote(iso_text(value))
    raise InvalidFilterError(
        f"Filter value {value!r:.60} on {key!r} is a {type(value).__name__}; filter on str, int, "
        "float, bool, datetime or None values."
    )


def payload_path(*keys: str) -> str:
    """The expression of a (nested) key of the payload JSON field, e.g. ``payload["part"]``."""
    return PAYLOAD_FIELD + "".join(f"[{quote(key)}]" for key in keys)


def metadata_path(key: str | tuple[str, ...]) -> str:
    """The expression of a metadata key (dotted: nested; metadata is stored in the payload)."""
    return payload_path(PAYLOAD_METADATA, *key_path(key))


class _Binder:
    """Writes filter values: as ``{placeholders}`` (templates) or as escaped literals."""

    def __init__(self, templates: bool) -> None:
        self.templates = templates
        self.params: dict[str, Any] = {}

    def __call__(self, value: Any, node: Comparison) -> str:
        if isinstance(value, datetime):
            value = iso_text(value)
        if not self.templates:
            return literal(value, key=str(node.key))
        name = f"univec_{len(self.params)}"
        self.params[name] = value
        return "{" + name + "}"


def to_expression(
    filter: FilterNode | Sequence[FieldCondition] | str | None, *, templates: bool = True
) -> Expression | None:
    """A filter as one Milvus boolean expression (``None`` when there is nothing to filter).

    Args:
        filter: A filter tree, :class:`FieldCondition` s (ANDed), or a native Milvus expression
            string, passed through unchanged (e.g. ``'payload["metadata"]["year"] >= 2020'``).
        templates: Bind values as ``filter_params`` (Milvus >= 2.5); ``False`` writes them as
            escaped literals (Milvus Lite, which has no expression templates).

    Raises:
        InvalidFilterError: ``filter`` is of another type.
        UnsupportedFilterError: A node Milvus cannot express (e.g. ``>`` on a bool).
    """
    if filter is None:
        return None
    if isinstance(filter, str):
        return Expression(filter.strip()) if filter.strip() else None
    if isinstance(filter, (list, tuple)) and all(isinstance(c, FieldCondition) for c in filter):
        filter = engine_filter(list(filter))
        if filter is None:
            return None
    if not is_filter_node(filter):
        raise InvalidFilterError(
            f"filter of type {type(filter).__name__} is not a Milvus boolean expression; pass a "
            "metadata dict such as {'lang': 'en'}, a univec filter tree, or an expression "
            'string such as \'payload["metadata"]["lang"] == "en"\'.'
        )
    node = _normal_form(filter)  # type: ignore[arg-type]
    if isinstance(node, And) and not node.clauses:
        return None
    binder = _Binder(templates)
    return Expression(_node(node, binder), binder.params)


def _normal_form(node: FilterNode) -> FilterNode:
    """Negations pushed down to the comparisons (``Not`` stays only around range comparisons)."""
    if isinstance(node, Not):
        if isinstance(node.clause, Comparison):
            return negate(node.clause)
        return _normal_form(negate(node.clause))
    if isinstance(node, And):
        return And(tuple(_normal_form(clause) for clause in node.clauses))
    if isinstance(node, Or):
        return Or(tuple(_normal_form(clause) for clause in node.clauses))
    return node


def _node(node: FilterNode, bind: _Binder) -> str:
    if isinstance(node, And):
        if not node.clauses:
            return MATCH_ALL
        return " and ".join(f"({_node(clause, bind)})" for clause in node.clauses)
    if isinstance(node, Or):
        if not node.clauses:
            return MATCH_NOTHING
        return " or ".join(f"({_node(clause, bind)})" for clause in node.clauses)
    if isinstance(node, Not):  # a range comparison (see _normal_form)
        assert isinstance(node.clause, Comparison)
        return _unless(node.clause, _comparison(node.clause, bind))
    return _comparison(node, bind)


def _unless(node: Comparison, expression: str) -> str:
    """``not expression``, also where the key is missing (where Milvus' ``not`` is unknown)."""
    return f"{metadata_path(node.key)} is null or not ({expression})"


def _comparison(node: Comparison, bind: _Binder) -> str:
    path, operator = metadata_path(node.key), node.operator
    if operator == "exists":
        return f"{path} is not null"
    if operator == "missing":
        return f"{path} is null"
    if operator in ("!=", "not in"):
        positive = negate(node)
        assert isinstance(positive, Comparison)
        if operator == "not in" and not comparison_values(node):
            return MATCH_ALL
        return _unless(node, _comparison(positive, bind))
    if operator == "in":
        values = comparison_values(node)
        if not values:
            return MATCH_NOTHING
        # ORed equalities: Milvus Lite takes ``in`` on plain fields only, not on JSON paths.
        return " or ".join(_equals(node, path, value, bind) for value in values)
    if operator == "==":
        return _equals(node, path, node.value, bind)
    if operator in RANGE_OPERATORS:
        kind = comparison_kind(node, node.value, "Milvus")
        if kind == "bool":
            raise UnsupportedFilterError(
                f"Milvus cannot order booleans (filter {node}); use == / != on booleans."
            )
        return f"{path} {operator} {bind(node.value, node)}"
    raise UnsupportedFilterError(f"Milvus has no filter operator {operator!r} (filter {node}).")


def _equals(node: Comparison, path: str, value: Any, bind: _Binder) -> str:
    comparison_kind(node, value, "Milvus")
    return f"{path} == {bind(value, node)}"


def both(first: Expression | None, second: Expression | None) -> Expression | None:
    """``first and second``, each parenthesised; either may be ``None``."""
    if first is None or not first.text:
        return second
    if second is None or not second.text:
        return first
    clash = set(first.params) & set(second.params)
    if clash:
        raise InvalidArgumentError(f"Filter parameters {sorted(clash)} are bound twice.")
    return Expression(f"({first.text}) and ({second.text})", {**first.params, **second.params})


def first_parts(expression: Expression | None) -> Expression:
    """Points that are part 0 of their document (matching ``expression``): one per document."""
    result = both(Expression(f"{payload_path(PAYLOAD_PART)} == 0"), expression)
    assert result is not None
    return result


def ids_in(ids: Sequence[str]) -> Expression:
    """``id in [...]`` for point ids (UUIDs univec made, not caller values)."""
    if not ids:
        return Expression(MATCH_NOTHING)
    return Expression("id in [" + ", ".join(quote(i) for i in ids) + "]")
