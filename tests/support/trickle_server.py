"""An HTTP server on 127.0.0.1 that trickles its response headers, one byte at a time.

Used to check that downloads have one total deadline (headers included) and that a slow
download holds up nobody else. Bounded: it never trickles more than ``max_bytes`` header bytes,
and :meth:`release` finishes the response at once.
"""

from __future__ import annotations

import socket
import threading


class TrickleServer:
    """Serves one PNG per connection after trickling ``X-Pad`` header bytes.

    Attributes:
        url: The URL to download.
        connected: Set when a client has connected.
    """

    def __init__(self, body: bytes, *, max_bytes: int = 200, interval: float = 0.05) -> None:
        self._body = body
        self._max_bytes = max_bytes
        self._interval = interval
        self._released = threading.Event()
        self.connected = threading.Event()
        self._closing = False
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/image.png"
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Finish the responses now."""
        self._released.set()

    def close(self) -> None:
        self.release()
        self._closing = True
        # accept() does not wake when the socket is closed from another thread: connect once.
        with socket.create_connection(self._listener.getsockname(), timeout=5):
            pass
        self._thread.join(timeout=30)
        self._listener.close()

    def __enter__(self) -> TrickleServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            if self._closing:
                connection.close()
                return
            threading.Thread(target=self._answer, args=(connection,), daemon=True).start()

    def _answer(self, connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                self.connected.set()
                connection.sendall(b"HTTP/1.1 200 OK\r\nX-Pad: ")
                for _ in range(self._max_bytes):
                    if self._released.wait(self._interval):
                        break
                    connection.sendall(b"x")
                connection.sendall(
                    b"\r\nContent-Type: image/png\r\nContent-Length: "
                    + str(len(self._body)).encode()
                    + b"\r\nConnection: close\r\n\r\n"
                    + self._body
                )
            except OSError:
                return
