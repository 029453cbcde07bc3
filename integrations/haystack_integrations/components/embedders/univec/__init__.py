"""Haystack components backed by univec (extra ``haystack``).

Example:
    >>> from haystack_integrations.components.embedders.univec import UnivecDocumentEmbedder, UnivecTextEmbedder
    >>> indexing_embedder = UnivecDocumentEmbedder(backend="api", task="retrieval")
    >>> query_embedder = UnivecTextEmbedder(backend="api", task="retrieval")

They live in Haystack's trusted ``haystack_integrations`` namespace, so a saved pipeline loads back
with plain ``Pipeline.loads(text)``.
"""

from univec._optional import require

require("haystack", "haystack")

from haystack_integrations.components.embedders.univec.document_embedder import (  # noqa: E402
    UnivecDocumentEmbedder,
)
from haystack_integrations.components.embedders.univec.document_image_embedder import (  # noqa: E402
    UnivecDocumentImageEmbedder,
)
from haystack_integrations.components.embedders.univec.image_embedder import (  # noqa: E402
    UnivecImageEmbedder,
)
from haystack_integrations.components.embedders.univec.text_embedder import UnivecTextEmbedder  # noqa: E402

__all__ = [
    "UnivecDocumentEmbedder",
    "UnivecDocumentImageEmbedder",
    "UnivecImageEmbedder",
    "UnivecTextEmbedder",
]
