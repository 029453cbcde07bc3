"""Inputs the encoder accepts: text (``str``) and images.

A ``str`` item is always text: it is never guessed to be a path or a URL. Images are
given as :class:`univec.Image` (from a path, URL, bytes or PIL image), a
``PIL.Image.Image`` or a ``pathlib.Path``.
"""

from __future__ import annotations

import io
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from univec.errors import (
    ImageLoadError,
    InputFileNotFoundError,
    InvalidInputError,
)

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["MAX_IMAGE_BYTES", "Image", "normalize_inputs"]

#: Largest image univec reads or downloads (the hosted API's limit too).
MAX_IMAGE_BYTES = 8 * 1024 * 1024
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

    __slots__ = ("_pil", "_source", "kind")

    def __init__(self, source: str | Path | bytes | bytearray | PIL.Image.Image | Image) -> None:
        self._pil: Any = None
        self._source: Any = None
        self.kind: str = ""
        if isinstance(source, Image):
            self.kind, self._source, self._pil = source.kind, source._source, source._pil
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

    def __repr__(self) -> str:
        if self.kind == "pil":
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
            self._pil.save(buffer, format="PNG")
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
            image = self._pil
        else:
            data = self.read_bytes(timeout=timeout)
            try:
                image = pil.open(io.BytesIO(data))
                image.load()
            except Exception as exc:  # PIL raises many types for corrupt files
                raise ImageLoadError(
                    f"Cannot decode {self!r} as an image ({type(exc).__name__}: {exc}). "
                    "Check that the file is a valid PNG, JPEG, WebP, ... image."
                ) from exc
        return image if image.mode == "RGB" else image.convert("RGB")


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
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": "univec"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            if declared is not None and declared.isdigit() and int(declared) > limit:
                raise ImageLoadError(
                    f"Image at {url!r} is {int(declared):,} bytes, over the {limit:,}-byte limit."
                )
            chunks: list[bytes] = []
            size = 0
            while True:
                if time.monotonic() > deadline:
                    raise ImageLoadError(
                        f"Downloading {url!r} took longer than {timeout:g} s. "
                        "Download it yourself or raise the timeout."
                    )
                # read1 returns what has arrived; read(n) would wait for n bytes and let a
                # trickling server overrun the deadline.
                chunk = response.read1(64 * 1024)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ImageLoadError(f"Image at {url!r} is over the {limit:,}-byte limit.")
                chunks.append(chunk)
    except ImageLoadError:
        raise
    except TimeoutError as exc:
        raise ImageLoadError(
            f"Downloading {url!r} took longer than {timeout:g} s. "
            "Download it yourself or raise the timeout."
        ) from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        if isinstance(getattr(exc, "reason", None), TimeoutError):
            raise ImageLoadError(
                f"Downloading {url!r} took longer than {timeout:g} s. "
                "Download it yourself or raise the timeout."
            ) from exc
        raise ImageLoadError(f"Cannot download image {url!r}: {exc}") from exc
    return b"".join(chunks)


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
