"""``UnivecMultiVectorRetriever``: late-interaction (MaxSim) retrieval from a UnivecDocumentStore."""

from __future__ import annotations

from typing import Any

from haystack import Document, component, default_from_dict, default_to_dict
from haystack.document_stores.types import FilterPolicy
from haystack.document_stores.types.filter_policy import apply_filter_policy
from haystack_integrations.document_stores.univec import UnivecDocumentStore

from univec.collections import SearchMode
from univec.collections.types import SEARCH_MODES
from univec.errors import InvalidArgumentError


@component
class UnivecMultiVectorRetriever:
    """Retrieves Documents from a :class:`UnivecDocumentStore` by the query's text.

    The query is encoded by the store's model (no embedder component needed) and scored
    against every stored token vector by MaxSim: `"hybrid"` (default) reranks the best dense
    candidates by exact MaxSim, `"multi"` scores every document exactly, `"dense"` uses the
    single vectors only. Returned Documents carry the score.

    Usage example:
    ```python
    from haystack_integrations.document_stores.univec import UnivecDocumentStore
    from haystack_integrations.components.retrievers.univec import UnivecMultiVectorRetriever

    store = UnivecDocumentStore(collection_name="docs", path="./univec_data")
    retriever = UnivecMultiVectorRetriever(document_store=store, top_k=5)
    retriever.run(query="Where is Paris?")["documents"]
    ```
    """

    def __init__(
        self,
        document_store: UnivecDocumentStore,
        filters: dict[str, Any] | None = None,
        top_k: int = 10,
        mode: SearchMode = "hybrid",
        filter_policy: str | FilterPolicy = FilterPolicy.REPLACE,
        candidates: int | None = None,
    ) -> None:
        """Create the retriever.

        Args:
            document_store: The store to search.
            filters: Haystack filters applied to every query (see `filter_policy`).
            top_k: Number of Documents to return.
            mode: `"hybrid"`, `"multi"` or `"dense"`.
            filter_policy: How run-time filters combine with `filters`: `REPLACE` (the
                default) or `MERGE`.
            candidates: Dense candidates of a hybrid search (default: the collection's).

        Raises:
            ValueError: `document_store` is not a UnivecDocumentStore, or a bad `mode`/`top_k`.
        """
        if not isinstance(document_store, UnivecDocumentStore):
            raise InvalidArgumentError(
                f"document_store must be a UnivecDocumentStore, got {type(document_store).__name__}."
            )
        if mode not in SEARCH_MODES:
            raise InvalidArgumentError(f"mode={mode!r}; use one of {list(SEARCH_MODES)}.")
        _check_top_k(top_k)
        self.document_store = document_store
        self.filters = filters
        self.top_k = top_k
        self.mode: SearchMode = mode
        self.filter_policy = (
            filter_policy
            if isinstance(filter_policy, FilterPolicy)
            else FilterPolicy.from_str(filter_policy)
        )
        self.candidates = candidates

    def _arguments(
        self, filters: dict[str, Any] | None, top_k: int | None
    ) -> tuple[dict[str, Any] | None, int]:
        top_k = self.top_k if top_k is None else _check_top_k(top_k)
        return apply_filter_policy(self.filter_policy, self.filters, filters), top_k

    @component.output_types(documents=list[Document])
    def run(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, list[Document]]:
        """Retrieve the Documents best matching `query`.

        Args:
            query: The query text.
            filters: Haystack filters; combined with the init filters by `filter_policy`.
            top_k: Number of Documents (default: the init `top_k`).

        Returns:
            `{"documents": [...]}`, best first, each with its `score`.
        """
        filters, top_k = self._arguments(filters, top_k)
        documents = self.document_store.search(
            query, top_k=top_k, mode=self.mode, filters=filters, candidates=self.candidates
        )
        return {"documents": documents}

    @component.output_types(documents=list[Document])
    async def run_async(
        self, query: str, filters: dict[str, Any] | None = None, top_k: int | None = None
    ) -> dict[str, list[Document]]:
        """Async :meth:`run`: the query is encoded and searched off the event loop."""
        filters, top_k = self._arguments(filters, top_k)
        documents = await self.document_store.search_async(
            query, top_k=top_k, mode=self.mode, filters=filters, candidates=self.candidates
        )
        return {"documents": documents}

    def to_dict(self) -> dict[str, Any]:
        """Serialise the retriever with its document store."""
        return default_to_dict(
            self,
            document_store=self.document_store.to_dict(),
            filters=self.filters,
            top_k=self.top_k,
            mode=self.mode,
            filter_policy=self.filter_policy.value,
            candidates=self.candidates,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnivecMultiVectorRetriever:
        """Build the retriever (and its store) from :meth:`to_dict`'s output."""
        parameters = dict(data.get("init_parameters", {}))
        parameters["document_store"] = UnivecDocumentStore.from_dict(parameters["document_store"])
        if parameters.get("filter_policy") is not None:
            parameters["filter_policy"] = FilterPolicy.from_str(parameters["filter_policy"])
        return default_from_dict(cls, {**data, "init_parameters": parameters})


def _check_top_k(top_k: object) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidArgumentError(f"top_k={top_k!r} must be a positive integer.")
    return top_k
