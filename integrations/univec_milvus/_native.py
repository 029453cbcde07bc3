"""The native layout: Milvus >= 2.6.4 servers and clusters score MaxSim themselves.

Each point is one row: ``id``, ``dense`` (cosine, AUTOINDEX), ``payload`` (JSON) and ``tokens``,
an ARRAY of STRUCT whose ``vector`` sub-field holds the 128-d token vectors: an embedding list,
indexed with HNSW and the ``MAX_SIM_IP`` metric (the sum over query tokens of the best inner
product, i.e. MaxSim of unit vectors). ``multi`` is one embedding-list search; ``hybrid`` is a
dense search for the candidates, then an embedding-list search restricted to them.

The request builders below are pure functions so that tests can check them without a server.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

from univec.collections import CollectionSchema, EngineHit, PointRecord
from univec_milvus._detect import (
    DENSE,
    ID,
    LAYOUT_PROPERTY,
    PAYLOAD,
    STORAGE_PROPERTY,
    TOKEN_VECTOR,
    TOKENS,
)
from univec_milvus._filters import Expression, both, ids_in, request

if TYPE_CHECKING:
    from univec_milvus._engine import MilvusEngine

#: The embedding-list field as index and search requests name it.
TOKENS_FIELD = f"{TOKENS}[{TOKEN_VECTOR}]"
METRIC = "MAX_SIM_IP"
#: Token vectors per row: Milvus caps an ARRAY at 4,096 elements; longer documents are split.
MAX_TOKENS = 4096
HNSW_BUILD = {"M": 16, "efConstruction": 200}
EF_SEARCH = 128


def collection_schema(client: Any, schema: CollectionSchema) -> Any:
    """The pymilvus ``CollectionSchema``: dense vector, payload and the token StructArray."""
    from pymilvus import DataType

    fields = client.create_schema(auto_id=False, enable_dynamic_field=False)
    fields.add_field(ID, DataType.VARCHAR, is_primary=True, max_length=64)
    fields.add_field(DENSE, DataType.FLOAT_VECTOR, dim=schema.dense_dim)
    fields.add_field(PAYLOAD, DataType.JSON)
    token = client.create_struct_field_schema()
    token.add_field(TOKEN_VECTOR, DataType.FLOAT_VECTOR, dim=schema.multi_dim)
    fields.add_field(
        TOKENS,
        DataType.ARRAY,
        element_type=DataType.STRUCT,
        struct_schema=token,
        max_capacity=MAX_TOKENS,
    )
    return fields


def index_params(client: Any) -> Any:
    """Cosine AUTOINDEX on ``dense``; HNSW with ``MAX_SIM_IP`` on the embedding lists."""
    params = client.prepare_index_params()
    params.add_index(DENSE, index_type="AUTOINDEX", metric_type="COSINE")
    params.add_index(TOKENS_FIELD, index_type="HNSW", metric_type=METRIC, params=dict(HNSW_BUILD))
    return params


def maxsim_request(
    multi: np.ndarray, limit: int, expression: Expression | None, *, ef: int = EF_SEARCH
) -> dict[str, Any]:
    """Keyword arguments of ``MilvusClient.search`` for an embedding-list (MaxSim) search."""
    from pymilvus.client.embedding_list import EmbeddingList

    query = np.ascontiguousarray(multi, dtype=np.float32)
    return {
        "data": [EmbeddingList(query, dim=query.shape[1])],
        "anns_field": TOKENS_FIELD,
        "limit": limit,
        "output_fields": [PAYLOAD],
        "search_params": {"metric_type": METRIC, "params": {"ef": max(ef, limit)}},
        **request(expression),
    }


def hybrid_filter(candidates: list[str], expression: Expression | None) -> Expression | None:
    """The filter of a hybrid search's MaxSim step: the dense candidates (and ``expression``)."""
    return both(ids_in(candidates), expression)


class NativeLayout:
    """StructArray of token vectors; Milvus computes MaxSim."""

    name = "native"
    max_part_tokens: int = MAX_TOKENS

    def __init__(self, multi_dim: int) -> None:
        self.multi_dim = multi_dim

    def collection_schema(self, client: Any, schema: CollectionSchema) -> Any:
        """See :func:`collection_schema`."""
        return collection_schema(client, schema)

    def index_params(self, client: Any) -> Any:
        """See :func:`index_params`."""
        return index_params(client)

    def properties(self, schema: CollectionSchema) -> dict[str, str]:
        """Collection properties (the schema itself records the token size)."""
        return {LAYOUT_PROPERTY: self.name, STORAGE_PROPERTY: json.dumps(schema.storage.as_dict())}

    # ------------------------------------------------------------------ rows
    def token_fields(self, multi: np.ndarray) -> dict[str, Any]:
        """The token field of a row: one struct per token vector."""
        return {TOKENS: [{TOKEN_VECTOR: row} for row in np.asarray(multi, np.float32)]}

    def tokens_of(self, row: dict[str, Any]) -> np.ndarray:
        """Token vectors from a row read with the ``tokens`` field."""
        vectors = [element[TOKEN_VECTOR] for element in row.get(TOKENS) or []]
        if not vectors:
            return np.zeros((0, self.multi_dim), np.float32)
        return np.asarray(vectors, np.float32)

    def row_bytes(self, record: PointRecord) -> int:
        """Approximate request bytes of one row (to size upsert batches)."""
        return int(np.asarray(record.multi).size) * 5 + 4096

    # ------------------------------------------------------------------ search
    def multi_search(
        self, engine: MilvusEngine, query: np.ndarray, limit: int, expression: Expression | None
    ) -> list[EngineHit]:
        """One embedding-list search: Milvus scores MaxSim (by HNSW)."""
        return engine.run_search(maxsim_request(query, limit, expression))

    def hybrid_search(
        self,
        engine: MilvusEngine,
        dense: np.ndarray | None,
        query: np.ndarray,
        limit: int,
        candidates: int,
        expression: Expression | None,
    ) -> list[EngineHit]:
        """Dense candidates, then an embedding-list search restricted to them."""
        pool = [hit.point_id for hit in engine.dense_search(dense, candidates, expression)]
        if not pool:
            return []
        # The candidates already match the filter.
        request = maxsim_request(query, min(limit, len(pool)), hybrid_filter(pool, None))
        return engine.run_search(request)
