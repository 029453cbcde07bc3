"""Building blocks of the framework filter translators (LangChain dicts, LlamaIndex filters).

Each framework module walks its own filter syntax and builds the engine-independent tree of
:mod:`univec.collections.filters` with :func:`compare`, :func:`all_of`, :func:`any_of` and
:func:`none_of`; the engines translate the tree natively.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

from univec.collections.filters import And, Comparison, FilterNode, Not, Or
from univec.errors import UnsupportedFilterError

__all__ = ["all_of", "any_of", "compare", "need_clauses", "none_of", "parse_date"]

_RANGE = (">", ">=", "<", "<=")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?")


def parse_date(value: object) -> object:
    """An ISO 8601 date string as a ``datetime`` (naive values read as UTC); others unchanged."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.timezone.utc)
    return value


def _scalar(key: str, operator: str, value: object) -> None:
    if value is None or isinstance(value, (str, int, float, bool, dt.date)):
        return
    raise UnsupportedFilterError(
        f"Filter {key!r} {operator} {value!r:.60}: the value is a {type(value).__name__}; "
        "compare with a str, number, bool or ISO date (use 'in' for several values)."
    )


def compare(key: object, operator: str, value: object = None) -> Comparison:
    """A checked :class:`Comparison`; range bounds given as ISO date strings become datetimes.

    Raises:
        UnsupportedFilterError: Empty key, a list for a scalar operator (or the reverse), a
            ``None`` bound of a range, or an empty ``in`` list (a ``ValueError``).
    """
    if not isinstance(key, str) or not key:
        raise UnsupportedFilterError(f"Filter key {key!r} must be a non-empty metadata key.")
    if operator in ("in", "not in"):
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise UnsupportedFilterError(
                f"Filter {key!r} {operator} needs a non-empty list of values, got {value!r:.60}."
            )
        for item in value:
            _scalar(key, operator, item)
        return Comparison(key, operator, tuple(value))  # type: ignore[arg-type]
    if operator in ("exists", "missing"):
        return Comparison(key, operator)  # type: ignore[arg-type]
    _scalar(key, operator, value)
    if operator in _RANGE:
        if value is None or isinstance(value, bool):
            raise UnsupportedFilterError(
                f"Filter {key!r} {operator} {value!r}: a range needs a number or an ISO date."
            )
        value = parse_date(value)
    return Comparison(key, operator, value)  # type: ignore[arg-type]


def all_of(clauses: Sequence[FilterNode]) -> FilterNode:
    """Every clause holds (a single clause stands for itself)."""
    return clauses[0] if len(clauses) == 1 else And(tuple(clauses))


def any_of(clauses: Sequence[FilterNode]) -> FilterNode:
    """At least one clause holds."""
    return clauses[0] if len(clauses) == 1 else Or(tuple(clauses))


def none_of(clauses: Sequence[FilterNode]) -> FilterNode:
    """No clause holds."""
    return Not(any_of(clauses))


def need_clauses(what: str, clauses: Any) -> list[Any]:
    """``clauses`` as a non-empty list, or an :class:`UnsupportedFilterError` naming ``what``."""
    if isinstance(clauses, (str, bytes)) or not isinstance(clauses, Sequence) or not clauses:
        raise UnsupportedFilterError(
            f"{what} needs a non-empty list of conditions, got {clauses!r:.60}."
        )
    return list(clauses)
