"""Inputs the encoder accepts: text (``str``) and images.

A ``str`` item is always text: it is never guessed to be a path or a URL. Images are
given as :class:`univec.Image` (from a path, URL, bytes or PIL image), a
``PIL.Image.Image`` or a ``pathlib.Path``.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
import urllib.error
import urllib.parse
import urllib.request
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from univec.errors import (
    ImageLoadError,
    InputFileNotFoundError,
    InvalidInputError,
)

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["MAX_IMAGE_BYTES", "MAX_IMAGE_PIXELS", "Image", "normalize_inputs"]

#: Largest image univec reads or downloads (the hosted API's limit too).
MAX_IMAGE_BYTES = 8 * 1024 * 1024
#: Most pixels univec decodes an image file at: larger JPEGs are decoded downscaled (draft
#: mode), larger images of other formats are refused before any pixel is decoded.
MAX_IMAGE_PIXELS = 40_000_000
#: Seconds a whole image download may take.
DEFAULT_DOWNLOAD_TIMEOUT = 30.0


class Image:
    """An image input, read lazily.

    Args:
        source: A file path (``str`` or ``Path``), an ``http(s)`` URL, the encoded bytes of
            an image file, or a ``PIL.Image.Image``.

    Example:
        >>> Image("page.png"), Image("https://example.com/cat.jpg"), Image(png_bytes)
    """

    __slots__ = ("_origin", "_pil", "_source", "kind")

    def __init__(self, source: str | Path | bytes | bytearray | PIL.Image.Image | Image) -> None:
        self._pil: Any = None
        self._source: Any = None
        # How repr names an image whose source it does not hold: the URL a downloaded image
        # came from, or the PDF page a rendered image will be drawn from.
        self._origin: str | None = None
        self.kind: str = ""
        if isinstance(source, Image):
            self.kind, self._source, self._pil = source.kind, source._source, source._pil
            self._origin = source._origin
            return
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.kind, self._source = "bytes", bytes(source)
        elif isinstance(source, Path):
            self.kind, self._source = "path", source
        elif isinstance(source, str):
            scheme = urllib.parse.urlsplit(source).scheme.lower()
            if scheme in ("http", "https"):
                self.kind, self._source = "url", source
            elif len(scheme) > 1:  # one letter is a Windows drive, not a scheme
                raise ImageLoadError(
                    f"Image URL {source!r} has the scheme {scheme!r}; only http and https URLs "
                    "are fetched. Download the file yourself and pass its path or bytes."
                )
            else:
                self.kind, self._source = "path", Path(source)
        elif _is_pil_image(source):
            self.kind, self._source, self._pil = "pil", None, source
        else:
            raise InvalidInputError(
                f"Cannot make an image from {type(source).__name__} {_short(source)}. "
                "Pass a path, an http(s) URL, image bytes or a PIL image."
            )
        if self.kind == "path":
            path = self._source
            if path.is_dir():
                raise ImageLoadError(
                    f"Image path {str(path)!r} is a directory, not an image file. Pass one "
                    "path per image (e.g. sorted(folder.glob('*.png')))."
                )
            if not path.is_file():
                raise InputFileNotFoundError(
                    f"Image file {str(path)!r} does not exist. Check the path "
                    "(text must be passed as str, images as univec.Image or pathlib.Path)."
                )
            if path.stat().st_size > MAX_IMAGE_BYTES:
                raise ImageLoadError(
                    f"Image file {str(path)!r} is {path.stat().st_size:,} bytes, over the "
                    f"{MAX_IMAGE_BYTES:,}-byte limit. Resize or recompress it."
                )

    @classmethod
    def from_path(cls, path: str | Path) -> Image:
        """An image read from a file."""
        return cls(Path(path))

    @classmethod
    def from_url(cls, url: str) -> Image:
        """An image downloaded from an ``http(s)`` URL (by the local backend) or passed on (API)."""
        if urllib.parse.urlsplit(str(url)).scheme.lower() not in ("http", "https"):
            raise ImageLoadError(f"{url!r} is not an http(s) URL. Use Image.from_path for files.")
        return cls(url)

    @classmethod
    def from_bytes(cls, data: bytes) -> Image:
        """An image from the encoded bytes of an image file (PNG, JPEG, ...)."""
        return cls(bytes(data))

    @classmethod
    def from_pil(cls, image: PIL.Image.Image) -> Image:
        """An image from a PIL image."""
        return cls(image)

    @property
    def url(self) -> str | None:
        """The URL, for images given by URL."""
        return self._source if self.kind == "url" else None

    @property
    def path(self) -> Path | None:
        """The file path, for images given by path."""
        return self._source if self.kind == "path" else None

    @classmethod
    def rendered(
        cls, render: Callable[[], PIL.Image.Image], label: str, size: tuple[int, int]
    ) -> Image:
        """An image drawn by ``render`` each time it is needed, never kept in memory.

        :func:`univec.pdf_pages` returns its pages this way, so that a long PDF is rendered
        page by page as it is encoded, not all at once.

        Args:
            render: Returns the image (called again for each use).
            label: How ``repr`` names it, e.g. ``"<page 3 of 'report.pdf'>"``.
            size: The ``(width, height)`` ``render`` gives.
        """
        image = cls.__new__(cls)
        image.kind, image._pil, image._origin = "pil", None, label
        image._source = (render, tuple(size))
        return image

    @property
    def size(self) -> tuple[int, int] | None:
        """``(width, height)`` when known without reading the image (PIL and rendered images)."""
        if self.kind != "pil":
            return None
        if self._pil is None:
            return self._source[1]
        return tuple(self._pil.size)

    def prefetched(self, timeout: float = DEFAULT_DOWNLOAD_TIMEOUT) -> Image:
        """This image with a URL's bytes downloaded now; images of other kinds as they are.

        The local backend downloads before it takes its model lock, so that a slow server
        never holds up other threads' encodes.

        Raises:
            ImageLoadError: The download failed, was too large or too slow.
        """
        if self.kind != "url":
            return self
        downloaded = Image(self.read_bytes(timeout=timeout))
        downloaded._origin = repr(self._source)
        return downloaded

    def __repr__(self) -> str:
        if self._origin is not None:
            return f"Image({self._origin})"
        if self.kind == "pil" and self._pil is not None:
            return f"Image(<PIL {self._pil.mode} {self._pil.size[0]}x{self._pil.size[1]}>)"
        if self.kind == "bytes":
            return f"Image(<{len(self._source)} bytes>)"
        return f"Image({str(self._source)!r})"

    def read_bytes(self, timeout: float = DEFAULT_DOWNLOAD_TIMEOUT) -> bytes:
        """The encoded image file: read, downloaded, or (for PIL images) encoded as PNG."""
        if self.kind == "bytes":
            data = self._source
        elif self.kind == "path":
            try:
                data = self._source.read_bytes()
            except FileNotFoundError as exc:
                raise InputFileNotFoundError(
                    f"Image file {str(self._source)!r} does not exist (any more). Check the path."
                ) from exc
            except OSError as exc:
                raise ImageLoadError(
                    f"Cannot read image file {str(self._source)!r}: {exc}"
                ) from exc
        elif self.kind == "url":
            data = download(self._source, timeout=timeout)
        else:
            buffer = io.BytesIO()
            self.to_pil().save(buffer, format="PNG")
            return buffer.getvalue()
        if len(data) > MAX_IMAGE_BYTES:
            raise ImageLoadError(
                f"{self!r} is {len(data):,} bytes, over the {MAX_IMAGE_BYTES:,}-byte limit. "
                "Resize or recompress it."
            )
        return data

    def to_pil(self, timeout: float = DEFAULT_DOWNLOAD_TIMEOUT) -> PIL.Image.Image:
        """Decode the image as an RGB ``PIL.Image.Image``.

        Raises:
            ImageLoadError: The data is not a readable image, or the download failed.
        """
        from univec._optional import require

        pil = require("PIL.Image", "local")
        if self.kind == "pil":
            image = self._pil if self._pil is not None else self._source[0]()
        else:
            data = self.read_bytes(timeout=timeout)
            try:
                with warnings.catch_warnings():  # the bound below is univec's own check
                    warnings.simplefilter("ignore", pil.DecompressionBombWarning)
                    image = pil.open(io.BytesIO(data))
                _bound_pixels(image, self)
                image.load()
            except ImageLoadError:
                raise
            except Exception as exc:  # PIL raises many types for corrupt files
                raise ImageLoadError(
                    f"Cannot decode {self!r} as an image ({type(exc).__name__}: {exc}). "
                    "Check that the file is a valid PNG, JPEG, WebP, ... image."
                ) from exc
        return image if image.mode == "RGB" else image.convert("RGB")


def _bound_pixels(image: PIL.Image.Image, source: Image) -> None:
    """Keep the decode of an opened (not yet loaded) image under :data:`MAX_IMAGE_PIXELS`.

    A JPEG over it is decoded at 1/2, 1/4 or 1/8 scale (its decoder's draft mode: no full-size
    pixels ever exist); anything else over it is refused before a pixel is decoded.

    Raises:
        ImageLoadError: The image declares more pixels than the bound allows.
    """
    width, height = image.size
    if width * height <= MAX_IMAGE_PIXELS:
        return
    if image.format == "JPEG":
        for factor in (2, 4, 8):  # the reductions a JPEG decoder can do
            size = (-(-width // factor), -(-height // factor))
            if size[0] * size[1] <= MAX_IMAGE_PIXELS:
                image.draft("RGB", size)  # the smallest reduction that fits the bound
                if image.size[0] * image.size[1] <= MAX_IMAGE_PIXELS:
                    return
                break
    raise ImageLoadError(
        f"{source!r} declares {image.size[0]}x{image.size[1]} pixels, over the bound of "
        f"{MAX_IMAGE_PIXELS:,} pixels univec decodes (the model sees at most ~600k pixels). "
        "Downscale it first, e.g. with PIL's Image.thumbnail."
    )


def download(
    url: str, *, timeout: float = DEFAULT_DOWNLOAD_TIMEOUT, limit: int = MAX_IMAGE_BYTES
) -> bytes:
    """Download ``url`` with a size cap and a deadline for the whole transfer.

    Raises:
        ImageLoadError: Non-http(s) scheme, HTTP error, over ``limit`` bytes, or slower than
            ``timeout`` seconds.
    """
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https"):
        raise ImageLoadError(f"Refusing to fetch {url!r}: only http and https URLs are fetched.")
    too_slow = (
        f"Downloading {url!r} took longer than {timeout:g} s. "
        "Download it yourself or raise the timeout."
    )
    request = urllib.request.Request(url, headers={"User-Agent": "univec"})
    # One deadline for the whole download: connecting, TLS, headers and body. Socket timeouts
    # only bound each read, so a server trickling headers could hold a download for ever.
    deadline = _Deadline(timeout)
    opener = urllib.request.build_opener(
        _DeadlineHTTPHandler(deadline), _DeadlineHTTPSHandler(deadline)
    )
    try:
        with opener.open(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise ImageLoadError(
                    f"Image at {url!r} is {int(declared):,} bytes, over the {limit:,}-byte limit."
                )
            chunks: list[bytes] = []
            size = 0
            while True:
                if deadline.expired:
                    raise ImageLoadError(too_slow)
                # read1 returns what has arrived; read(n) would wait for n bytes.
                chunk = response.read1(64 * 1024)
                if not chunk:
                    if deadline.expired:  # the watchdog shut the connection
                        raise ImageLoadError(too_slow)
                    break
                size += len(chunk)
                if size > limit:
                    raise ImageLoadError(f"Image at {url!r} is over the {limit:,}-byte limit.")
                chunks.append(chunk)
    except ImageLoadError:
        raise
    except TimeoutError as exc:
        raise ImageLoadError(too_slow) from exc
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as exc:
        if deadline.expired or isinstance(getattr(exc, "reason", None), TimeoutError):
            raise ImageLoadError(too_slow) from exc
        raise ImageLoadError(f"Cannot download image {url!r}: {exc}") from exc
    finally:
        deadline.cancel()
    return b"".join(chunks)


class _Deadline:
    """Shuts down the connections of one download when its total time is up."""

    def __init__(self, seconds: float) -> None:
        self.expired = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def register(self, sock: socket.socket) -> socket.socket:
        """Watch ``sock``; it is shut down at once if the deadline has already passed."""
        with self._lock:
            self._sockets.append(sock)
            expired = self.expired
        if expired:
            _shutdown(sock)
        return sock

    def cancel(self) -> None:
        """Stop the watchdog (the download finished or failed)."""
        self._timer.cancel()
        with self._lock:
            self._sockets.clear()

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


def _shutdown(sock: socket.socket) -> None:
    """Wake a thread blocked reading ``sock`` (the plain socket call: TLS state is left alone)."""
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class _DeadlineHTTPConnection(http.client.HTTPConnection):
    deadline: _Deadline

    def connect(self) -> None:
        create = self._create_connection  # type: ignore[has-type]
        self._create_connection = lambda *a, **k: self.deadline.register(create(*a, **k))
        super().connect()
        self.deadline.register(self.sock)


class _DeadlineHTTPSConnection(http.client.HTTPSConnection):
    deadline: _Deadline

    def connect(self) -> None:
        create = self._create_connection  # type: ignore[has-type]
        self._create_connection = lambda *a, **k: self.deadline.register(create(*a, **k))
        super().connect()
        self.deadline.register(self.sock)  # the TLS socket took over the plain one's descriptor


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def http_open(self, req: urllib.request.Request) -> Any:
        def connect(host: str, /, **options: Any) -> http.client.HTTPConnection:
            connection = _DeadlineHTTPConnection(host, **options)
            connection.deadline = self._deadline
            return connection

        return self.do_open(connect, req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, deadline: _Deadline) -> None:
        super().__init__()
        self._deadline = deadline

    def https_open(self, req: urllib.request.Request) -> Any:
        def connect(host: str, /, **options: Any) -> http.client.HTTPConnection:
            connection = _DeadlineHTTPSConnection(host, **options)
            connection.deadline = self._deadline
            return connection

        return self.do_open(connect, req, context=self._context)  # type: ignore[attr-defined]


def _is_pil_image(value: object) -> bool:
    cls = type(value)
    return any(
        base.__module__.startswith("PIL.") and base.__name__ == "Image" for base in cls.__mro__
    )


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def normalize_inputs(inputs: Iterable[object]) -> list[str | Image]:
    """Validate ``inputs`` and return them as ``str`` (text) or :class:`Image` items, in order.

    Raises:
        InvalidInputError: ``inputs`` is a bare string or an item is neither text nor an image.
        InputFileNotFoundError: A ``Path`` item does not exist.
        ImageLoadError: An image URL has a non-http(s) scheme.
    """
    if (
        isinstance(inputs, (str, bytes))
        or _is_pil_image(inputs)
        or isinstance(inputs, (Image, Path))
    ):
        raise InvalidInputError(
            f"inputs must be a list of items, got a single {type(inputs).__name__}. "
            "Wrap it in a list: encode([item], ...)."
        )
    if isinstance(inputs, Mapping) or not isinstance(inputs, (Sequence, Iterable)):
        raise InvalidInputError(
            f"inputs must be a list of texts and images, got {type(inputs).__name__}."
        )
    items: list[str | Image] = []
    for position, item in enumerate(inputs):
        if isinstance(item, (str, Image)):
            items.append(item)
        elif isinstance(item, Path) or _is_pil_image(item):
            items.append(Image(item))  # type: ignore[arg-type]
        else:
            raise InvalidInputError(
                f"Input #{position} is {type(item).__name__} {_short(item)}: each item must be "
                "a str (text) or an image (univec.Image, PIL.Image.Image or pathlib.Path)."
            )
    return items
