"""LangChain embeddings and vector store backed by univec (extra ``langchain``).

Example:
    >>> from langchain_univec import UnivecEmbeddings
    >>> embeddings = UnivecEmbeddings(backend="api", task="retrieval")   # or backend="local"
    >>> embeddings.embed_query("Where is Paris?")
"""

from univec._optional import require

require("langchain_core", "langchain")

from langchain_univec.embeddings import UnivecEmbeddings  # noqa: E402
from langchain_univec.vectorstores import UnivecVectorStore  # noqa: E402

__all__ = ["UnivecEmbeddings", "UnivecVectorStore"]
