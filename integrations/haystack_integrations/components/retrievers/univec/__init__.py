"""Haystack retriever over :class:`UnivecDocumentStore` (late interaction, MaxSim)."""

from haystack_integrations.components.retrievers.univec.retriever import UnivecMultiVectorRetriever

__all__ = ["UnivecMultiVectorRetriever"]
