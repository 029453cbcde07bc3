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
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

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
from univec.collections.filters import engine_filter
from univec.errors import ClosedError, ConfigurationError, InvalidArgumentError
from univec.scoring import maximal_marginal_relevance

if TYPE_CHECKING:
    from univec.encoder import Encoder

__all__ = ["CollectionStore", "check_mode", "open_collection"]

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


def open_collection(
    name: str, encoder: Encoder, *, engine: str | None = None, **options: Any
) -> MultiVectorCollection:
    """A Qdrant or Milvus collection for a store's ``from_...`` constructors.

    Args:
        name: Collection name.
        encoder: The encoder.
        engine: ``"qdrant"`` or ``"milvus"``; default ``"milvus"`` when ``uri`` is given.
        **options: Options of ``QdrantCollection`` (``path``, ``url``, ``client``, ...) or
            ``MilvusCollection`` (``uri``, ``token``, ...), ``dimensions`` included.
    """
    engine = engine or ("milvus" if "uri" in options else "qdrant")
    if engine == "qdrant":
        from univec_qdrant import QdrantCollection

        return QdrantCollection(name, encoder, **options)
    if engine == "milvus":
        from univec_milvus import MilvusCollection

        return MilvusCollection(name, encoder, **options)
    raise ConfigurationError(f"engine={engine!r}: use 'qdrant' or 'milvus'.")


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
        self.mode: SearchMode = check_mode(mode)
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
        ids: Sequence[DocumentId | None],
        metadatas: Sequence[Mapping[str, Any] | None] | None = None,
        vectors: Sequence[tuple[np.ndarray, np.ndarray] | None] | None = None,
    ) -> list[DocumentId]:
        """Store items (texts and images); an id already stored is replaced.

        Args:
            items: Texts and images.
            ids: One id per item; ``None`` gets a new UUID string.
            metadatas: One dict (or ``None``) per item.
            vectors: Per item, its ``(dense, multi)`` from an encoding pass already run, or
                ``None`` to encode it here (both outputs in one pass).

        Returns:
            The ids, in input order.
        """
        keys = [str(uuid.uuid4()) if i is None else i for i in ids]
        metas = list(metadatas) if metadatas is not None else [None] * len(items)
        ready = vectors or [None] * len(items)
        if not (len(keys) == len(metas) == len(ready) == len(items)):
            raise InvalidArgumentError(
                f"Got {len(items)} items, {len(keys)} ids and {len(metas)} metadata dicts; "
                "pass one of each per item."
            )
        with self._lock:
            collection = self.collection
            for encoded in (True, False):
                chosen = [i for i, v in enumerate(ready) if (v is not None) == encoded]
                if not chosen:
                    continue
                both = None
                if encoded:
                    pairs = [ready[i] for i in chosen]
                    both = Embeddings(np.stack([p[0] for p in pairs]), [p[1] for p in pairs])  # type: ignore[index]
                collection.add(
                    [items[i] for i in chosen],
                    [keys[i] for i in chosen],
                    [metas[i] for i in chosen],
                    embeddings=both,
                )
        return keys

    def delete(self, ids: Sequence[DocumentId]) -> None:
        """Delete documents by id (ids not stored are ignored)."""
        self._locked(lambda: self.collection.delete(list(ids)))

    def clear(self, filter: Any = None) -> None:
        """Delete every document (matching ``filter``)."""
        with self._lock:
            doomed = [document.id for document in self.collection.list_documents(filter)]
            if doomed:
                self.collection.delete(doomed)

    # ------------------------------------------------------------------ reads
    def get(self, ids: Sequence[DocumentId]) -> list[StoredDocument]:
        """Stored documents by id, in the order asked (missing ids skipped)."""
        return self._locked(lambda: self.collection.get(list(ids)))

    def documents(self, filter: Any = None) -> list[StoredDocument]:
        """Every stored document matching ``filter``."""
        return self._locked(lambda: self.collection.list_documents(filter))

    def search(
        self, query: object, k: int, mode: str | None = None, filter: Any = None
    ) -> list[SearchHit]:
        """The ``k`` best documents for a text or image query, best first."""
        chosen: SearchMode = self.mode if mode is None else check_mode(mode)
        tree = engine_filter(filter)  # a bad filter fails before the model runs
        return self._locked(lambda: self.collection.search(query, k=k, mode=chosen, filter=tree))

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
            picked = maximal_marginal_relevance(
                np.asarray(encoded[0], np.float32), vectors, k, lambda_mult
            )
            return [hits[i] for i in picked]

    # ------------------------------------------------------------------ lifecycle
    def close(self, *, close_collection: bool = False) -> None:
        """Mark the store closed (and close the collection if asked); idempotent."""
        with self._lock:
            collection, self._collection = self._collection, None
            if close_collection and collection is not None:
                collection.close()
