"""Pin the public names users and integrations rely on (the contract of the issues)."""

from __future__ import annotations

import importlib

import pytest

import univec

PUBLIC = {
    "univec": {
        "TASKS", "Embeddings", "Encoder", "Image", "ModelInfo", "UnivecError", "Usage",
        "__version__", "errors", "family_tasks", "late_chunking", "maxsim", "maxsim_many",
        "models", "pdf_pages", "quantization", "resolve_task",
    },
    "univec_qdrant": {"DEFAULT_PATH", "HnswSettings", "QdrantCollection"},
    "univec_milvus": {"DEFAULT_URI", "MilvusCollection"},
    "langchain_univec": {"UnivecEmbeddings", "UnivecVectorStore"},
    "llama_index.embeddings.univec": {"UnivecEmbedding"},
    "llama_index.vector_stores.univec": {"UnivecVectorStore"},
    "haystack_integrations.components.embedders.univec": {
        "UnivecDocumentEmbedder", "UnivecDocumentImageEmbedder", "UnivecImageEmbedder",
        "UnivecTextEmbedder",
    },
    "haystack_integrations.document_stores.univec": {
        "UnivecDocumentStore", "UnivecFilterError", "UnsupportedUnivecFilterError",
    },
    "haystack_integrations.components.retrievers.univec": {"UnivecMultiVectorRetriever"},
}  # fmt: skip


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_all_is_pinned_and_every_name_resolves(module_name):
    module = importlib.import_module(module_name)
    assert set(module.__all__) == PUBLIC[module_name]
    for name in module.__all__:
        assert getattr(module, name) is not None


def test_encoder_constructors_and_methods_exist():
    for name in ("local", "api", "from_config", "from_env", "encode", "encode_both", "aencode"):
        assert callable(getattr(univec.Encoder, name))


def test_collections_share_one_interface():
    from univec.collections import MultiVectorCollection
    from univec_milvus import MilvusCollection
    from univec_qdrant import QdrantCollection

    for cls in (QdrantCollection, MilvusCollection):
        assert issubclass(cls, MultiVectorCollection)
        for method in (
            "add", "search", "get", "delete", "count", "list_documents", "close", "__len__",
            "__enter__",
        ):  # fmt: skip
            assert getattr(cls, method) is getattr(MultiVectorCollection, method)


def test_every_error_derives_from_univec_error():
    for name in univec.errors.__all__:
        assert issubclass(getattr(univec.errors, name), univec.UnivecError)
