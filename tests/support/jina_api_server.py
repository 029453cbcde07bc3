"""A real HTTP server on 127.0.0.1 speaking the Jina Embeddings API contract (tests only).

It answers ``POST /v1/embeddings`` as the hosted Jina Embeddings API documents it: it checks the bearer key,
validates the body strictly (unknown fields, tasks, dimensions, input kinds are 422), and serves
vectors computed by a :class:`univec.Encoder` (the tiny local one in tests) or cheap
deterministic fake vectors. It records every request and can inject faults.

Example:
    >>> with JinaAPIServer(encoder) as server:
    ...     server.inject("status", status=429, retry_after=0.2)
    ...     encoder = univec.Encoder.api("test-key", base_url=server.base_url, model_info=...)
    ...     encoder.encode(["hi"], task="retrieval.query")
    ...     server.requests[0].json["input"]
    ['hi']
"""

from __future__ import annotations

import base64
import binascii
import collections
import io
import json
import math
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

__all__ = ["FAULTS", "Fault", "JinaAPIServer", "RecordedRequest"]

TASKS = ("retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage")
FIELDS = {
    "model",
    "input",
    "task",
    "dimensions",
    "embedding_type",
    "truncate",
    "late_chunking",
    "return_multivector",
    "normalized",
}
MAX_INPUTS = 512

_COMMON = {"model", "input", "task", "dimensions", "embedding_type", "truncate"}
_V5_TASKS = (
    "retrieval.query",
    "retrieval.passage",
    "text-matching",
    "clustering",
    "classification",
)
_CODE_TASKS = tuple(
    f"{kind}.{side}"
    for kind in ("nl2code", "qa", "code2code", "code2nl", "code2completion")
    for side in ("query", "passage")
)


@dataclass(frozen=True)
class Schema:
    """One model's request schema, as the API's OpenAPI description gives it."""

    fields: frozenset[str]
    tasks: tuple[str, ...]
    max_dimensions: int
    images: bool
    max_inputs: int = 2048


#: The request schema of each model this server can serve (``JinaAPIServer(model=...)``).
SCHEMAS: dict[str, Schema] = {
    "jina-embeddings-v4": Schema(frozenset(FIELDS - {"normalized"}), TASKS, 2048, True, MAX_INPUTS),
    "jina-embeddings-v3": Schema(
        frozenset(_COMMON | {"late_chunking", "normalized"}),
        ("retrieval.query", "retrieval.passage", "text-matching", "classification", "separation"),
        1024,
        False,
    ),
    "jina-embeddings-v5-text-small": Schema(
        frozenset(_COMMON | {"normalized"}), _V5_TASKS, 1024, False
    ),
    "jina-embeddings-v5-text-nano": Schema(
        frozenset(_COMMON | {"normalized"}), _V5_TASKS, 1024, False
    ),
    "jina-clip-v2": Schema(frozenset(_COMMON | {"normalized"}), ("retrieval.query",), 1024, True),
    "jina-code-embeddings-0.5b": Schema(frozenset(_COMMON), _CODE_TASKS, 896, False),
    "jina-code-embeddings-1.5b": Schema(frozenset(_COMMON), _CODE_TASKS, 1536, False),
}
#: Fault kinds :meth:`JinaAPIServer.inject` accepts.
FAULTS = ("status", "drop", "slow", "shuffle", "short", "duplicate", "wrong_dim")


@dataclass
class RecordedRequest:
    """One request as the server received it.

    Attributes:
        method: HTTP method.
        path: Request path, e.g. ``/v1/embeddings``.
        headers: Header names lower-cased.
        json: The parsed JSON body (``None`` if absent or not JSON).
        received_at: ``time.monotonic()`` when the body was read.
        status: The status answered (``None`` for a dropped connection).
    """

    method: str
    path: str
    headers: dict[str, str]
    json: Any
    received_at: float
    status: int | None = None


@dataclass
class Fault:
    """A fault applied to one upcoming ``/embeddings`` request.

    Attributes:
        kind: One of :data:`FAULTS`: ``status`` (answer ``status`` with ``{"detail", "code"}``
            and optional ``Retry-After``), ``drop`` (close the connection without answering),
            ``slow`` (wait ``delay`` seconds, then answer normally), ``shuffle`` (reverse the
            order of ``data``), ``short`` (leave out the last item), ``duplicate`` (give the
            last item index 0), ``wrong_dim`` (cut one float off the first vector).
        status: HTTP status of a ``status`` fault.
        detail: Its ``detail``.
        code: Its ``code``.
        retry_after: Its ``Retry-After`` header (seconds), if any.
        delay: Seconds a ``slow`` fault waits.
    """

    kind: str
    status: int = 503
    detail: Any = "injected fault"
    code: str | None = None
    retry_after: float | str | None = None
    delay: float = 0.0


class _TokenBucket:
    def __init__(self, per_minute: float, burst: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute * burst)
        self.level = self.capacity
        self.updated = time.monotonic()

    def refill(self) -> float:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now
        return self.level


class JinaAPIServer:
    """A threaded HTTP server implementing the hosted API for tests and benchmarks.

    Args:
        encoder: The :class:`univec.Encoder` whose vectors are served, or ``None`` for fake
            deterministic unit vectors of size ``fake_dim`` (cheap, for benchmarks).
        api_key: The key every request must carry as ``Authorization: Bearer <key>``.
        model: The model name every request must name.
        fake_dim: Size of fake single vectors (without ``encoder``).
        fake_pool: Without ``encoder``, draw single vectors from a pool of this many
            precomputed ones (by a hash of the text) instead of making one per text: cheaper,
            for benchmarks that measure the client.
        multivector_format: How base64 multi-vectors are sent: ``"rows"`` (one base64 string
            per token vector) or ``"matrix"`` (one base64 string for the whole matrix).

    Attributes:
        base_url: ``http://127.0.0.1:<port>/v1``, to pass to ``Encoder.api``.
        requests: Every request received (see :class:`RecordedRequest`).
        latency: Seconds to wait before answering each request.
        max_in_flight: Most ``/embeddings`` requests handled at the same time.
        statuses: How many responses of each status were sent.
    """

    def __init__(
        self,
        encoder: Any = None,
        *,
        api_key: str = "test-key",
        model: str = "jina-embeddings-v4",
        fake_dim: int = 2048,
        fake_pool: int | None = None,
        multivector_format: str = "rows",
    ) -> None:
        self.encoder = encoder
        self.api_key = api_key
        self.model = model
        self.fake_dim = fake_dim
        self._pool = (
            [_fake_vector(f"pool {i}", "", fake_dim, False) for i in range(fake_pool)]
            if fake_pool
            else None
        )
        self.multivector_format = multivector_format
        #: Images served by ``GET /images/<name>`` (see :meth:`image_url`).
        self.images: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._request_counter = 0
        self.reset()

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> JinaAPIServer:
        """Listen on a free port of 127.0.0.1 and serve in a daemon thread."""
        server = self

        class Handler(_Handler):
            owner = server

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        httpd.block_on_close = False
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, name="jina-api-server")
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> JinaAPIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port served on."""
        assert self._httpd is not None, "start() the server first"
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """The base URL to give ``Encoder.api``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def image_url(self, name: str) -> str:
        """URL of an image registered in :attr:`images` (served by ``GET /images/<name>``)."""
        return f"http://127.0.0.1:{self.port}/images/{name}"

    # ----------------------------------------------------------------- test controls
    def reset(self) -> None:
        """Forget requests, faults, latency, rate limits and counters (between tests)."""
        with self._lock:
            self.requests: list[RecordedRequest] = []
            self.images.clear()
            self._faults: collections.deque[Fault] = collections.deque()
            self.latency = 0.0
            self._limits: tuple[_TokenBucket | None, _TokenBucket | None] | None = None
            self._active: set[int] = set()  # ids of requests being handled
            self.max_in_flight = 0
            self.statuses: collections.Counter[int] = collections.Counter()

    def inject(self, kind: str, *, times: int = 1, **params: Any) -> None:
        """Apply a fault to the next ``times`` ``/embeddings`` requests (queued in order).

        Args:
            kind: One of :data:`FAULTS`.
            times: How many requests it applies to.
            **params: :class:`Fault` fields (``status``, ``detail``, ``code``,
                ``retry_after``, ``delay``).
        """
        if kind not in FAULTS:
            raise ValueError(f"Unknown fault {kind!r}; use one of {FAULTS}.")
        with self._lock:
            self._faults.extend(Fault(kind, **params) for _ in range(times))

    def rate_limit(
        self,
        requests_per_minute: float | None,
        tokens_per_minute: float | None,
        *,
        burst: float = 1.0,
    ) -> None:
        """Enforce token-bucket limits; over them, answer 429 with ``Retry-After``.

        Args:
            requests_per_minute: Request limit (``None``: none).
            tokens_per_minute: Token limit, counted as the server bills (``None``: none).
            burst: Bucket capacity as a share of a minute's allowance (1.0: a full minute).
        """
        with self._lock:
            self._limits = (
                _TokenBucket(requests_per_minute, burst) if requests_per_minute else None,
                _TokenBucket(tokens_per_minute, burst) if tokens_per_minute else None,
            )

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        """The recorded ``POST .../embeddings`` requests."""
        return [request for request in self.requests if request.path.endswith("/embeddings")]

    # ----------------------------------------------------------------- request handling
    def _next_fault(self) -> Fault | None:
        with self._lock:
            return self._faults.popleft() if self._faults else None

    def _next_request_id(self) -> str:
        with self._lock:
            self._request_counter += 1
            return f"req-{self._request_counter:06d}"

    def _check_rate(self, tokens: int) -> tuple[float | None, dict[str, str]]:
        """``(retry_after, headers)``: ``retry_after`` set when the request is over a limit."""
        with self._lock:
            if self._limits is None:
                return None, {}
            requests, token_bucket = self._limits
            waits = []
            if requests is not None and requests.refill() < 1:
                waits.append((1 - requests.level) / requests.rate)
            if token_bucket is not None and token_bucket.refill() < min(
                tokens, token_bucket.capacity
            ):
                waits.append(
                    (min(tokens, token_bucket.capacity) - token_bucket.level) / token_bucket.rate
                )
            if waits:
                return max(waits), {}
            headers = {}
            if requests is not None:
                requests.level -= 1
                headers["X-RateLimit-Remaining-Requests"] = str(int(requests.level))
            if token_bucket is not None:
                token_bucket.level -= tokens
                headers["X-RateLimit-Remaining-Tokens"] = str(int(max(0, token_bucket.level)))
            return None, headers

    def handle_embeddings(
        self, body: Any, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], Any, Fault | None]:
        """Answer one request: ``(status, extra headers, JSON body, fault to apply)``."""
        fault = self._next_fault()
        if self.latency:
            time.sleep(self.latency)
        if fault is not None and fault.kind == "slow":
            time.sleep(fault.delay)
        if headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, {}, {"detail": "Unauthorized: the API key is missing or invalid."}, None
        if fault is not None and fault.kind == "status":
            extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            error: dict[str, Any] = {"detail": fault.detail}
            if fault.code is not None:
                error["code"] = fault.code
            return fault.status, extra, error, None
        try:
            request = _validate(body, self.model)
        except _Invalid as exc:
            return 422, {}, {"detail": str(exc)}, None
        inputs = request["inputs"]
        tokens = [_count_tokens(item) for item in inputs]
        retry_after, limit_headers = self._check_rate(sum(tokens))
        if retry_after is not None:
            # Fractional seconds keep tests fast; the client also parses whole seconds and dates.
            return (
                429,
                {"Retry-After": f"{max(0.05, retry_after):.2f}"},
                {
                    "detail": "Rate limit exceeded, retry later.",
                    "code": "rate_limited",
                },
                None,
            )
        try:
            vectors = self._vectors(inputs, request)
        except Exception as exc:  # the encoder's errors become the API's 422
            return 422, limit_headers, {"detail": f"{type(exc).__name__}: {exc}"}, None
        image_tokens = sum(
            t for t, item in zip(tokens, inputs, strict=True) if not isinstance(item, str)
        )
        data = [self._item(index, vector, request) for index, vector in enumerate(vectors)]
        response = {
            "model": self.model,
            "object": "list",
            "usage": {
                "total_tokens": sum(tokens),
                "prompt_tokens": sum(tokens) - image_tokens,
                **({"image_tokens": image_tokens} if image_tokens else {}),
            },
            "data": data,
        }
        return 200, limit_headers, response, fault

    def _vectors(self, inputs: list[Any], request: dict[str, Any]) -> list[np.ndarray]:
        multivector, dimensions = request["return_multivector"], request["dimensions"]
        if self.encoder is None and self._pool is not None and not multivector:
            pool = self._pool
            vectors = [pool[zlib.crc32(str(item).encode()) % len(pool)] for item in inputs]
            result, use_dims = np.stack(vectors), None
        elif self.encoder is None:
            vectors = [
                _fake_vector(item, request["task"], self.fake_dim, multivector) for item in inputs
            ]
            result = np.stack(vectors) if not multivector else vectors
            use_dims = None
        else:
            items = [item if isinstance(item, str) else self._image(item) for item in inputs]
            use_dims = dimensions if dimensions in self.encoder.info.matryoshka_dims else None
            with self._encode_lock:
                options = {"late_chunking": True} if request["late_chunking"] else {}
                result = self.encoder.encode(
                    items, request["task"], dimensions=use_dims, multivector=multivector, **options
                )
        if multivector:
            return list(result)
        if dimensions is not None and use_dims is None:
            # Matryoshka truncation of any size, as the hosted API allows.
            head = result[:, :dimensions]
            result = head / np.linalg.norm(head, axis=1, keepdims=True)
        return list(result)

    def _image(self, source: _ImageInput) -> Any:
        import univec

        prefix = f"http://127.0.0.1:{self.port}/images/"
        if source.url is not None and source.url.startswith(prefix):
            return univec.Image(self.images[source.url[len(prefix) :]])
        return univec.Image(source.url if source.url is not None else source.data)

    def _item(self, index: int, vector: np.ndarray, request: dict[str, Any]) -> dict[str, Any]:
        vector = np.asarray(vector, dtype="<f4")
        if request["return_multivector"]:
            if request["embedding_type"] in ("binary", "ubinary"):
                value: Any = [
                    _packed_bits(row, request["embedding_type"]).tolist() for row in vector
                ]
            elif request["embedding_type"] == "float":
                value = vector.tolist()
            elif self.multivector_format == "matrix":
                value = base64.b64encode(vector.tobytes()).decode()
            else:
                value = [base64.b64encode(row.tobytes()).decode() for row in vector]
            return {"object": "embeddings", "index": index, "embeddings": value}
        if request["embedding_type"] in ("binary", "ubinary"):
            value = _packed_bits(vector, request["embedding_type"]).tolist()
        elif request["embedding_type"] == "float":
            value = vector.tolist()
        else:
            value = base64.b64encode(vector.tobytes()).decode()
        return {"object": "embedding", "index": index, "embedding": value}

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)

    def _enter(self, record: RecordedRequest) -> None:
        with self._lock:
            self._active.add(id(record))
            self.max_in_flight = max(self.max_in_flight, len(self._active))

    def _leave(self, status: int | None, record: RecordedRequest) -> None:
        with self._lock:
            record.status = status
            # A request left over from before reset() must not count in the new test.
            if id(record) in self._active:
                self._active.discard(id(record))
                if status is not None:
                    self.statuses[status] += 1


class _Handler(BaseHTTPRequestHandler):
    owner: JinaAPIServer
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:
        prefix = "/images/"
        data = (
            self.owner.images.get(self.path[len(prefix) :])
            if self.path.startswith(prefix)
            else None
        )
        if data is None:
            self._send(404, {}, {"detail": f"Not found: {self.path}"})
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        headers = {name.lower(): value for name, value in self.headers.items()}
        record = RecordedRequest("POST", self.path, headers, body, time.monotonic())
        owner = self.owner
        owner._record(record)
        if not self.path.endswith("/embeddings"):
            self._send(404, {}, {"detail": f"Not found: {self.path}"})
            record.status = 404
            return
        owner._enter(record)
        status: int | None = None
        try:
            if body is None:
                status, extra, payload, fault = 400, {}, {"detail": "Body is not JSON."}, None
            else:
                status, extra, payload, fault = owner.handle_embeddings(body, headers)
            if fault is not None and fault.kind == "drop":
                status = None
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if fault is not None and status == 200:
                payload = _damage(payload, fault.kind)
            self._send(status, extra, payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
            status = None
        finally:
            owner._leave(status, record)

    def _send(self, status: int, extra: dict[str, str], payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", self.owner._next_request_id())
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _Invalid(ValueError):
    pass


@dataclass
class _ImageInput:
    url: str | None = None
    data: bytes = field(default=b"", repr=False)


def _validate(body: Any, model: str) -> dict[str, Any]:
    """The request's fields, checked like the real API does (strictly), or :class:`_Invalid`."""
    if not isinstance(body, dict):
        raise _Invalid("Body must be a JSON object.")
    if body.get("model") != model:
        raise _Invalid(f"Unknown model {body.get('model')!r}; this server serves {model!r}.")
    schema = SCHEMAS.get(model, SCHEMAS["jina-embeddings-v4"])
    unknown = set(body) - schema.fields
    if unknown:
        raise _Invalid(f"Unknown fields for {model}: {sorted(unknown)}.")
    raw_inputs = body.get("input")
    if isinstance(raw_inputs, str):
        raw_inputs = [raw_inputs]
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise _Invalid("'input' must be a non-empty list.")
    if len(raw_inputs) > schema.max_inputs:
        raise _Invalid(
            f"'input' has {len(raw_inputs)} items; at most {schema.max_inputs} are allowed."
        )
    inputs: list[str | _ImageInput] = []
    for position, item in enumerate(raw_inputs):
        if isinstance(item, str):
            inputs.append(item)
        elif isinstance(item, dict) and set(item) == {"text"} and isinstance(item["text"], str):
            inputs.append(item["text"])
        elif (
            schema.images
            and isinstance(item, dict)
            and set(item) == {"image"}
            and isinstance(item["image"], str)
        ):
            inputs.append(_parse_image(item["image"], position))
        else:
            raise _Invalid(f"input[{position}] must be a string, {{'text'}} or {{'image'}}.")
    task = body.get("task", "text-matching" if model == "jina-embeddings-v4" else None)
    if task is not None and task not in schema.tasks:
        raise _Invalid(f"Unknown task {task!r} for {model}.")
    multivector = body.get("return_multivector", False)
    dimensions = body.get("dimensions")
    embedding_type = body.get("embedding_type", "float")
    for name in ("truncate", "late_chunking", "return_multivector", "normalized"):
        if name in body and not isinstance(body[name], bool):
            raise _Invalid(f"'{name}' must be a boolean.")
    if dimensions is not None:
        if (
            isinstance(dimensions, bool)
            or not isinstance(dimensions, int)
            or not 1 <= dimensions <= schema.max_dimensions
        ):
            raise _Invalid(
                f"'dimensions' must be an integer in 1..{schema.max_dimensions}, "
                f"got {dimensions!r}."
            )
        if multivector:
            raise _Invalid("'dimensions' cannot be combined with 'return_multivector'.")
    if embedding_type not in ("float", "base64", "binary", "ubinary"):
        raise _Invalid(f"embedding_type {embedding_type!r} is not served by this test server.")
    if body.get("late_chunking") and any(not isinstance(item, str) for item in inputs):
        raise _Invalid("'late_chunking' applies to text inputs only.")
    if body.get("late_chunking") and multivector:
        raise _Invalid("'late_chunking' cannot be combined with 'return_multivector'.")
    return {
        "inputs": inputs,
        "task": task,
        "dimensions": dimensions,
        "return_multivector": multivector,
        "embedding_type": embedding_type,
        "late_chunking": bool(body.get("late_chunking")),
    }


def _parse_image(value: str, position: int) -> _ImageInput:
    if value.startswith(("http://", "https://")):
        return _ImageInput(url=value)
    if value.startswith("data:"):
        value = value.partition(",")[2]
    try:
        return _ImageInput(data=base64.b64decode(value, validate=True))
    except (binascii.Error, ValueError) as exc:
        raise _Invalid(f"input[{position}].image is neither a URL nor valid base64.") from exc


def _count_tokens(item: str | _ImageInput) -> int:
    """The server's token count: ~4 characters per token, 10 per 28x28 image tile."""
    if isinstance(item, str):
        return max(1, math.ceil(len(item) / 4))
    if item.url is not None:
        return 4840
    try:
        import PIL.Image

        with PIL.Image.open(io.BytesIO(item.data)) as image:
            width, height = image.size
    except Exception:
        return 4840
    return math.ceil(width / 28) * math.ceil(height / 28) * 10


def _fake_vector(item: Any, task: str, dim: int, multivector: bool) -> np.ndarray:
    key = item if isinstance(item, str) else (item.url or item.data.hex()[:64])
    seed = zlib.crc32(f"{task}|{key}".encode())
    rng = np.random.default_rng(seed)
    shape = (max(1, len(key) // 4), 128) if multivector else (dim,)
    vector = rng.standard_normal(shape, dtype=np.float32)
    return vector / np.linalg.norm(vector, axis=-1, keepdims=True)


def _packed_bits(vector: np.ndarray, embedding_type: str) -> np.ndarray:
    """The API's packed bits: one bit per component (set when > 0), high bit first, 8 per byte;
    ``ubinary`` as bytes 0..255, ``binary`` as those bytes minus 128."""
    bits = [1 if x > 0 else 0 for x in vector.tolist()]
    bits += [0] * (-len(bits) % 8)
    octets = [
        sum(bit << (7 - position) for position, bit in enumerate(bits[start : start + 8]))
        for start in range(0, len(bits), 8)
    ]
    shift = 128 if embedding_type == "binary" else 0
    return np.array([octet - shift for octet in octets], dtype=np.int64)


def _damage(payload: dict[str, Any], kind: str) -> dict[str, Any]:
    data = payload["data"]
    if kind == "shuffle":
        payload["data"] = data[::-1]
    elif kind == "short":
        payload["data"] = data[:-1]
    elif kind == "duplicate" and len(data) > 1:
        data[-1]["index"] = 0
    elif kind == "wrong_dim":
        field_name = "embeddings" if "embeddings" in data[0] else "embedding"
        value = data[0][field_name]
        if isinstance(value, str):
            data[0][field_name] = base64.b64encode(base64.b64decode(value)[:-4]).decode()
        elif isinstance(value, list) and value and isinstance(value[0], str):
            value[0] = base64.b64encode(base64.b64decode(value[0])[:-4]).decode()
        elif isinstance(value, list) and value and isinstance(value[0], list):
            data[0][field_name] = [row[:-1] for row in value]
        else:
            data[0][field_name] = value[:-1]
    return payload
