"""The data a collection stores and returns, and the payload layout every engine keeps."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Union

import numpy as np

from univec.collections.compression import StorageOptions

__all__ = [
    "PAYLOAD_DOCUMENT_ID",
    "PAYLOAD_GENERATION",
    "PAYLOAD_METADATA",
    "PAYLOAD_PART",
    "PAYLOAD_PART_COUNT",
    "PAYLOAD_REPLACED",
    "PAYLOAD_TEXT",
    "SEARCH_MODES",
    "CollectionSchema",
    "DocumentId",
    "EngineHit",
    "PointRecord",
    "SearchHit",
    "SearchMode",
    "StoredDocument",
]

SearchMode = Literal["multi", "dense", "hybrid"]
DocumentId = Union[str, int]  # noqa: UP007
SEARCH_MODES: tuple[str, ...] = ("multi", "dense", "hybrid")

# Payload layout: every point's payload holds these keys, so an engine can rebuild a
# PointRecord / EngineHit from the payload alone. FieldCondition keys name entries of the
# nested PAYLOAD_METADATA dict (engines translate ``key`` to ``metadata.<key>``).
PAYLOAD_DOCUMENT_ID = "document_id"
PAYLOAD_PART = "part"
PAYLOAD_PART_COUNT = "part_count"
PAYLOAD_METADATA = "metadata"
PAYLOAD_TEXT = "text"  # only on part 0, only for text items
# Documents stored in several parts: the generation of the content every part belongs to, and
# on part 0 the [generation, part_count] of the parts it replaced (deleted after the switch).
PAYLOAD_GENERATION = "generation"
PAYLOAD_REPLACED = "replaced"


@dataclass(frozen=True)
class CollectionSchema:
    """What a collection stores; an existing collection must match it exactly.

    Attributes:
        dense_dim: Size of the ``dense`` single vector (the model's or a Matryoshka dim).
        multi_dim: Size of each token vector of ``multi`` (128).
        storage: Token pooling, token precision and first stage, stored with the collection.
    """

    dense_dim: int
    multi_dim: int = 128
    storage: StorageOptions = field(default_factory=StorageOptions)


@dataclass
class PointRecord:
    """One stored point/row: a whole document, or one part of a long one.

    Attributes:
        point_id: Engine key, deterministic from ``(document_id, part)`` (a UUID string).
        document_id: The caller's id (or one derived from content).
        part: Index of this part (0 for documents stored whole).
        part_count: How many parts the document was stored as.
        dense: ``(dense_dim,)`` single vector of the whole document (same on every part).
        multi: ``(n_tokens, multi_dim)`` token vectors of this part (pooled, if the
            collection pools).
        payload: Metadata and bookkeeping stored beside the vectors (JSON-serialisable).
        muvera: ``(output_dim,)`` MUVERA encoding of ``multi``, when the collection's first
            stage is ``"muvera"``.
    """

    point_id: str
    document_id: DocumentId
    part: int
    part_count: int
    dense: np.ndarray
    multi: np.ndarray
    payload: dict[str, Any] = field(default_factory=dict)
    muvera: np.ndarray | None = None


@dataclass
class EngineHit:
    """A point found by an engine, before grouping by document."""

    point_id: str
    score: float
    payload: dict[str, Any]


@dataclass
class SearchHit:
    """One document found by a collection search.

    Attributes:
        id: The caller's document id.
        score: Cosine (``dense``) or MaxSim (``multi``/``hybrid``) score, higher is better.
        metadata: The metadata stored with the document.
        text: The document's text, when it was text.
    """

    id: DocumentId
    score: float
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


@dataclass
class StoredDocument:
    """One document read back from a collection by :meth:`MultiVectorCollection.get`.

    Attributes:
        id: The caller's document id (or the one derived from its content).
        metadata: The metadata stored with the document.
        text: The document's text, when it was text.
        dense: ``(dense_dim,)`` single vector, when asked for with ``with_vectors=True``.
        multi: ``(n_tokens, 128)`` token vectors of all its parts, when asked for.
    """

    id: DocumentId
    metadata: dict[str, Any] = field(default_factory=dict)
    text: str | None = None
    dense: np.ndarray | None = None
    multi: np.ndarray | None = None
