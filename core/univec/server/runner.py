"""Running the server: a bound socket, uvicorn, and a graceful shutdown."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from univec._optional import require
from univec.errors import ConfigurationError, UnivecError
from univec.server.app import ServerState, create_app
from univec.server.settings import ServerSettings, is_loopback

if TYPE_CHECKING:
    from univec.encoder import Encoder

__all__ = ["bind", "draining_server", "run_server"]

logger = logging.getLogger("univec.server")


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``port=0`` picks a free port).

    Raises:
        ConfigurationError: The address is in use or cannot be bound.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise ConfigurationError(
            f"Cannot listen on {host}:{port} ({exc.strerror}). Choose another --port "
            "(0 picks a free one) or stop the process using it."
        ) from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def draining_server(config: Any, state: ServerState) -> Any:
    """A ``uvicorn.Server`` that, on SIGINT/SIGTERM, answers new requests with 503 first.

    uvicorn then stops accepting connections, waits for the requests in flight (up to its
    ``timeout_graceful_shutdown``) and runs the app's shutdown, which drains the batcher.
    """
    import uvicorn

    class DrainingServer(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            state.draining = True
            super().handle_exit(sig, frame)

    return DrainingServer(config)


def check_exposure(host: str, settings: ServerSettings, insecure: bool) -> None:
    """Refuse to serve beyond this machine without API keys unless told ``insecure``.

    Raises:
        ConfigurationError: ``host`` is not a loopback address, no keys are set and
            ``insecure`` is false.
    """
    if settings.api_keys or insecure or is_loopback(host):
        return
    raise ConfigurationError(
        f"Refusing to listen on {host} without API keys: anyone who can reach it could use the "
        "model. Set UNIVEC_SERVER_API_KEYS or --api-key-file, bind 127.0.0.1, or pass "
        "--insecure to serve without keys anyway."
    )


def run_server(
    encoder: Encoder | Callable[[], Encoder],
    settings: ServerSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    insecure: bool = False,
    graceful_timeout: float = 30.0,
    log_level: str = "info",
    on_listen: Callable[[str], None] | None = None,
    on_ready: Callable[[ServerState], None] | None = None,
) -> None:
    """Serve until SIGINT/SIGTERM, then finish in-flight requests (new ones get 503) and exit.

    Args:
        encoder: The encoder, or a function that builds it (loaded after the port opens, so
            ``/healthz`` can say "loading").
        settings: Server settings.
        host: Address to listen on.
        port: Port (0: a free one).
        insecure: Allow a non-loopback ``host`` without API keys.
        graceful_timeout: Most seconds to wait for in-flight requests at shutdown.
        log_level: uvicorn's log level.
        on_listen: Called with the base URL once the socket listens.
        on_ready: Called once the model is loaded.
    """
    require("uvicorn", "serve")
    import uvicorn

    check_exposure(host, settings, insecure)
    failed: list[Any] = []

    def stop_on_load_error(state: ServerState) -> None:
        failed.append(state.load_error)
        server.should_exit = True  # a server that cannot serve must not look alive

    app = create_app(encoder, settings, on_ready=on_ready, on_load_error=stop_on_load_error)
    state: ServerState = app.state.univec
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host

    config = uvicorn.Config(
        app,
        log_level=log_level,
        timeout_graceful_shutdown=int(graceful_timeout),
        access_log=False,
        server_header=False,
        # Busy clients may take a moment to send their next request on a kept-alive connection;
        # closing it under them (uvicorn's default is 5 s) makes their next request fail.
        timeout_keep_alive=30,
    )
    server = draining_server(config, state)
    if on_listen is not None:
        on_listen(f"http://{shown}:{bound_port}")
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    if failed:
        error = failed[0]
        if isinstance(error, UnivecError):
            raise error
        raise ConfigurationError(f"The model could not be loaded: {error}") from error
