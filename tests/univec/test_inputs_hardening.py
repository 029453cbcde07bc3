"""Input hardening (issue 12): download deadlines, pixel bounds, long texts."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

import univec
from tests.support.trickle_server import TrickleServer
from univec.errors import ImageLoadError
from univec.inputs import download


def _png(width: int = 32, height: int = 24) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_download_deadline_covers_trickled_headers():
    """Item 12: a server trickling headers kept a timeout=2 download going 30 s."""
    # A byte every 0.02 s for up to ~20 s: far inside the 2 s each read may take.
    with TrickleServer(_png(), max_bytes=1000, interval=0.02) as server:
        with pytest.raises(ImageLoadError, match=r"took longer than 2 s"):
            download(server.url, timeout=2)
        server.release()
        assert download(server.url, timeout=30) == _png()  # the server itself works


def test_a_slow_download_does_not_hold_up_other_encodes(tiny_encoder):
    """Item 12: downloads happen outside the local backend's model lock."""
    with TrickleServer(_png(), max_bytes=500, interval=0.05) as server:  # <= 25 s, under 30 s
        results: dict[str, object] = {}

        def encode_url() -> None:
            results["image"] = tiny_encoder.encode([univec.Image(server.url)], "retrieval.query")

        def encode_text() -> None:
            results["text"] = tiny_encoder.encode(["unrelated"], "retrieval.query")

        downloading = threading.Thread(target=encode_url)
        downloading.start()
        assert server.connected.wait(30)
        other = threading.Thread(target=encode_text)
        other.start()
        other.join(timeout=60)  # a bound, not a timing: it ends as soon as the encode does
        finished_first = not other.is_alive()
        still_downloading = downloading.is_alive()
        server.release()
        downloading.join(timeout=60)
        other.join(timeout=60)
    assert finished_first and still_downloading
    assert np.asarray(results["text"]).shape[0] == 1
    assert np.asarray(results["image"]).shape[0] == 1


def _png_declaring(width: int, height: int) -> bytes:
    """A valid 1-bit PNG of ``width`` x ``height`` (all black): tiny file, huge decode."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes((width + 7) // 8)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    pixels = zlib.compress(row * height, 9)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def test_an_image_declaring_too_many_pixels_is_refused_before_decoding():
    """Item 14: a 13000x13000 PNG was decoded at full size (41 s, 2.6 GB)."""
    data = _png_declaring(13000, 13000)
    assert len(data) < 100_000
    with pytest.raises(ImageLoadError, match=r"declares 13000x13000 pixels, over the bound"):
        univec.Image(data).to_pil()


def test_a_large_jpeg_is_decoded_downscaled(monkeypatch):
    """Item 14: a JPEG over the bound is decoded in draft mode, never at full size."""
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (400, 200), (200, 30, 30)).save(buffer, format="JPEG")
    monkeypatch.setattr("univec.inputs.MAX_IMAGE_PIXELS", 25_000)
    decoded = univec.Image(buffer.getvalue()).to_pil()
    assert decoded.size == (200, 100) and decoded.mode == "RGB"  # 1/2 scale
    monkeypatch.setattr("univec.inputs.MAX_IMAGE_PIXELS", 100)  # beyond 1/8 scale: refused
    with pytest.raises(ImageLoadError, match="over the bound"):
        univec.Image(buffer.getvalue()).to_pil()


def _pdf(pages: int, size: tuple[float, float]) -> bytes:
    pdfium = pytest.importorskip("pypdfium2")
    document = pdfium.PdfDocument.new()
    for _ in range(pages):
        document.new_page(*size)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_pdf_pages_are_bounded_in_pixels_and_dpi():
    """Item 13: a 553-byte PDF rendered a 20000x20000 page (4.2 GB)."""
    from univec.pdf import MAX_PAGE_PIXELS

    data = _pdf(1, (20000, 20000))
    (page,) = univec.pdf_pages(data)
    rendered = page.to_pil()
    assert rendered.width * rendered.height <= MAX_PAGE_PIXELS
    assert rendered.size == page.size and rendered.width == rendered.height
    small = univec.pdf_pages(data, max_pixels=10_000)[0].to_pil()
    assert small.width * small.height <= 10_000
    letter = univec.pdf_pages(_pdf(1, (612, 792)), dpi=50)[0].to_pil()
    assert letter.size == (425, 550)  # under the bound, dpi decides as before
    with pytest.raises(univec.errors.InvalidArgumentError, match="at most 1200"):
        univec.pdf_pages(data, dpi=100_000)


def test_pdf_pages_render_lazily(monkeypatch):
    """Item 13: a 500-page PDF was rendered whole into memory (1.8 GB)."""
    pdfium = pytest.importorskip("pypdfium2")
    renders = []
    original = pdfium.PdfPage.render
    monkeypatch.setattr(
        pdfium.PdfPage, "render", lambda self, **kw: renders.append(1) or original(self, **kw)
    )
    pages = univec.pdf_pages(_pdf(40, (612, 792)), dpi=30)
    assert len(pages) == 40 and renders == []
    assert "page 7" in repr(pages[7])
    pages[7].to_pil()
    assert len(renders) == 1
