"""PDF pages as images, so that a collection can store and search visually rich documents.

Needs the ``pdf`` extra (``pip install "univec[pdf]"``): pages are rendered with pypdfium2.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from univec._optional import require
from univec.errors import InputFileNotFoundError, InvalidArgumentError, PDFLoadError
from univec.inputs import MAX_IMAGE_PIXELS, Image

if TYPE_CHECKING:
    import PIL.Image

__all__ = ["DEFAULT_DPI", "MAX_DPI", "MAX_PAGE_PIXELS", "pdf_pages"]

#: Rendering resolution. A letter page at 100 dpi is 850x1100 pixels; the model's image
#: processor scales every image to at most ~602k pixels, so higher dpi costs time, not quality.
DEFAULT_DPI = 100
#: Highest ``dpi`` accepted.
MAX_DPI = 1200
#: Most pixels of one rendered page: what the model's image processor keeps (768 image tokens
#: of 28x28 pixels). Pages whose ``dpi`` would give more are rendered at the resolution that
#: gives this many; a page size declared by the PDF never decides the memory a page takes.
MAX_PAGE_PIXELS = 602112


def pdf_pages(
    path: str | Path | bytes,
    dpi: float = DEFAULT_DPI,
    pages: Iterable[int] | None = None,
    *,
    password: str | None = None,
    max_pixels: int = MAX_PAGE_PIXELS,
) -> list[Image]:
    """The pages of a PDF as images, ready for ``Encoder.encode`` or a collection's ``add``.

    Pages are rendered lazily: each :class:`univec.Image` draws its page when it is encoded
    (and forgets it afterwards), so a 500-page PDF never sits in memory as 500 bitmaps.

    Args:
        path: The PDF file, or its bytes.
        dpi: Rendering resolution in dots per inch (at most :data:`MAX_DPI`).
        pages: 0-based page indices to render, in the order wanted (default: every page).
            Negative indices count from the end.
        password: Password of an encrypted PDF.
        max_pixels: Most pixels of one rendered page; a page larger at ``dpi`` is rendered at
            a lower resolution. Default: what the model's image processor keeps.

    Returns:
        One :class:`univec.Image` per page.

    Raises:
        InputFileNotFoundError: ``path`` does not exist.
        PDFLoadError: The file is not a readable PDF, or a page index is out of range
            (rendering errors are raised when a page is encoded).
        InvalidArgumentError: ``dpi`` or ``max_pixels`` is not a positive number within bounds.

    Example:
        >>> pages = univec.pdf_pages("report.pdf", pages=range(3))
        >>> collection.add(pages, ids=[f"report.pdf#{i}" for i in range(3)])
    """
    pdfium = require("pypdfium2", "pdf")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not 0 < dpi <= MAX_DPI:
        raise InvalidArgumentError(
            f"dpi={dpi!r} must be a positive number of at most {MAX_DPI}, e.g. 100."
        )
    if (
        isinstance(max_pixels, bool)
        or not isinstance(max_pixels, int)
        or not 0 < max_pixels <= MAX_IMAGE_PIXELS
    ):
        raise InvalidArgumentError(
            f"max_pixels={max_pixels!r} must be a positive int of at most {MAX_IMAGE_PIXELS:,}."
        )
    if isinstance(path, (bytes, bytearray)):
        source: bytes | str = bytes(path)
        label = f"<{len(path)} bytes of PDF>"
    else:
        file = Path(path)
        if not file.is_file():
            raise InputFileNotFoundError(f"PDF file {str(file)!r} does not exist. Check the path.")
        source, label = str(file), repr(str(file))
    document = _open(pdfium, source, password, label)
    try:
        total = len(document)
        indices = (
            list(range(total)) if pages is None else [_page_index(i, total, label) for i in pages]
        )
        sizes = {index: _page_size(document, index, label) for index in dict.fromkeys(indices)}
    finally:
        document.close()
    images: list[Image] = []
    for index in indices:
        width, height = sizes[index]
        scale = dpi / 72
        if width * scale * height * scale > max_pixels:
            scale = math.sqrt(max_pixels / (width * height))
        size = (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale)))
        while size[0] * size[1] > max_pixels and scale > 0:  # pdfium rounds sizes up
            scale *= 0.999
            size = (max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale)))
        images.append(
            Image.rendered(
                functools.partial(_render, pdfium, source, password, label, index, scale),
                f"<page {index} of {label}>",
                size,
            )
        )
    return images


def _open(pdfium: Any, source: bytes | str, password: str | None, label: str) -> Any:
    try:
        return pdfium.PdfDocument(source, password=password)
    except pdfium.PdfiumError as exc:
        raise PDFLoadError(
            f"Cannot open {label} as a PDF ({exc}). Check that it is a valid, unencrypted PDF "
            "(or pass password=)."
        ) from exc


def _page_size(document: Any, index: int, label: str) -> tuple[float, float]:
    """Width and height of a page in points (1/72 inch), as it renders (rotation applied)."""
    page = document[index]
    try:
        width, height = page.get_size()
    finally:
        page.close()
    if not (width > 0 and height > 0 and math.isfinite(width * height)):
        raise PDFLoadError(f"Page {index} of {label} has no drawable size ({width}x{height}).")
    return float(width), float(height)


def _render(
    pdfium: Any, source: bytes | str, password: str | None, label: str, index: int, scale: float
) -> PIL.Image.Image:
    """Render one page (the document is opened for it and closed again)."""
    document = _open(pdfium, source, password, label)
    try:
        page = document[index]
        try:
            bitmap = page.render(scale=scale)
            return bitmap.to_pil().convert("RGB")
        except pdfium.PdfiumError as exc:
            raise PDFLoadError(f"Cannot render page {index} of {label}: {exc}") from exc
        finally:
            page.close()
    finally:
        document.close()


def _page_index(index: object, total: int, label: str) -> int:
    if isinstance(index, bool) or not isinstance(index, int):
        raise InvalidArgumentError(f"Page index {index!r} must be an int (0-based).")
    if not -total <= index < total:
        raise PDFLoadError(
            f"Page index {index} is out of range: {label} has {total} pages (0..{total - 1})."
        )
    return index % total
