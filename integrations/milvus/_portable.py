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

import base64
from collections.abc import Sequence
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
)

if TYPE_CHECKING:
    from univec.integrations.milvus._engine import MilvusEngine

#: Raw bytes per ARRAY element: a multiple of 3 (pieces concatenate as base64), and its base64
#: form (65,532 characters) fits a VARCHAR of 65,535 bytes.
PIECE_BYTES = 49_149
MAX_PIECES = 4096  # the largest ARRAY capacity Milvus allows
#: Rows per ``get`` while reading token vectors (larger pages were slower on Milvus Lite).
TOKEN_PAGE = 100


def pack_tokens(multi: np.ndarray) -> list[str]:
    """Token vectors as base64 pieces of little-endian float32 bytes."""
    raw = np.ascontiguousarray(multi, dtype="<f4").tobytes()
    return [
        base64.b64encode(raw[start : start + PIECE_BYTES]).decode("ascii")
        for start in range(0, len(raw), PIECE_BYTES)
    ]


def unpack_tokens(pieces: Sequence[str], dim: int) -> np.ndarray:
    """The ``(n_tokens, dim)`` float32 array that :func:`pack_tokens` packed (read-only)."""
    raw = base64.b64decode("".join(pieces)) if pieces else b""
    return np.frombuffer(raw, dtype="<f4").reshape(-1, dim)


def maxsim_batch(query: np.ndarray, documents: Sequence[np.ndarray]) -> np.ndarray:
    """MaxSim of one query against many documents with one matrix product.

    The same sums as :func:`univec.maxsim` (empty documents score 0), but one BLAS call for a
    page of candidates instead of one per document: 2-10x faster, most on a busy machine.
    """
    scores = np.zeros(len(documents), dtype=np.float32)
    filled = [i for i, document in enumerate(documents) if len(document)]
    if not filled or not len(query):
        return scores
    lengths = np.array([len(documents[i]) for i in filled])
    tokens = np.concatenate([documents[i] for i in filled]).astype(np.float32, copy=False)
    similarities = np.asarray(query, np.float32) @ tokens.T  # (query tokens, all tokens)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    scores[filled] = np.maximum.reduceat(similarities, starts, axis=1).sum(axis=0)
    return scores


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
        fields.add_field(
            TOKENS,
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
    def tokens_value(self, multi: np.ndarray) -> list[str]:
        """The ``tokens`` value of a row."""
        return pack_tokens(multi)

    def tokens_of(self, value: Any) -> np.ndarray:
        """Token vectors from a row's ``tokens`` value."""
        return unpack_tokens(value or [], self.multi_dim).copy()

    def row_bytes(self, record: PointRecord) -> int:
        """Approximate request bytes of one row (to size upsert batches)."""
        return int(np.asarray(record.multi).size) * 16 // 3 + 4096

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
        """Dense search in Milvus; ``hybrid`` and ``multi`` rerank fetched rows by exact MaxSim."""
        if mode == "dense":
            return engine.dense_search(dense, limit, expression, with_payload=True)
        query = np.asarray(multi, np.float32)
        if mode == "hybrid":
            pool = [hit.point_id for hit in engine.dense_search(dense, candidates, expression)]
            rows = engine.get_rows(pool, [PAYLOAD, TOKENS])
            scores = self._scores(query, rows)
            order = np.argsort(-scores, kind="stable")[:limit]
            return [EngineHit(rows[i][ID], float(scores[i]), rows[i][PAYLOAD]) for i in order]
        return self._scan(engine, query, limit, expression)

    def _scores(self, query: np.ndarray, rows: list[dict[str, Any]]) -> np.ndarray:
        tokens = [unpack_tokens(row.get(TOKENS) or [], self.multi_dim) for row in rows]
        return maxsim_batch(query, tokens)

    def _scan(
        self, engine: MilvusEngine, query: np.ndarray, limit: int, expression: str | None
    ) -> list[EngineHit]:
        """Exact MaxSim over every matching point, reading token vectors page by page."""
        ids = engine.list_ids(expression)
        scores = np.full(len(ids), -np.inf, dtype=np.float32)
        position = {point: index for index, point in enumerate(ids)}
        for start in range(0, len(ids), TOKEN_PAGE):
            rows = engine.get_rows(ids[start : start + TOKEN_PAGE], [TOKENS], page=TOKEN_PAGE)
            scores[[position[row[ID]] for row in rows]] = self._scores(query, rows)
        if not ids:
            return []
        top = np.argsort(-scores, kind="stable")[:limit]
        best = [ids[i] for i in top if np.isfinite(scores[i])]
        payloads = {row[ID]: row[PAYLOAD] for row in engine.get_rows(best, [PAYLOAD])}
        return [
            EngineHit(point, float(scores[position[point]]), payloads[point])
            for point in best
            if point in payloads  # deleted meanwhile
        ]
