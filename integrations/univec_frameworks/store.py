"""What the framework vector stores (LangChain, LlamaIndex) share: a collection behind a lock.

:class:`CollectionStore` wraps one :class:`univec.collections.MultiVectorCollection`
(``univec_qdrant.QdrantCollection`` or ``univec_milvus.MilvusCollection``) and gives the
framework classes the operations they translate: add texts and images (both outputs of one
encoding pass), search by mode, maximal-marginal-relevance from the stored dense vectors,
get / delete / list / clear, async forms that run the blocking work in a worker thread so the
event loop stays free, and a closed state that raises :class:`univec.errors.ClosedError`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np

from univec.backends.base import Embeddings
from univec.collections import (
    SEARCH_MODES,
    DocumentId,
    MultiVectorCollection,
    SearchHit,
    SearchMode,
    StoredDocument,
)
from univec.errors import ClosedError, ConfigurationError, InvalidArgumentError

__all__ = ["CollectionStore", "check_mode", "mmr_select"]

T = TypeVar("T")


def check_mode(mode: object) -> SearchMode:
    """``mode`` if it is a search mode of the collections.

    Raises:
        InvalidArgumentError: Another value (a ``ValueError``).
    """
    if mode not in SEARCH_MODES:
        raise InvalidArgumentError(
            f"mode={mode!r} is not a search mode; use one of {list(SEARCH_MODES)} "
            "('hybrid': dense candidates reranked by MaxSim, 'multi': exact MaxSim, 'dense')."
        )
    return mode  # type: ignore[return-value]


def mmr_select(query: np.ndarray, vectors: np.ndarray, k: int, lambda_mult: float) -> list[int]:
    """Positions of ``k`` rows of ``vectors`` picked by maximal marginal relevance.

    Each step picks the row maximising ``lambda_mult * sim(query, row) - (1 - lambda_mult) *
    max sim(row, picked)``, with cosine similarity (rows and query are unit-norm).
    """
    if len(vectors) == 0 or k < 1:
        return []
    relevance = vectors @ query
    picked = [int(np.argmax(relevance))]
    while len(picked) < min(k, len(vectors)):
        redundancy = (vectors @ vectors[picked].T).max(axis=1)
        scores = lambda_mult * relevance - (1 - lambda_mult) * redundancy
        scores[picked] = -np.inf
        picked.append(int(np.argmax(scores)))
    return picked


class CollectionStore:
    """One univec collection as the framework stores use it; every call holds one lock.

    Args:
        collection: The collection to read and write.
        mode: Default search mode (``"hybrid"``, ``"multi"`` or ``"dense"``).
        owner: The framework class, as errors name it (``"UnivecVectorStore"``).
    """

    def __init__(
        self, collection: MultiVectorCollection, *, mode: str = "hybrid", owner: str = "store"
    ) -> None:
        if not isinstance(collection, MultiVectorCollection):
            raise ConfigurationError(
                f"{owner} wraps a univec collection (univec_qdrant.QdrantCollection or "
                f"univec_milvus.MilvusCollection), got {type(collection).__name__}."
            )
        self.mode = check_mode(mode)
        self.owner = owner
        self._collection: MultiVectorCollection | None = collection
        self._lock = threading.RLock()

    @property
    def collection(self) -> MultiVectorCollection:
        """The collection; raises :class:`ClosedError` once the store is closed."""
        if self._collection is None:
            raise ClosedError(
                f"This {self.owner} is closed; create a new one over an open collection."
            )
        return self._collection

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._collection is None

    def _locked(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self._lock:
            return function(*args, **kwargs)

    async def run_async(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a blocking store method in a worker thread (the event loop keeps running)."""
        return await asyncio.to_thread(function, *args, **kwargs)

    # ------------------------------------------------------------------ writes
    def add(
        self,
        items: Sequence[object],
        ids: Sequence[DocumentId],
        metadatas: Sequence[Mapping[str, Any] | None],
        embeddings: Embeddings | None = None,
    ) -> list[DocumentId]:
        """Store items (texts and images) under ``ids``; an id already stored is replaced."""
        with self._lock:
            if not items:
                return []
            collection = self.collection
            return collection.add(list(items), list(ids), list(metadatas), embeddings=embeddings)

    def delete(self, ids: Sequence[DocumentId]) -> None:
        """Delete documents by id (ids not stored are ignored)."""
        self._locked(lambda: self.collection.delete(list(ids)))

    def clear(self, filter: Any = None) -> None:
        """Delete every document (matching ``filter``)."""
        with self._lock:
            doomed = [document.id for document in self.collection.documents(filter)]
            if doomed:
                self.collection.delete(doomed)

    # ------------------------------------------------------------------ reads
    def get(self, ids: Sequence[DocumentId]) -> list[StoredDocument]:
        """Stored documents by id, in the order asked (missing ids skipped)."""
        return self._locked(lambda: self.collection.get(list(ids)))

    def documents(self, filter: Any = None) -> list[StoredDocument]:
        """Every stored document matching ``filter``."""
        return self._locked(lambda: self.collection.documents(filter))

    def search(
        self, query: object, k: int, mode: str | None = None, filter: Any = None
    ) -> list[SearchHit]:
        """The ``k`` best documents for a text or image query, best first."""
        chosen = self.mode if mode is None else check_mode(mode)
        return self._locked(lambda: self.collection.search(query, k=k, mode=chosen, filter=filter))

    def mmr(
        self,
        query: object,
        k: int,
        fetch_k: int,
        lambda_mult: float,
        mode: str | None = None,
        filter: Any = None,
    ) -> list[SearchHit]:
        """``k`` of the ``fetch_k`` best hits, diversified by the stored dense vectors.

        Relevance and diversity are both cosines of the documents' stored dense vectors (and
        the query's dense vector); the hits keep the scores of their search ``mode``.
        """
        if not 0.0 <= lambda_mult <= 1.0:
            raise InvalidArgumentError(
                f"lambda_mult={lambda_mult!r} must be between 0 (most diverse) and 1 (most relevant)."
            )
        with self._lock:
            collection = self.collection
            hits = self.search(query, max(fetch_k, k), mode, filter)
            if not hits:
                return []
            stored = {
                repr(document.id): document.dense
                for document in collection.get([hit.id for hit in hits], with_vectors=True)
            }
            hits = [hit for hit in hits if stored.get(repr(hit.id)) is not None]
            vectors = np.stack([np.asarray(stored[repr(hit.id)], np.float32) for hit in hits])
            encoded = collection.encoder.encode(
                [query], "retrieval.query", dimensions=collection.dimensions
            )
            picked = mmr_select(np.asarray(encoded[0], np.float32), vectors, k, lambda_mult)
            return [hits[i] for i in picked]

    # ------------------------------------------------------------------ lifecycle
    def close(self, *, close_collection: bool = False) -> None:
        """Mark the store closed (and close the collection if asked); idempotent."""
        with self._lock:
            collection, self._collection = self._collection, None
            if close_collection and collection is not None:
                collection.close()
