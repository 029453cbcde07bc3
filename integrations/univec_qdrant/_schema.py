"""What both Qdrant engines agree on: vector names, HNSW settings, schema checks, filters, records.

The two engines build the same filters from different classes (``qdrant_client.models`` and
``qdrant_edge``): :func:`native_filter` holds the translation, each engine a
:class:`FilterClasses` that constructs the objects.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from univec.collections import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_METADATA,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    CollectionSchema,
    FieldCondition,
    PointRecord,
)
from univec.collections.compression import MuveraEncoding, StorageOptions, check_stored_options
from univec.errors import InvalidArgumentError, SchemaMismatchError

DENSE = "dense"
MULTI = "multi"
#: The MUVERA encoding of the token vectors (collections with ``first_stage="muvera"``).
MUVERA = "muvera"
#: Key of the storage options in the collection's metadata (Qdrant server) or
#: in ``OPTIONS_FILE`` (Qdrant Edge).
OPTIONS_KEY = "univec"
#: Quantised token vectors: searches select this many times ``limit`` points by quantised
#: score, then rescore them from the original float32 vectors (``int8``; ``multi`` also binary).
OVERSAMPLING = 4.0


@dataclass(frozen=True)
class HnswSettings:
    """HNSW index of the ``dense`` vector (``multi`` has none: MaxSim is scored exactly).

    Attributes:
        m: Edges per node.
        ef_construct: Candidates while building the graph.
        full_scan_threshold: Below this many KB of vectors, Qdrant scans instead.
        ef_search: Minimum ``hnsw_ef`` of searches (raised to the prefetch size when larger).
    """

    m: int = 16
    ef_construct: int = 100
    full_scan_threshold: int = 10_000
    ef_search: int = 128


def expected_vectors(schema: CollectionSchema) -> dict[str, dict[str, Any]]:
    """The vector facts a collection with ``schema`` has, as :func:`check_schema` compares them."""
    expected = {
        DENSE: {"size": schema.dense_dim, "distance": "cosine", "multivector": None},
        MULTI: {"size": schema.multi_dim, "distance": "dot", "multivector": "max_sim"},
    }
    if schema.storage.first_stage == "muvera":
        size = MuveraEncoding(dim=schema.multi_dim).output_dim
        expected[MUVERA] = {"size": size, "distance": "dot", "multivector": None}
    return expected


def quantised(schema: CollectionSchema) -> bool:
    """Whether the token vectors are searched quantised (with float32 originals on disk)."""
    return schema.storage.token_precision in ("int8", "binary")


def check_schema(where: str, schema: CollectionSchema, found: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`SchemaMismatchError` unless ``found`` vectors are exactly ``schema``'s.

    Args:
        where: The collection, as the error message names it.
        schema: What this collection object stores.
        found: Vector name -> ``{"size", "distance", "multivector"}`` of the existing collection
            (distance and comparator lower-case, e.g. ``"cosine"``, ``"max_sim"``).
    """
    expected = expected_vectors(schema)
    if set(found) - {MUVERA} != set(expected) - {MUVERA}:
        raise SchemaMismatchError(
            f"{where} has the vectors {sorted(found)}, not {sorted(expected)}: it was not created "
            "by univec. Use another collection name."
        )
    for name, facts in expected.items():
        have = found.get(name)
        if have != facts:
            hint = (
                f"pass dimensions={have['size']} (or the encoder it was built with)"
                if name == DENSE and have is not None and have["size"] != facts["size"]
                else "use another collection name"
            )
            raise SchemaMismatchError(
                f"{where} stores {name!r} vectors as {have}, but this collection needs {facts}. "
                f"It was created with another encoder or dimension: {hint}, or delete it."
            )


def check_options(where: str, schema: CollectionSchema, stored: dict[str, Any] | None) -> None:
    """Raise :class:`SchemaMismatchError` unless the stored options are ``schema``'s.

    ``stored`` is what the collection recorded at creation (``None``: created before univec
    recorded options, i.e. with the defaults).
    """
    check_stored_options(where, schema.storage, StorageOptions.from_stored(stored))


class FilterClasses(Protocol):
    """How one Qdrant engine constructs filter objects (the translation is shared)."""

    #: The engine's native filter class, and its name as error messages spell it.
    filter_type: type
    filter_name: str

    def filter(self, *, must: list[Any] | None = None, should: list[Any] | None = None) -> Any:
        """A ``Filter`` of ANDed (``must``) or ORed (``should``) conditions."""
        ...

    def match_value(self, key: str, value: str | int | bool) -> Any:
        """``key == value``."""
        ...

    def match_any(self, key: str, values: list[Any]) -> Any:
        """``key`` equals one of ``values`` (all str, or all int)."""
        ...

    def float_equals(self, key: str, value: float) -> Any:
        """``key == value`` for a float (a closed range)."""
        ...

    def is_empty(self, key: str) -> Any:
        """``key`` is null, missing (or an empty list)."""
        ...


def native_filter(filter: Sequence[FieldCondition] | Any | None, classes: FilterClasses) -> Any:
    """``FieldCondition`` s as the engine's ``Filter``; a native ``Filter`` passes through.

    Raises:
        InvalidArgumentError: ``filter`` is neither, or a value cannot be filtered on.
    """
    if filter is None:
        return None
    if not isinstance(filter, (list, tuple)):
        if not isinstance(filter, classes.filter_type):
            raise InvalidArgumentError(
                f"filter of type {type(filter).__name__} is not a {classes.filter_name}; pass a "
                f"metadata dict such as {{'lang': 'en'}} or a {classes.filter_name}."
            )
        return filter
    if not filter:
        return None
    return classes.filter(must=[_condition(condition, classes) for condition in filter])


def first_parts_filter(
    filter: Sequence[FieldCondition] | Any | None, classes: FilterClasses
) -> Any:
    """Points that are part 0 of their document (one per document), matching ``filter``."""
    conditions = [classes.match_value(PAYLOAD_PART, 0)]
    translated = native_filter(filter, classes)
    if translated is not None:
        conditions.append(translated)
    return classes.filter(must=conditions)


def _condition(condition: FieldCondition, classes: FilterClasses) -> Any:
    key = metadata_path(condition.key)
    values = list(condition.values)
    if condition.operator == "in" and match_any_values(values):
        return classes.match_any(key, values)
    options = [_equals(key, value, classes) for value in values]
    return options[0] if len(options) == 1 else classes.filter(should=options)


def _equals(key: str, value: Any, classes: FilterClasses) -> Any:
    if value is None:
        return classes.is_empty(key)
    if isinstance(value, (str, bool, int)):
        return classes.match_value(key, value)
    if isinstance(value, float):
        return classes.float_equals(key, value)
    raise InvalidArgumentError(
        f"Filter value {value!r:.60} on {key!r} is a {type(value).__name__}; filter on str, int, "
        "bool, float or None values."
    )


def match_any_values(values: list[Any]) -> bool:
    """Whether Qdrant's ``MatchAny`` takes these values (all str, or all non-bool int)."""
    if not values:
        return False
    if all(isinstance(v, str) for v in values):
        return True
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


def metadata_path(key: str) -> str:
    """Payload path of a metadata key (metadata is stored nested, beside the bookkeeping).

    A key with other characters than letters, digits and ``_`` is quoted, so that ``"a.b"``
    names that key and not ``b`` inside ``a`` (Qdrant's path syntax).

    Raises:
        InvalidArgumentError: The key contains a double quote, which Qdrant paths cannot hold.
    """
    if _PLAIN_KEY.fullmatch(key):
        return f"{PAYLOAD_METADATA}.{key}"
    if '"' in key:
        raise InvalidArgumentError(
            f"Metadata key {key!r} contains a double quote, which Qdrant cannot filter on; "
            "rename the key (or filter with a native Qdrant filter on another key)."
        )
    return f'{PAYLOAD_METADATA}."{key}"'


def record_from_payload(
    point_id: str, payload: dict[str, Any], vectors: dict[str, Any]
) -> PointRecord:
    """Rebuild a :class:`PointRecord` from what a Qdrant engine returns."""
    multi = vectors.get(MULTI)
    dense = vectors.get(DENSE)
    return PointRecord(
        point_id=point_id,
        document_id=payload.get(PAYLOAD_DOCUMENT_ID, ""),
        part=int(payload.get(PAYLOAD_PART, 0)),
        part_count=int(payload.get(PAYLOAD_PART_COUNT, 1)),
        dense=np.asarray(dense if dense is not None else [], np.float32),
        multi=np.asarray(multi, np.float32)
        if multi is not None
        else np.zeros((0, 128), np.float32),
        payload=payload,
    )
