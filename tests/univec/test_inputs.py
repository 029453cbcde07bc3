"""Input validation and image loading: every bad input raises a typed, descriptive error.

Downloads are tested against a real ``http.server`` on 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import threading
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

import univec
from univec.errors import ImageLoadError, InputFileNotFoundError, InvalidInputError
from univec.inputs import MAX_IMAGE_BYTES, Image, download, normalize_inputs


def _png(width: int = 32, height: int = 24) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGBA", (width, height), (10, 200, 30, 255)).save(buffer, format="PNG")
    return buffer.getvalue()


def _raises(error: type[Exception], builtin: type[Exception], *names: str):
    """Context manager: ``error`` (a UnivecError and a ``builtin``) whose message names ``names``."""

    class _Check:
        def __enter__(self):
            self._ctx = pytest.raises(error)
            self.info = self._ctx.__enter__()
            return self.info

        def __exit__(self, *exc):
            handled = self._ctx.__exit__(*exc)
            if not handled:
                return False
            value = self.info.value
            assert isinstance(value, univec.UnivecError), type(value)
            assert isinstance(value, builtin), type(value)
            for name in names:
                assert name in str(value), f"{name!r} not in {str(value)!r}"
            return handled

    return _Check()


# ----------------------------------------------------------------- a real HTTP server
class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"
    png = _png()

    def log_message(self, *args):  # keep test output clean
        pass

    def _head(self, status: int = 200, length: int | None = None, kind: str = "image/png"):
        self.send_response(status)
        self.send_header("Content-Type", kind)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()

    def do_GET(self):
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route()  # a broken pipe means the client gave up, as it should

    def _route(self):
        self.server.hits.append(self.path)  # type: ignore[attr-defined]
        if self.path.startswith("/redirect/"):  # /redirect/<n>: n hops, then ok.png
            left = int(self.path.rsplit("/", 1)[1])
            self.send_response(302)
            self.send_header("Location", f"/redirect/{left - 1}" if left > 1 else "/ok.png")
            self.end_headers()
        elif self.path.startswith("/to?"):  # /to?<url>: one redirect to <url>
            self.send_response(302)
            self.send_header("Location", urllib.parse.unquote(self.path[4:]))
            self.end_headers()
        elif self.path == "/ok.png":
            self._head(length=len(self.png))
            self.wfile.write(self.png)
        elif self.path == "/golden.png":
            data = Path(self.server.golden_image).read_bytes()  # type: ignore[attr-defined]
            self._head(length=len(data))
            self.wfile.write(data)
        elif self.path == "/declared-big":
            self._head(length=MAX_IMAGE_BYTES + 1)
            self.wfile.write(b"\0" * 1024)
        elif self.path == "/streamed-big":  # no Content-Length: the size shows while reading
            self._head()
            block = b"\0" * (1024 * 1024)
            for _ in range(9):
                self.wfile.write(block)
        elif self.path == "/trickle":  # headers at once, then one byte every 50 ms
            self._head(length=100_000)
            for _ in range(2000):
                self.wfile.write(b"\0")
                self.wfile.flush()
                time.sleep(0.05)
        elif self.path == "/stall":  # headers, then nothing
            self._head(length=1000)
            self.wfile.flush()
            time.sleep(5)
        elif self.path == "/corrupt.png":
            self._head(length=12)
            self.wfile.write(b"not an image")
        else:
            self._head(404, length=9, kind="text/plain")
            self.wfile.write(b"not found")


class _Server(str):
    """The server's base URL; ``hits`` lists the paths it was asked for."""

    hits: list[str]

    def __new__(cls, url: str, hits: list[str]) -> _Server:
        self = super().__new__(cls, url)
        self.hits = hits
        return self


@pytest.fixture(scope="module")
def http_server(golden_images):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.golden_image = str(golden_images[0])  # type: ignore[attr-defined]
    server.hits = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield _Server(f"http://127.0.0.1:{server.server_address[1]}", server.hits)  # type: ignore[attr-defined]
    server.shutdown()
    server.server_close()


# ----------------------------------------------------------------- items
@pytest.mark.parametrize("item", [None, 3, 2.5, {"text": "hi"}, ["nested"], b"raw bytes", object()])
def test_non_text_non_image_items(item):
    with _raises(InvalidInputError, TypeError, "#1", type(item).__name__):
        normalize_inputs(["fine", item])


@pytest.mark.parametrize("inputs", ["just a string", b"bytes", Path("x.png"), 42, None, {"a": 1}])
def test_inputs_must_be_a_list(inputs):
    with _raises(InvalidInputError, TypeError, type(inputs).__name__):
        normalize_inputs(inputs)


def test_valid_items_are_normalised(golden_images):
    from PIL import Image as PILImage

    pil = PILImage.new("RGB", (8, 8))
    items = normalize_inputs(
        x for x in ["text", golden_images[0], pil, Image(golden_images[1]), "http://x.y/z.png"]
    )
    assert items[0] == "text" and items[4] == "http://x.y/z.png"  # str stays text, even URLs
    assert [type(item).__name__ for item in items[1:4]] == ["Image"] * 3
    assert items[1].kind == "path" and items[2].kind == "pil" and items[3].kind == "path"
    assert normalize_inputs([]) == []


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.png"
    with _raises(InputFileNotFoundError, FileNotFoundError, "nope.png"):
        Image(missing)
    with _raises(InputFileNotFoundError, FileNotFoundError, "nope.png"):
        normalize_inputs([missing])
    with _raises(InputFileNotFoundError, FileNotFoundError, "nope.png"):
        Image(str(missing))


def test_directory_is_not_reported_as_missing(tmp_path):
    folder = tmp_path / "scans"
    folder.mkdir()
    with _raises(ImageLoadError, ValueError, "is a directory"):
        Image(folder)
    with _raises(ImageLoadError, ValueError, "scans"):
        normalize_inputs([folder])


def test_file_deleted_after_creation(tmp_path):
    path = tmp_path / "gone.png"
    path.write_bytes(_png())
    image = Image(path)
    path.unlink()
    with _raises(InputFileNotFoundError, FileNotFoundError, "gone.png"):
        image.to_pil()


def test_corrupt_image_file(tmp_path):
    path = tmp_path / "corrupt.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with _raises(ImageLoadError, ValueError, "corrupt.png"):
        Image(path).to_pil()
    with _raises(ImageLoadError, ValueError, "bytes"):
        Image(b"definitely not an image").to_pil()


def test_truncated_image_file(tmp_path):
    data = _png(200, 200)
    path = tmp_path / "truncated.png"
    path.write_bytes(data[: len(data) // 2])
    with _raises(ImageLoadError, ValueError, "truncated.png"):
        Image(path).to_pil()


def test_oversized_file_and_bytes(tmp_path):
    path = tmp_path / "huge.png"
    with path.open("wb") as handle:
        handle.truncate(MAX_IMAGE_BYTES + 1)
    with _raises(ImageLoadError, ValueError, "huge.png", "limit"):
        Image(path)
    with _raises(ImageLoadError, ValueError, "limit"):
        Image(b"\0" * (MAX_IMAGE_BYTES + 1)).read_bytes()


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://example.com/cat.png",
        "data:image/png;base64,AAAA",
        "s3://b/k.png",
    ],
)
def test_non_http_urls(url):
    with _raises(ImageLoadError, ValueError, url):
        Image(url)
    with _raises(ImageLoadError, ValueError, url):
        download(url)


def test_from_url_rejects_paths():
    with _raises(ImageLoadError, ValueError, "local.png"):
        Image.from_url("local.png")


@pytest.mark.parametrize("source", [3, None, 4.5, ["a"]])
def test_image_from_unsupported_source(source):
    with _raises(InvalidInputError, TypeError, type(source).__name__):
        Image(source)


def test_image_modes_become_rgb():
    image = Image(_png()).to_pil()
    assert image.mode == "RGB" and image.size == (32, 24)
    assert "bytes" in repr(Image(b"abc")) and "PIL" in repr(Image(image))


# ----------------------------------------------------------------- downloads
def test_download_ok(http_server):
    data = download(f"{http_server}/ok.png", allow_private_network=True)
    assert data == _Handler.png
    assert Image.from_url(f"{http_server}/ok.png", allow_private_network=True).to_pil().size == (
        32,
        24,
    )


def test_download_http_error(http_server):
    url = f"{http_server}/missing.png"
    with _raises(ImageLoadError, ValueError, url, "404"):
        download(url, allow_private_network=True)


def test_download_over_declared_limit(http_server):
    url = f"{http_server}/declared-big"
    with _raises(ImageLoadError, ValueError, url, "limit"):
        download(url, allow_private_network=True)


def test_download_over_streamed_limit(http_server):
    url = f"{http_server}/streamed-big"
    with _raises(ImageLoadError, ValueError, url, "limit"):
        download(url, allow_private_network=True)


def test_download_with_custom_limit(http_server):
    with _raises(ImageLoadError, ValueError, "limit"):
        download(f"{http_server}/ok.png", limit=10, allow_private_network=True)


@pytest.mark.parametrize("route", ["trickle", "stall"])
def test_download_slower_than_timeout(http_server, route):
    url = f"{http_server}/{route}"
    start = time.monotonic()
    with _raises(ImageLoadError, ValueError, url, "longer than"):
        download(url, timeout=0.5, allow_private_network=True)
    assert time.monotonic() - start < 3.0  # the deadline covers the whole transfer


def test_downloaded_corrupt_image(http_server):
    url = f"{http_server}/corrupt.png"
    with _raises(ImageLoadError, ValueError, url):
        Image(url, allow_private_network=True).to_pil()


def test_refused_connection():
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.png"
    with _raises(ImageLoadError, ValueError, url):
        download(url, timeout=2, allow_private_network=True)


# ----------------------------------------------------------------- URL rules (issue 12, item 10)
@pytest.fixture
def loopback_is_public(monkeypatch):
    """Treat 127.0.0.1 as a public address: the stand-in for a public web server here.

    Every other address keeps its real class, so a redirect to 169.254.169.254 or 10.0.0.1
    from the test server is judged as it would be from a server on the internet.
    """
    from univec import url_rules

    real = url_rules.is_public
    monkeypatch.setattr(
        url_rules, "is_public", lambda address: address == "127.0.0.1" or real(address)
    )


def test_private_and_loopback_hosts_refused_by_default(http_server):
    http_server.hits.clear()
    for url in (f"{http_server}/ok.png", "http://169.254.169.254/latest/meta-data/"):
        with _raises(ImageLoadError, ValueError, url, "allow_private_network=True"):
            download(url, timeout=2)
        with _raises(ImageLoadError, ValueError, url, "private"):
            Image(url).to_pil(timeout=2)
    assert http_server.hits == []  # refused before connecting
    assert download(f"{http_server}/ok.png", allow_private_network=True) == _Handler.png


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",  # cloud metadata (link-local)
        "http://10.0.0.1/x.png",  # private
        "http://[::1]:9/x.png",  # loopback, IPv6
        "http://[::ffff:169.254.169.254]/x",  # link-local behind an IPv4-mapped IPv6 address
    ],
)
def test_redirect_to_private_address_refused(http_server, loopback_is_public, target):
    url = f"{http_server}/to?{urllib.parse.quote(target, safe='')}"
    with _raises(ImageLoadError, ValueError, "private"):
        download(url, timeout=2)
    assert download(f"{http_server}/ok.png", timeout=2) == _Handler.png  # the stand-in works


@pytest.mark.parametrize("target", ["ftp://127.0.0.1/x.png", "file:///etc/passwd"])
def test_redirect_to_other_scheme_refused_even_when_private_allowed(http_server, target):
    url = f"{http_server}/to?{urllib.parse.quote(target, safe='')}"
    with _raises(ImageLoadError, ValueError, target, "only http and https"):
        download(url, timeout=2, allow_private_network=True)


def test_redirects_are_capped(http_server):
    from univec.url_rules import MAX_REDIRECTS

    ok = f"{http_server}/redirect/{MAX_REDIRECTS}"
    assert download(ok, timeout=5, allow_private_network=True) == _Handler.png
    too_many = f"{http_server}/redirect/{MAX_REDIRECTS + 1}"
    with _raises(ImageLoadError, ValueError, "redirects"):
        download(too_many, timeout=5, allow_private_network=True)


def test_connected_address_is_checked_again(http_server):
    """A name resolving to a public address at check time but to a private one at connect time."""
    import http.client

    from univec.url_rules import _checked_connection

    port = int(http_server.rsplit(":", 1)[1])
    connection = _checked_connection(http.client.HTTPConnection, "http://rebind.example/", False)
    with _raises(ImageLoadError, ValueError, "127.0.0.1"):
        connection("127.0.0.1", port, timeout=2).connect()


# ----------------------------------------------------------------- through the encoder
def test_encoder_downloads_image_urls(tiny_encoder, golden, http_server):
    url = f"{http_server}/golden.png"
    vectors = tiny_encoder.encode(
        [url, Image(url, allow_private_network=True)], "retrieval.passage"
    )
    expected = golden["arrays"]["image|retrieval.passage|single"][0]
    np.testing.assert_allclose(vectors[1], expected, atol=1e-4)
    assert not np.allclose(vectors[0], expected, atol=1e-3)  # the str is text, not a URL


def test_encoder_download_timeout_option(tiny_model_path, http_server):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", download_timeout=0.5)
    url = f"{http_server}/trickle"
    start = time.monotonic()
    with _raises(ImageLoadError, ValueError, url, "longer than"):
        encoder.encode(["text first", Image(url, allow_private_network=True)], "retrieval.passage")
    assert time.monotonic() - start < 3.0


def test_encoder_bad_items_and_files(tiny_encoder, tmp_path):
    with _raises(InvalidInputError, TypeError, "None"):
        tiny_encoder.encode(["ok", None], "retrieval.query")
    with _raises(InvalidInputError, TypeError, "7"):
        tiny_encoder.encode([7], "retrieval.query")
    with _raises(InvalidInputError, TypeError, "dict"):
        tiny_encoder.encode([{"text": "hello"}], "retrieval.query")
    with _raises(InputFileNotFoundError, FileNotFoundError, "absent.png"):
        tiny_encoder.encode([tmp_path / "absent.png"], "retrieval.passage")
    corrupt = tmp_path / "bad.jpg"
    corrupt.write_bytes(b"\xff\xd8\xff" + b"junk" * 20)
    with _raises(ImageLoadError, ValueError, "bad.jpg"):
        tiny_encoder.encode(["fine", corrupt], "retrieval.passage")
    with _raises(ImageLoadError, ValueError, "ftp://host/a.png"):
        tiny_encoder.encode([Image("ftp://host/a.png")], "retrieval.passage")
