"""``QdrantCollection``: jina-embeddings-v4 documents in Qdrant, dense and MaxSim multi vectors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from univec.collections import DEFAULT_CANDIDATES, MultiVectorCollection
from univec.collections.compression import FirstStage, TokenPrecision
from univec.errors import ConfigurationError
from univec_qdrant._schema import HnswSettings

if TYPE_CHECKING:
    from univec.encoder import Encoder

#: Where the embedded engine stores collections when no ``path``, ``url`` or ``client`` is given.
DEFAULT_PATH = "./univec_data"


class QdrantCollection(MultiVectorCollection):
    """A Qdrant collection of jina-embeddings-v4 documents.

    One collection holds two named vectors per point: ``dense`` (the single vector; cosine,
    HNSW) and ``multi`` (the 128-d token vectors; ``MAX_SIM``, no HNSW, so MaxSim is exact),
    plus the payload (your metadata, the text of text items, and bookkeeping). It is created
    on first use; opening an existing one with another dimension raises
    :class:`univec.errors.SchemaMismatchError`.

    Engines, chosen by the arguments:

    * ``path`` (the default, ``"./univec_data"``): embedded Qdrant Edge, persisted in
      ``<path>/<name>``; no server needed. One object may hold a path open at a time.
    * ``url`` (+ ``api_key``): a Qdrant server, cluster or Qdrant Cloud, via ``qdrant-client``.
    * ``client``: an existing ``qdrant_client.QdrantClient`` (also ``QdrantClient(":memory:")``);
      it is left open by :meth:`close`.

    Metadata is stored under the payload key ``metadata``: a native filter (``qdrant_edge.Filter``
    on Edge, ``qdrant_client.models.Filter`` otherwise) names its fields ``"metadata.<key>"``.

    Args:
        name: Collection name.
        encoder: A :class:`univec.Encoder`.
        path: Directory of the embedded engine's collections.
        url: Qdrant server URL (``":memory:"`` for an in-process client).
        api_key: Key of the Qdrant server; never shown in reprs, errors or logs.
        client: An existing ``QdrantClient``.
        dimensions: Matryoshka dimension of the stored single vectors.
        batch_size: Documents encoded and upserted per batch.
        candidates: Dense candidates a ``"hybrid"`` search reranks by MaxSim.
        progress: Show a progress bar while adding.
        pool_factor: Pool each document's token vectors into ``ceil(n / pool_factor)`` at
            ingest (hierarchical clustering by cosine, never applied to queries); ``1`` = off.
        token_precision: Stored precision of the token vectors: ``"float32"``, ``"float16"``,
            ``"int8"`` or ``"binary"`` (see "Storage at scale" in the README).
        first_stage: Candidates of ``"hybrid"`` searches: ``"dense"`` or ``"muvera"``.
        hnsw: HNSW settings of the dense vector.
        **client_options: Further ``QdrantClient`` options (``timeout``, ``prefer_grpc``, ...).

    Example:
        >>> encoder = univec.Encoder.local()
        >>> with QdrantCollection("papers", encoder) as papers:      # ./univec_data/papers
        ...     papers.add(univec.pdf_pages("paper.pdf"), metadata=[{"file": "paper.pdf"}] * 12)
        ...     for hit in papers.search("attention heads", k=3):
        ...         print(hit.id, hit.score, hit.metadata)
    """

    def __init__(
        self,
        name: str,
        encoder: Encoder,
        *,
        path: str | Path | None = None,
        url: str | None = None,
        api_key: str | None = None,
        client: Any = None,
        dimensions: int | None = None,
        batch_size: int = 32,
        candidates: int = DEFAULT_CANDIDATES,
        progress: bool = True,
        pool_factor: int = 1,
        token_precision: TokenPrecision = "float32",
        first_stage: FirstStage = "dense",
        hnsw: HnswSettings | None = None,
        **client_options: Any,
    ) -> None:
        chosen = [
            label
            for label, value in (("path", path), ("url", url), ("client", client))
            if value is not None
        ]
        if len(chosen) > 1:
            raise ConfigurationError(
                f"QdrantCollection got {' and '.join(chosen)}; pass only one: path (embedded "
                "Qdrant Edge), url (+ api_key) for a server, or client for an existing QdrantClient."
            )
        if api_key is not None and url is None:
            raise ConfigurationError(
                "api_key was given without url; pass the server's url too (or build a "
                "QdrantClient yourself and pass client=)."
            )
        if client_options and client is not None:
            raise ConfigurationError(
                f"Client options {sorted(client_options)} cannot apply to a client passed in; "
                "configure that client yourself."
            )
        engine: Any
        if url is not None or client is not None:
            from univec_qdrant._client import ClientEngine

            if url == ":memory:":
                client_options["location"], url = ":memory:", None
            engine = ClientEngine(
                name, client=client, url=url, api_key=api_key, hnsw=hnsw, **client_options
            )
        else:
            if client_options:
                raise ConfigurationError(
                    f"Options {sorted(client_options)} are QdrantClient options; the embedded "
                    "engine (path=) takes none. Pass url= to use a server."
                )
            from univec_qdrant._edge import EdgeEngine

            engine = EdgeEngine(DEFAULT_PATH if path is None else path, name, hnsw=hnsw)
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
