"""Metadata filters: the filter language of the collections, and the tree engines translate.

A filter is written as a dict (see :func:`parse_filter` for the forms) or built directly as a
tree of :class:`Comparison`, :class:`And`, :class:`Or` and :class:`Not`. Each engine translates
the tree into its native form (a Qdrant ``Filter``; a Milvus boolean expression with its values
bound as parameters); a node an engine cannot express raises
:class:`~univec.errors.UnsupportedFilterError` naming it, never a match-all.

Semantics (every engine returns exactly these documents; see :func:`evaluate`):

- A key names a metadata entry; a dotted key (``"a.b"``) names ``b`` inside the dict at ``a``.
  A tuple key (``("a.b",)``) names its segments literally. A key is *missing* when an entry on
  its path is absent, is not a dict, or the value is ``None``.
- ``==``, ``>``, ``>=``, ``<``, ``<=`` and ``in`` hold only for a present value of the same kind
  as the filter value: numbers (``int``/``float``, ``1 == 1.0``), strings, booleans (never equal
  to numbers) or dates (a ``datetime`` filter value against ISO 8601 strings stored in the
  metadata). Compare a key with values of the kind it holds.
- ``!=`` is ``not ==`` and ``not in`` is ``not in``: both also hold where the key is missing.
- ``exists`` holds where the key is present (not ``None``), ``missing`` where it is not.
- ``And(())`` holds everywhere, ``Or(())`` nowhere, ``in ()`` nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Literal, Union

from univec.errors import InvalidFilterError, UnsupportedFilterError
from univec.inputs import LONE_SURROGATE

__all__ = [
    "COMPARISON_OPERATORS",
    "MISSING",
    "And",
    "Comparison",
    "ComparisonOperator",
    "FieldCondition",
    "FilterNode",
    "Not",
    "Or",
    "comparison_kind",
    "comparison_values",
    "engine_filter",
    "evaluate",
    "is_filter_node",
    "key_path",
    "negate",
    "normalize_filter",
    "parse_filter",
    "parse_iso_datetime",
]


# --------------------------------------------------------------------------- filter tree
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
RANGE_OPERATORS: tuple[str, ...] = (">", ">=", "<", "<=")


@dataclass(frozen=True)
class Comparison:
    """``metadata[key] <operator> value``.

    Attributes:
        key: A metadata key; a dotted key (``"a.b"``) names ``b`` inside the dict at ``a``;
            a tuple of str names its segments literally (``("a.b",)`` is the key ``"a.b"``).
        operator: One of :data:`COMPARISON_OPERATORS`.
        value: A number, str, bool or ``datetime`` (ISO date strings are parsed by
            :func:`parse_filter` for range operators); a tuple of those for ``in`` /
            ``not in``; ``None`` for ``exists`` / ``missing``.
    """

    key: str | tuple[str, ...]
    operator: ComparisonOperator
    value: Any = None


@dataclass(frozen=True)
class And:
    """Every clause holds (``And(())`` holds everywhere)."""

    clauses: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Or:
    """At least one clause holds (``Or(())`` holds nowhere)."""

    clauses: tuple[FilterNode, ...]


@dataclass(frozen=True)
class Not:
    """The clause does not hold."""

    clause: FilterNode


FilterNode = Union[Comparison, And, Or, Not]  # noqa: UP007 - a runtime alias on Python 3.10


def is_filter_node(value: object) -> bool:
    """Whether ``value`` is a node of the filter tree."""
    return isinstance(value, (Comparison, And, Or, Not))


def key_path(key: str | tuple[str, ...]) -> tuple[str, ...]:
    """The path of a :class:`Comparison` key: ``"a.b"`` -> ``("a", "b")``; tuples unchanged.

    Raises:
        InvalidFilterError: The key (or one of its segments) is empty or not a str.
    """
    if isinstance(key, str):
        segments = tuple(key.split("."))
    elif isinstance(key, tuple):
        segments = key
    else:
        raise InvalidFilterError(
            f"Filter key {key!r} is a {type(key).__name__}; use a str such as 'lang' or "
            "'author.name' (or a tuple of str segments)."
        )
    if not segments or not all(isinstance(s, str) and s for s in segments):
        raise InvalidFilterError(
            f"Filter key {key!r} has an empty segment; use names such as 'lang' or 'author.name'."
        )
    if any(LONE_SURROGATE.search(segment) for segment in segments):
        raise InvalidFilterError(
            f"Filter key {key!r} holds a lone surrogate, which is not valid Unicode text and "
            "names no stored key. Fix the string."
        )
    return segments


def negate(node: FilterNode) -> FilterNode:
    """``Not(node)`` pushed down to the comparisons (De Morgan), with double negations removed.

    ``==``/``!=``, ``in``/``not in`` and ``exists``/``missing`` swap; a range comparison stays
    wrapped in :class:`Not` (``not >`` is not ``<=`` where the key is missing).
    """
    if isinstance(node, Not):
        return node.clause
    if isinstance(node, And):
        return Or(tuple(negate(clause) for clause in node.clauses))
    if isinstance(node, Or):
        return And(tuple(negate(clause) for clause in node.clauses))
    opposite = _OPPOSITES.get(node.operator)
    if opposite is not None:
        return Comparison(node.key, opposite, node.value)  # type: ignore[arg-type]
    return Not(node)


_OPPOSITES: dict[str, str] = {
    "==": "!=",
    "!=": "==",
    "in": "not in",
    "not in": "in",
    "exists": "missing",
    "missing": "exists",
}


# --------------------------------------------------------------------------- reference semantics
class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


#: What :func:`lookup` returns for a key that is absent (or ``None``).
MISSING: Any = _Missing()


def lookup(metadata: Mapping[str, Any], key: str | tuple[str, ...]) -> Any:
    """The value at ``key`` in ``metadata``, or :data:`MISSING`."""
    value: Any = metadata
    for segment in key_path(key):
        if not isinstance(value, Mapping) or segment not in value:
            return MISSING
        value = value[segment]
    return MISSING if value is None else value


def evaluate(node: FilterNode | None, metadata: Mapping[str, Any]) -> bool:
    """Whether ``metadata`` matches ``node``: the semantics every engine implements."""
    if node is None:
        return True
    if isinstance(node, And):
        return all(evaluate(clause, metadata) for clause in node.clauses)
    if isinstance(node, Or):
        return any(evaluate(clause, metadata) for clause in node.clauses)
    if isinstance(node, Not):
        return not evaluate(node.clause, metadata)
    value = lookup(metadata, node.key)
    operator = node.operator
    if operator == "exists":
        return value is not MISSING
    if operator == "missing":
        return value is MISSING
    if operator in ("!=", "not in"):
        return not evaluate(negate(node), metadata)
    if value is MISSING:
        return False
    if operator == "in":
        return any(_compare(value, "==", option) for option in node.value)
    return _compare(value, operator, node.value)


def _compare(stored: Any, operator: str, value: Any) -> bool:
    kind = value_kind(value)
    if kind == "datetime":
        stored = parse_iso_datetime(stored) if isinstance(stored, str) else None
        if stored is None:
            return False
        stored, value = _utc(stored), _utc(value)
    elif _kind_of_stored(stored) != kind:
        return False
    if operator == "==":
        return bool(stored == value)
    if operator == ">":
        return bool(stored > value)
    if operator == ">=":
        return bool(stored >= value)
    if operator == "<":
        return bool(stored < value)
    if operator == "<=":
        return bool(stored <= value)
    raise InvalidFilterError(f"Unknown comparison operator {operator!r}.")


def _kind_of_stored(value: Any) -> str | None:
    try:
        return value_kind(value)
    except InvalidFilterError:
        return None


def value_kind(value: Any) -> Literal["bool", "number", "str", "datetime"]:
    """The kind of a filter value.

    Raises:
        InvalidFilterError: ``value`` is not a number, str, bool or datetime (or is NaN/inf).
    """
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and (value != value or value in (float("inf"), -float("inf"))):
            raise InvalidFilterError(f"Filter value {value!r} is not a finite number.")
        return "number"
    if isinstance(value, str):
        if LONE_SURROGATE.search(value):
            raise InvalidFilterError(
                f"Filter value {value!r:.60} holds a lone surrogate, which is not valid Unicode "
                "text and can match nothing stored. Fix the string."
            )
        return "str"
    if isinstance(value, datetime):
        return "datetime"
    raise InvalidFilterError(
        f"Filter value {value!r:.60} is a {type(value).__name__}; filter on numbers, str, bool "
        "or datetime values."
    )


def _utc(value: datetime) -> datetime:
    """Naive datetimes are UTC (as Qdrant reads them)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?")


def parse_iso_datetime(text: str) -> datetime | None:
    """An ISO 8601 date or date-time string as a ``datetime``; ``None`` if it is not one."""
    if not isinstance(text, str) or not _ISO_DATE.fullmatch(text.strip()):
        return None
    try:
        return datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None


def iso_text(value: datetime) -> str:
    """How a datetime filter value is written for engines comparing ISO strings."""
    return value.isoformat()


# --------------------------------------------------------------------------- the dict forms
_OPERATOR_NAMES: dict[str, str] = {}
for _operator, _names in {
    "==": ("eq", "==", "$eq"),
    "!=": ("ne", "!=", "$ne"),
    ">": ("gt", ">", "$gt"),
    ">=": ("gte", ">=", "$gte"),
    "<": ("lt", "<", "$lt"),
    "<=": ("lte", "<=", "$lte"),
    "in": ("in", "$in"),
    "not in": ("nin", "not in", "not_in", "$nin"),
    "exists": ("exists", "$exists"),
}.items():
    for _name in _names:
        _OPERATOR_NAMES[_name] = _operator
_LOGICAL = ("$and", "$or", "$not")


def parse_filter(filter: Mapping[str, Any] | FilterNode | None) -> FilterNode | None:
    """A filter dict (or a tree, returned unchanged) as a :class:`FilterNode`.

    The dict forms (entries are ANDed):

    - ``{"lang": "en"}``: equality; ``{"lang": ["en", "fr"]}``: one of the values (``in``);
      ``{"lang": None}``: the key is missing (or ``None``).
    - ``{"year": {"gte": 2020, "lt": 2024}}``: operators on one key, ANDed. Operators (each
      also with a ``$`` prefix, e.g. ``"$gte"``): ``eq`` (``==``), ``ne`` (``!=``), ``gt``
      (``>``), ``gte`` (``>=``), ``lt`` (``<``), ``lte`` (``<=``), ``in``, ``nin``
      (``not in``), ``exists`` (``True``: present, ``False``: missing). The symbols
      (``"=="``, ``">="``, ``"not in"``, ...) are accepted too.
    - ``{"$and": [f1, f2]}``, ``{"$or": [f1, f2]}``, ``{"$not": f}``: nesting, where each
      ``f`` is again a dict of these forms.
    - Keys may be dotted: ``{"author.name": "Ada"}`` filters on ``meta["author"]["name"]``.
    - Values: numbers, str, bool, ``datetime``/``date``; a range operator (``gt``, ...) with
      an ISO 8601 string (``"2024-01-31"``, ``"2024-01-31T12:00:00"``) compares dates.

    Raises:
        InvalidFilterError: An unknown operator, a value of an unsupported type, an empty list.
    """
    if filter is None or is_filter_node(filter):
        return filter  # type: ignore[return-value]
    if not isinstance(filter, Mapping):
        raise InvalidFilterError(
            f"filter of type {type(filter).__name__} is not a filter; pass a dict such as "
            "{'lang': 'en', 'year': {'gte': 2020}} or a univec.collections.filters tree."
        )
    clauses: list[FilterNode] = []
    for key, value in filter.items():
        if key in _LOGICAL:
            clauses.append(_logical(key, value))
            continue
        if not isinstance(key, str) or not key:
            raise InvalidFilterError(
                f"Filter key {key!r} must be a non-empty metadata key (a str)."
            )
        if isinstance(key, str) and key.startswith("$"):
            raise InvalidFilterError(
                f"Unknown filter operator {key!r}; the logical operators are {list(_LOGICAL)}."
            )
        key_path(key)
        clauses.extend(_key_conditions(key, value))
    return clauses[0] if len(clauses) == 1 else And(tuple(clauses))


def _logical(operator: str, value: Any) -> FilterNode:
    if operator == "$not":
        inner = parse_filter(value) if isinstance(value, Mapping) else None
        if inner is None:
            raise InvalidFilterError(f"'$not' takes one filter dict, got {value!r:.60}.")
        return Not(inner)
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise InvalidFilterError(
            f"{operator!r} takes a list of filter dicts, got {type(value).__name__}."
        )
    parts = []
    for part in value:
        node = parse_filter(part) if isinstance(part, Mapping) else None
        if node is None:
            raise InvalidFilterError(f"{operator!r} takes filter dicts, got {part!r:.60}.")
        parts.append(node)
    return And(tuple(parts)) if operator == "$and" else Or(tuple(parts))


def _key_conditions(key: str, value: Any) -> list[FilterNode]:
    if isinstance(value, Mapping):
        if not value:
            raise InvalidFilterError(f"Filter on {key!r} has no operator; use e.g. {{'eq': v}}.")
        conditions: list[FilterNode] = []
        for name, operand in value.items():
            operator = _OPERATOR_NAMES.get(name) if isinstance(name, str) else None
            if operator is None:
                raise InvalidFilterError(
                    f"Filter on {key!r} has the unknown operator {name!r}; use one of "
                    f"{sorted(n for n in _OPERATOR_NAMES if n.isalpha())} (also with a '$' "
                    "prefix) or a plain value / list."
                )
            conditions.append(_comparison(key, operator, operand))
        return conditions
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_comparison(key, "in", value)]
    return [_comparison(key, "==", value)]


def _comparison(key: str, operator: str, value: Any) -> FilterNode:
    if operator == "exists":
        if not isinstance(value, bool):
            raise InvalidFilterError(f"'exists' on {key!r} takes True or False, got {value!r}.")
        return Comparison(key, "exists" if value else "missing")
    if operator in ("in", "not in"):
        if isinstance(value, (str, bytes, Mapping)) or not isinstance(
            value, (list, tuple, set, frozenset)
        ):
            raise InvalidFilterError(
                f"{operator!r} on {key!r} takes a list of values, got {type(value).__name__}."
            )
        values = tuple(_value(key, v, operator) for v in value)
        if not values:
            raise InvalidFilterError(
                f"Filter on {key!r} lists no values, so it would match no document. Drop the "
                "condition, or give at least one value."
            )
        if any(v is None for v in values):  # None among the values: "or missing"
            rest = tuple(v for v in values if v is not None)
            missing = Comparison(key, "missing")
            node: FilterNode = Or((Comparison(key, "in", rest), missing)) if rest else missing
            return node if operator == "in" else negate(node)
        return Comparison(key, operator, values)  # type: ignore[arg-type]
    value = _value(key, value, operator)
    if value is None:
        if operator == "==":
            return Comparison(key, "missing")
        if operator == "!=":
            return Comparison(key, "exists")
        raise InvalidFilterError(f"{operator!r} on {key!r} needs a value, not None.")
    if operator in RANGE_OPERATORS:
        if isinstance(value, bool):
            raise InvalidFilterError(
                f"{operator!r} on {key!r} compares numbers or dates, not the bool {value!r}."
            )
        if isinstance(value, str):
            parsed = parse_iso_datetime(value)
            if parsed is None:
                raise InvalidFilterError(
                    f"{operator!r} on {key!r} compares numbers or dates; {value!r} is neither. "
                    "Pass a number, a datetime or an ISO 8601 date string such as '2024-01-31'."
                )
            value = parsed
    return Comparison(key, operator, value)  # type: ignore[arg-type]


def _value(key: str, value: Any, operator: str) -> Any:
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime(value.year, value.month, value.day)
    try:
        value_kind(value)
    except InvalidFilterError as exc:
        raise InvalidFilterError(f"Filter on {key!r} ({operator}): {exc}") from None
    return value


# --------------------------------------------------------------------------- legacy conditions
@dataclass(frozen=True)
class FieldCondition:
    """One metadata condition: ``metadata[key] == value`` or ``in values`` (the older form).

    Engines take the filter tree; lists of these are converted with :func:`engine_filter`.
    """

    key: str
    values: tuple[Any, ...]
    operator: Literal["eq", "in"] = "eq"


def normalize_filter(filter: Mapping[str, Any] | None) -> list[FieldCondition] | None:
    """The equality / ``in`` subset of the dict form as :class:`FieldCondition` s.

    Kept for callers of the older form; :func:`parse_filter` reads every form. ``None`` as a
    value matches a missing key. Keys are taken literally.
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
                    f"Filter on {key!r} has operators {sorted(value)}; normalize_filter reads "
                    "{'eq': v} and {'in': [...]} only: use parse_filter for the others."
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


def _from_conditions(conditions: Sequence[FieldCondition]) -> FilterNode | None:
    nodes: list[FilterNode] = []
    for condition in conditions:
        key = (condition.key,)  # FieldCondition keys are literal
        values = condition.values
        if any(v is None for v in values):
            rest = tuple(v for v in values if v is not None)
            missing = Comparison(key, "missing")
            nodes.append(Or((Comparison(key, "in", rest), missing)) if rest else missing)
        elif condition.operator == "in":
            nodes.append(
                Comparison(key, "in", tuple(_value(condition.key, v, "in") for v in values))
            )
        else:
            nodes.append(Comparison(key, "==", _value(condition.key, values[0], "==")))
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def engine_filter(filter: object) -> FilterNode | Any | None:
    """What a collection passes to its engine: a filter tree, or the engine's native filter.

    Dicts are parsed (:func:`parse_filter`), trees pass through, lists of
    :class:`FieldCondition` become trees; anything else (a native filter) passes through for
    the engine to accept or refuse.
    """
    if filter is None:
        return None
    if isinstance(filter, Mapping):
        return parse_filter(filter)
    if is_filter_node(filter):
        return filter
    if isinstance(filter, (list, tuple)) and all(isinstance(c, FieldCondition) for c in filter):
        return _from_conditions(filter)
    return filter


def comparison_values(node: Comparison) -> tuple[Any, ...]:
    """The value tuple of an ``in`` / ``not in`` comparison, for an engine's translation.

    Raises:
        UnsupportedFilterError: ``node.value`` is not a collection of values.
    """
    values = node.value
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set, frozenset)):
        raise UnsupportedFilterError(
            f"{node.operator!r} needs a tuple of values (filter {node}); pass e.g. ('en', 'fr')."
        )
    return tuple(values)


def comparison_kind(node: Comparison, value: Any, engine: str) -> str:
    """:func:`value_kind` of a comparison's value, as an error naming ``engine`` and the node.

    Raises:
        UnsupportedFilterError: ``value`` is of a kind no engine filters on.
    """
    try:
        return value_kind(value)
    except InvalidFilterError as exc:
        raise UnsupportedFilterError(f"{engine} cannot filter on {node}: {exc}") from None
