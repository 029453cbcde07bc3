"""The portable layout: Milvus Lite and servers without StructArray fields.

Each point is one row: ``id`` (the point id), ``dense`` (cosine, AUTOINDEX), ``payload`` (JSON)
and two encodings of its token vectors, base64 text in ARRAYs of VARCHAR (see ``_packing``):
``tokens`` (float32, exact) and ``tokens_int8`` (int8 codes + error norms, a quarter of the
bytes). A ``hybrid`` search is two requests: the dense search returns the candidates' int8
codes, which bound each candidate's MaxSim from below and above; only candidates whose upper
bound reaches the k-th best lower bound (typically 10-40 of 256) are read in float32 with one
``get`` and scored exactly in NumPy. The result is the exact MaxSim top k of the candidates.
``multi`` does the same over every row, reading int8 codes in pages.

Measured on this project's 2-core machine (Milvus Lite 3.2.2, 2,000 docs x 300 tokens of
128-d; other jobs were running, so +-40%). First, how to store the float32 vectors, fetching
100 candidates after the dense search:

=====================================  ============  ===================  =============
storage of the token vectors           ingest doc/s  search + fetch p50   multi scan
=====================================  ============  ===================  =============
one row per token, ``get`` by key            35         1,995 ms               --
one VARCHAR of base64 per point              58         138-213 ms           7.7 s
JSON ``{"b": base64}`` per point            153         143-244 ms           6.4 s
ARRAY of VARCHAR pieces                     247         140-276 ms           3.3 s
=====================================  ============  ===================  =============

Rows per token move 30,000 float lists per query through gRPC; packed rows move 100 strings.
A single VARCHAR is slow to insert (pymilvus checks long strings character by character) and,
like a JSON value, is capped at 64 KB on servers; ARRAY pieces have neither problem. Then, at
the benchmark's 256 candidates (``benchmarks/search.py``): reranking from the float32 pieces
alone took 690 ms per hybrid query (multi: 5.1 s); bounding from int8 codes first takes
150-265 ms (multi: 1.2-1.5 s), for 27% more disk (260 KB per document). The int8 codes are
cheapest returned by the search itself (76 ms vs 87 ms with a separate ``get``); the float32
vectors of the finalists by ``get`` (search output fields were 1.1-2.6x slower for them).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from univec.collections import CollectionSchema, EngineHit, PointRecord
from univec.collections.compression import MuveraEncoding, StorageOptions
from univec.scoring import maxsim_many
from univec_milvus._detect import (
    DENSE,
    ID,
    LAYOUT_PROPERTY,
    MULTI_DIM_PROPERTY,
    MUVERA,
    PAYLOAD,
    STORAGE_PROPERTY,
    TOKENS,
    TOKENS_INT8,
)
from univec_milvus._packing import (
    PIECE_BYTES,
    maxsim_bounds,
    maxsim_estimates,
    pack_binary,
    pack_float16,
    pack_int8,
    pack_tokens,
    survivors,
    unpack_binary,
    unpack_float16,
    unpack_int8,
    unpack_tokens,
)

if TYPE_CHECKING:
    from univec_milvus._engine import MilvusEngine
    from univec_milvus._filters import Expression

MAX_PIECES = 4096  # the largest ARRAY capacity Milvus allows
#: Rows per ``get`` of float32 token vectors (larger pages were slower on Milvus Lite).
TOKEN_PAGE = 100
#: Rows per ``get`` of int8 codes (a quarter of the bytes).
INT8_PAGE = 400
#: ``binary``: candidates ranked by their sign-bit MaxSim estimate; this many times ``limit``
#: of them are rescored from the float32 vectors.
OVERSAMPLING = 4


class PortableLayout:
    """Dense vector + packed token vectors; MaxSim computed exactly in NumPy.

    What ``tokens`` / ``tokens_int8`` hold, by ``token_precision``:

    * ``float32`` and ``int8``: float32 vectors + int8 sketch. Candidates are bounded from the
      int8 codes; the final top k is scored exactly from the float32 vectors.
    * ``float16``: float16 vectors only (half the bytes); every candidate is scored from them.
    * ``binary``: float32 vectors + sign bits (1 bit a value). ``hybrid`` scores every
      candidate from the float32 vectors; ``multi`` rescores the ``OVERSAMPLING`` x ``limit``
      documents with the best sign-bit estimate.
    """

    name = "portable"
    max_part_tokens: int

    def __init__(self, multi_dim: int, storage: StorageOptions | None = None) -> None:
        self.multi_dim = multi_dim
        self.storage = storage or StorageOptions()
        self.precision = self.storage.token_precision
        # 4,096 pieces of 49,149 bytes: ~393k tokens of 128-d, far above the shared default.
        self.max_part_tokens = MAX_PIECES * PIECE_BYTES // (4 * multi_dim)

    # ------------------------------------------------------------------ schema
    def collection_schema(self, client: Any, schema: CollectionSchema) -> Any:
        """The pymilvus ``CollectionSchema`` of a portable collection."""
        from pymilvus import DataType

        fields = client.create_schema(auto_id=False, enable_dynamic_field=False)
        fields.add_field(ID, DataType.VARCHAR, is_primary=True, max_length=64)
        fields.add_field(DENSE, DataType.FLOAT_VECTOR, dim=schema.dense_dim)
        fields.add_field(PAYLOAD, DataType.JSON)
        for name in (TOKENS, TOKENS_INT8):
            fields.add_field(
                name,
                DataType.ARRAY,
                element_type=DataType.VARCHAR,
                max_length=65_535,
                max_capacity=MAX_PIECES,
            )
        if self.storage.first_stage == "muvera":
            size = MuveraEncoding(dim=schema.multi_dim).output_dim
            fields.add_field(MUVERA, DataType.FLOAT_VECTOR, dim=size)
        return fields

    def index_params(self, client: Any) -> Any:
        """Index of the dense vector (and of the MUVERA encoding, when stored)."""
        params = client.prepare_index_params()
        params.add_index(DENSE, index_type="AUTOINDEX", metric_type="COSINE")
        if self.storage.first_stage == "muvera":
            params.add_index(MUVERA, index_type="AUTOINDEX", metric_type="IP")
        return params

    def properties(self, schema: CollectionSchema) -> dict[str, str]:
        """Collection properties recording how ``tokens`` is packed."""
        return {
            LAYOUT_PROPERTY: self.name,
            MULTI_DIM_PROPERTY: str(schema.multi_dim),
            STORAGE_PROPERTY: json.dumps(schema.storage.as_dict()),
        }

    # ------------------------------------------------------------------ rows
    def token_fields(self, multi: np.ndarray) -> dict[str, Any]:
        """The token fields of a row."""
        if self.precision == "float16":
            return {TOKENS: pack_float16(multi), TOKENS_INT8: []}
        if self.precision == "binary":
            return {TOKENS: pack_tokens(multi), TOKENS_INT8: pack_binary(multi)}
        return {TOKENS: pack_tokens(multi), TOKENS_INT8: pack_int8(multi)}

    def tokens_of(self, row: dict[str, Any]) -> np.ndarray:
        """Token vectors (a writable float32 copy) from a row read with the ``tokens`` field."""
        if self.precision == "float16":
            return unpack_float16(row.get(TOKENS) or [], self.multi_dim)
        return unpack_tokens(row.get(TOKENS) or [], self.multi_dim).copy()

    def row_bytes(self, record: PointRecord) -> int:
        """Approximate request bytes of one row (to size upsert batches)."""
        return int(np.asarray(record.multi).size) * 7 + 4096

    # ------------------------------------------------------------------ search
    # Candidates are first bounded from their int8 codes; only those whose upper bound reaches
    # the ``limit``-th lower bound are read in float32 and scored exactly.
    def hybrid_search(
        self,
        engine: MilvusEngine,
        dense: np.ndarray | None,
        query: np.ndarray,
        limit: int,
        candidates: int,
        expression: Expression | None,
    ) -> list[EngineHit]:
        """The exact MaxSim top ``limit`` of the dense candidates (their int8 codes come along)."""
        field, metric = (
            (MUVERA, "IP") if self.storage.first_stage == "muvera" else (DENSE, "COSINE")
        )
        rows = engine.dense_rows(
            dense, candidates, expression, [TOKENS_INT8], field=field, metric=metric
        )
        if self.precision == "binary":  # sign bits bound nothing: score every candidate
            unbounded = np.full(len(rows), np.inf, np.float32)
            return self._exact(
                engine, query, [row[ID] for row in rows], -unbounded, unbounded, limit
            )
        lower, upper = self._bounds(query, rows)
        return self._exact(engine, query, [row[ID] for row in rows], lower, upper, limit)

    def multi_search(
        self, engine: MilvusEngine, query: np.ndarray, limit: int, expression: Expression | None
    ) -> list[EngineHit]:
        """The exact MaxSim top ``limit`` of every row, bounded from int8 codes in pages."""
        pool = engine.list_ids(expression)
        lower = np.zeros(len(pool), np.float32)
        upper = np.zeros(len(pool), np.float32)
        for start in range(0, len(pool), INT8_PAGE):
            chunk = pool[start : start + INT8_PAGE]
            rows = _aligned(engine.get_rows(chunk, [TOKENS_INT8], page=INT8_PAGE), chunk)
            stop = start + len(chunk)
            lower[start:stop], upper[start:stop] = self._bounds(query, rows)
        return self._exact(engine, query, pool, lower, upper, limit)

    def _bounds(
        self, query: np.ndarray, rows: list[dict[str, Any]]
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.precision == "float16":  # no sketch: every candidate is scored
            return np.full(len(rows), -np.inf, np.float32), np.full(len(rows), np.inf, np.float32)
        if self.precision == "binary":
            signs = [unpack_binary(row.get(TOKENS_INT8) or [], self.multi_dim) for row in rows]
            estimates = maxsim_estimates(query, signs)
            return estimates, estimates
        sketches = [unpack_int8(row.get(TOKENS_INT8) or [], self.multi_dim) for row in rows]
        return maxsim_bounds(query, sketches)

    def _exact(
        self,
        engine: MilvusEngine,
        query: np.ndarray,
        pool: list[str],
        lower: np.ndarray,
        upper: np.ndarray,
        limit: int,
    ) -> list[EngineHit]:
        """The ``limit`` best of ``pool`` by exact MaxSim, reading only its bounds' survivors."""
        if self.precision == "binary" and np.isfinite(lower).all():  # estimates: oversample
            best = np.argsort(-lower, kind="stable")[: limit * OVERSAMPLING]
            points = [pool[i] for i in best]
        else:
            points = [pool[i] for i in survivors(lower, upper, limit)]
        hits: list[EngineHit] = []
        for start in range(0, len(points), TOKEN_PAGE):
            rows = engine.get_rows(points[start : start + TOKEN_PAGE], [PAYLOAD, TOKENS])
            tokens = [self.tokens_of(row) for row in rows]
            scores = maxsim_many(query, tokens)
            hits.extend(
                EngineHit(row[ID], float(score), row[PAYLOAD])
                for row, score in zip(rows, scores, strict=True)
            )
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:limit]


def _aligned(rows: list[dict[str, Any]], ids: list[str]) -> list[dict[str, Any]]:
    """``rows`` in the order of ``ids`` (servers answer in any order); ``{}`` where missing."""
    by_id = {row[ID]: row for row in rows}
    return [by_id.get(point, {ID: point}) for point in ids]
