"""Collections for the framework vector store tests: a fresh one per test, on each engine."""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np

import univec

#: The engines every framework store is tested on.
ENGINES = ["qdrant_edge", "milvus_lite"]

#: Metadata rows exercising every filter operator: numbers, strings, bools, dates, missing keys.
ROWS = [
    {
        "lang": "en",
        "year": 2019,
        "score": 0.5,
        "draft": False,
        "date": "2019-05-01T00:00:00Z",
        "author": {"name": "Ada"},
    },
    {
        "lang": "fr",
        "year": 2021,
        "score": 1.5,
        "draft": True,
        "date": "2021-01-10T00:00:00Z",
        "author": {"name": "Alan"},
    },
    {"lang": "de", "year": 2023, "score": 2.5, "draft": False, "author": {"name": "Ada"}},
    {"lang": "en", "year": 2024, "draft": True, "date": "2024-03-03T00:00:00Z"},
    {"lang": "es", "score": 3.5, "draft": False, "date": "2022-07-07T00:00:00Z"},
]
TEXTS = [
    "The cat sat on the mat.",
    "Dogs bark at the moon at night.",
    "Paris is the capital of France.",
    "Python and Rust are programming languages.",
    "The mitochondria is the powerhouse of the cell.",
]


@contextlib.contextmanager
def open_collection(
    engine: str, encoder: univec.Encoder, tmp_path: Path, lite_uri: str, name: str
) -> Iterator[univec.collections.MultiVectorCollection]:
    """A new empty collection on ``engine``, dropped (Milvus) and closed afterwards."""
    if engine == "qdrant_edge":
        from univec_qdrant import QdrantCollection

        collection = QdrantCollection(name, encoder, path=tmp_path, progress=False)
        with collection:
            yield collection
        return
    from univec_milvus import MilvusCollection

    collection = MilvusCollection(name, encoder, uri=lite_uri, progress=False)
    try:
        yield collection
    finally:
        collection.engine.client.drop_collection(name)
        collection.close()


def image_b64(path: Path) -> str:
    """The base64 text of an image file (how LlamaIndex's ``ImageNode.image`` holds one)."""
    return base64.b64encode(path.read_bytes()).decode()


def exact_maxsim(encoder: univec.Encoder, query: str, item: object) -> float:
    """NumPy MaxSim of the encoder's query token vectors against one stored item."""
    query_multi = encoder.encode([query], "retrieval.query", multivector=True)[0]
    document = encoder.encode([item], "retrieval.passage", multivector=True)[0]
    return float(univec.maxsim(np.asarray(query_multi), np.asarray(document)))


def expected_ids(tree: object, ids: list[str], rows: list[dict]) -> set[str]:
    """The ids whose metadata a brute-force check (:func:`filters.evaluate`) selects."""
    from univec.collections.filters import evaluate

    return {i for i, row in zip(ids, rows, strict=True) if evaluate(tree, row)}  # type: ignore[arg-type]
