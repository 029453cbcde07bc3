"""``APIBackend``: the hosted Jina Embeddings API behind :class:`univec.Encoder`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import warnings
import weakref
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from univec.backends.api.event_loop import EventLoopThread
from univec.backends.api.payload import EmbeddingRequest, build_payload, parse_response
from univec.backends.api.ratelimit import (
    DEFAULT_BURST,
    FREE_TIER_REQUESTS_PER_MINUTE,
    FREE_TIER_TOKENS_PER_MINUTE,
    RateLimiter,
)
from univec.backends.api.requests import Batch, estimate_tokens, plan_batches
from univec.backends.api.transport import RetryPolicy, post_with_retries
from univec.backends.base import Embeddings, ModelInfo, Usage
from univec.errors import (
    APIAuthenticationError,
    ConfigurationError,
    InvalidArgumentError,
    InvalidInputError,
    InvalidTaskError,
)
from univec.inputs import Image
from univec.models import MODELS, ModelDescription, describe
from univec.quantization import packed_width, precision_dtype
from univec.tasks import TASKS, TaskSpec

if TYPE_CHECKING:
    import httpx

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_BASE_URL",
    "KNOWN_MODELS",
    "MAX_INPUTS_PER_REQUEST",
    "APIBackend",
]

logger = logging.getLogger("univec.api")

API_KEY_ENV = "JINA_API_KEY"
DEFAULT_BASE_URL = "https://api.jina.ai/v1"
#: The API's limit on inputs per request for jina-embeddings-v4.
MAX_INPUTS_PER_REQUEST = 512
#: Default token budget of one request (estimated, see ``batching.estimate_tokens``).
DEFAULT_MAX_BATCH_TOKENS = 100_000


def _model_info(description: ModelDescription) -> ModelInfo:
    return ModelInfo(
        name=description.name,
        dim=description.dim,
        matryoshka_dims=description.matryoshka_dims,
        multivector_dim=description.multivector_dim,
        max_length=description.max_length,
    )


#: What each model of the family (:data:`univec.models.MODELS`) produces.
KNOWN_MODELS: dict[str, ModelInfo] = {
    name: _model_info(description) for name, description in MODELS.items()
}


class APIBackend:
    """The hosted Jina Embeddings API as an encoder backend (extra ``api``).

    One call is cut into requests of at most ``max_batch_size`` inputs and
    ``max_batch_tokens`` estimated tokens, sent ``max_concurrency`` at a time under client-side
    requests/min and tokens/min limits, retried on transient failures, and reassembled in input
    order. The API returns one kind of vector per request, so asking for single *and* multi
    vectors (:meth:`univec.Encoder.encode_both`) sends two requests per batch.

    Sync and async calls share one engine: an event loop in a private daemon thread holding
    the HTTP connection pool, so concurrency and rate limits hold across all of them.

    Args:
        api_key: The key; defaults to ``JINA_API_KEY``, read again at the first request if
            still missing. Never shown in reprs, logs or errors.
        base_url: The API's base URL (``POST {base_url}/embeddings``); the full endpoint
            (``.../v1/embeddings``) is accepted too.
        model: The API model name: one of :data:`univec.models.MODELS` (checked before
            sending: tasks, inputs, dimensions, multi-vectors, late chunking), or any other
            name, sent as given with a warning.
        model_info: What the model produces, when it differs from the table (test servers
            serving other sizes) or for a model univec does not know.
        timeout: Seconds one attempt may take.
        max_attempts: Most attempts per request, the first included.
        total_timeout: Most seconds one request may take, retries and waits included.
        backoff_base: Wait before the first retry; doubles on each further retry (jittered).
        backoff_max: Longest wait between attempts, unless ``Retry-After`` asks for longer.
        max_concurrency: Requests in flight at once (the free tier allows 5).
        max_batch_size: Most inputs per request (the API allows 512).
        max_batch_tokens: Most estimated tokens per request.
        requests_per_minute: Client-side request limit; ``None`` disables it.
        tokens_per_minute: Client-side token limit; ``None`` disables it.
        rate_limit_burst: Share of a minute's allowance that may be sent at once.
        truncate: Let the server truncate over-long inputs instead of failing.
        late_chunking: Embed the texts of each request as chunks of one document (text only).
            The document is one request: keep such a call within ``max_batch_size`` inputs
            and ``max_batch_tokens`` tokens, or it is split into several documents.
        max_length: Caps the client's per-input token estimates; the server truncates at
            the model's own maximum.
        seed: Seed of the retry jitter (for reproducible tests).

    Example:
        >>> encoder = univec.Encoder.api(max_concurrency=3, requests_per_minute=2000)
        >>> vectors = encoder.encode(["hello"], task="retrieval.query", dimensions=512)
    """

    #: Precisions the API computes itself (``embedding_type``); the encoder quantizes others.
    native_precisions: tuple[str, ...] = ("binary", "ubinary")

    def __init__(
        self,
        api_key: str | None = None,
        *,
        base_url: str = DEFAULT_BASE_URL,
        model: str = "jina-embeddings-v4",
        model_info: ModelInfo | None = None,
        timeout: float = 60.0,
        max_attempts: int = 6,
        total_timeout: float = 300.0,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        max_concurrency: int = 5,
        max_batch_size: int = MAX_INPUTS_PER_REQUEST,
        max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS,
        requests_per_minute: float | None = FREE_TIER_REQUESTS_PER_MINUTE,
        tokens_per_minute: float | None = FREE_TIER_TOKENS_PER_MINUTE,
        rate_limit_burst: float = DEFAULT_BURST,
        truncate: bool = True,
        late_chunking: bool = False,
        max_length: int | None = None,
        seed: int | None = None,
    ) -> None:
        from univec._optional import require

        require("httpx", "api")
        description = describe(model)
        if description is None:
            # New releases must not break users: send the name as given, validate nothing.
            warnings.warn(
                f"univec does not know the API model {model!r} (it knows {list(MODELS)}): "
                "requests are sent as given, without checking tasks, inputs or dimensions. "
                "Pass model_info=univec.ModelInfo(...) to check the vector sizes.",
                UserWarning,
                stacklevel=3,
            )
        if model_info is None:
            model_info = KNOWN_MODELS.get(model) or ModelInfo(
                name=model, dim=0, matryoshka_dims=(), multivector_dim=0
            )
        if description is not None and max_batch_size == MAX_INPUTS_PER_REQUEST:
            max_batch_size = description.max_inputs_per_request
        if description is not None and late_chunking and not description.late_chunking:
            raise ConfigurationError(
                f"late_chunking=True is not available on {model}. {description.supports()}."
            )
        _check_positive(
            {
                "timeout": timeout,
                "max_attempts": max_attempts,
                "total_timeout": total_timeout,
                "max_concurrency": max_concurrency,
                "max_batch_size": max_batch_size,
                "max_batch_tokens": max_batch_tokens,
                "rate_limit_burst": rate_limit_burst,
            }
        )
        limits = {
            "requests_per_minute": requests_per_minute,
            "tokens_per_minute": tokens_per_minute,
        }
        _check_positive({name: value for name, value in limits.items() if value is not None})
        _check_positive({"backoff_base": backoff_base, "backoff_max": backoff_max}, allow_zero=True)
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"base_url={base_url!r} is not an http(s) URL; use e.g. {DEFAULT_BASE_URL!r}."
            )
        self.info = model_info
        self.model = model
        self.description = description
        # jina-haystack and others take the full endpoint; requests go to {base_url}/embeddings.
        self.base_url = base_url.rstrip("/").removesuffix("/embeddings")
        self._api_key = api_key or None
        self._timeout = float(timeout)
        self._retry = RetryPolicy(max_attempts, float(total_timeout), backoff_base, backoff_max)
        self._max_concurrency = max_concurrency
        self._max_batch_size = max_batch_size
        self._request_cap = (
            description.max_inputs_per_request if description else MAX_INPUTS_PER_REQUEST
        )
        self._max_batch_tokens = max_batch_tokens
        self._max_length = min(max_length or model_info.max_length, model_info.max_length)
        self._truncate = truncate
        self._late_chunking = late_chunking
        self._limiter = (
            RateLimiter(requests_per_minute, tokens_per_minute, burst=rate_limit_burst)
            if requests_per_minute or tokens_per_minute
            else None
        )
        self._rng = random.Random(seed)
        self._engine = EventLoopThread(f"univec-api-{id(self):x}")
        self._pool = _ConnectionPool()
        # A backend dropped without close() still stops its thread and closes its connections
        # (the engine thread and the pool hold no reference back to the backend).
        self._finalizer = weakref.finalize(self, _shutdown, self._engine, self._pool)
        self._finalizer.atexit = False
        #: Tokens billed over the backend's lifetime (the server's count).
        self.usage = Usage()
        #: Requests answered successfully, and retries made, over the backend's lifetime.
        self.requests_sent = 0
        self.retries = 0

    def __repr__(self) -> str:
        key = "'***'" if self._resolve_key() else "None"
        return f"APIBackend(model={self.model!r}, base_url={self.base_url!r}, api_key={key})"

    # ----------------------------------------------------------------- model checks
    def resolve_task(self, task: object) -> TaskSpec:
        """The :class:`TaskSpec` of ``task`` if the model has it (any string for unknown models).

        Raises:
            InvalidTaskError: The model has no such task; the message lists the model's tasks.
        """
        if isinstance(task, TaskSpec):
            task = task.name
        if self.description is None:
            if not isinstance(task, str) or not task:
                raise InvalidTaskError(f"Unknown task {task!r}: pass the model's task string.")
            return TASKS.get(task) or TaskSpec(task, "", "")
        tasks = self.description.tasks
        if not isinstance(task, str) or task not in tasks:
            hint = ""
            pair = [t for t in tasks if isinstance(task, str) and t.startswith(f"{task}.")]
            if pair:
                hint = f" {task!r} is a task family: use {pair}."
            raise InvalidTaskError(
                f"Unknown task {task!r} for {self.model}.{hint} Use one of: {', '.join(tasks)}."
            )
        return TASKS.get(task) or TaskSpec(task, "", "")

    def _check(
        self, items: Sequence[str | Image], multi: bool, late_chunking: bool, task: TaskSpec
    ) -> None:
        """Refuse, before sending, what the model lacks (the message says what it supports)."""
        description = self.description
        if description is None:
            return
        if multi and not description.multivector:
            raise InvalidArgumentError(
                f"multivector=True is not available on {self.model}: {description.supports()}. "
                "Use jina-embeddings-v4 for multi-vectors."
            )
        if late_chunking and not description.late_chunking:
            raise InvalidArgumentError(
                f"late_chunking=True is not available on {self.model}: {description.supports()}."
            )
        if "image" not in description.inputs and any(not isinstance(i, str) for i in items):
            raise InvalidInputError(
                f"{self.model} embeds text only, but the inputs include images: "
                f"{description.supports()}. Use jina-embeddings-v4 or jina-clip-v2 for images."
            )
        self.resolve_task(task)

    # ----------------------------------------------------------------- Backend protocol
    def embed(
        self,
        items: list[str | Image],
        task: TaskSpec,
        *,
        dense: bool,
        multi: bool,
        dimensions: int | None,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> Embeddings:
        """Encode ``items`` through the API (blocking). See :meth:`aembed`."""
        return self._engine.run(
            self._embed(items, task, dense, multi, dimensions, precision, late_chunking)
        )

    async def aembed(
        self,
        items: list[str | Image],
        task: TaskSpec,
        *,
        dense: bool,
        multi: bool,
        dimensions: int | None,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> Embeddings:
        """Encode ``items`` through the API without blocking the caller's event loop.

        ``precision`` ``"binary"``/``"ubinary"`` asks the API for packed bits
        (``embedding_type``); any other value gets float32 (the encoder quantizes).
        ``late_chunking`` sends ``late_chunking: true`` for this call (also when the backend
        was built with ``late_chunking=True``).

        Raises:
            APIAuthenticationError: No key, or the key was rejected.
            APIRequestError: The API rejected the request (400, 404, 409, 422).
            APIRateLimitError, APIServerError, APITimeoutError, APIConnectionError: A
                transient failure outlasted the retry budget.
            APIResponseError: A response did not match its request.
        """
        return await self._engine.arun(
            self._embed(items, task, dense, multi, dimensions, precision, late_chunking)
        )

    def close(self) -> None:
        """Close the HTTP connections and stop the engine thread (reopened on next use)."""
        _shutdown(self._engine, self._pool)

    # ----------------------------------------------------------------- engine (private loop)
    async def _embed(
        self,
        items: Sequence[str | Image],
        task: TaskSpec,
        dense: bool,
        multi: bool,
        dimensions: int | None,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> Embeddings:
        late_chunking = late_chunking or self._late_chunking
        precision = precision if precision in self.native_precisions else "float32"
        self._check(items, multi, late_chunking, task)
        key = self._resolve_key()
        if not key:
            raise APIAuthenticationError(
                f"No Jina API key: pass api_key=... to Encoder.api() or set {API_KEY_ENV}. "
                "Get a key at https://jina.ai/embeddings."
            )
        if late_chunking and not all(isinstance(item, str) for item in items):
            raise InvalidInputError(
                "late_chunking=True applies to text only, but the inputs include images. "
                "Encode the images with an encoder built without late_chunking."
            )
        if not items:
            width = packed_width(dimensions or self.info.dim, precision)
            return Embeddings(
                np.zeros((0, width), precision_dtype(precision)) if dense else None,
                [] if multi else None,
            )
        if all(isinstance(item, str) or item.kind == "url" for item in items):
            estimates = [estimate_tokens(item, self._max_length) for item in items]
        else:  # image sizes come from file headers: keep the loop responsive meanwhile
            estimates = await asyncio.to_thread(
                lambda: [estimate_tokens(item, self._max_length) for item in items]
            )
        if late_chunking:
            # One document, one request: the server pools each chunk over the whole text.
            if len(items) > self._request_cap:
                raise InvalidInputError(
                    f"late_chunking=True sends the {len(items)} chunks as one request, but "
                    f"{self.model} takes at most {self._request_cap} inputs a request. Use "
                    "fewer, larger chunks (e.g. univec.late_chunking.embed_chunks with a larger "
                    "max_chars)."
                )
            batches = [Batch(items, sum(estimates))]
        else:
            batches = plan_batches(
                items, estimates, max_items=self._max_batch_size, max_tokens=self._max_batch_tokens
            )
        kinds = [kind for kind, wanted in ((False, dense), (True, multi)) if wanted]
        jobs: list[Coroutine[Any, Any, tuple[list[np.ndarray], Usage]]] = []
        for multivector in kinds:
            request = EmbeddingRequest(
                model=self.model,
                task=task.name
                if self.description is None
                else self.description.task_field(task.name),
                multivector=multivector,
                dimensions=None if multivector else dimensions,
                truncate=self._truncate,
                late_chunking=late_chunking,
                precision=precision,
                fields=None if self.description is None else self.description.fields,
            )
            jobs.extend(
                self._send(batch, request, key, number, len(batches))
                for number, batch in enumerate(batches, 1)
            )
        logger.debug(
            "%d inputs (~%d tokens) -> %d request(s) for %s",
            len(items),
            sum(estimates),
            len(jobs),
            task.name,
        )
        results = await _gather_or_cancel(jobs)
        usage = Usage()
        for _, part in results:
            usage += part
        per_kind = len(batches)
        outputs: dict[bool, list[np.ndarray]] = {}
        for position, multivector in enumerate(kinds):
            chunk = results[position * per_kind : (position + 1) * per_kind]
            outputs[multivector] = [vector for vectors, _ in chunk for vector in vectors]
        dense_out = None
        if dense:
            dense_out = np.stack(outputs[False])
        return Embeddings(dense=dense_out, multi=outputs.get(True), usage=usage)

    async def _send(
        self, batch: Batch, request: EmbeddingRequest, key: str, number: int, total: int
    ) -> tuple[list[np.ndarray], Usage]:
        client, semaphore = self._connection()
        label = (
            f"{'multi' if request.multivector else 'dense'} request {number}/{total} "
            f"({len(batch.items)} inputs)"
        )
        async with semaphore:
            if all(isinstance(item, str) or item.kind == "url" for item in batch.items):
                payload = build_payload(batch.items, request)
            else:  # reading and base64-encoding image files: keep the loop responsive
                payload = await asyncio.to_thread(build_payload, batch.items, request)
            content = json.dumps(payload, separators=(",", ":")).encode()
            reply = await post_with_retries(
                client,
                f"{self.base_url}/embeddings",
                content,
                {"Authorization": f"Bearer {key}"},
                policy=self._retry,
                timeout=self._timeout,
                limiter=self._limiter,
                tokens=batch.tokens,
                secret=key,
                rng=self._rng,
                label=label,
            )
        vectors, usage = parse_response(
            reply.body,
            expected=len(batch.items),
            dim=self.info.multivector_dim
            if request.multivector
            else request.dimensions or self.info.dim,
            multivector=request.multivector,
            request_id=reply.request_id,
            precision=request.precision,
        )
        if self._limiter is not None:
            self._limiter.correct(batch.tokens, reply.reserved_tokens, usage.total_tokens)
        self.usage += usage
        self.requests_sent += 1
        self.retries += reply.attempts - 1
        return vectors, usage

    def _connection(self) -> tuple[httpx.AsyncClient, asyncio.Semaphore]:
        """The engine loop's HTTP client and concurrency bound, made on first use."""
        pool = self._pool
        if pool.client is None or pool.semaphore is None:
            import httpx

            from univec import __version__

            pool.client = httpx.AsyncClient(
                headers={
                    "Content-Type": "application/json",
                    "Accept": "application/json",
                    "User-Agent": f"univec/{__version__}",
                },
                limits=httpx.Limits(
                    max_connections=self._max_concurrency,
                    max_keepalive_connections=self._max_concurrency,
                ),
                timeout=self._timeout,
            )
            pool.semaphore = asyncio.Semaphore(self._max_concurrency)
        return pool.client, pool.semaphore

    def _resolve_key(self) -> str | None:
        return self._api_key or os.environ.get(API_KEY_ENV) or None


class _ConnectionPool:
    """The HTTP client and concurrency bound of one backend, living on its engine loop."""

    def __init__(self) -> None:
        self.client: httpx.AsyncClient | None = None
        self.semaphore: asyncio.Semaphore | None = None

    async def aclose(self) -> None:
        client, self.client, self.semaphore = self.client, None, None
        if client is not None:
            await client.aclose()


def _shutdown(engine: EventLoopThread, pool: _ConnectionPool) -> None:
    """Close ``pool`` on ``engine``'s loop and stop its thread (``close()`` and finalizer)."""
    engine.close(pool.aclose())


async def _gather_or_cancel(coroutines: Sequence[Coroutine[Any, Any, Any]]) -> list[Any]:
    """``asyncio.gather`` that cancels the other requests as soon as one fails."""
    tasks = [asyncio.ensure_future(coroutine) for coroutine in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _check_positive(values: dict[str, float | None], *, allow_zero: bool = False) -> None:
    """Raise :class:`ConfigurationError` for a value that is not a positive number."""
    for name, value in values.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or (value < 0 if allow_zero else value <= 0)
        ):
            bound = "0 or more" if allow_zero else "more than 0"
            raise ConfigurationError(f"{name}={value!r} is invalid: it must be a number {bound}.")
