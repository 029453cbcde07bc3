"""Haystack DocumentStore over univec multi-vector collections (Qdrant, Milvus)."""

from haystack_integrations.document_stores.univec.document_store import UnivecDocumentStore
from haystack_integrations.document_stores.univec.filters import (
    UnivecFilterError,
    UnsupportedUnivecFilterError,
)

__all__ = ["UnivecDocumentStore", "UnivecFilterError", "UnsupportedUnivecFilterError"]
