"""UnivecDocumentStore under Haystack's own DocumentStore test suites, on Qdrant Edge and Milvus Lite.

The suites (``haystack.testing.document_store`` and ``document_store_async``) run unmodified;
the only override is ``assert_documents_are_equal`` (Haystack documents it as the place where
stores differ): see :func:`store_support.comparable` for why.
"""

from __future__ import annotations

import pytest
from haystack import Document
from haystack.document_stores.types import DuplicatePolicy
from haystack.testing.document_store import (
    CountDocumentsByFilterTest,
    DeleteAllTest,
    DeleteByFilterTest,
    DocumentStoreBaseTests,
)
from haystack.testing.document_store_async import (
    CountDocumentsAsyncTest,
    CountDocumentsByFilterAsyncTest,
    DeleteAllAsyncTest,
    DeleteByFilterAsyncTest,
    DeleteDocumentsAsyncTest,
    FilterDocumentsAsyncTest,
    WriteDocumentsAsyncTest,
)

from tests.integrations.haystack_integrations.store_support import ENGINES, comparable, open_store


class _Store:
    @pytest.fixture(params=ENGINES)
    def document_store(self, request, tiny_encoder):
        store = open_store(request, request.param, tiny_encoder)
        yield store
        store.close()

    @staticmethod
    def assert_documents_are_equal(received: list[Document], expected: list[Document]) -> None:
        # Overridden as Haystack allows: embeddings are the store's own, order is unspecified.
        assert comparable(received) == comparable(expected)


class TestDocumentStore(_Store, DocumentStoreBaseTests):
    """count, write (every DuplicatePolicy), delete and filter, from Haystack's suite."""

    def test_write_documents(self, document_store):
        # Haystack leaves the default policy to each store: univec fails on duplicates (as
        # InMemoryDocumentStore does), and never duplicates an id.
        doc = Document(content="test doc")
        assert document_store.write_documents([doc]) == 1
        self.assert_documents_are_equal(document_store.filter_documents(), [doc])
        with pytest.raises(Exception, match="already exists"):
            document_store.write_documents([doc])
        assert document_store.count_documents() == 1


class TestByFilter(_Store, CountDocumentsByFilterTest, DeleteByFilterTest, DeleteAllTest):
    """count/delete by filter and delete_all, from Haystack's suite."""


class TestAsync(
    _Store,
    CountDocumentsAsyncTest,
    CountDocumentsByFilterAsyncTest,
    DeleteAllAsyncTest,
    DeleteByFilterAsyncTest,
    DeleteDocumentsAsyncTest,
    FilterDocumentsAsyncTest,
    WriteDocumentsAsyncTest,
):
    """The async forms, from Haystack's async suites."""

    async def test_write_documents_async(self, document_store):
        # As test_write_documents: the default policy fails on an id already stored.
        doc = Document(content="test doc")
        assert await document_store.write_documents_async([doc]) == 1
        with pytest.raises(Exception, match="already exists"):
            await document_store.write_documents_async([doc], policy=DuplicatePolicy.NONE)
        assert await document_store.count_documents_async() == 1
