"""``UnivecVectorStore``: a LangChain ``VectorStore`` over a univec multi-vector collection."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore

from langchain_univec.embeddings import UnivecEmbeddings
from univec.collections import MultiVectorCollection, SearchHit, StoredDocument
from univec.errors import ConfigurationError, InvalidInputError
from univec_frameworks import as_image, as_texts
from univec_frameworks.store import CollectionStore, open_collection

__all__ = ["UnivecVectorStore"]


class UnivecVectorStore(VectorStore):
    """jina-embeddings-v4 late interaction (MaxSim) as a LangChain vector store.

    Wraps a univec collection (``univec_qdrant.QdrantCollection`` on Qdrant Edge, a server or
    ``:memory:``; ``univec_milvus.MilvusCollection`` on Milvus Lite or a server). Each text or
    image is encoded once: its single vector and its token vectors are both stored. Searches
    run in ``mode`` ``"hybrid"`` (dense candidates reranked by exact MaxSim, the default),
    ``"multi"`` (exact MaxSim) or ``"dense"``; scores are the collection's. Filters are
    LangChain metadata dicts (``{"lang": "en", "year": {"$gte": 2020}}``, ``$and``/``$or``/
    ``$not``, ``$eq $ne $gt $gte $lt $lte $in $nin $exists``, dotted keys, ISO dates; parsed
    by :func:`univec.collections.filters.parse_filter`), a filter tree, or the engine's native
    filter. Async methods run the blocking work in a worker thread.

    Example:
        >>> embeddings = UnivecEmbeddings(backend="local")
        >>> store = UnivecVectorStore.from_texts(["Paris is in France."], embeddings,
        ...                                      collection_name="docs", path="./univec_data")
        >>> store.add_images(["page.png"], metadatas=[{"source": "report"}])
        >>> store.as_retriever(search_kwargs={"k": 3, "mode": "multi"}).invoke("Where is Paris?")

    Args:
        collection: An open univec collection (the store does not close it unless it made it).
        embedding: The ``UnivecEmbeddings`` the collection's encoder came from, if any.
        mode: Default search mode.
    """

    def __init__(
        self,
        collection: MultiVectorCollection,
        *,
        embedding: UnivecEmbeddings | None = None,
        mode: str = "hybrid",
    ) -> None:
        self._store = CollectionStore(collection, mode=mode, owner="UnivecVectorStore")
        self._embedding = embedding
        self._owns_collection = False

    @property
    def collection(self) -> MultiVectorCollection:
        """The univec collection behind this store."""
        return self._store.collection

    @property
    def embeddings(self) -> UnivecEmbeddings:
        """Dense embeddings of the collection's encoder (same task family and dimensions)."""
        if self._embedding is None:
            collection = self.collection
            self._embedding = UnivecEmbeddings(
                encoder=collection.encoder, dimensions=collection.dimensions
            )
        return self._embedding

    @classmethod
    def from_texts(
        cls,
        texts: list[str],
        embedding: Any,
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        collection_name: str = "langchain",
        engine: str | None = None,
        mode: str = "hybrid",
        **collection_options: Any,
    ) -> UnivecVectorStore:
        """Make a collection with ``embedding``'s encoder, store ``texts``, return the store.

        ``engine`` is ``"qdrant"`` or ``"milvus"`` (default: ``"milvus"`` when ``uri`` is
        given); ``collection_options`` go to ``QdrantCollection`` (``path``, ``url``,
        ``client``...) or ``MilvusCollection`` (``uri``, ``token``...). ``embedding`` must be
        a :class:`UnivecEmbeddings` of the ``"retrieval"`` family.
        """
        if not isinstance(embedding, UnivecEmbeddings) or embedding.task != "retrieval":
            raise ConfigurationError(
                "UnivecVectorStore.from_texts needs embedding=UnivecEmbeddings(task='retrieval', "
                f"...): the store encodes with the retrieval tasks, got {embedding!r:.80}."
            )
        collection = open_collection(
            collection_name,
            embedding.resolved_encoder,
            engine=engine,
            dimensions=embedding.dimensions,
            **collection_options,
        )
        store = cls(collection, embedding=embedding, mode=mode)
        store._owns_collection = True
        store.add_texts(texts, metadatas, ids=ids)
        return store

    # ------------------------------------------------------------------ writes
    def add_texts(
        self,
        texts: Iterable[str],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Encode and store texts; an id already stored is replaced. Returns the ids.

        ``ids`` may hold ``None`` for documents without an id (they get new UUIDs).
        """
        items = as_texts(list(texts), "texts")
        return self._add(items, metadatas, ids)

    def add_images(
        self,
        uris: Sequence[Any],
        metadatas: list[dict[Any, Any]] | None = None,
        *,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Encode and store images (file paths, http(s) URLs or bytes). Returns the ids.

        Image documents come back with an empty ``page_content``; a path or URL given as
        ``str`` is also kept in their metadata under ``"image"`` (unless already set).
        """
        if isinstance(uris, (str, bytes)) or not isinstance(uris, Sequence):
            raise InvalidInputError(f"uris must be a list, got {type(uris).__name__}.")
        images = [as_image(uri) for uri in uris]
        metas = [dict(m or {}) for m in (metadatas or [{} for _ in uris])]
        for uri, meta in zip(uris, metas, strict=False):
            if isinstance(uri, str):
                meta.setdefault("image", uri)
        return self._add(images, metas, ids)

    def _add(self, items: list[Any], metadatas: Any, ids: Any) -> list[str]:
        for key in ids or []:
            if key is not None and not isinstance(key, str):
                raise InvalidInputError(
                    f"Document id {key!r} is a {type(key).__name__}; LangChain ids are str: "
                    "pass str(value)."
                )
        keys = self._store.add(items, ids or [None] * len(items), metadatas)
        return [str(key) for key in keys]

    def delete(self, ids: list[str] | None = None, **kwargs: Any) -> bool | None:
        """Delete documents by id; ``ids=None`` deletes every document."""
        if ids is None:
            self._store.clear()
        else:
            self._store.delete(ids)
        return True

    # ------------------------------------------------------------------ reads
    def get_by_ids(self, ids: Sequence[str], /) -> list[Document]:
        """Documents by id, in the order asked; ids not stored are skipped."""
        return [_document(stored) for stored in self._store.get(list(ids))]

    def similarity_search(
        self, query: str, k: int = 4, filter: Any = None, **kwargs: Any
    ) -> list[Document]:
        """The ``k`` best documents (``mode=`` overrides the store's mode)."""
        return [doc for doc, _ in self.similarity_search_with_score(query, k, filter, **kwargs)]

    def similarity_search_with_score(
        self, query: str, k: int = 4, filter: Any = None, *, mode: str | None = None, **kwargs: Any
    ) -> list[tuple[Document, float]]:
        """The ``k`` best documents with their MaxSim (``hybrid``/``multi``) or cosine score."""
        hits = self._store.search(query, k, mode, filter)
        return [(_document(hit), hit.score) for hit in hits]

    def max_marginal_relevance_search(
        self,
        query: str,
        k: int = 4,
        fetch_k: int = 20,
        lambda_mult: float = 0.5,
        filter: Any = None,
        *,
        mode: str | None = None,
        **kwargs: Any,
    ) -> list[Document]:
        """``k`` of the ``fetch_k`` best documents, diversified by their stored dense vectors."""
        hits = self._store.mmr(query, k, fetch_k, lambda_mult, mode, filter)
        return [_document(hit) for hit in hits]

    # ------------------------------------------------------------------ async forms
    # LangChain's own async forms (asimilarity_search, aadd_texts, adelete, aget_by_ids,
    # amax_marginal_relevance_search...) run the sync method in an executor thread, so the
    # event loop stays free; only add_images, which VectorStore does not know, needs one here.
    async def aadd_images(
        self, uris: Sequence[Any], metadatas: Any = None, **kwargs: Any
    ) -> list[str]:
        """Async form of :meth:`add_images`."""
        return await run_in_executor(None, self.add_images, uris, metadatas, **kwargs)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the store (and the collection, if :meth:`from_texts` made it)."""
        self._store.close(close_collection=self._owns_collection)

    def __enter__(self) -> UnivecVectorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _document(found: SearchHit | StoredDocument) -> Document:
    return Document(id=str(found.id), page_content=found.text or "", metadata=dict(found.metadata))
