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

from typing import TYPE_CHECKING, Any

import numpy as np

from univec.collections import CollectionSchema, EngineHit, PointRecord
from univec.scoring import maxsim_many
from univec_milvus._detect import (
    DENSE,
    ID,
    LAYOUT_PROPERTY,
    MULTI_DIM_PROPERTY,
    PAYLOAD,
    TOKENS,
    TOKENS_INT8,
)
from univec_milvus._packing import (
    PIECE_BYTES,
    maxsim_bounds,
    pack_int8,
    pack_tokens,
    survivors,
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


class PortableLayout:
    """Dense vector + packed token vectors; MaxSim computed exactly in NumPy."""

    name = "portable"
    max_part_tokens: int

    def __init__(self, multi_dim: int) -> None:
        self.multi_dim = multi_dim
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
        return fields

    def index_params(self, client: Any) -> Any:
        """Index of the dense vector (the only vector field)."""
        params = client.prepare_index_params()
        params.add_index(DENSE, index_type="AUTOINDEX", metric_type="COSINE")
        return params

    def properties(self, schema: CollectionSchema) -> dict[str, str]:
        """Collection properties recording how ``tokens`` is packed."""
        return {LAYOUT_PROPERTY: self.name, MULTI_DIM_PROPERTY: str(schema.multi_dim)}

    # ------------------------------------------------------------------ rows
    def token_fields(self, multi: np.ndarray) -> dict[str, Any]:
        """The token fields of a row."""
        return {TOKENS: pack_tokens(multi), TOKENS_INT8: pack_int8(multi)}

    def tokens_of(self, row: dict[str, Any]) -> np.ndarray:
        """Token vectors (a writable copy) from a row read with the ``tokens`` field."""
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
        rows = engine.dense_rows(dense, candidates, expression, [TOKENS_INT8])
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
        points = [pool[i] for i in survivors(lower, upper, limit)]
        hits: list[EngineHit] = []
        for start in range(0, len(points), TOKEN_PAGE):
            rows = engine.get_rows(points[start : start + TOKEN_PAGE], [PAYLOAD, TOKENS])
            tokens = [unpack_tokens(row.get(TOKENS) or [], self.multi_dim) for row in rows]
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
