"""Metadata filters: the forms callers write, and the conditions engines translate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Union

from univec.errors import InvalidFilterError

__all__ = [
    "COMPARISON_OPERATORS",
    "And",
    "Comparison",
    "ComparisonOperator",
    "FieldCondition",
    "FilterNode",
    "Not",
    "Or",
    "engine_filter",
    "normalize_filter",
]


@dataclass(frozen=True)
class FieldCondition:
    """One metadata condition of a filter: ``metadata[key] == value`` or ``in values``.

    ``key`` names an entry of the caller's metadata, stored under ``payload["metadata"]``
    (so a Qdrant engine filters on ``"metadata.<key>"``).
    """

    key: str
    values: tuple[Any, ...]
    operator: Literal["eq", "in"] = "eq"


def normalize_filter(filter: Mapping[str, Any] | None) -> list[FieldCondition] | None:
    """Translate a metadata filter dict into :class:`FieldCondition` s.

    ``{"lang": "en"}`` is equality; ``{"lang": ["en", "fr"]}`` or ``{"lang": {"in": [...]}}``
    matches any of the values; ``{"lang": {"eq": "en"}}`` is equality. Conditions are ANDed.
    ``None`` as a value matches documents whose metadata has ``None`` there or lacks the key
    (``metadata.get(key) is None``; Qdrant also counts an empty list as empty). Keys are taken
    literally: ``"a.b"`` names the key ``"a.b"``, not ``"b"`` inside ``"a"``.
    """
    if filter is None:
        return None
    conditions: list[FieldCondition] = []
    for key, value in filter.items():
        if not isinstance(key, str) or not key:
            raise InvalidFilterError(f"Filter key {key!r} must be a non-empty metadata field name.")
        if isinstance(value, Mapping):
            if set(value) == {"in"}:
                conditions.append(FieldCondition(key, tuple(value["in"]), "in"))
            elif set(value) == {"eq"}:
                conditions.append(FieldCondition(key, (value["eq"],), "eq"))
            else:
                raise InvalidFilterError(
                    f"Filter on {key!r} has operators {sorted(value)}; use {{'eq': v}} or "
                    "{'in': [v1, v2]} (or a plain value / list)."
                )
        elif isinstance(value, (list, tuple, set, frozenset)):
            conditions.append(FieldCondition(key, tuple(value), "in"))
        else:
            conditions.append(FieldCondition(key, (value,), "eq"))
        if not conditions[-1].values:
            raise InvalidFilterError(
                f"Filter on {key!r} lists no values, so it would match no document. Drop the "
                "condition, or give at least one value."
            )
    return conditions


def engine_filter(filter: object) -> list[FieldCondition] | Any | None:
    """A filter dict becomes FieldConditions; lists of them and native filters pass through."""
    if filter is None:
        return None
    if isinstance(filter, Mapping):
        return normalize_filter(filter)
    if isinstance(filter, (list, tuple)) and all(isinstance(c, FieldCondition) for c in filter):
        return list(filter)
    return filter


# --------------------------------------------------------------------------- filter language
# The engine-independent filter tree. Framework stores translate their own filter syntax into
# it; each engine translates it into its native form (Qdrant ``Filter``, Milvus expression with
# bound parameters). An engine that cannot express a node raises ``UnsupportedFilterError``.

#: Comparison operators of :class:`Comparison`.
ComparisonOperator = Literal["==", "!=", ">", ">=", "<", "<=", "in", "not in", "exists", "missing"]
COMPARISON_OPERATORS: tuple[str, ...] = (
    "==",
    "!=",
    ">",
    ">=",
    "<",
    "<=",
    "in",
    "not in",
    "exists",
    "missing",
)


@dataclass(frozen=True)
class Comparison:
    """``metadata[key] <operator> value``.

    Attributes:
        key: A metadata key; a dotted key (``"a.b"``) names ``b`` inside the dict at ``a``.
        operator: One of :data:`COMPARISON_OPERATORS`.
        value: A number, str, bool or ``datetime`` (ISO date strings are parsed by the parser
            that builds the tree); a tuple of those for ``in`` / ``not in``; ``None`` for
            ``exists`` / ``missing``.
    """

    key: str
    operator: ComparisonOperator
    value: Any = None


@dataclass(frozen=True)
class And:
    """Every clause holds."""

    clauses: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    """At least one clause holds."""

    clauses: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    """The clause does not hold."""

    clause: FilterNode


FilterNode = Union[Comparison, And, Or, Not]  # noqa: UP007 - a runtime alias on Python 3.10
