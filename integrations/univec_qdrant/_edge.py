"""The embedded engine: Qdrant Edge (``qdrant-edge-py``), one shard directory per collection."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from univec._optional import require
from univec.collections import (
    CollectionEngine,
    CollectionSchema,
    EngineHit,
    PointRecord,
    SearchMode,
)
from univec.collections.compression import MuveraEncoding
from univec.collections.filters import FilterNode
from univec.errors import ClosedError, CollectionError
from univec_qdrant._lock import PathLock
from univec_qdrant._schema import (
    DENSE,
    MULTI,
    MUVERA,
    OPTIONS_KEY,
    OVERSAMPLING,
    HnswSettings,
    check_collection_name,
    check_options,
    check_schema,
    expected_vectors,
    first_parts_filter,
    native_filter,
    qdrant_muvera,
    quantised,
    record_from_payload,
    scroll_records,
)

CONFIG_FILE = "edge_config.json"
#: univec's storage options of the shard (pooling, token precision, first stage), as JSON.
OPTIONS_FILE = "univec.json"


class EdgeEngine(CollectionEngine):
    """Qdrant Edge shard at ``<path>/<name>``: real Qdrant storage and search, in-process.

    Args:
        path: Directory holding the collections (each one is a sub-directory).
        name: Collection name.
        hnsw: HNSW settings of the dense vector.
        segments: Target number of optimized segments (default: 4 per core, at least 16).
    """

    #: Qdrant Edge runs no background optimizer, so this engine runs it. While writing, each
    #: time ``max(optimize_min_points, points / segments)`` new points have accumulated they are
    #: optimized into a segment of their own, and :meth:`flush` (the end of every ``add``)
    #: optimizes what is left (a no-op while the appendable segment is small). Optimized
    #: segments store token vectors compactly (MaxSim ~1.7x faster) and are searched in
    #: parallel, one thread per segment.
    optimize_min_points: int = 128

    def __init__(
        self,
        path: str | Path,
        name: str,
        *,
        hnsw: HnswSettings | None = None,
        segments: int | None = None,
    ) -> None:
        self._edge = require("qdrant_edge", "qdrant")
        self._filters = _EdgeFilters(self._edge)
        self.path = Path(path) / check_collection_name(name)
        self.hnsw = hnsw or HnswSettings()
        # Several optimized segments per core keep the search threads evenly loaded (measured
        # on 2 cores, 2,000 x 300 tokens: 8 segments score MaxSim ~1.7x faster than 2, and 16
        # another ~1.1x faster than 8, as a preempted thread then holds back less work).
        self.segments = segments or max(16, 4 * (os.cpu_count() or 1))
        self._shard: Any = None
        self._lock: PathLock | None = None
        self._schema = CollectionSchema(dense_dim=0)  # set by ensure_collection
        self._written = 0  # points upserted since the last optimization
        self._points = 0  # points in the shard (an estimate: upserts may replace)

    def __repr__(self) -> str:
        return f"EdgeEngine(path={str(self.path)!r})"

    # ------------------------------------------------------------------ schema
    def muvera_encoding(self, dim: int) -> MuveraEncoding:
        """Qdrant stores the MUVERA encoding in float16: the 3,072-d shape."""
        return qdrant_muvera(dim)

    def ensure_collection(self, schema: CollectionSchema) -> None:
        """Open the shard, creating it on first use; check the schema of an existing one."""
        edge = self._edge
        config_file = self.path / CONFIG_FILE
        options_file = self.path / OPTIONS_FILE
        self._schema = schema
        # Qdrant Edge's own lock is taken after it has opened (and started repairing) the
        # write-ahead log, which breaks the handle that holds the shard. Our lock is taken
        # before Qdrant touches anything, so a second open fails and the first stays intact.
        self._lock = PathLock.acquire(self.path)
        try:
            if config_file.is_file():
                where = f"Qdrant Edge collection at {str(self.path)!r}"
                options = json.loads(options_file.read_text()) if options_file.is_file() else {}
                check_options(where, schema, options.get(OPTIONS_KEY))
                stored = json.loads(config_file.read_text()).get("vectors", {})
                check_schema(
                    f"Qdrant Edge collection at {str(self.path)!r}",
                    schema,
                    {name: _vector_facts(params) for name, params in stored.items()},
                )
                self._shard = self._call(edge.EdgeShard.load, str(self.path))
                self._points = int(self._call(self._shard.info).points_count)
            else:
                options_file.write_text(json.dumps({OPTIONS_KEY: schema.storage.as_dict()}))
                self._shard = self._call(
                    edge.EdgeShard.create, str(self.path), self._config(schema)
                )
        except BaseException as exc:
            self._release()
            if isinstance(exc, CollectionError) and isinstance(exc.__cause__, Exception):
                cause = str(exc.__cause__)
                if "WAL" in cause or "WouldBlock" in cause:
                    raise CollectionError(
                        f"The Qdrant Edge collection at {str(self.path)!r} is in use (open in "
                        "another process, or locked by Qdrant). Close the other QdrantCollection "
                        "first."
                    ) from exc.__cause__
            raise

    def _config(self, schema: CollectionSchema) -> Any:
        edge = self._edge
        dense = edge.EdgeVectorParams(
            size=schema.dense_dim,
            distance=edge.Distance.Cosine,
            hnsw_config=edge.HnswIndexConfig(
                m=self.hnsw.m,
                ef_construct=self.hnsw.ef_construct,
                full_scan_threshold=self.hnsw.full_scan_threshold,
            ),
        )
        # MaxSim of unit-norm token vectors with Dot: exact, no renormalisation on upsert.
        multi = edge.EdgeVectorParams(
            size=schema.multi_dim,
            distance=edge.Distance.Dot,
            multivector_config=edge.MultiVectorConfig(edge.MultiVectorComparator.MaxSim),
            hnsw_config=edge.HnswIndexConfig(m=0, ef_construct=100, full_scan_threshold=10_000),
            **self._precision(schema),
        )
        vectors = {DENSE: dense, MULTI: multi}
        if MUVERA in expected_vectors(schema):
            vectors[MUVERA] = edge.EdgeVectorParams(  # float16: half the bytes, same candidates
                size=expected_vectors(schema)[MUVERA]["size"],
                distance=edge.Distance.Dot,
                hnsw_config=dense.hnsw_config,
                datatype=edge.VectorStorageDatatype.Float16,
            )
        optimizers = edge.EdgeOptimizersConfig(default_segment_number=self.segments)
        # One search thread per segment (persisted with the shard): a segment waits for no
        # other, which scores MaxSim ~3% faster on 2 cores than the default 8 threads.
        return edge.EdgeConfig(
            vectors=vectors,
            optimizers=optimizers,
            max_search_threads=self.segments,
        )

    def _precision(self, schema: CollectionSchema) -> dict[str, Any]:
        """Storage of the token vectors: ``float16``, or quantised with float32 originals.

        ``int8`` / ``binary`` keep Qdrant's quantised copy in RAM and the original float32
        vectors on disk (memory-mapped), from which the final top k is rescored.
        """
        edge, precision = self._edge, schema.storage.token_precision
        if precision == "float16":
            return {"datatype": edge.VectorStorageDatatype.Float16}
        if precision == "int8":
            config = edge.ScalarQuantizationConfig(edge.ScalarType.Int8, always_ram=True)
            return {"quantization_config": config, "on_disk": True}
        if precision == "binary":
            return {
                "quantization_config": edge.BinaryQuantizationConfig(always_ram=True),
                "on_disk": True,
            }
        return {}

    # ------------------------------------------------------------------ writes
    def upsert(self, records: Sequence[PointRecord]) -> None:
        """Insert or replace points by id."""
        edge = self._edge
        points = [
            edge.Point(
                record.point_id,
                # Lists convert ~2x faster than arrays in qdrant-edge-py's bindings.
                _vectors(record),
                record.payload,
            )
            for record in records
        ]
        if points:
            self._call(self.shard.update, edge.UpdateOperation.upsert_points(points))
            self._written += len(points)
            self._points += len(points)
            if self._written >= max(self.optimize_min_points, self._points // self.segments):
                self.optimize()

    def delete(self, point_ids: Sequence[str]) -> None:
        """Delete points; missing ids are ignored."""
        if point_ids:
            self._call(self.shard.update, self._edge.UpdateOperation.delete_points(list(point_ids)))

    # ------------------------------------------------------------------ reads
    def retrieve(self, point_ids: Sequence[str], *, with_multi: bool = False) -> list[PointRecord]:
        """Points by id (missing ids skipped); token vectors only if ``with_multi``."""
        if not point_ids:
            return []
        vectors = [DENSE, MULTI] if with_multi else [DENSE]
        found = self._call(
            self.shard.retrieve, list(point_ids), with_payload=True, with_vector=vectors
        )
        return [
            record_from_payload(str(record.id), record.payload or {}, record.vector or {})
            for record in found
        ]

    def count(self, filter: FilterNode | Any | None = None) -> int:
        """Number of points matching ``filter``."""
        request = self._edge.CountRequest(exact=True, filter=self._filter(filter))
        return int(self._call(self.shard.count, request))

    def count_documents(self, filter: FilterNode | Any | None = None) -> int:
        """Number of documents (their part 0) matching ``filter``."""
        request = self._edge.CountRequest(
            exact=True, filter=first_parts_filter(filter, self._filters)
        )
        return int(self._call(self.shard.count, request))

    def scroll(
        self, filter: FilterNode | Any | None = None, limit: int | None = None
    ) -> list[PointRecord]:
        """First parts of the documents matching ``filter`` (payloads only), page by page."""
        native = first_parts_filter(filter, self._filters)

        def fetch(offset: Any, page: int) -> tuple[list[Any], Any]:
            request = self._edge.ScrollRequest(
                offset=offset, limit=page, filter=native, with_payload=True, with_vector=False
            )
            return self._call(self.shard.scroll, request)

        return scroll_records(fetch, limit)

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
        """One query: dense, exact MaxSim, or a dense prefetch reranked by MaxSim."""
        edge = self._edge
        native = self._filter(filter)
        params = edge.SearchParams(hnsw_ef=max(self.hnsw.ef_search, candidates, limit))
        if mode == "dense":
            query = edge.Query.Nearest(np.asarray(dense, np.float32).tolist(), using=DENSE)
            request = edge.QueryRequest(
                limit=limit, query=query, filter=native, params=params, with_payload=True
            )
        else:
            query = edge.Query.Nearest(np.asarray(multi, np.float32).tolist(), using=MULTI)
            prefetches = None
            final = self._final_params(mode)
            if mode == "hybrid":
                first = MUVERA if MUVERA in expected_vectors(self._schema) else DENSE
                prefetch_query = edge.Query.Nearest(
                    np.asarray(dense, np.float32).tolist(), using=first
                )
                prefetches = [
                    edge.Prefetch(
                        limit=candidates, query=prefetch_query, filter=native, params=params
                    )
                ]
            request = edge.QueryRequest(
                limit=limit,
                query=query,
                prefetches=prefetches,
                filter=native,
                params=final,
                with_payload=True,
            )
        points = self._call(self.shard.query, request)
        return [EngineHit(str(p.id), float(p.score), p.payload or {}) for p in points]

    def _final_params(self, mode: SearchMode) -> Any:
        """Search params of the MaxSim stage: quantised token vectors are rescored in float.

        Without them, Qdrant reranks prefetched candidates by their quantised scores and only
        reports float scores for the ones it selected (recall@10 fell to 0.57 with binary
        quantisation). With them, ``int8`` (whose scores are within ~1e-3 of the float ones)
        selects ``OVERSAMPLING`` x ``limit`` points by quantised score and rescores them from
        the float32 originals (a few reads of the on-disk originals); ``binary`` (too coarse
        to select by) scores every ``hybrid`` candidate from the originals.
        """
        if not quantised(self._schema):
            return None
        edge = self._edge
        if mode == "hybrid" and self._schema.storage.token_precision == "binary":
            return edge.SearchParams(quantization=edge.QuantizationSearchParams(ignore=True))
        return edge.SearchParams(
            quantization=edge.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING)
        )

    # ------------------------------------------------------------------ lifecycle
    def flush(self) -> None:
        """Optimize what was written since the last time, and persist it."""
        if self._written:
            self.optimize()
        self._call(self.shard.flush)

    def optimize(self) -> bool:
        """Run Qdrant's optimizers now (blocking); whether any segment changed."""
        changed = bool(self._call(self.shard.optimize))
        self._points = int(self._call(self.shard.info).points_count)
        self._written = 0
        return changed

    def close(self) -> None:
        """Flush to disk and release the shard (and its lock)."""
        try:
            if self._shard is not None:
                shard, self._shard = self._shard, None
                try:
                    self._call(shard.flush)
                finally:
                    self._call(shard.close)
        finally:
            self._release()

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    @property
    def shard(self) -> Any:
        """The open ``qdrant_edge.EdgeShard``."""
        if self._shard is None:
            raise ClosedError(f"The Qdrant Edge collection at {str(self.path)!r} is closed.")
        return self._shard

    def disk_bytes(self) -> int:
        """Bytes the shard directory takes on disk.

        Counts allocated blocks: Qdrant preallocates sparse files, whose apparent size
        overstates it.
        """
        return sum(_allocated(f) for f in self.path.rglob("*") if f.is_file())

    # ------------------------------------------------------------------ helpers
    def _filter(self, filter: FilterNode | Any | None) -> Any:
        return native_filter(filter, self._filters)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except Exception as exc:  # the bindings raise plain Exception
            raise CollectionError(
                f"Qdrant Edge failed on the collection at {str(self.path)!r}: {exc}"
            ) from exc
        except BaseException as exc:
            if not is_engine_panic(exc):
                raise  # KeyboardInterrupt, SystemExit, ...
            raise CollectionError(
                f"Qdrant Edge crashed on the collection at {str(self.path)!r} "
                f"({str(exc).splitlines()[0][:300] if str(exc) else 'panic'}). Report it with "
                "the data that caused it; reopening the collection may help."
            ) from exc


class _EdgeFilters:
    """``qdrant_edge`` filter objects (see ``_schema.FilterClasses``)."""

    filter_name = "qdrant_edge.Filter"

    def __init__(self, edge: Any) -> None:
        self._edge = edge
        self.filter_type = edge.Filter

    def filter(
        self,
        *,
        must: list[Any] | None = None,
        should: list[Any] | None = None,
        must_not: list[Any] | None = None,
    ) -> Any:
        return self._edge.Filter(must=must, should=should, must_not=must_not)

    def match_value(self, key: str, value: str | int | bool) -> Any:
        # qdrant-edge-py 0.9 reads a Python bool as the integer 0/1 (bool subclasses int)
        # and then matches no boolean; numpy's bool is not an int, so it stays a bool.
        match = self._edge.MatchValue(np.bool_(value) if isinstance(value, bool) else value)
        return self._edge.FieldCondition(key=key, match=match)

    def match_any(self, key: str, values: list[Any]) -> Any:
        return self._edge.FieldCondition(key=key, match=self._edge.MatchAny(values))

    def range(self, key: str, bounds: dict[str, float]) -> Any:
        floats = {name: float(value) for name, value in bounds.items()}
        return self._edge.FieldCondition(key=key, range=self._edge.RangeFloat(**floats))

    def datetime_range(self, key: str, bounds: dict[str, str]) -> Any:
        return self._edge.FieldCondition(key=key, range=self._edge.RangeDateTime(**bounds))

    def is_empty(self, key: str) -> Any:
        return self._edge.IsEmptyCondition(key)


def is_engine_panic(exc: BaseException) -> bool:
    """Whether ``exc`` is a Rust panic surfaced by pyo3 (a ``BaseException``, not an ``Exception``)."""
    return type(exc).__name__ == "PanicException"


def _allocated(file: Path) -> int:
    status = file.stat()
    blocks = getattr(status, "st_blocks", None)  # absent on Windows
    return int(blocks) * 512 if blocks is not None else int(status.st_size)


def _vectors(record: PointRecord) -> dict[str, Any]:
    vectors = {
        DENSE: np.asarray(record.dense, np.float32).tolist(),
        MULTI: np.asarray(record.multi, np.float32).tolist(),
    }
    if record.muvera is not None:
        vectors[MUVERA] = np.asarray(record.muvera, np.float32).tolist()
    return vectors


def _vector_facts(params: dict[str, Any]) -> dict[str, Any]:
    comparator = (params.get("multivector_config") or {}).get("comparator")
    return {
        "size": params.get("size"),
        "distance": str(params.get("distance", "")).lower(),
        "multivector": str(comparator).lower() if comparator else None,
    }
