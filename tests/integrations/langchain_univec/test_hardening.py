"""LangChain ``UnivecEmbeddings`` hardening (issue 12): close() and dropped instances."""

from __future__ import annotations

import gc
import os
import threading

import pytest

from langchain_univec import UnivecEmbeddings
from tests.support.fake_api import FAKE_INFO


def _api_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("univec-api-")}


def _embeddings(server) -> UnivecEmbeddings:
    return UnivecEmbeddings(
        backend="api",
        api_key="test-key",
        base_url=server.base_url,
        encoder_options={"model_info": FAKE_INFO, "timeout": 5.0},
    )


def test_close_releases_the_encoder_it_built(fake_jina_api_server):
    """Item 17: UnivecEmbeddings had no close()."""
    before = _api_threads()
    with _embeddings(fake_jina_api_server) as embeddings:
        assert len(embeddings.embed_query("x")) == 64
        assert len(_api_threads() - before) == 1
    for thread in _api_threads() - before:
        thread.join(timeout=30)
    assert _api_threads() - before == set()
    assert len(embeddings.embed_query("x")) == 64  # usable again: the encoder is rebuilt
    embeddings.close()


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files via /proc")
def test_dropped_instances_free_threads_and_files(fake_jina_api_server):
    """Item 17: 40 dropped instances left +40 threads and +120 handles."""
    _embeddings(fake_jina_api_server).embed_query("warm up")
    gc.collect()
    before, files = _api_threads(), len(os.listdir("/proc/self/fd"))
    for _ in range(10):
        _embeddings(fake_jina_api_server).embed_query("x")
        gc.collect()
    for thread in _api_threads() - before:
        thread.join(timeout=30)
    assert _api_threads() - before == set()
    assert len(os.listdir("/proc/self/fd")) <= files
