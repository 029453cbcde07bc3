"""Metadata filters: the forms callers write, and the conditions engines translate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from univec.errors import ConfigurationError

__all__ = ["FieldCondition", "engine_filter", "normalize_filter"]


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
            raise ConfigurationError(f"Filter key {key!r} must be a non-empty metadata field name.")
        if isinstance(value, Mapping):
            if set(value) == {"in"}:
                conditions.append(FieldCondition(key, tuple(value["in"]), "in"))
            elif set(value) == {"eq"}:
                conditions.append(FieldCondition(key, (value["eq"],), "eq"))
            else:
                raise ConfigurationError(
                    f"Filter on {key!r} has operators {sorted(value)}; use {{'eq': v}} or "
                    "{'in': [v1, v2]} (or a plain value / list)."
                )
        elif isinstance(value, (list, tuple, set, frozenset)):
            conditions.append(FieldCondition(key, tuple(value), "in"))
        else:
            conditions.append(FieldCondition(key, (value,), "eq"))
        if not conditions[-1].values:
            raise ConfigurationError(
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
