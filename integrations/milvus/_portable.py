"""The portable layout: Milvus Lite and servers without StructArray fields.

Each point is one row: ``id`` (the point id), ``dense`` (cosine, AUTOINDEX), ``payload`` (JSON)
and ``tokens``, the point's float32 token vectors packed as base64 text in an ARRAY of VARCHAR
(pieces of 49,149 bytes, a multiple of 3, so the pieces concatenate into one base64 string
and every piece stays under the 65,535-byte VARCHAR cap of servers). A ``hybrid`` search asks
for the dense candidates, fetches their rows by id in one ``get`` and reranks them with exact
MaxSim in NumPy; ``multi`` scores every row the same way, reading them in pages.

Why packed rows (measured on this project's 2-core CI machine, Milvus Lite 3.2.2, 2,000 docs x
300 tokens of 128-d, fetching 100 candidates; other processes were running, so +-40%):

=====================================  ============  ===================  =============
storage of the token vectors           ingest doc/s  search + fetch p50   multi scan
=====================================  ============  ===================  =============
one row per token, ``get`` by key          35           1,995 ms              --
VARCHAR, one base64 string per point       58             138 ms            7.7 s
JSON ``{"b": base64}``                    153             143 ms            6.4 s
ARRAY of VARCHAR pieces (chosen)          247           140-240 ms          3.3 s
=====================================  ============  ===================  =============

Rows per token move 30,000 float lists per query through gRPC; packed rows move 100 strings.
A single VARCHAR is slow to insert (pymilvus checks long strings character by character) and,
like a JSON value, is capped at 64 KB on servers; the ARRAY of pieces has neither problem.
Fetching with ``get`` after the dense search beat returning the tokens from the search itself
(search + output fields: 146-390 ms). The multi scan reads 100 rows per ``get`` (250 rows: 4.9 s,
500 rows: 8.0 s; query pages with a primary-key cursor: 5-8 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from univec.collection import CollectionSchema, EngineHit, PointRecord, SearchMode
from univec.integrations.milvus._detect import (
    DENSE,
    ID,
    LAYOUT_PROPERTY,
    MULTI_DIM_PROPERTY,
    PAYLOAD,
    TOKENS,
    TOKENS_INT8,
)
from univec.integrations.milvus._packing import (
    PIECE_BYTES,
    maxsim_batch,
    maxsim_bounds,
    pack_int8,
    pack_tokens,
    survivors,
    unpack_int8,
    unpack_tokens,
)

if TYPE_CHECKING:
    from univec.integrations.milvus._engine import MilvusEngine

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
    def search(
        self,
        engine: MilvusEngine,
        *,
        mode: SearchMode,
        dense: np.ndarray | None,
        multi: np.ndarray | None,
        limit: int,
        candidates: int,
        expression: str | None,
    ) -> list[EngineHit]:
        """Dense search in Milvus; ``hybrid`` and ``multi`` score candidates by exact MaxSim.

        Candidates are first bounded from their int8 codes; only those whose upper bound
        reaches the ``limit``-th lower bound are read in float32 and scored exactly.
        """
        if mode == "dense":
            return engine.dense_search(dense, limit, expression, with_payload=True)
        query = np.asarray(multi, np.float32)
        if mode == "hybrid":
            pool = [hit.point_id for hit in engine.dense_search(dense, candidates, expression)]
        else:
            pool = engine.list_ids(expression)
        return self._rerank(engine, query, pool, limit)

    def _rerank(
        self, engine: MilvusEngine, query: np.ndarray, pool: list[str], limit: int
    ) -> list[EngineHit]:
        """The ``limit`` best of ``pool`` by exact MaxSim, reading few float32 vectors."""
        lower = np.zeros(len(pool), np.float32)
        upper = np.zeros(len(pool), np.float32)
        position = {point: index for index, point in enumerate(pool)}
        seen = np.zeros(len(pool), dtype=bool)
        for start in range(0, len(pool), INT8_PAGE):
            rows = engine.get_rows(pool[start : start + INT8_PAGE], [TOKENS_INT8], page=INT8_PAGE)
            at = [position[row[ID]] for row in rows]
            sketches = [unpack_int8(row.get(TOKENS_INT8) or [], self.multi_dim) for row in rows]
            lower[at], upper[at] = maxsim_bounds(query, sketches)
            seen[at] = True
        pool = [point for point, present in zip(pool, seen, strict=True) if present]
        lower, upper = lower[seen], upper[seen]
        finalists = [pool[i] for i in survivors(lower, upper, limit)]
        hits: list[EngineHit] = []
        for start in range(0, len(finalists), TOKEN_PAGE):
            rows = engine.get_rows(finalists[start : start + TOKEN_PAGE], [PAYLOAD, TOKENS])
            tokens = [unpack_tokens(row.get(TOKENS) or [], self.multi_dim) for row in rows]
            scores = maxsim_batch(query, tokens)
            hits.extend(
                EngineHit(row[ID], float(score), row[PAYLOAD])
                for row, score in zip(rows, scores, strict=True)
            )
        hits.sort(key=lambda hit: hit.score, reverse=True)
        return hits[:limit]
