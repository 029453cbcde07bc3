"""The client engine: a Qdrant server, cluster or Cloud (or ``:memory:``) via ``qdrant-client``."""

from __future__ import annotations

from collections.abc import Sequence
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
from univec.errors import ClosedError, CollectionError, InvalidArgumentError, SchemaMismatchError
from univec.secrets import describe_error, redact_url, url_password
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


class ClientEngine(CollectionEngine):
    """A collection reached through ``qdrant_client.QdrantClient``.

    Args:
        name: Collection name.
        client: An existing client (not closed by :meth:`close`), or ``None`` to make one.
        url: Server URL, e.g. ``"http://localhost:6333"`` or a Qdrant Cloud URL.
        api_key: Key of the server; never shown in reprs, errors or logs.
        hnsw: HNSW settings of the dense vector.
        client_options: Further ``QdrantClient`` options (``timeout``, ``prefer_grpc``, ...).
    """

    #: Most vector values sent in one upsert request (about 20 MB of JSON).
    max_request_floats: int = 2_000_000

    def __init__(
        self,
        name: str,
        *,
        client: Any = None,
        url: str | None = None,
        api_key: str | None = None,
        hnsw: HnswSettings | None = None,
        **client_options: Any,
    ) -> None:
        qdrant_client = require("qdrant_client", "qdrant")
        self._models = qdrant_client.models
        self._filters = _ClientFilters(self._models)
        self.name = check_collection_name(name)
        self.url = url
        self.hnsw = hnsw or HnswSettings()
        self._secret = api_key
        self._password = url_password(url)
        self._owns_client = client is None
        self._schema = CollectionSchema(dense_dim=0)  # set by ensure_collection
        if client is None:
            try:
                client = qdrant_client.QdrantClient(url=url, api_key=api_key, **client_options)
            except Exception as exc:  # bad URL or option
                raise CollectionError(
                    f"Cannot create a Qdrant client for {redact_url(str(url))!r}: "
                    f"{self._scrub(exc)}"
                ) from None
        self._client: Any = client
        # The in-process mode (":memory:" or a local path) always scans exactly and warns
        # when given search params.
        self._local = type(getattr(client, "_client", None)).__name__ == "QdrantLocal"

    def __repr__(self) -> str:
        where = redact_url(self.url) if self.url is not None else "client"
        return f"ClientEngine(name={self.name!r}, url={where!r})"

    @property
    def client(self) -> Any:
        """The ``QdrantClient``."""
        if self._client is None:
            raise ClosedError(f"The Qdrant collection {self.name!r} is closed.")
        return self._client

    # ------------------------------------------------------------------ schema
    def muvera_encoding(self, dim: int) -> MuveraEncoding:
        """Qdrant stores the MUVERA encoding in float16: the 3,072-d shape."""
        return qdrant_muvera(dim)

    def ensure_collection(self, schema: CollectionSchema) -> None:
        """Create the collection on first use; check the schema of an existing one."""
        models = self._models
        self._schema = schema
        if self._call(self.client.collection_exists, self.name):
            info = self._call(self.client.get_collection, self.name)
            metadata = getattr(info.config, "metadata", None) or {}
            where = f"Qdrant collection {self.name!r}"
            check_options(where, schema, metadata.get(OPTIONS_KEY))
            vectors = info.config.params.vectors
            if not isinstance(vectors, dict):
                vectors = {"": vectors} if vectors is not None else {}
            check_schema(
                where,
                schema,
                {name: _vector_facts(params) for name, params in vectors.items()},
            )
            return
        hnsw = models.HnswConfigDiff(
            m=self.hnsw.m,
            ef_construct=self.hnsw.ef_construct,
            full_scan_threshold=self.hnsw.full_scan_threshold,
        )
        vectors_config = {
            DENSE: models.VectorParams(
                size=schema.dense_dim, distance=models.Distance.COSINE, hnsw_config=hnsw
            ),
            # MaxSim of unit-norm token vectors with Dot: exact, no renormalisation.
            MULTI: models.VectorParams(
                size=schema.multi_dim,
                distance=models.Distance.DOT,
                multivector_config=models.MultiVectorConfig(
                    comparator=models.MultiVectorComparator.MAX_SIM
                ),
                hnsw_config=models.HnswConfigDiff(m=0),
                **self._precision(schema),
            ),
        }
        if MUVERA in expected_vectors(schema):
            vectors_config[MUVERA] = models.VectorParams(  # float16: half the bytes
                size=expected_vectors(schema)[MUVERA]["size"],
                distance=models.Distance.DOT,
                hnsw_config=hnsw,
                datatype=models.Datatype.FLOAT16,
            )
        self._call(
            self.client.create_collection,
            self.name,
            vectors_config=vectors_config,
            metadata={OPTIONS_KEY: schema.storage.as_dict()},
        )

    def _precision(self, schema: CollectionSchema) -> dict[str, Any]:
        """``float16`` storage, or a quantised copy in RAM with float32 originals on disk."""
        models, precision = self._models, schema.storage.token_precision
        if precision == "float16":
            return {"datatype": models.Datatype.FLOAT16}
        if precision == "int8":
            config = models.ScalarQuantizationConfig(type=models.ScalarType.INT8, always_ram=True)
            return {
                "quantization_config": models.ScalarQuantization(scalar=config),
                "on_disk": True,
            }
        if precision == "binary":
            config = models.BinaryQuantizationConfig(always_ram=True)
            return {
                "quantization_config": models.BinaryQuantization(binary=config),
                "on_disk": True,
            }
        return {}

    # ------------------------------------------------------------------ writes
    def upsert(self, records: Sequence[PointRecord]) -> None:
        """Insert or replace points by id (waits until they are searchable).

        Requests stay under ``max_request_floats`` vector values, well inside the server's
        32 MB request limit once written as JSON.
        """
        batch: list[Any] = []
        size = 0
        for record in records:
            floats = int(np.size(record.multi) + np.size(record.dense))
            if batch and size + floats > self.max_request_floats:
                self._call(self.client.upsert, self.name, points=batch, wait=True)
                batch, size = [], 0
            batch.append(
                self._models.PointStruct(
                    id=record.point_id,
                    vector=_vectors(record),
                    payload=record.payload,
                )
            )
            size += floats
        if batch:
            self._call(self.client.upsert, self.name, points=batch, wait=True)

    def delete(self, point_ids: Sequence[str]) -> None:
        """Delete points; missing ids are ignored."""
        if point_ids:
            selector = self._models.PointIdsList(points=list(point_ids))
            self._call(self.client.delete, self.name, points_selector=selector, wait=True)

    # ------------------------------------------------------------------ reads
    def retrieve(self, point_ids: Sequence[str], *, with_multi: bool = False) -> list[PointRecord]:
        """Points by id (missing ids skipped); token vectors only if ``with_multi``."""
        if not point_ids:
            return []
        found = self._call(
            self.client.retrieve,
            self.name,
            ids=list(point_ids),
            with_payload=True,
            with_vectors=[DENSE, MULTI] if with_multi else [DENSE],
        )
        return [
            record_from_payload(str(point.id), point.payload or {}, point.vector or {})
            for point in found
        ]

    def count(self, filter: FilterNode | Any | None = None) -> int:
        """Number of points matching ``filter``."""
        result = self._call(
            self.client.count, self.name, count_filter=self._filter(filter), exact=True
        )
        return int(result.count)

    def count_documents(self, filter: FilterNode | Any | None = None) -> int:
        """Number of documents (their part 0) matching ``filter``."""
        only_first = first_parts_filter(filter, self._filters)
        result = self._call(self.client.count, self.name, count_filter=only_first, exact=True)
        return int(result.count)

    def scroll(
        self, filter: FilterNode | Any | None = None, limit: int | None = None
    ) -> list[PointRecord]:
        """First parts of the documents matching ``filter`` (payloads only), page by page."""
        native = first_parts_filter(filter, self._filters)

        def fetch(offset: Any, page: int) -> tuple[list[Any], Any]:
            return self._call(
                self.client.scroll,
                self.name,
                scroll_filter=native,
                limit=page,
                offset=offset,
                with_payload=True,
                with_vectors=False,
            )

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
        """One request: dense, exact MaxSim, or a dense prefetch reranked by MaxSim."""
        models = self._models
        native = self._filter(filter)
        params = None
        if not self._local:
            params = models.SearchParams(hnsw_ef=max(self.hnsw.ef_search, candidates, limit))
        if mode == "dense":
            query, using, prefetch = np.asarray(dense, np.float32).tolist(), DENSE, None
        else:
            query, using, prefetch = np.asarray(multi, np.float32).tolist(), MULTI, None
            if mode == "hybrid":
                prefetch = models.Prefetch(
                    query=np.asarray(dense, np.float32).tolist(),
                    using=MUVERA if MUVERA in expected_vectors(self._schema) else DENSE,
                    limit=candidates,
                    filter=native,
                    params=params,
                )
        response = self._call(
            self.client.query_points,
            self.name,
            query=query,
            using=using,
            prefetch=prefetch,
            query_filter=native,
            search_params=params if mode == "dense" else self._final_params(mode),
            limit=limit,
            with_payload=True,
        )
        return [EngineHit(str(p.id), float(p.score), p.payload or {}) for p in response.points]

    def _final_params(self, mode: SearchMode) -> Any:
        """MaxSim-stage params: quantised token vectors are rescored from the float originals.

        See ``EdgeEngine._final_params``: ``OVERSAMPLING`` x ``limit`` quantised hits are
        rescored from the float32 originals; ``binary`` ``hybrid`` scores every candidate in
        float.
        """
        if self._local or not quantised(self._schema):
            return None  # the in-process mode scores the float vectors exactly, always
        models = self._models
        if mode == "hybrid" and self._schema.storage.token_precision == "binary":
            quantization = models.QuantizationSearchParams(ignore=True)
        else:
            quantization = models.QuantizationSearchParams(rescore=True, oversampling=OVERSAMPLING)
        return models.SearchParams(quantization=quantization)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the client if this engine created it (a client passed in stays open)."""
        if self._client is not None:
            client, self._client = self._client, None
            if self._owns_client:
                client.close()

    # ------------------------------------------------------------------ helpers
    def _filter(self, filter: FilterNode | Any | None) -> Any:
        return native_filter(filter, self._filters)

    def _call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (SchemaMismatchError, InvalidArgumentError):
            raise
        except Exception as exc:  # transport and server errors of many types
            raise CollectionError(
                f"Qdrant request on collection {self.name!r} failed: {self._scrub(exc)}"
            ) from None  # the original may carry request headers

    def _scrub(self, exc: BaseException) -> str:
        return describe_error(exc, self._secret, self._password)


class _ClientFilters:
    """``qdrant_client.models`` filter objects (see ``_schema.FilterClasses``)."""

    filter_name = "qdrant_client.models.Filter"

    def __init__(self, models: Any) -> None:
        self._models = models
        self.filter_type = models.Filter

    def filter(
        self,
        *,
        must: list[Any] | None = None,
        should: list[Any] | None = None,
        must_not: list[Any] | None = None,
    ) -> Any:
        return self._models.Filter(must=must, should=should, must_not=must_not)

    def match_value(self, key: str, value: str | int | bool) -> Any:
        return self._models.FieldCondition(key=key, match=self._models.MatchValue(value=value))

    def match_any(self, key: str, values: list[Any]) -> Any:
        return self._models.FieldCondition(key=key, match=self._models.MatchAny(any=values))

    def range(self, key: str, bounds: dict[str, float]) -> Any:
        return self._models.FieldCondition(key=key, range=self._models.Range(**bounds))

    def datetime_range(self, key: str, bounds: dict[str, str]) -> Any:
        return self._models.FieldCondition(key=key, range=self._models.DatetimeRange(**bounds))

    def is_empty(self, key: str) -> Any:
        return self._models.IsEmptyCondition(is_empty=self._models.PayloadField(key=key))


def _vectors(record: PointRecord) -> dict[str, Any]:
    vectors = {
        DENSE: np.asarray(record.dense, np.float32).tolist(),
        MULTI: np.asarray(record.multi, np.float32).tolist(),
    }
    if record.muvera is not None:
        vectors[MUVERA] = np.asarray(record.muvera, np.float32).tolist()
    return vectors


def _vector_facts(params: Any) -> dict[str, Any]:
    multivector = getattr(params, "multivector_config", None)
    distance = getattr(params, "distance", "")
    return {
        "size": getattr(params, "size", None),
        "distance": str(getattr(distance, "value", distance)).lower(),
        "multivector": str(multivector.comparator.value).lower() if multivector else None,
    }
