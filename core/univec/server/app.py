"""The ASGI application of ``univec serve`` (FastAPI): routes, authentication, lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from univec._optional import require
from univec.errors import UnivecError
from univec.server.batching import DynamicBatcher, QueueFull, ShuttingDown
from univec.server.metrics import Metrics
from univec.server.prepare import TokenCounter, prepare_inputs, url_fetcher
from univec.server.protocol import RequestRejected, parse_request, render_response
from univec.server.settings import ServerSettings

require("fastapi", "serve")

from fastapi import FastAPI, Request  # noqa: E402 - after the install hint
from fastapi.responses import JSONResponse, PlainTextResponse, Response  # noqa: E402

if TYPE_CHECKING:
    from univec.encoder import Encoder

__all__ = ["ServerState", "create_app"]

logger = logging.getLogger("univec.server")


@dataclass
class ServerState:
    """What the running application holds (``app.state.univec``).

    Attributes:
        settings: The server's settings.
        metrics: Its metrics.
        encoder: The encoder, once loaded.
        batcher: The dynamic batcher, once the encoder is loaded.
        ready: Set once the model is loaded and requests are served.
        draining: Set when shutdown began: new requests get 503.
        load_error: Why loading the model failed, if it did.
    """

    settings: ServerSettings
    metrics: Metrics = field(default_factory=Metrics)
    encoder: Encoder | None = None
    batcher: DynamicBatcher | None = None
    counter: TokenCounter | None = None
    ready: threading.Event = field(default_factory=threading.Event)
    draining: bool = False
    load_error: BaseException | None = None


def create_app(
    encoder: Encoder | Callable[[], Encoder],
    settings: ServerSettings | None = None,
    *,
    on_ready: Callable[[ServerState], None] | None = None,
    on_load_error: Callable[[ServerState], None] | None = None,
) -> FastAPI:
    """The embedding server as a FastAPI application (extra ``serve``).

    Args:
        encoder: An :class:`univec.Encoder`, or a function building one: it is then called in
            a background thread at startup, and ``/healthz`` answers 503 until it returns.
            An encoder built here is closed at shutdown; one passed in is left open.
        settings: Limits, batching and keys (default :class:`ServerSettings()`).
        on_ready: Called once requests are served.
        on_load_error: Called if building the encoder failed (``state.load_error`` says why);
            the app then answers 503 until it is stopped.

    Example:
        >>> app = create_app(lambda: univec.Encoder.local("jinaai/jina-embeddings-v4"))
        >>> uvicorn.run(app, host="127.0.0.1", port=8080)
    """
    settings = settings or ServerSettings()
    state = ServerState(settings)
    owned = not hasattr(encoder, "encode")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        def load() -> None:
            try:
                built = encoder() if owned else encoder  # type: ignore[operator]
                state.encoder = built  # type: ignore[assignment]
            except BaseException as exc:
                state.load_error = exc
                logger.error("Loading the model failed: %s", exc)
            loop.call_soon_threadsafe(started.set)

        loader = threading.Thread(target=load, name="univec-serve-load", daemon=True)
        loader.start()

        async def activate() -> None:
            await started.wait()
            if state.encoder is None:
                if on_load_error is not None:
                    on_load_error(state)
                return
            backend = state.encoder.backend
            budget = settings.max_batch_tokens or int(getattr(backend, "token_budget", 16384))
            state.counter = TokenCounter(backend, state.encoder.info.max_length)
            state.batcher = DynamicBatcher(
                backend,
                max_batch_tokens=budget,
                max_batch_inputs=settings.max_batch_inputs,
                max_queue_inputs=settings.max_queue_inputs,
                batching=settings.batching,
                metrics=state.metrics,
            )
            state.batcher.start()
            state.ready.set()
            logger.info("Serving %s", settings.served_model_name)
            if on_ready is not None:
                on_ready(state)

        activation = asyncio.create_task(activate())
        try:
            yield
        finally:
            state.draining = True
            activation.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await activation
            if state.batcher is not None:
                await state.batcher.drain()
            if owned and state.encoder is not None:
                state.encoder.close()

    app = FastAPI(
        title="univec embedding server",
        summary="jina-embeddings-v4 with the hosted Jina Embeddings API's contract.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.univec = state
    fetch = url_fetcher(
        allow_private=settings.allow_private_urls,
        timeout=settings.download_timeout,
        max_bytes=settings.max_image_bytes,
    )

    def error(exc: RequestRejected) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status, headers=exc.headers)

    def unavailable(detail: str) -> RequestRejected:
        return RequestRejected(503, detail, {"Retry-After": str(settings.retry_after)})

    def check_ready() -> None:
        if state.draining:
            raise unavailable("The server is shutting down; retry on another instance.")
        if state.load_error is not None:
            raise RequestRejected(503, f"The model failed to load: {state.load_error}")
        if not state.ready.is_set():
            raise unavailable("The model is still loading; retry shortly.")

    def authenticate(request: Request) -> None:
        if not settings.api_keys:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        challenge = {"WWW-Authenticate": "Bearer"}
        if scheme.lower() != "bearer" or not given.strip():
            raise RequestRejected(
                401, "Missing API key: send the header 'Authorization: Bearer <key>'.", challenge
            )
        candidate = given.strip().encode("utf-8", "replace")
        matched = False
        for key in settings.api_keys:  # compare with every key: timing says nothing
            matched |= hmac.compare_digest(candidate, key.encode())
        if not matched:
            raise RequestRejected(401, "Invalid API key.", challenge)

    @app.exception_handler(RequestRejected)
    async def rejected(request: Request, exc: RequestRejected) -> Response:
        return error(exc)

    @app.get("/healthz")
    async def healthz() -> Response:
        """200 once the model is loaded and requests are served; 503 before and while stopping."""
        try:
            check_ready()
        except RequestRejected as exc:
            return error(exc)
        return JSONResponse({"status": "ok", "model": settings.served_model_name})

    @app.get("/metrics")
    async def metrics() -> Response:
        """Prometheus metrics (text format 0.0.4)."""
        if state.batcher is not None:
            state.metrics.queue_depth = state.batcher.queued_inputs
        return PlainTextResponse(
            state.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8"
        )

    @app.get("/v1/models")
    async def models(request: Request) -> Response:
        """The served model, with its sizes (fields beyond OpenAI's list are univec's)."""
        authenticate(request)
        check_ready()
        assert state.encoder is not None
        info = state.encoder.info
        entry = {
            "id": settings.served_model_name,
            "object": "model",
            "created": 0,
            "owned_by": "univec",
            "dimensions": info.dim,
            "matryoshka_dims": list(info.matryoshka_dims),
            "multivector_dimensions": info.multivector_dim,
            "max_length": info.max_length,
        }
        return JSONResponse({"object": "list", "data": [entry]})

    @app.post("/v1/embeddings")
    async def embeddings(request: Request) -> Response:
        """Embed texts and images as the hosted Jina Embeddings API does."""
        started = time.monotonic()
        inputs = tokens = 0
        status = 200
        try:
            authenticate(request)
            check_ready()
            assert state.encoder is not None and state.batcher is not None
            assert state.counter is not None
            body = await _read_json(request, settings.max_body_bytes)
            query = parse_request(
                body,
                model=settings.served_model_name,
                dim=state.encoder.info.dim,
                max_inputs=settings.max_inputs,
                max_image_bytes=settings.max_image_bytes,
            )
            counter = state.counter
            if all(isinstance(item, str) for item in query.inputs):
                prepared = prepare_inputs(query, counter, fetch=fetch)
            else:  # downloads and image decoding must not hold up the event loop
                prepared = await asyncio.to_thread(prepare_inputs, query, counter, fetch=fetch)
            try:
                result = await state.batcher.submit(
                    prepared.items,
                    query.task,
                    dense=not query.multivector,
                    multi=query.multivector,
                    tokens=sum(prepared.tokens),
                )
            except QueueFull:
                raise unavailable(
                    "The server is busy (its queue is full); retry after the Retry-After delay."
                ) from None
            except ShuttingDown:
                raise unavailable(
                    "The server is shutting down; retry on another instance."
                ) from None
            except UnivecError as exc:
                raise RequestRejected(400, str(exc)) from None
            body_out = render_response(
                query,
                model=settings.served_model_name,
                dense=result.dense,
                multi=result.multi,
                usage=prepared.usage,
            )
            inputs, tokens = len(prepared.items), prepared.usage.total_tokens
            return JSONResponse(body_out)
        except RequestRejected as exc:
            status = exc.status
            return error(exc)
        except Exception:
            status = 500
            logger.exception("Embedding request failed")
            return JSONResponse({"detail": "Internal server error; see the server log."}, 500)
        finally:
            state.metrics.observe_request(status, time.monotonic() - started, inputs, tokens)

    return app


async def _read_json(request: Any, limit: int) -> Any:
    """The request body as JSON, read with a size cap (413 past it, 400 if not JSON)."""
    declared = request.headers.get("content-length")
    too_large = RequestRejected(
        413, f"The request body is over the {limit:,}-byte limit. Send fewer or smaller inputs."
    )
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except ValueError:
        raise RequestRejected(400, "The request body is not valid JSON.") from None
