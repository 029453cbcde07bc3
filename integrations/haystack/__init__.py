"""Haystack components backed by univec (extra ``haystack``).

Example:
    >>> from univec.integrations.haystack import UnivecDocumentEmbedder, UnivecTextEmbedder
    >>> indexing_embedder = UnivecDocumentEmbedder(backend="api", task="retrieval")
    >>> query_embedder = UnivecTextEmbedder(backend="api", task="retrieval")

Haystack loads YAML pipelines only from trusted modules; allow these components with
``Pipeline.loads(text, allowed_modules=["univec.integrations.haystack"])``.
"""

from univec._optional import require

require("haystack", "haystack")

from univec.integrations.haystack.document_embedder import UnivecDocumentEmbedder  # noqa: E402
from univec.integrations.haystack.document_image_embedder import (  # noqa: E402
    UnivecDocumentImageEmbedder,
)
from univec.integrations.haystack.text_embedder import UnivecTextEmbedder  # noqa: E402

__all__ = ["UnivecDocumentEmbedder", "UnivecDocumentImageEmbedder", "UnivecTextEmbedder"]
