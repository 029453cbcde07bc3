"""``MilvusEngine``: the :class:`univec.collections.CollectionEngine` of Milvus, Lite or server.

It owns every ``MilvusClient`` call. What differs between the two storage layouts (the schema,
how token vectors are stored, how MaxSim is scored) lives in ``_native.py`` / ``_portable.py``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from univec._optional import require
from univec.collections import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    CollectionEngine,
    CollectionSchema,
    EngineHit,
    FieldCondition,
    PointRecord,
    SearchMode,
)
from univec.collections.filters import FilterNode
from univec.errors import (
    ClosedError,
    CollectionError,
    ConfigurationError,
    InvalidArgumentError,
    SchemaMismatchError,
)
from univec.secrets import describe_error, redact_url, url_password
from univec_milvus._create import open_layout
from univec_milvus._detect import (
    DENSE,
    ID,
    LAYOUTS,
    MUVERA,
    PAYLOAD,
    TOKENS,
    is_lite,
    parse_version,
)
from univec_milvus._filters import Expression, both, first_parts, quote, request, to_expression
from univec_milvus._native import NativeLayout
from univec_milvus._portable import PortableLayout

#: Where Milvus Lite keeps collections when no ``uri`` or ``client`` is given.
DEFAULT_URI = "./univec.db"
#: Milvus returns at most this many rows per query and hits per search.
QUERY_CAP = 16_384
#: Upper bound of one upsert request (servers refuse gRPC messages over 64 MB by default).
MAX_REQUEST_BYTES = 32 * 1024 * 1024
#: Point ids are UUIDs: a listing that hits QUERY_CAP is split by these id prefixes.
ID_ALPHABET = "0123456789abcdef-"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


class MilvusEngine(CollectionEngine):
    """A univec collection in Milvus: Milvus Lite (a ``.db`` path) or a server / Zilliz Cloud.

    Args:
        name: Collection name (letters, digits, underscores; not starting with a digit).
        uri: A local ``.db`` path (Milvus Lite, in-process) or a server URI.
        token: ``"user:password"`` or an API key of the server; never shown in reprs, errors
            or logs.
        client: An existing ``pymilvus.MilvusClient`` (left open by :meth:`close`).
        layout: ``"auto"`` (native where the server supports it), ``"native"`` or ``"portable"``.
        client_options: Further ``MilvusClient`` options (``timeout``, ``db_name``, ...).
    """

    def __init__(
        self,
        name: str,
        *,
        uri: str | Path = DEFAULT_URI,
        token: str | None = None,
        client: Any = None,
        layout: str = "auto",
        **client_options: Any,
    ) -> None:
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise ConfigurationError(
                f"Milvus collection name {name!r} is invalid: use letters, digits and "
                "underscores, starting with a letter or underscore (at most 255 characters)."
            )
        if layout not in LAYOUTS:
            raise ConfigurationError(f"layout={layout!r} is not one of {list(LAYOUTS)}.")
        pymilvus = require("pymilvus", "milvus")
        self.name = name
        self.requested_layout = layout
        self._secret = token or None
        self._owns_client = client is None
        self._finalizer: weakref.finalize | None = None
        self.uri = str(uri) if client is None else None
        self.layout: NativeLayout | PortableLayout | None = None
        if client is None:
            uri = str(uri)
            if uri.endswith(".db"):  # Milvus Lite: its parent directory must exist
                Path(uri).expanduser().resolve().parent.mkdir(parents=True, exist_ok=True)
            lite = lite_path(uri)
            if lite is not None:
                _lite_open(lite)  # counted before the client starts the server
            try:
                client = pymilvus.MilvusClient(uri=uri, token=token or "", **client_options)
            except Exception as exc:  # bad URI, unreachable server, bad option
                if lite is not None:
                    _lite_close(lite)
                raise CollectionError(
                    f"Cannot connect to Milvus at {redact_url(uri)!r}: {self._scrub(exc)}"
                ) from None  # the original may carry connection parameters
            # Closed by close(), or when the engine is garbage collected without it: the
            # client's channel, and the Milvus Lite server once its last user is gone.
            self._finalizer = weakref.finalize(self, _release, client, lite)
            self._finalizer.atexit = False
        self._client: Any = client
        self._templates: bool | None = None  # whether the server has expression templates

    def __repr__(self) -> str:
        where = redact_url(self.uri) if self.uri is not None else "client"
        layout = self.layout.name if self.layout is not None else self.requested_layout
        return f"MilvusEngine(name={self.name!r}, uri={where!r}, layout={layout!r})"

    @property
    def client(self) -> Any:
        """The ``MilvusClient``."""
        if self._client is None:
            raise ClosedError(f"The Milvus collection {self.name!r} is closed.")
        return self._client

    @property
    def max_part_tokens(self) -> int:
        """Most token vectors one row of this collection's layout holds."""
        if self.layout is None:
            raise CollectionError(f"The Milvus collection {self.name!r} is not open yet.")
        return self.layout.max_part_tokens

    # ------------------------------------------------------------------ schema
    def ensure_collection(self, schema: CollectionSchema) -> None:
        """Create the collection (native layout where supported), or check the existing one.

        Raises:
            SchemaMismatchError: The existing collection has other dimensions or layout, or
                was not created by univec.
            ConfigurationError: ``layout="native"`` on a Milvus that cannot hold it.
        """
        self.layout = open_layout(self, schema)

    # ------------------------------------------------------------------ writes
    def upsert(self, records: Sequence[PointRecord]) -> None:
        """Insert or replace rows by point id, in requests of at most ~32 MB."""
        layout = self._layout()
        for batch in _batches(records, layout.row_bytes):
            rows = [
                {
                    ID: record.point_id,
                    DENSE: np.asarray(record.dense, np.float32).tolist(),
                    PAYLOAD: record.payload,
                    **layout.token_fields(record.multi),
                    **(
                        {MUVERA: np.asarray(record.muvera, np.float32).tolist()}
                        if record.muvera is not None
                        else {}
                    ),
                }
                for record in batch
            ]
            self.call(self.client.upsert, self.name, rows)

    def delete(self, point_ids: Sequence[str]) -> None:
        """Delete rows; missing ids are ignored."""
        ids = list(dict.fromkeys(point_ids))
        for start in range(0, len(ids), 1000):
            self.call(self.client.delete, self.name, ids=ids[start : start + 1000])

    # ------------------------------------------------------------------ reads
    def retrieve(self, point_ids: Sequence[str], *, with_multi: bool = False) -> list[PointRecord]:
        """Rows by id, in the order asked (missing ids skipped); tokens only if ``with_multi``."""
        layout = self._layout()
        fields = [PAYLOAD, DENSE, TOKENS] if with_multi else [PAYLOAD, DENSE]
        rows = {row[ID]: row for row in self.get_rows(point_ids, fields, page=100)}
        records = []
        for point in dict.fromkeys(point_ids):
            row = rows.get(point)
            if row is None:
                continue
            payload = dict(row.get(PAYLOAD) or {})
            multi = layout.tokens_of(row) if with_multi else None
            records.append(
                PointRecord(
                    point_id=point,
                    document_id=payload.get(PAYLOAD_DOCUMENT_ID, ""),
                    part=int(payload.get(PAYLOAD_PART, 0)),
                    part_count=int(payload.get(PAYLOAD_PART_COUNT, 1)),
                    dense=np.asarray(row.get(DENSE, []), np.float32),
                    multi=multi if multi is not None else np.zeros((0, layout.multi_dim), "f4"),
                    payload=payload,
                )
            )
        return records

    def count(self, filter: FilterNode | str | None = None) -> int:
        """Number of rows matching ``filter``."""
        return self._count(self.expression(filter))

    def count_documents(self, filter: FilterNode | str | None = None) -> int:
        """Number of documents (their part 0) matching ``filter``."""
        return self._count(first_parts(self.expression(filter)))

    def _count(self, expression: Expression | None) -> int:
        rows = self.call(
            self.client.query, self.name, output_fields=["count(*)"], **request(expression)
        )
        return int(rows[0]["count(*)"]) if rows else 0

    def expression(
        self, filter: FilterNode | Sequence[FieldCondition] | str | None
    ) -> Expression | None:
        """``filter`` as a Milvus expression, its values bound as ``filter_params`` where the
        server has expression templates (Milvus >= 2.5; Milvus Lite has none)."""
        if self._templates is None:
            version = str(self.call(self.client.get_server_version))
            parsed = parse_version(version)
            self._templates = not is_lite(version) and (parsed is None or parsed >= (2, 5, 0))
        return to_expression(filter, templates=self._templates)

    def scroll(
        self, filter: FilterNode | str | None = None, limit: int | None = None
    ) -> list[PointRecord]:
        """First parts of the documents matching ``filter`` (payloads only)."""
        ids = self.list_ids(first_parts(self.expression(filter)))
        if limit is not None:
            ids = ids[:limit]
        rows = {row[ID]: row for row in self.get_rows(ids, [PAYLOAD])}
        records = []
        for point in ids:
            if point not in rows:
                continue
            payload = dict(rows[point].get(PAYLOAD) or {})
            records.append(
                PointRecord(
                    point_id=point,
                    document_id=payload.get(PAYLOAD_DOCUMENT_ID, ""),
                    part=int(payload.get(PAYLOAD_PART, 0)),
                    part_count=int(payload.get(PAYLOAD_PART_COUNT, 1)),
                    dense=np.zeros(0, np.float32),
                    multi=np.zeros((0, 0), np.float32),
                    payload=payload,
                )
            )
        return records

    def search(
        self,
        *,
        mode: SearchMode,
        dense: np.ndarray | None,
        multi: np.ndarray | None,
        limit: int,
        candidates: int,
        filter: FilterNode | str | None,
    ) -> list[EngineHit]:
        """Best rows first; ``filter`` is FieldConditions or a Milvus expression string.

        ``dense`` is a cosine search on both layouts; ``multi`` and ``hybrid`` are scored by
        the layout (see ``_native`` / ``_portable``).
        """
        layout, expression = self._layout(), self.expression(filter)
        limit, candidates = min(limit, QUERY_CAP), min(candidates, QUERY_CAP)
        if mode == "dense":
            return self.dense_search(dense, limit, expression, with_payload=True)
        query = np.asarray(multi, np.float32)
        if mode == "hybrid":
            return layout.hybrid_search(self, dense, query, limit, candidates, expression)
        return layout.multi_search(self, query, limit, expression)

    # ------------------------------------------------------------------ requests layouts use
    def dense_search(
        self,
        vector: np.ndarray | None,
        limit: int,
        expression: Expression | None,
        *,
        with_payload: bool = False,
    ) -> list[EngineHit]:
        """Cosine search of the dense vectors (payloads only if ``with_payload``)."""
        fields = [PAYLOAD] if with_payload else [ID]
        return [
            EngineHit(row[ID], row["distance"], dict(row.get(PAYLOAD) or {}))
            for row in self.dense_rows(vector, limit, expression, fields)
        ]

    def dense_rows(
        self,
        vector: np.ndarray | None,
        limit: int,
        expression: Expression | None,
        fields: list[str],
        *,
        field: str = DENSE,
        metric: str = "COSINE",
    ) -> list[dict[str, Any]]:
        """Search of one vector ``field`` (cosine of ``dense`` by default), returning rows:
        ``id``, ``distance`` and the ``fields`` asked for."""
        results = self.call(
            self.client.search,
            self.name,
            data=[np.asarray(vector, np.float32).tolist()],
            anns_field=field,
            limit=limit,
            output_fields=fields,  # never empty: [] returns every field, token vectors included
            search_params={"metric_type": metric},
            **request(expression),
        )
        return [
            {**(hit.get("entity") or {}), ID: str(hit["id"]), "distance": float(hit["distance"])}
            for hit in (results[0] if results else [])
        ]

    def run_search(self, request: dict[str, Any]) -> list[EngineHit]:
        """One ``MilvusClient.search`` of one query vector (or embedding list)."""
        results = self.call(self.client.search, self.name, **request)
        hits = results[0] if results else []
        return [
            EngineHit(
                str(hit["id"]),
                float(hit["distance"]),
                dict((hit.get("entity") or {}).get(PAYLOAD) or {}),
            )
            for hit in hits
        ]

    def get_rows(
        self, point_ids: Sequence[str], fields: list[str], *, page: int = 1000
    ) -> list[dict[str, Any]]:
        """Rows by id with ``fields`` (in pages of ``page`` ids); missing ids are skipped."""
        ids = list(point_ids)
        rows: list[dict[str, Any]] = []
        for start in range(0, len(ids), page):
            rows.extend(
                self.call(
                    self.client.get, self.name, ids=ids[start : start + page], output_fields=fields
                )
            )
        return rows

    def list_ids(self, expression: Expression | None) -> list[str]:
        """Ids of every row matching ``expression``, sorted, within Milvus' 16,384-row cap.

        One query when fewer rows match; otherwise the id space is split by prefix
        (``id like "3f%"``) until every part fits.
        """
        found: list[str] = []
        prefixes = [""]
        while prefixes:
            prefix = prefixes.pop()
            narrowed = both(
                Expression(f"{ID} like {quote(prefix + '%')}") if prefix else None, expression
            )
            rows = self.call(
                self.client.query,
                self.name,
                output_fields=[ID],
                limit=QUERY_CAP,
                **request(narrowed),
            )
            if len(rows) < QUERY_CAP:
                found.extend(str(row[ID]) for row in rows)
            else:
                prefixes.extend(prefix + char for char in ID_ALPHABET)
        return sorted(set(found))

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Close the client if this engine created it (a client passed in stays open).

        Milvus Lite serves a ``.db`` path from threads of this process; when the last engine
        using that path closes, its server stops and frees its memory, threads and files.
        """
        if self._client is not None:
            self._client = None
            if self._finalizer is not None:
                self._finalizer()

    # ------------------------------------------------------------------ helpers
    def _layout(self) -> NativeLayout | PortableLayout:
        if self.layout is None:
            raise CollectionError(f"The Milvus collection {self.name!r} is not open yet.")
        return self.layout

    def call(self, method: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one client call; its errors become :class:`CollectionError` without the token."""
        try:
            return method(*args, **kwargs)
        except (SchemaMismatchError, InvalidArgumentError, ConfigurationError):
            raise
        except Exception as exc:  # pymilvus and gRPC errors of many types
            raise CollectionError(
                f"Milvus request on collection {self.name!r} failed: {self._scrub(exc)}"
            ) from None  # the original may carry connection parameters

    def _scrub(self, exc: BaseException) -> str:
        return describe_error(exc, self._secret, url_password(self.uri))


_lite_lock = threading.Lock()
_lite_users: dict[str, int] = {}


def lite_path(uri: str) -> str | None:
    """The absolute ``.db`` path a Milvus Lite URI names (as Milvus Lite keys its servers)."""
    return os.path.abspath(os.path.expanduser(uri)) if uri.endswith(".db") else None


def _lite_open(path: str) -> None:
    with _lite_lock:
        _lite_users[path] = _lite_users.get(path, 0) + 1


def _lite_close(path: str) -> None:
    """Forget one user of ``path``; stop its Milvus Lite server when it was the last."""
    with _lite_lock:
        users = _lite_users.get(path, 0) - 1
        if users > 0:
            _lite_users[path] = users
            return
        _lite_users.pop(path, None)
    with contextlib.suppress(ImportError):
        from milvus_lite.server_manager import server_manager_instance

        entry = getattr(server_manager_instance, "_servers", {}).get(path)
        server_manager_instance.release_server(path)
        # grpc's Server.stop() leaves the worker pool Milvus Lite gave it running: its idle
        # threads would outlive the server. Stop them too (a private attribute: best effort).
        pool = getattr(getattr(entry[0], "_state", None), "thread_pool", None) if entry else None
        if pool is not None:
            with contextlib.suppress(Exception):
                pool.shutdown(wait=False)
    _return_freed_memory()


def _return_freed_memory() -> None:
    """Hand the heap a stopped Milvus Lite server freed back to the OS (glibc keeps it)."""
    with contextlib.suppress(Exception):  # not glibc (macOS, Windows, musl): nothing to do
        import ctypes

        gc.collect()
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _release(client: Any, lite: str | None) -> None:
    """Close an engine's own client, then its share of the Milvus Lite server."""
    try:
        with contextlib.suppress(Exception):  # a client whose server is gone already
            client.close()
    finally:
        if lite is not None:
            _lite_close(lite)


def _batches(records: Sequence[PointRecord], size_of: Any) -> Iterator[list[PointRecord]]:
    batch: list[PointRecord] = []
    total = 0
    for record in records:
        size = size_of(record)
        if batch and total + size > MAX_REQUEST_BYTES:
            yield batch
            batch, total = [], 0
        batch.append(record)
        total += size
    if batch:
        yield batch
