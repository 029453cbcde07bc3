"""What both Qdrant engines agree on: vector names, HNSW settings, schema checks, records."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from univec.collection import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_METADATA,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    CollectionSchema,
    PointRecord,
)
from univec.errors import SchemaMismatchError

DENSE = "dense"
MULTI = "multi"


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
    return {
        DENSE: {"size": schema.dense_dim, "distance": "cosine", "multivector": None},
        MULTI: {"size": schema.multi_dim, "distance": "dot", "multivector": "max_sim"},
    }


def check_schema(where: str, schema: CollectionSchema, found: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`SchemaMismatchError` unless ``found`` vectors are exactly ``schema``'s.

    Args:
        where: The collection, as the error message names it.
        schema: What this collection object stores.
        found: Vector name -> ``{"size", "distance", "multivector"}`` of the existing collection
            (distance and comparator lower-case, e.g. ``"cosine"``, ``"max_sim"``).
    """
    expected = expected_vectors(schema)
    if set(found) != set(expected):
        raise SchemaMismatchError(
            f"{where} has the vectors {sorted(found)}, not {sorted(expected)}: it was not created "
            "by univec. Use another collection name."
        )
    for name, facts in expected.items():
        have = found[name]
        if have != facts:
            hint = (
                f"pass dimensions={have['size']} (or the encoder it was built with)"
                if name == DENSE and have["size"] != facts["size"]
                else "use another collection name"
            )
            raise SchemaMismatchError(
                f"{where} stores {name!r} vectors as {have}, but this collection needs {facts}. "
                f"It was created with another encoder or dimension: {hint}, or delete it."
            )


def match_any_values(values: list[Any]) -> bool:
    """Whether Qdrant's ``MatchAny`` takes these values (all str, or all non-bool int)."""
    if not values:
        return False
    if all(isinstance(v, str) for v in values):
        return True
    return all(isinstance(v, int) and not isinstance(v, bool) for v in values)


def metadata_path(key: str) -> str:
    """Payload path of a metadata key (metadata is stored nested, beside the bookkeeping)."""
    return f"{PAYLOAD_METADATA}.{key}"


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
