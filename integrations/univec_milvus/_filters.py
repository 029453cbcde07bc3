"""Metadata filters as Milvus boolean expressions, with proper quoting of keys and values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from univec.collections import PAYLOAD_METADATA, PAYLOAD_PART, FieldCondition
from univec.errors import InvalidFilterError

#: JSON field holding each point's payload (metadata, text and bookkeeping).
PAYLOAD_FIELD = "payload"

# Escapes understood by both Milvus' expression parser and Milvus Lite's (a raw newline
# ends a string literal in both, so it must be escaped).
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

#: An expression no point matches (point ids are never empty): the translation of ``in []``.
MATCH_NOTHING = 'id == ""'


def quote(text: str) -> str:
    """A Milvus string literal for ``text``: double-quoted, with ``\\``, ``"`` and newlines escaped."""
    return '"' + "".join(_ESCAPES.get(char, char) for char in text) + '"'


def literal(value: Any, *, key: str = "") -> str:
    """A Milvus literal for a filter value (str, int, float or bool).

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
    raise InvalidFilterError(
        f"Filter value {value!r:.60} on {key!r} is a {type(value).__name__}; filter on str, int, "
        "float, bool or None values."
    )


def payload_path(*keys: str) -> str:
    """The expression of a (nested) key of the payload JSON field, e.g. ``payload["part"]``."""
    return PAYLOAD_FIELD + "".join(f"[{quote(key)}]" for key in keys)


def metadata_path(key: str) -> str:
    """The expression of one metadata key (metadata is stored nested in the payload)."""
    return payload_path(PAYLOAD_METADATA, key)


def condition_expression(condition: FieldCondition) -> str:
    """One condition: ``==`` for a value, ``is null`` for ``None``, ORed equalities for ``in``.

    ``in`` is spelled as equalities because Milvus Lite accepts ``in`` only on plain fields.
    """
    path = metadata_path(condition.key)
    options = []
    for value in condition.values:
        if value is None:
            options.append(f"{path} is null")
        else:
            options.append(f"{path} == {literal(value, key=condition.key)}")
    if not options:
        return MATCH_NOTHING
    return options[0] if len(options) == 1 else "(" + " or ".join(options) + ")"


def to_expression(filter: Sequence[FieldCondition] | str | None) -> str | None:
    """A filter as one Milvus boolean expression (``None`` when there is nothing to filter).

    Args:
        filter: :class:`FieldCondition` s (ANDed), or a native Milvus expression string, passed
            through unchanged (e.g. ``'payload["metadata"]["year"] >= 2020'``).

    Raises:
        InvalidFilterError: ``filter`` is of another type.
    """
    if filter is None:
        return None
    if isinstance(filter, str):
        return filter.strip() or None
    if isinstance(filter, (list, tuple)) and all(isinstance(c, FieldCondition) for c in filter):
        if not filter:
            return None
        return " and ".join(condition_expression(condition) for condition in filter)
    raise InvalidFilterError(
        f"filter of type {type(filter).__name__} is not a Milvus boolean expression; pass a "
        "metadata dict such as {'lang': 'en'} or an expression string such as "
        '\'payload["metadata"]["lang"] == "en"\'.'
    )


def both(first: str | None, second: str | None) -> str | None:
    """``first and second``, each parenthesised; either may be ``None``."""
    if not first:
        return second
    if not second:
        return first
    return f"({first}) and ({second})"


def first_parts(expression: str | None) -> str:
    """Points that are part 0 of their document (matching ``expression``): one per document."""
    return both(f"{payload_path(PAYLOAD_PART)} == 0", expression) or ""


def ids_in(ids: Sequence[str]) -> str:
    """``id in [...]`` for point ids."""
    if not ids:
        return MATCH_NOTHING
    return "id in [" + ", ".join(quote(i) for i in ids) + "]"
