"""``UnivecVectorStore``: a LlamaIndex vector store over a univec multi-vector collection."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.schema import BaseNode, ImageNode, TextNode
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
    VectorStoreQueryMode,
    VectorStoreQueryResult,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from llama_index.vector_stores.univec._embedding import OnePassEmbedding, PendingVectors, node_item
from llama_index.vector_stores.univec._filters import to_filter
from univec.collections import MultiVectorCollection, SearchHit, StoredDocument
from univec.collections.filters import And, Comparison
from univec.errors import InvalidArgumentError, InvalidInputError, UnsupportedFilterError
from univec_frameworks.store import CollectionStore, check_mode

__all__ = ["UnivecVectorStore"]


class UnivecVectorStore(BasePydanticVectorStore):
    """jina-embeddings-v4 late interaction (MaxSim) as a LlamaIndex vector store.

    Wraps a univec collection (``univec_qdrant.QdrantCollection``,
    ``univec_milvus.MilvusCollection``). Nodes are stored with their single and token vectors
    from one encoding pass (``ImageNode`` s as images); queries are scored from the query
    *text* (``VectorStoreQuery.query_str``) in ``mode`` ``"hybrid"`` (dense candidates
    reranked by MaxSim, default), ``"multi"`` (exact MaxSim) or ``"dense"``, so the index
    runs no query embedding. Filters are ``MetadataFilters`` (EQ NE GT GTE LT LTE IN NIN
    IS_EMPTY, AND / OR / NOT).

    One pass per node: give the index the store's :attr:`embed_model`. Its document passes
    keep the token vectors for the store, which then stores them without running the model
    again. Used as a transformation too (``IngestionPipeline``, ``from_documents(...,
    transformations=[splitter, store.embed_model])``) it also encodes ``ImageNode`` images.

    Example:
        >>> store = UnivecVectorStore(QdrantCollection("docs", encoder))
        >>> index = VectorStoreIndex(nodes, storage_context=StorageContext.from_defaults(
        ...     vector_store=store), embed_model=store.embed_model)
        >>> index.as_retriever(similarity_top_k=3).retrieve("Where is Paris?")

    Args:
        collection: An open univec collection (not closed by :meth:`close`).
        mode: Default search mode (``vector_store_kwargs={"mode": ...}`` overrides it).
    """

    stores_text: bool = True
    is_embedding_query: bool = False
    flat_metadata: bool = False
    mode: str = "hybrid"

    _store: CollectionStore = PrivateAttr()
    _pending: PendingVectors = PrivateAttr()
    _embed_model: OnePassEmbedding | None = PrivateAttr(default=None)

    def __init__(self, collection: MultiVectorCollection, *, mode: str = "hybrid") -> None:
        super().__init__(stores_text=True)
        self.mode = check_mode(mode)
        self._store = CollectionStore(collection, mode=mode, owner="UnivecVectorStore")
        self._pending = PendingVectors()

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex records in serialised forms."""
        return "UnivecVectorStore"

    @property
    def client(self) -> MultiVectorCollection:
        """The univec collection behind this store."""
        return self._store.collection

    @property
    def embed_model(self) -> OnePassEmbedding:
        """The index's ``embed_model``: the collection's encoder, one pass per node."""
        if self._embed_model is None:
            collection = self._store.collection
            self._embed_model = OnePassEmbedding(
                self._pending, encoder=collection.encoder, dimensions=collection.dimensions
            )
        return self._embed_model

    # ------------------------------------------------------------------ writes
    def add(self, nodes: Sequence[BaseNode], **add_kwargs: Any) -> list[str]:
        """Store nodes (an id already stored is replaced); returns their ids."""
        items = [node_item(node) for node in nodes]
        metadatas = [node_to_metadata_dict(node, flat_metadata=False) for node in nodes]
        ids = [_node_id(node.node_id) for node in nodes]
        self._store.add(items, ids, metadatas, [self._pending.take(node) for node in nodes])
        return ids

    def delete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Delete every node of the source document ``ref_doc_id``."""
        self._store.clear({"ref_doc_id": _node_id(ref_doc_id)})

    def delete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **delete_kwargs: Any,
    ) -> None:
        """Delete nodes by id and/or filters (both given: nodes matching both)."""
        if filters is None and node_ids is not None:
            self._store.delete([_node_id(i) for i in node_ids])
        elif filters is not None or node_ids is not None:
            self._store.delete([str(node.node_id) for node in self.get_nodes(node_ids, filters)])

    def clear(self) -> None:
        """Delete every node."""
        self._store.clear()

    # ------------------------------------------------------------------ reads
    def get_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Nodes by id (in that order) and/or matching filters."""
        if node_ids is None and filters is None:
            raise InvalidArgumentError("get_nodes needs node_ids or filters (or both).")
        tree = to_filter(filters)
        if node_ids is None:
            return [_node(document) for document in self._store.documents(tree)]
        documents = self._store.get([_node_id(i) for i in node_ids])
        if tree is not None:
            keep = {repr(d.id) for d in self._store.documents(tree)}
            documents = [d for d in documents if repr(d.id) in keep]
        return [_node(document) for document in documents]

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """The ``similarity_top_k`` best nodes for ``query.query_str`` (``mode=`` overrides)."""
        if not query.query_str:
            raise InvalidArgumentError(
                "UnivecVectorStore scores the query text by MaxSim: give VectorStoreQuery a "
                "query_str (retrievers do), not only a query_embedding."
            )
        if query.node_ids:
            raise UnsupportedFilterError("node_ids in a query: filter on metadata instead.")
        tree = to_filter(query.filters)
        if query.doc_ids:
            restrict = Comparison("ref_doc_id", "in", tuple(query.doc_ids))
            tree = restrict if tree is None else And((tree, restrict))
        mode, k = kwargs.get("mode"), query.similarity_top_k
        if query.mode == VectorStoreQueryMode.MMR:
            lambda_mult = 0.5 if query.mmr_threshold is None else query.mmr_threshold
            hits = self._store.mmr(query.query_str, k, max(4 * k, 20), lambda_mult, mode, tree)
        elif query.mode == VectorStoreQueryMode.DEFAULT:
            hits = self._store.search(query.query_str, k, mode, tree)
        else:
            raise InvalidArgumentError(
                f"Query mode {query.mode.value!r} is not supported: use DEFAULT (with "
                "vector_store_kwargs={'mode': 'hybrid' | 'multi' | 'dense'}) or MMR."
            )
        return VectorStoreQueryResult(
            nodes=[_node(hit) for hit in hits],
            similarities=[hit.score for hit in hits],
            ids=[str(hit.id) for hit in hits],
        )

    # ------------------------------------------------------------------ async forms
    async def async_add(self, nodes: Sequence[BaseNode], **kwargs: Any) -> list[str]:
        """Async form of :meth:`add`."""
        return await self._store.run_async(self.add, nodes, **kwargs)

    async def adelete(self, ref_doc_id: str, **delete_kwargs: Any) -> None:
        """Async form of :meth:`delete`."""
        await self._store.run_async(self.delete, ref_doc_id)

    async def adelete_nodes(
        self,
        node_ids: list[str] | None = None,
        filters: MetadataFilters | None = None,
        **kwargs: Any,
    ) -> None:
        """Async form of :meth:`delete_nodes`."""
        await self._store.run_async(self.delete_nodes, node_ids, filters)

    async def aget_nodes(
        self, node_ids: list[str] | None = None, filters: MetadataFilters | None = None
    ) -> list[BaseNode]:
        """Async form of :meth:`get_nodes`."""
        return await self._store.run_async(self.get_nodes, node_ids, filters)

    async def aclear(self) -> None:
        """Async form of :meth:`clear`."""
        await self._store.run_async(self.clear)

    async def aquery(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        """Async form of :meth:`query`."""
        return await self._store.run_async(self.query, query, **kwargs)

    def close(self) -> None:
        """Close the store (the collection stays open); later calls raise ``ClosedError``."""
        self._store.close()


def _node_id(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(
            f"Node id {value!r} is a {type(value).__name__}; LlamaIndex node ids are non-empty "
            "str: pass str(value)."
        )
    return value


def _node(found: SearchHit | StoredDocument) -> BaseNode:
    if "_node_content" in found.metadata:
        return metadata_dict_to_node(found.metadata)
    # Written by other means (collection.add, the LangChain or Haystack store): text or image.
    if found.text is None:
        return ImageNode(id_=str(found.id), metadata=dict(found.metadata))
    return TextNode(id_=str(found.id), text=found.text, metadata=dict(found.metadata))
