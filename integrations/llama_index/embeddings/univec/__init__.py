"""LlamaIndex multimodal embedding backed by univec (extra ``llamaindex``).

Example:
    >>> from llama_index.core import Settings
    >>> from llama_index.embeddings.univec import UnivecEmbedding
    >>> Settings.embed_model = UnivecEmbedding(backend="api", task="retrieval")
"""

from univec._optional import require

require("llama_index.core", "llamaindex")

from llama_index.embeddings.univec.embedding import UnivecEmbedding  # noqa: E402

__all__ = ["UnivecEmbedding"]
