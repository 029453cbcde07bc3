"""PDF pages as images, so that a collection can store and search visually rich documents.

Needs the ``pdf`` extra (``pip install "univec[pdf]"``): pages are rendered with pypdfium2.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from univec._optional import require
from univec.errors import InputFileNotFoundError, InvalidArgumentError, PDFLoadError
from univec.inputs import Image

__all__ = ["DEFAULT_DPI", "pdf_pages"]

#: Rendering resolution. A letter page at 100 dpi is 850x1100 pixels; the model's image
#: processor scales every image to at most ~602k pixels, so higher dpi costs time, not quality.
DEFAULT_DPI = 100


def pdf_pages(
    path: str | Path | bytes,
    dpi: float = DEFAULT_DPI,
    pages: Iterable[int] | None = None,
    *,
    password: str | None = None,
) -> list[Image]:
    """Render the pages of a PDF as images, ready for ``Encoder.encode`` or a collection's ``add``.

    Args:
        path: The PDF file, or its bytes.
        dpi: Rendering resolution in dots per inch.
        pages: 0-based page indices to render, in the order wanted (default: every page).
            Negative indices count from the end.
        password: Password of an encrypted PDF.

    Returns:
        One :class:`univec.Image` per page.

    Raises:
        InputFileNotFoundError: ``path`` does not exist.
        PDFLoadError: The file is not a readable PDF, or a page index is out of range.
        InvalidArgumentError: ``dpi`` is not a positive number.

    Example:
        >>> pages = univec.pdf_pages("report.pdf", pages=range(3))
        >>> collection.add(pages, ids=[f"report.pdf#{i}" for i in range(3)])
    """
    pdfium = require("pypdfium2", "pdf")
    if isinstance(dpi, bool) or not isinstance(dpi, (int, float)) or not dpi > 0:
        raise InvalidArgumentError(f"dpi={dpi!r} must be a positive number, e.g. 100.")
    if isinstance(path, (bytes, bytearray)):
        source: bytes | str = bytes(path)
        label = f"<{len(path)} bytes of PDF>"
    else:
        file = Path(path)
        if not file.is_file():
            raise InputFileNotFoundError(f"PDF file {str(file)!r} does not exist. Check the path.")
        source, label = str(file), repr(str(file))
    try:
        document = pdfium.PdfDocument(source, password=password)
    except pdfium.PdfiumError as exc:
        raise PDFLoadError(
            f"Cannot open {label} as a PDF ({exc}). Check that it is a valid, unencrypted PDF "
            "(or pass password=)."
        ) from exc
    try:
        total = len(document)
        indices = (
            list(range(total)) if pages is None else [_page_index(i, total, label) for i in pages]
        )
        images: list[Image] = []
        for index in indices:
            page = document[index]
            try:
                bitmap = page.render(scale=dpi / 72)
                images.append(Image(bitmap.to_pil().convert("RGB")))
            except pdfium.PdfiumError as exc:
                raise PDFLoadError(f"Cannot render page {index} of {label}: {exc}") from exc
            finally:
                page.close()
        return images
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
