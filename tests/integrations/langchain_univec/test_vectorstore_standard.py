"""LangChain's standard vector store suite (sync and async), unmodified, on both engines.

The store encodes with the tiny random-weight checkpoint: the suite's ranking assertions
("bar" ranks "bar" above "foo", "new foo" above "bar") hold for it in every search mode.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from langchain_tests.integration_tests import VectorStoreIntegrationTests

from langchain_univec import UnivecVectorStore

pytest.importorskip("qdrant_edge")


class TestUnivecVectorStoreQdrantEdge(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tiny_encoder, tmp_path) -> Iterator[UnivecVectorStore]:
        from univec_qdrant import QdrantCollection

        collection = QdrantCollection("standard", tiny_encoder, path=tmp_path, progress=False)
        store = UnivecVectorStore(collection)
        try:
            yield store
        finally:
            collection.close()


class TestUnivecVectorStoreMilvusLite(VectorStoreIntegrationTests):
    @pytest.fixture
    def vectorstore(self, tiny_encoder, lite_uri, collection_name) -> Iterator[UnivecVectorStore]:
        pytest.importorskip("milvus_lite")
        from univec_milvus import MilvusCollection

        collection = MilvusCollection(collection_name, tiny_encoder, uri=lite_uri, progress=False)
        store = UnivecVectorStore(collection)
        try:
            yield store
        finally:
            collection.engine.client.drop_collection(collection_name)
            collection.close()
