"""LangChain's standard embeddings suites, run on the tiny local checkpoint."""

from __future__ import annotations

from typing import Any

from langchain_tests.integration_tests import EmbeddingsIntegrationTests
from langchain_tests.unit_tests import EmbeddingsUnitTests

from langchain_univec import UnivecEmbeddings
from tests.conftest import TINY_MODEL

TINY_CONFIG = {"backend": "local", "model": str(TINY_MODEL), "device": "cpu"}


class TinyLocalEmbeddings:
    """What both standard suites need: the class, built on the tiny local checkpoint."""

    @property
    def embeddings_class(self) -> type[UnivecEmbeddings]:
        return UnivecEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return dict(TINY_CONFIG)


class TestUnivecEmbeddingsUnit(TinyLocalEmbeddings, EmbeddingsUnitTests):
    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"JINA_API_KEY": "jina_test_key"},
            {"backend": "api", "base_url": "http://127.0.0.1:9"},
            {"api_key": "jina_test_key"},
        )


class TestUnivecEmbeddingsIntegration(TinyLocalEmbeddings, EmbeddingsIntegrationTests):
    pass
