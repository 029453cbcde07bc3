"""``MultiVectorCollection``: the collection logic every database shares.

``univec_qdrant.QdrantCollection`` and ``univec_milvus.MilvusCollection`` only build their
:class:`~univec.collections.engine.CollectionEngine` and pass it here: id mapping, encoding,
splitting long documents, batching with progress and grouping hits by document live here, once.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence, Sized
from itertools import islice
from typing import TYPE_CHECKING, Any

import numpy as np

from univec.backends.base import Embeddings
from univec.collections.compression import (
    FirstStage,
    StorageOptions,
    TokenPrecision,
    pool_tokens,
)
from univec.collections.engine import CollectionEngine
from univec.collections.filters import engine_filter
from univec.collections.ids import content_id, document_key, point_id
from univec.collections.metadata import validate_metadata
from univec.collections.parts import (
    generation_of,
    head_generation,
    hit_generation,
    needs_head,
    part_ids,
    stale_part_ids,
)
from univec.collections.types import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_GENERATION,
    PAYLOAD_METADATA,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    PAYLOAD_REPLACED,
    PAYLOAD_TEXT,
    SEARCH_MODES,
    CollectionSchema,
    DocumentId,
    EngineHit,
    PointRecord,
    SearchHit,
    SearchMode,
    StoredDocument,
)
from univec.errors import (
    ClosedError,
    CollectionError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidDimensionsError,
    InvalidInputError,
    check_positive_int,
)
from univec.inputs import Image, iter_inputs, normalize_inputs
from univec.scoring import maxsim

if TYPE_CHECKING:
    from univec.encoder import Encoder

__all__ = ["DEFAULT_CANDIDATES", "MultiVectorCollection"]

#: A document pulled from ``add``'s input, waiting for its vectors: (document, id, metadata,
#: position in the input).
_Queued = tuple["str | Image", DocumentId, dict[str, Any], int]

#: Dense candidates a "hybrid" search reranks by MaxSim unless told otherwise: on clustered
#: 2,000 x 300-token data this keeps recall@10 against exact MaxSim above 0.95
#: (benchmarks/search.py).
DEFAULT_CANDIDATES = 256


class MultiVectorCollection:
    """A jina-embeddings-v4 collection: single and multi vectors of every document, one store.

    Shared by every database: subclasses only build their :class:`CollectionEngine` and pass it
    here. Documents are encoded once with ``retrieval.passage`` (dense and multi in one pass),
    stored under deterministic point ids (re-adding replaces, never duplicates), and split into
    parts when their token vectors exceed :attr:`max_part_tokens`; searches return each document
    once, scored with the exact MaxSim over all its tokens.

    Args:
        name: Collection name.
        encoder: A :class:`univec.Encoder` (or an object with the same ``encode`` /
            ``encode_both`` / ``info``).
        engine: The database engine.
        dimensions: Matryoshka dimension of the stored single vectors (default: the full one).
        batch_size: Documents encoded and upserted per batch in :meth:`add`.
        candidates: Default number of dense candidates a ``"hybrid"`` search reranks.
        progress: Show a progress bar while adding.
        pool_factor: Pool each document's token vectors into ``ceil(n / pool_factor)`` at
            ingest (hierarchical clustering by cosine; queries are never pooled). ``1`` (the
            default) stores every token.
        token_precision: How token vectors are stored: ``"float32"`` (default), ``"float16"``,
            ``"int8"`` or ``"binary"`` (the engines say what they keep for exact rescoring).
        first_stage: Candidates of ``"hybrid"`` searches: ``"dense"`` (default) or
            ``"muvera"`` (a fixed-dimensional encoding of the token vectors, stored beside them).

    The three storage options are stored with the collection: reopening it with other values
    raises :class:`~univec.errors.SchemaMismatchError`.

    Example:
        >>> with QdrantCollection("docs", encoder, path="./univec_data") as docs:
        ...     docs.add(["Paris is in France.", univec.Image("page.png")], ids=["a", "b"])
        ...     hits = docs.search("Where is Paris?", k=3)
    """

    #: Most token vectors stored in one point; longer documents are stored as several parts.
    #: Qdrant caps a multivector at 1,048,576 floats, i.e. 8,192 tokens of 128-d; one is kept
    #: as margin. Subclasses (or tests) may lower it.
    max_part_tokens: int = 8191

    def __init__(
        self,
        name: str,
        encoder: Encoder,
        engine: CollectionEngine,
        *,
        dimensions: int | None = None,
        batch_size: int = 32,
        candidates: int = DEFAULT_CANDIDATES,
        progress: bool = True,
        pool_factor: int = 1,
        token_precision: TokenPrecision = "float32",
        first_stage: FirstStage = "dense",
    ) -> None:
        try:
            storage = StorageOptions(pool_factor, token_precision, first_stage)
        except BaseException:
            engine.close()
            raise
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"Collection name {name!r} must be a non-empty string.")
        info = encoder.info
        if dimensions is not None and (
            isinstance(dimensions, bool) or dimensions not in info.matryoshka_dims
        ):
            raise InvalidDimensionsError(
                f"dimensions={dimensions!r} is not a Matryoshka dimension of {info.name}. "
                f"Use one of {list(info.matryoshka_dims)} or None for the full {info.dim}."
            )
        self.name = name
        self.encoder = encoder
        self.dimensions = dimensions
        self.batch_size = check_positive_int("batch_size", batch_size)
        self.candidates = check_positive_int("candidates", candidates)
        self.progress = progress
        self.schema = CollectionSchema(
            dense_dim=dimensions or info.dim, multi_dim=info.multivector_dim, storage=storage
        )
        self._muvera = (
            engine.muvera_encoding(info.multivector_dim) if first_stage == "muvera" else None
        )
        self._engine = engine
        self._closed = False
        try:
            engine.ensure_collection(self.schema)
        except BaseException:
            engine.close()  # e.g. a schema mismatch: release the client / the shard's lock
            raise

    @property
    def engine(self) -> CollectionEngine:
        """The database engine behind this collection."""
        return self._engine

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, engine={self._engine!r})"

    # ------------------------------------------------------------------ add
    def add(
        self,
        items: Iterable[object],
        ids: Sequence[DocumentId] | None = None,
        metadata: Sequence[Mapping[str, Any] | None] | None = None,
        batch_size: int | None = None,
        late_chunking: bool = False,
        *,
        embeddings: Embeddings | None = None,
    ) -> list[DocumentId]:
        """Encode and store documents; documents with an id already stored are replaced.

        Args:
            items: Texts (``str``) and images (:class:`univec.Image`, PIL images, paths, the
                pages of ``univec.pdf_pages(path)``).
            ids: One ``str``/``int`` id per item. Default: derived from each item's content, so
                adding the same content twice stores it once.
            metadata: One dict (or ``None``) per item, returned by searches and usable in
                their ``filter``; checked by :func:`univec.collections.metadata.validate_metadata`
                (JSON values only, at most 32 levels deep and 64 KiB) before anything is written.
            batch_size: Documents per encoding/upsert batch (default: the collection's).
            late_chunking: ``items`` are the text chunks of one document, split already: their
                single vectors are late-chunked over the whole document (see
                :mod:`univec.late_chunking`); their token vectors are each chunk's own.
            embeddings: Both outputs of an earlier ``encode_both(items, "retrieval.passage",
                dimensions=collection.dimensions)`` pass over exactly these items: they are
                stored as given and the encoder is not run (framework stores use this when
                their framework already ran the one encoding pass).

        Returns:
            The document ids, in input order.

        Raises:
            InvalidInputError: An item is neither text nor an image, or an id is not str/int.
            InvalidArgumentError: ``ids`` / ``metadata`` do not match ``items`` in length, or
                ``ids`` repeats an id.
        """
        self._check_open()
        batch = (
            self.batch_size if batch_size is None else check_positive_int("batch_size", batch_size)
        )
        if embeddings is None and not late_chunking:
            return self._add_stream(items, ids, metadata, batch)
        documents = normalize_inputs(items)
        document_ids = self._document_ids(documents, ids)
        metadatas = self._metadatas(metadata, len(documents))
        if embeddings is not None:
            if late_chunking:
                raise InvalidArgumentError(
                    "embeddings and late_chunking=True exclude each other: precomputed vectors "
                    "are stored as given. Late-chunk them when encoding, or drop embeddings."
                )
            self._check_embeddings(embeddings, len(documents))
        order = list(range(len(documents)))
        if ids is None:  # identical content: store it once (the same id would be written twice)
            first: dict[DocumentId, int] = {}
            for position, document_id in enumerate(document_ids):
                first.setdefault(document_id, position)
            order = sorted(first.values())
        late_dense = None
        if late_chunking:  # one document: its chunk vectors see all of it
            late_dense = self.encoder.encode(
                documents, "retrieval.passage", dimensions=self.dimensions, late_chunking=True
            )
        progress_bar = _progress(len(order), f"Adding to {self.name}", disable=not self.progress)
        finished = False
        try:
            for start in range(0, len(order), batch):
                chunk = order[start : start + batch]
                self._add_batch(
                    [documents[i] for i in chunk],
                    [document_ids[i] for i in chunk],
                    [metadatas[i] for i in chunk],
                    None if late_dense is None else late_dense[chunk],
                    _select(embeddings, chunk),
                )
                progress_bar.update(len(chunk))
            finished = True
        finally:
            progress_bar.close()
            if finished:
                self._engine.flush()
            else:  # keep what was stored; the batch's own error is the one to see
                with contextlib.suppress(Exception):
                    self._engine.flush()
        return document_ids

    def _add_stream(
        self,
        items: Iterable[object],
        ids: Sequence[DocumentId] | None,
        metadata: Sequence[Mapping[str, Any] | None] | None,
        batch: int,
    ) -> list[DocumentId]:
        """:meth:`add` encoding as a stream: ``items`` is pulled lazily, never materialised.

        A sized input (a list) is checked whole before anything is written; any other
        iterable is checked as it is pulled, one batch ahead of the store at most.
        """
        total = len(items) if isinstance(items, Sized) else None
        stream = iter_inputs(items) if total is None else iter(normalize_inputs(items))
        if ids is not None:
            self._check_ids(ids, total)
        metadatas = None
        if metadata is not None:
            if isinstance(metadata, Sequence) and total is None:
                total_meta = len(metadata)  # checked against the items as they are pulled
                metadatas = self._metadatas(metadata, total_meta)
            else:
                metadatas = self._metadatas(metadata, total if total is not None else -1)
        document_ids: list[DocumentId] = []
        waiting: deque[_Queued] = deque()

        def documents() -> Iterator[str | Image]:
            """The documents to encode, each queued with its id and metadata as it is pulled."""
            seen: set[str] = set()
            count = 0
            for position, document in enumerate(stream):
                count = position + 1
                if ids is not None and position >= len(ids):
                    raise InvalidArgumentError(
                        f"Got {len(ids)} ids for more items; pass exactly one id per item."
                    )
                if metadatas is not None and position >= len(metadatas):
                    raise InvalidArgumentError(
                        f"Got {len(metadatas)} metadata dicts for more items; pass one per item."
                    )
                document_id = content_id(document) if ids is None else ids[position]
                document_ids.append(document_id)
                if ids is None:  # identical content: store it once
                    key = document_key(document_id)
                    if key in seen:
                        continue
                    seen.add(key)
                meta = metadatas[position] if metadatas is not None else {}
                waiting.append((document, document_id, meta, position))
                yield document
            if ids is not None and count != len(ids):
                raise InvalidArgumentError(
                    f"Got {len(ids)} ids for {count} items; pass exactly one id per item."
                )
            if metadatas is not None and count != len(metadatas):
                raise InvalidArgumentError(
                    f"Got {len(metadatas)} metadata dicts for {count} items; pass one per item."
                )

        progress_bar = _progress(total, f"Adding to {self.name}", disable=not self.progress)
        finished = False
        try:
            for chunk, encoded in self._encoded(documents(), waiting, batch):
                self._add_batch(
                    [entry[0] for entry in chunk],
                    [entry[1] for entry in chunk],
                    [entry[2] for entry in chunk],
                    embeddings=encoded,
                )
                progress_bar.update(len(chunk))
            finished = True
        finally:
            progress_bar.close()
            if finished:
                self._engine.flush()
            else:  # keep what was stored; the batch's own error is the one to see
                with contextlib.suppress(Exception):
                    self._engine.flush()
        return document_ids

    def _encoded(
        self, documents: Iterator[str | Image], waiting: deque[_Queued], batch: int
    ) -> Iterator[tuple[list[_Queued], Embeddings]]:
        """Batches of queued documents with their embeddings, encoded as a stream.

        Through ``encoder.iter_encode_both`` (one window per batch) when the encoder has it,
        else one ``encode_both`` call per batch.
        """
        iter_both = getattr(self.encoder, "iter_encode_both", None)
        if iter_both is None:
            while chunk := list(islice(documents, batch)):
                queued = [waiting.popleft() for _ in chunk]
                both = self.encoder.encode_both(
                    chunk, "retrieval.passage", dimensions=self.dimensions
                )
                yield queued, both
            return
        entries: list[_Queued] = []
        dense: list[np.ndarray] = []
        multi: list[np.ndarray] = []
        results = iter_both(
            documents, "retrieval.passage", dimensions=self.dimensions, window=batch
        )
        for vector, tokens in results:
            entries.append(waiting.popleft())
            dense.append(vector)
            multi.append(tokens)
            if len(entries) == batch:
                yield entries, Embeddings(np.stack(dense), multi)
                entries, dense, multi = [], [], []
        if entries:
            yield entries, Embeddings(np.stack(dense), multi)

    @staticmethod
    def _check_ids(ids: Sequence[DocumentId], total: int | None) -> None:
        """``ids`` is a list of distinct ids, one per item (when the item count is known)."""
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise InvalidArgumentError(
                f"ids must be a list with one id per item, got {type(ids).__name__}."
            )
        if total is not None and len(ids) != total:
            raise InvalidArgumentError(
                f"Got {len(ids)} ids for {total} items; pass exactly one id per item."
            )
        keys = [document_key(document_id) for document_id in ids]
        if len(set(keys)) != len(keys):
            repeated = sorted(
                {ids[i] for i, key in enumerate(keys) if keys.count(key) > 1}, key=str
            )
            raise InvalidArgumentError(
                f"ids repeat {repeated!r}; each document in one add() call needs its own id."
            )

    def _add_batch(
        self,
        documents: list[str | Image],
        document_ids: list[DocumentId],
        metadatas: list[dict[str, Any]],
        late_dense: np.ndarray | None = None,
        embeddings: Embeddings | None = None,
    ) -> None:
        if embeddings is None and late_dense is None:
            embeddings = self.encoder.encode_both(
                documents, "retrieval.passage", dimensions=self.dimensions
            )
        elif embeddings is None:
            token_lists = self.encoder.encode(documents, "retrieval.passage", multivector=True)
            embeddings = Embeddings(late_dense, token_lists)
        if embeddings.dense is None or embeddings.multi is None:
            raise CollectionError("The encoder returned no dense or no multi vectors for a batch.")
        if len(embeddings.dense) != len(documents) or len(embeddings.multi) != len(documents):
            raise CollectionError(
                f"The encoder returned {len(embeddings.dense)} dense and {len(embeddings.multi)} "
                f"multi vectors for {len(documents)} documents."
            )
        heads = {
            _key_of(record): record
            for record in self._engine.retrieve([point_id(d) for d in document_ids])
        }
        parts_first: list[PointRecord] = []
        switches: list[PointRecord] = []
        stale: list[str] = []
        for document, document_id, meta, dense, token_vectors in zip(
            documents, document_ids, metadatas, embeddings.dense, embeddings.multi, strict=True
        ):
            pooled = pool_tokens(
                np.asarray(token_vectors, np.float32), self.schema.storage.pool_factor
            )
            parts = self._split(pooled)
            generation = generation_of(parts, meta)
            stored = heads.get(document_key(document_id))
            replaced = head_generation(stored) if stored is not None else None
            records = []
            for part, tokens in enumerate(parts):
                payload: dict[str, Any] = {
                    PAYLOAD_DOCUMENT_ID: document_id,
                    PAYLOAD_PART: part,
                    PAYLOAD_PART_COUNT: len(parts),
                    PAYLOAD_METADATA: meta,
                }
                if generation is not None:
                    payload[PAYLOAD_GENERATION] = generation
                if part == 0 and isinstance(document, str):
                    payload[PAYLOAD_TEXT] = document
                if part == 0 and stored is not None and replaced is not None:
                    # What this part 0 replaces, so that a later add or delete removes it
                    # should this one be interrupted before deleting it.
                    leftover = (
                        list(replaced)
                        if replaced[0] != generation and replaced[1] > 1
                        else stored.payload.get(PAYLOAD_REPLACED)
                    )
                    if leftover:
                        payload[PAYLOAD_REPLACED] = leftover
                records.append(
                    PointRecord(
                        point_id=point_id(document_id, part, generation),
                        document_id=document_id,
                        part=part,
                        part_count=len(parts),
                        dense=np.asarray(dense, np.float32),
                        multi=tokens,
                        payload=payload,
                    )
                )
            switches.append(records[0])
            parts_first.extend(records[1:])
            if stored is not None:
                stale.extend(stale_part_ids(stored, keep=(r.point_id for r in records)))
        if self._muvera is not None:
            written = [*parts_first, *switches]
            encodings = self._muvera.documents([record.multi for record in written])
            for record, encoding in zip(written, encodings, strict=True):
                record.muvera = encoding
        # New parts first (readers still follow the old part 0), then part 0 switches readers
        # over, then the parts it replaced go: interrupted anywhere, no reader sees a mix.
        if parts_first:
            self._engine.upsert(parts_first)
        self._engine.upsert(switches)
        if stale:
            self._engine.delete(stale)

    def _check_embeddings(self, embeddings: Embeddings, count: int) -> None:
        dense, multi = embeddings.dense, embeddings.multi
        if dense is None or multi is None or len(dense) != count or len(multi) != count:
            raise InvalidArgumentError(
                f"embeddings must hold the dense and the multi vectors of all {count} items "
                "(Encoder.encode_both(items, 'retrieval.passage')); omit it to encode here."
            )
        dense_ok = np.shape(dense)[1:] == (self.schema.dense_dim,)
        if not dense_ok or any(np.shape(m)[1:] != (self.schema.multi_dim,) for m in multi):
            raise InvalidDimensionsError(
                f"embeddings do not fit this collection's {self.schema.dense_dim}-d dense and "
                f"{self.schema.multi_dim}-d token vectors; encode with dimensions="
                f"{self.dimensions!r}."
            )

    def _split(self, multi: np.ndarray) -> list[np.ndarray]:
        size = check_positive_int("max_part_tokens", self.max_part_tokens)
        if len(multi) <= size:
            return [multi]
        return [multi[start : start + size] for start in range(0, len(multi), size)]

    def _document_ids(
        self, documents: list[str | Image], ids: Sequence[DocumentId] | None
    ) -> list[DocumentId]:
        if ids is None:
            return [content_id(document) for document in documents]
        if isinstance(ids, (str, bytes)) or not isinstance(ids, Sequence):
            raise InvalidArgumentError(
                f"ids must be a list with one id per item, got {type(ids).__name__}."
            )
        if len(ids) != len(documents):
            raise InvalidArgumentError(
                f"Got {len(ids)} ids for {len(documents)} items; pass exactly one id per item."
            )
        keys = [document_key(document_id) for document_id in ids]
        if len(set(keys)) != len(keys):
            repeated = sorted(
                {ids[i] for i, key in enumerate(keys) if keys.count(key) > 1}, key=str
            )
            raise InvalidArgumentError(
                f"ids repeat {repeated!r}; each document in one add() call needs its own id."
            )
        return list(ids)

    @staticmethod
    def _metadatas(
        metadata: Sequence[Mapping[str, Any] | None] | None, count: int
    ) -> list[dict[str, Any]]:
        if metadata is None:
            return [{} for _ in range(count)]
        if isinstance(metadata, Mapping) or not isinstance(metadata, Sequence):
            raise InvalidArgumentError(
                f"metadata must be a list with one dict per item, got {type(metadata).__name__}. "
                "For one dict on every item use [meta] * len(items)."
            )
        if len(metadata) != count:
            raise InvalidArgumentError(
                f"Got {len(metadata)} metadata dicts for {count} items; pass one per item "
                "(None for none)."
            )
        # The whole batch is checked before the first document is encoded or written.
        return [validate_metadata(meta, item=position) for position, meta in enumerate(metadata)]

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: object,
        k: int = 10,
        mode: SearchMode = "hybrid",
        filter: Mapping[str, Any] | Any | None = None,
        candidates: int | None = None,
    ) -> list[SearchHit]:
        """Find the documents that best match a text or image query.

        Args:
            query: A text (``str``) or an image (:class:`univec.Image`, PIL image, path).
            k: Number of documents to return.
            mode: ``"multi"`` (exact MaxSim over all documents), ``"dense"`` (cosine of single
                vectors) or ``"hybrid"`` (``candidates`` dense hits reranked by exact MaxSim).
            filter: Metadata conditions: a dict such as ``{"lang": "en", "year": {"gte":
                2020}}`` (see :func:`univec.collections.filters.parse_filter` for every form:
                ``==``, ``!=``, ranges, ``in``, ``not in``, exists/missing, ``$and``/``$or``/
                ``$not``, dotted keys, dates), a filter tree (``Comparison``, ``And``, ``Or``,
                ``Not``), or the engine's own filter object, passed through.
            candidates: Dense candidates of a ``"hybrid"`` search (default: the collection's).

        Returns:
            Up to ``k`` hits, best first, one per document. A document stored in parts (see
            :attr:`max_part_tokens`) is found through its best parts and then scored with the
            exact MaxSim over all its tokens.
        """
        self._check_open()
        if mode not in SEARCH_MODES:
            raise InvalidArgumentError(
                f"mode={mode!r} is not a search mode; use one of {list(SEARCH_MODES)}."
            )
        k = check_positive_int("k", k)
        pool = (
            self.candidates if candidates is None else check_positive_int("candidates", candidates)
        )
        dense, multi = self._encode_query(query, mode)
        if mode == "hybrid" and self._muvera is not None and multi is not None:
            dense = self._muvera.query(multi)  # the first stage's query vector
        conditions = engine_filter(filter)
        limit = k
        heads: dict[str, PointRecord | None] = {}  # part 0 of split documents hit so far
        while True:
            hits = self._engine.search(
                mode=mode,
                dense=dense,
                multi=multi,
                limit=limit,
                candidates=max(pool, limit),
                filter=conditions,
            )
            grouped = _group_hits(self._current_parts(hits, heads))
            exhausted = len(hits) < limit or (mode == "hybrid" and limit >= max(pool, k))
            if len(grouped) >= k or exhausted:
                break
            limit *= 2  # parts of split documents took places: fetch more points
        results = self._complete_split(grouped, multi if mode != "dense" else None, heads)
        if mode != "dense":
            results.sort(key=lambda hit: hit.score, reverse=True)
        return results[:k]

    def _encode_query(
        self, query: object, mode: str
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if isinstance(query, (list, tuple)):
            raise InvalidInputError(
                f"search() takes one query, got a {type(query).__name__} of {len(query)} items. "
                "Call it once per query."
            )
        items = normalize_inputs([query])
        if mode == "dense":
            vectors = self.encoder.encode(items, "retrieval.query", dimensions=self.dimensions)
            return np.asarray(vectors[0], np.float32), None
        if mode == "multi":
            tokens = self.encoder.encode(items, "retrieval.query", multivector=True)
            return None, np.asarray(tokens[0], np.float32)
        both = self.encoder.encode_both(items, "retrieval.query", dimensions=self.dimensions)
        assert both.dense is not None and both.multi is not None  # encode_both returns both
        return np.asarray(both.dense[0], np.float32), np.asarray(both.multi[0], np.float32)

    def _current_parts(
        self, hits: Sequence[EngineHit], heads: dict[str, PointRecord | None]
    ) -> list[EngineHit]:
        """``hits`` without parts of another generation than their document's part 0 names.

        Those are what an interrupted or running re-add leaves: scoring or returning them would
        show a reader a mix of two versions of a document (see :mod:`univec.collections.parts`).
        """
        wanted = {
            document_key(hit.payload[PAYLOAD_DOCUMENT_ID]): hit.payload[PAYLOAD_DOCUMENT_ID]
            for hit in hits
            if needs_head(hit.payload)
        }
        missing = [document_id for key, document_id in wanted.items() if key not in heads]
        if missing:
            found = {_key_of(r): r for r in self._engine.retrieve([point_id(d) for d in missing])}
            for document_id in missing:
                heads[document_key(document_id)] = found.get(document_key(document_id))
        current: list[EngineHit] = []
        for hit in hits:
            if needs_head(hit.payload):
                head = heads.get(document_key(hit.payload[PAYLOAD_DOCUMENT_ID]))
                if head is None or head_generation(head) != (
                    hit_generation(hit.payload),
                    int(hit.payload.get(PAYLOAD_PART_COUNT, 1) or 1),
                ):
                    continue
            current.append(hit)
        return current

    def _complete_split(
        self,
        grouped: list[tuple[EngineHit, int]],
        query_multi: np.ndarray | None,
        heads: dict[str, PointRecord | None],
    ) -> list[SearchHit]:
        """Hits of documents stored in parts: exact MaxSim over all parts, text from part 0."""
        parts: dict[str, list[PointRecord]] = {}
        if query_multi is not None:
            wanted = [
                key
                for hit, part_count in grouped
                if part_count > 1
                for key in part_ids(
                    hit.payload[PAYLOAD_DOCUMENT_ID],
                    hit_generation(hit.payload),
                    part_count,
                )
            ]
            for record in self._engine.retrieve(wanted, with_multi=True) if wanted else []:
                parts.setdefault(_key_of(record), []).append(record)
        results: list[SearchHit] = []
        for hit, part_count in grouped:
            document_id = hit.payload[PAYLOAD_DOCUMENT_ID]
            # Text and metadata as part 0 holds them (a hit on part 2 carries no text).
            head = heads.get(document_key(document_id)) if part_count > 1 else None
            payload = head.payload if head is not None else hit.payload
            score = float(hit.score)
            records = parts.get(document_key(document_id))
            if records:
                records.sort(key=lambda r: r.part)
                tokens = np.concatenate([np.asarray(r.multi, np.float32) for r in records])
                score = maxsim(query_multi, tokens)  # type: ignore[arg-type]
            results.append(
                SearchHit(
                    id=document_id,
                    score=score,
                    metadata=dict(payload.get(PAYLOAD_METADATA) or {}),
                    text=payload.get(PAYLOAD_TEXT),
                )
            )
        return results

    # ------------------------------------------------------------------ get / delete / count
    def get(self, ids: Sequence[DocumentId], *, with_vectors: bool = False) -> list[StoredDocument]:
        """Stored documents by id, in the order asked; ids not stored are skipped.

        Args:
            ids: Document ids.
            with_vectors: Also return each document's dense and (all parts') multi vectors.
        """
        self._check_open()
        ids = _id_list(ids)
        first = {
            _key_of(r): r
            for r in self._engine.retrieve([point_id(i) for i in ids], with_multi=with_vectors)
        }
        extra: dict[str, list[PointRecord]] = {}
        if with_vectors:
            wanted = [
                key
                for record in first.values()
                for key in part_ids(_id_of(record), *head_generation(record))[1:]
            ]
            for record in self._engine.retrieve(wanted, with_multi=True) if wanted else []:
                key = _key_of(record)
                extra.setdefault(key, []).append(record)
        documents: list[StoredDocument] = []
        for document_id in ids:
            head = first.get(document_key(document_id))
            if head is None:
                continue
            document = StoredDocument(
                id=_id_of(head),
                metadata=dict(head.payload.get(PAYLOAD_METADATA) or {}),
                text=head.payload.get(PAYLOAD_TEXT),
            )
            if with_vectors:
                rest = sorted(extra.get(document_key(document_id), []), key=lambda r: r.part)
                document.dense = np.asarray(head.dense, np.float32)
                document.multi = np.concatenate(
                    [np.asarray(r.multi, np.float32) for r in [head, *rest]]
                )
            documents.append(document)
        return documents

    def list_documents(
        self, filter: Mapping[str, Any] | Any | None = None, limit: int | None = None
    ) -> list[StoredDocument]:
        """The stored documents matching ``filter`` (all of them without one), without vectors.

        Args:
            filter: As in :meth:`search`.
            limit: At most this many documents (default: all).

        Returns:
            The documents in the engine's order (not ranked).
        """
        self._check_open()
        if limit is not None:
            limit = check_positive_int("limit", limit)
        records = self._engine.scroll(engine_filter(filter), limit)
        return [
            StoredDocument(
                id=_id_of(record),
                metadata=dict(record.payload.get(PAYLOAD_METADATA) or {}),
                text=record.payload.get(PAYLOAD_TEXT),
            )
            for record in records
        ]

    def delete(self, ids: Sequence[DocumentId]) -> None:
        """Delete documents (all their parts); ids not stored are ignored."""
        self._check_open()
        ids = _id_list(ids)
        stored = self._engine.retrieve([point_id(i) for i in ids])
        # The other parts first: part 0 is what makes a document visible, and names its parts.
        doomed = [key for head in stored for key in stale_part_ids(head)]
        if doomed:
            self._engine.delete(doomed)
        self._engine.delete([point_id(i) for i in ids])

    def count(self, filter: Mapping[str, Any] | Any | None = None) -> int:
        """Number of documents stored (matching ``filter``, as in :meth:`search`)."""
        self._check_open()
        conditions = engine_filter(filter)
        return int(self._engine.count_documents(conditions))

    def __len__(self) -> int:
        return self.count()

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Flush and release the engine; the collection cannot be used afterwards."""
        if not self._closed:
            self._closed = True
            self._engine.close()

    def __enter__(self) -> MultiVectorCollection:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError(
                f"Collection {self.name!r} is closed; open a new {type(self).__name__}."
            )


# --------------------------------------------------------------------------- helpers
def _select(embeddings: Embeddings | None, positions: list[int]) -> Embeddings | None:
    if embeddings is None or embeddings.dense is None or embeddings.multi is None:
        return None
    multi = embeddings.multi
    return Embeddings(np.asarray(embeddings.dense)[positions], [multi[i] for i in positions])


def _id_list(ids: Sequence[DocumentId]) -> list[DocumentId]:
    if isinstance(ids, (str, int)) and not isinstance(ids, bool):
        raise InvalidArgumentError(f"ids must be a list of ids; wrap {ids!r} in a list: [{ids!r}].")
    items = list(ids)
    for document_id in items:
        document_key(document_id)  # validates the type
    return items


def _id_of(record: PointRecord) -> DocumentId:
    return record.payload.get(PAYLOAD_DOCUMENT_ID, record.document_id)


def _key_of(record: PointRecord) -> str:
    return document_key(_id_of(record))


def _group_hits(hits: Sequence[EngineHit]) -> list[tuple[EngineHit, int]]:
    """One hit per document (its best part), in order, with the document's part count."""
    seen: dict[str, tuple[EngineHit, int]] = {}
    for hit in hits:
        key = document_key(hit.payload[PAYLOAD_DOCUMENT_ID])
        if key not in seen:
            seen[key] = (hit, int(hit.payload.get(PAYLOAD_PART_COUNT, 1) or 1))
    return list(seen.values())


def _progress(total: int | None, description: str, *, disable: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="doc", disable=disable, leave=False)
