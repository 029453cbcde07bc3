"""``univec.pdf_pages``: PDF pages rendered as images with pypdfium2."""

from __future__ import annotations

import io
import sys

import pytest

import univec
from univec.errors import (
    ImageLoadError,
    InputFileNotFoundError,
    InvalidArgumentError,
    MissingDependencyError,
    PDFLoadError,
)

pytest.importorskip("pypdfium2")
PIL_Image = pytest.importorskip("PIL.Image")

COLORS = [(255, 0, 0), (0, 0, 255), (0, 128, 0)]


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    """Three pages of 144x216 points, each filled with one colour."""
    pages = [PIL_Image.new("RGB", (144, 216), color) for color in COLORS]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=72, save_all=True, append_images=pages[1:])
    return buffer.getvalue()


@pytest.fixture
def pdf_path(tmp_path, pdf_bytes):
    path = tmp_path / "three pages.pdf"
    path.write_bytes(pdf_bytes)
    return path


def center(image: univec.Image) -> tuple[int, ...]:
    pil = image.to_pil()
    return pil.getpixel((pil.width // 2, pil.height // 2))


def near(pixel: tuple[int, ...], color: tuple[int, ...]) -> bool:
    return all(abs(a - b) <= 3 for a, b in zip(pixel, color, strict=True))


def test_every_page_is_rendered_in_order(pdf_path):
    pages = univec.pdf_pages(pdf_path)
    assert len(pages) == 3 and all(isinstance(page, univec.Image) for page in pages)
    assert all(near(center(page), color) for page, color in zip(pages, COLORS, strict=True))
    assert pages[0].to_pil().mode == "RGB"


def test_dpi_sets_the_size(pdf_path):
    small = univec.pdf_pages(str(pdf_path), dpi=72)[0].to_pil()
    large = univec.pdf_pages(pdf_path, dpi=144)[0].to_pil()
    assert small.size == (144, 216)
    assert large.size == (288, 432)


def test_pages_selects_and_orders(pdf_bytes):
    pages = univec.pdf_pages(pdf_bytes, dpi=30, pages=[2, 0, -2])
    assert len(pages) == 3 and near(center(pages[0]), COLORS[2])
    assert near(center(pages[1]), COLORS[0]) and near(center(pages[2]), COLORS[1])
    assert univec.pdf_pages(pdf_bytes, dpi=30, pages=range(0)) == []


def test_pages_encode_like_images(pdf_bytes, tiny_encoder):
    pages = univec.pdf_pages(pdf_bytes, dpi=40, pages=[0])
    multi = tiny_encoder.encode(pages, "retrieval.passage", multivector=True)
    direct = tiny_encoder.encode([pages[0].to_pil()], "retrieval.passage", multivector=True)
    assert multi[0].shape[1] == 128 and (multi[0] == direct[0]).all()


def test_errors_are_typed(tmp_path, pdf_bytes):
    with pytest.raises(InputFileNotFoundError, match=r"missing\.pdf"):
        univec.pdf_pages(tmp_path / "missing.pdf")
    not_pdf = tmp_path / "not.pdf"
    not_pdf.write_bytes(b"hello, I am text")
    with pytest.raises(PDFLoadError, match=r"not\.pdf"):
        univec.pdf_pages(not_pdf)
    with pytest.raises(ImageLoadError):  # PDFLoadError is an ImageLoadError
        univec.pdf_pages(b"%PDF-1.4 truncated")
    with pytest.raises(PDFLoadError, match="3 pages"):
        univec.pdf_pages(pdf_bytes, pages=[3])
    with pytest.raises(InvalidArgumentError, match="dpi"):
        univec.pdf_pages(pdf_bytes, dpi=0)
    with pytest.raises(InvalidArgumentError, match="0-based"):
        univec.pdf_pages(pdf_bytes, pages=["1"])


def test_missing_pypdfium2_names_the_extra(monkeypatch, pdf_bytes):
    monkeypatch.setitem(sys.modules, "pypdfium2", None)
    with pytest.raises(MissingDependencyError, match=r"univec\[pdf\]"):
        univec.pdf_pages(pdf_bytes)
