"""The contract between the shared collection logic and one database engine."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np

from univec.collections.compression import MuveraEncoding
from univec.collections.filters import FilterNode
from univec.collections.types import CollectionSchema, EngineHit, PointRecord, SearchMode

__all__ = ["CollectionEngine"]


class CollectionEngine(ABC):
    """The calls one database provides to the shared collection logic.

    Engines store ``PointRecord.payload`` as given and return it unchanged in
    :class:`EngineHit` / :class:`PointRecord` (it carries ``document_id``, ``part`` and
    ``part_count``, see the ``PAYLOAD_*`` keys). Subclasses implement the abstract methods;
    :meth:`count_documents` and :meth:`flush` have defaults an engine overrides when it can do
    better.
    """

    def muvera_encoding(self, dim: int) -> MuveraEncoding:
        """The MUVERA shape this engine stores for ``first_stage="muvera"`` (its default).

        Engines that store the encoding more compactly override it with a larger shape.
        """
        return MuveraEncoding(dim=dim)

    @abstractmethod
    def ensure_collection(self, schema: CollectionSchema) -> None:
        """Create the collection, or check that the existing one has exactly ``schema``.

        Raises:
            SchemaMismatchError: The existing collection has other vectors or dimensions.
        """

    @abstractmethod
    def upsert(self, records: Sequence[PointRecord]) -> None:
        """Insert or replace points by ``point_id``."""

    @abstractmethod
    def delete(self, point_ids: Sequence[str]) -> None:
        """Delete points (missing ids are ignored)."""

    @abstractmethod
    def retrieve(self, point_ids: Sequence[str], *, with_multi: bool = False) -> list[PointRecord]:
        """Points by id (missing ids are skipped); token vectors only if ``with_multi``."""

    @abstractmethod
    def count(self, filter: FilterNode | Any | None = None) -> int:
        """Number of stored points (matching ``filter``)."""

    @abstractmethod
    def search(
        self,
        *,
        mode: SearchMode,
        dense: np.ndarray | None,
        multi: np.ndarray | None,
        limit: int,
        candidates: int,
        filter: FilterNode | Any | None,
    ) -> list[EngineHit]:
        """Best points first. ``candidates`` is the first-stage prefetch size of ``hybrid``.

        In ``hybrid`` mode ``dense`` is the first stage's query vector: the dense vector, or
        the query's MUVERA encoding when ``schema.storage.first_stage`` is ``"muvera"``.

        ``filter`` is a filter tree (:mod:`univec.collections.filters`) or the engine's native
        filter object. A tree node the engine cannot express raises
        :class:`~univec.errors.UnsupportedFilterError` naming it (never a match-all).
        """

    @abstractmethod
    def close(self) -> None:
        """Flush and release the engine."""

    def count_documents(self, filter: FilterNode | Any | None = None) -> int:
        """Number of documents (points whose payload ``part`` is 0) matching ``filter``.

        The default counts points, which is exact unless a document was split into parts.
        """
        return self.count(filter)

    def scroll(
        self, filter: FilterNode | Any | None = None, limit: int | None = None
    ) -> list[PointRecord]:
        """The first parts (``part == 0``) of the documents matching ``filter``, without vectors.

        At most ``limit`` of them (all when ``None``), in the engine's order.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list documents by filter.")

    def flush(self) -> None:  # noqa: B027 - an optional hook: most engines need nothing here
        """Make the writes durable (seal segments, build indexes); called at the end of ``add``."""
