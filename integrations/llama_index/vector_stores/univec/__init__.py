"""LlamaIndex vector store backed by a univec multi-vector collection (extra ``llamaindex``).

Example:
    >>> from llama_index.vector_stores.univec import UnivecVectorStore
    >>> store = UnivecVectorStore(univec_qdrant.QdrantCollection("docs", encoder))
    >>> index = VectorStoreIndex.from_vector_store(store, embed_model=store.embed_model)
"""

from univec._optional import require

require("llama_index.core", "llamaindex")

from llama_index.vector_stores.univec.base import UnivecVectorStore  # noqa: E402

__all__ = ["UnivecVectorStore"]
