"""Multi-vector collections: the logic every database shares, and the engine contract.

- :mod:`univec.collections.types`: what a collection stores and returns.
- :mod:`univec.collections.ids`: document ids and deterministic point ids.
- :mod:`univec.collections.filters`: metadata filters.
- :mod:`univec.collections.metadata`: the metadata rule (:func:`validate_metadata`).
- :mod:`univec.collections.engine`: :class:`CollectionEngine`, what one database implements.
- :mod:`univec.collections.collection`: :class:`MultiVectorCollection`, the shared logic.

The databases live in their own packages: ``univec_qdrant.QdrantCollection`` and
``univec_milvus.MilvusCollection``.
"""

from __future__ import annotations

from univec.collections.collection import DEFAULT_CANDIDATES, MultiVectorCollection
from univec.collections.engine import CollectionEngine
from univec.collections.filters import (
    And,
    Comparison,
    FieldCondition,
    FilterNode,
    Not,
    Or,
    normalize_filter,
    parse_filter,
)
from univec.collections.ids import content_id, document_key, point_id
from univec.collections.metadata import validate_metadata
from univec.collections.types import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_METADATA,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    PAYLOAD_TEXT,
    SEARCH_MODES,
    CollectionSchema,
    DocumentId,
    EngineHit,
    PointRecord,
    SearchHit,
    SearchMode,
    StoredDocument,
)

__all__ = [
    "DEFAULT_CANDIDATES",
    "PAYLOAD_DOCUMENT_ID",
    "PAYLOAD_METADATA",
    "PAYLOAD_PART",
    "PAYLOAD_PART_COUNT",
    "PAYLOAD_TEXT",
    "SEARCH_MODES",
    "And",
    "CollectionEngine",
    "CollectionSchema",
    "Comparison",
    "DocumentId",
    "EngineHit",
    "FieldCondition",
    "FilterNode",
    "MultiVectorCollection",
    "Not",
    "Or",
    "PointRecord",
    "SearchHit",
    "SearchMode",
    "StoredDocument",
    "content_id",
    "document_key",
    "normalize_filter",
    "parse_filter",
    "point_id",
    "validate_metadata",
]
