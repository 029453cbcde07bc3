"""``MilvusCollection``: jina-embeddings-v4 documents in Milvus, dense and MaxSim multi vectors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from univec.collections import MultiVectorCollection
from univec.collections.compression import FirstStage, TokenPrecision
from univec.errors import ConfigurationError
from univec_milvus._engine import DEFAULT_URI, MilvusEngine

if TYPE_CHECKING:
    from univec.encoder import Encoder


class MilvusCollection(MultiVectorCollection):
    """A Milvus collection of jina-embeddings-v4 documents.

    The same interface as :class:`univec_qdrant.QdrantCollection`: ``add``,
    ``search`` (modes ``"multi"``, ``"dense"``, ``"hybrid"``; the same filter dict), ``get``,
    ``delete``, ``count`` / ``len``, ``close``, context manager.

    Engines, chosen by the arguments:

    * ``uri`` ending in ``.db`` (the default, ``"./univec.db"``): Milvus Lite, in this process,
      persisted at that path; no server needed.
    * ``uri`` of a server (``"http://localhost:19530"``, a Zilliz Cloud endpoint) + ``token``.
    * ``client``: an existing ``pymilvus.MilvusClient``; it is left open by :meth:`close`.

    Two storage layouts, chosen from what the deployment supports (``layout="auto"``):

    * *native* (Milvus >= 2.6.4): the token vectors are a StructArray field, an embedding list
      indexed with ``MAX_SIM_IP``; Milvus scores MaxSim itself (``multi`` is approximate, by
      HNSW). Documents longer than 4,096 tokens are stored in parts.
    * *portable* (Milvus Lite, older servers): the token vectors are stored packed beside the
      dense vector, in float32 and as int8 codes. ``hybrid`` bounds the dense candidates'
      MaxSim from their int8 codes and scores the few that can make the top k exactly in
      NumPy: the exact MaxSim ranking of the candidates, in two requests. ``multi`` does the
      same over every document (it reads every document's int8 codes: prefer ``hybrid`` on
      large collections).

    The layout of an existing collection is read from its schema. Filters are metadata dicts
    as for Qdrant, or a Milvus boolean expression string over the ``payload`` JSON field,
    e.g. ``'payload["metadata"]["year"] >= 2020'``.

    Args:
        name: Collection name (letters, digits, underscores).
        encoder: A :class:`univec.Encoder`.
        uri: A ``.db`` path (Milvus Lite) or a server URI.
        token: ``"user:password"`` or API key of the server; never shown in reprs, errors or logs.
        client: An existing ``MilvusClient``.
        dimensions: Matryoshka dimension of the stored single vectors.
        batch_size: Documents encoded and upserted per batch.
        candidates: Dense candidates a ``"hybrid"`` search reranks by MaxSim.
        progress: Show a progress bar while adding.
        pool_factor: Pool each document's token vectors into ``ceil(n / pool_factor)`` at
            ingest (hierarchical clustering by cosine, never applied to queries); ``1`` = off.
        token_precision: Stored precision of the token vectors: ``"float32"``, ``"float16"``,
            ``"int8"`` or ``"binary"`` (see "Storage at scale" in the README).
        first_stage: Candidates of ``"hybrid"`` searches: ``"dense"`` or ``"muvera"``.
        layout: ``"auto"``, ``"native"`` (fail unless the server supports it) or ``"portable"``.
        **client_options: Further ``MilvusClient`` options (``timeout``, ``db_name``, ...).

    Example:
        >>> encoder = univec.Encoder.local()
        >>> with MilvusCollection("papers", encoder) as papers:          # ./univec.db
        ...     papers.add(univec.pdf_pages("paper.pdf"), metadata=[{"file": "paper.pdf"}] * 12)
        ...     for hit in papers.search("attention heads", k=3, filter={"file": "paper.pdf"}):
        ...         print(hit.id, hit.score, hit.metadata)
    """

    max_part_tokens: int  # inherited; lowered per instance for the native layout

    def __init__(
        self,
        name: str,
        encoder: Encoder,
        *,
        uri: str | Path = DEFAULT_URI,
        token: str | None = None,
        client: Any = None,
        dimensions: int | None = None,
        batch_size: int = 32,
        candidates: int = 100,
        progress: bool = True,
        pool_factor: int = 1,
        token_precision: TokenPrecision = "float32",
        first_stage: FirstStage = "dense",
        layout: str = "auto",
        **client_options: Any,
    ) -> None:
        if client is not None:
            given = [
                label
                for label, present in (
                    ("uri", str(uri) != DEFAULT_URI),
                    ("token", token is not None),
                    (f"options {sorted(client_options)}", bool(client_options)),
                )
                if present
            ]
            if given:
                raise ConfigurationError(
                    f"MilvusCollection got client and {' and '.join(given)}; a client passed in "
                    "is used as it is. Configure that MilvusClient yourself, or pass uri/token "
                    "instead of client."
                )
        engine = MilvusEngine(
            name, uri=uri, token=token, client=client, layout=layout, **client_options
        )
        self._milvus = engine
        super().__init__(
            name,
            encoder,
            engine,
            dimensions=dimensions,
            batch_size=batch_size,
            candidates=candidates,
            progress=progress,
            pool_factor=pool_factor,
            token_precision=token_precision,
            first_stage=first_stage,
        )
        # The native layout holds fewer tokens per row than the shared default.
        if engine.max_part_tokens < self.max_part_tokens:
            self.max_part_tokens = engine.max_part_tokens

    @property
    def layout(self) -> str:
        """The storage layout of this collection: ``"native"`` or ``"portable"``."""
        layout = self._milvus.layout
        return layout.name if layout is not None else self._milvus.requested_layout
