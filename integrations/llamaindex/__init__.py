"""LlamaIndex multimodal embedding backed by univec (extra ``llamaindex``).

Example:
    >>> from llama_index.core import Settings
    >>> from univec.integrations.llamaindex import UnivecEmbedding
    >>> Settings.embed_model = UnivecEmbedding(backend="api", task="retrieval")
"""

from univec._optional import require

require("llama_index.core", "llamaindex")

from univec.integrations.llamaindex.embedding import UnivecEmbedding  # noqa: E402

__all__ = ["UnivecEmbedding"]
