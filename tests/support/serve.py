"""``univec serve``'s application run in-process on 127.0.0.1 (a free port), for tests."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

import uvicorn

from univec.server import ServerSettings, create_app
from univec.server.runner import bind, draining_server

__all__ = ["ServerThread"]


class ServerThread:
    """The server app under uvicorn in a daemon thread; ``start()`` returns once it is ready.

    Args:
        encoder: The encoder to serve (left open).
        settings: Server settings.

    Attributes:
        base_url: ``http://127.0.0.1:<port>/v1``.
        app: The FastAPI app (``app.state.univec`` is the server state).
    """

    def __init__(self, encoder: Any, settings: ServerSettings | None = None) -> None:
        self._ready = threading.Event()
        self.app = create_app(encoder, settings, on_ready=lambda state: self._ready.set())
        self.state = self.app.state.univec
        self._sock = bind("127.0.0.1", 0)
        self.port = self._sock.getsockname()[1]
        self.root = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.root}/v1"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False)
        self.server = draining_server(config, self.state)
        self._thread = threading.Thread(target=self._serve, name="univec-serve-test", daemon=True)

    def _serve(self) -> None:
        asyncio.run(self.server.serve(sockets=[self._sock]))

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the test server did not become ready in 60 s")
        return self

    def stop(self) -> None:
        """What SIGTERM does: new requests get 503, in-flight ones finish, then it exits."""
        self.server.handle_exit(signal.SIGTERM, None)
        self._thread.join(60)
        self._sock.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
