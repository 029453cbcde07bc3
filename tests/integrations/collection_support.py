"""Data and helpers shared by the collection tests of every engine (Qdrant, Milvus)."""

from __future__ import annotations

import io

import numpy as np

import univec

TEXTS = [
    "The cat sat on the mat.",
    "Dogs bark at the moon at night.",
    "Paris is the capital of France.",
    "Python and Rust are programming languages.",
    "The mitochondria is the powerhouse of the cell.",
]


def make_pdf(colors: list[str]) -> bytes:
    """A small PDF, one plain page per colour, with a black bar at a different height."""
    from PIL import Image, ImageDraw

    pages = []
    for index, color in enumerate(colors):
        page = Image.new("RGB", (240, 320), color)
        ImageDraw.Draw(page).rectangle((20, 40 + 60 * index, 220, 90 + 60 * index), fill="black")
        pages.append(page)
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", save_all=True, append_images=pages[1:])
    return buffer.getvalue()


def exact_maxsim(encoder, query, items) -> np.ndarray:
    """NumPy MaxSim of the encoder's own query and document token vectors."""
    query_multi = encoder.encode([query], "retrieval.query", multivector=True)[0]
    documents = encoder.encode(items, "retrieval.passage", multivector=True)
    return np.array([univec.maxsim(query_multi, document) for document in documents])


def release_lite(uri: str) -> None:
    """Stop the Milvus Lite instance of ``uri``: the next client starts it again from disk."""
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(uri)
