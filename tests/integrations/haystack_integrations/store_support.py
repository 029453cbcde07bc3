"""Opening a UnivecDocumentStore on each engine for the Haystack tests."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from haystack import Document

ENGINES = ["qdrant-edge", "milvus-lite"]


def open_store(request: pytest.FixtureRequest, engine: str, encoder: Any) -> Any:
    """A fresh, empty UnivecDocumentStore on ``engine`` over a ready collection of ``encoder``."""
    from haystack_integrations.document_stores.univec import UnivecDocumentStore

    if engine == "milvus-lite":
        pytest.importorskip("milvus_lite")
        from univec_milvus import MilvusCollection

        collection = MilvusCollection(
            request.getfixturevalue("collection_name"),
            encoder,
            uri=request.getfixturevalue("lite_uri"),
            progress=False,
        )
    else:
        pytest.importorskip("qdrant_edge")
        from univec_qdrant import QdrantCollection

        tmp_path = request.getfixturevalue("tmp_path")
        collection = QdrantCollection("docs", encoder, path=tmp_path / "qdrant", progress=False)
    return UnivecDocumentStore(collection=collection)


def comparable(documents: list[Document]) -> list[Document]:
    """Documents in id order, without the fields the store does not keep as given.

    The store embeds every Document itself (single and multi vectors, one model pass) and does
    not keep a Document's own `embedding`/`sparse_embedding`; `filter_documents` returns no
    `score` and promises no order.
    """
    return sorted(
        (replace(d, embedding=None, sparse_embedding=None, score=None) for d in documents),
        key=lambda d: d.id,
    )
