"""Milvus Lite hardening (issue 12): closing (or dropping) a collection frees its server."""

from __future__ import annotations

import gc
import os
import threading
import time
import types

import pytest

from univec.backends.base import ModelInfo

pytest.importorskip("milvus_lite")

from univec_milvus import MilvusCollection

#: Opening needs only the encoder's facts, not a model.
ENCODER = types.SimpleNamespace(
    info=ModelInfo(name="t", dim=64, matryoshka_dims=(16, 32, 64), multivector_dim=128)
)


def _open_files() -> int:
    return len(os.listdir("/proc/self/fd"))


def _settle(before: set[threading.Thread]) -> None:
    """Wait for the threads a stopped server is still winding down (30 s at most in all)."""
    deadline = time.monotonic() + 30
    for thread in set(threading.enumerate()) - before:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts open files via /proc")
@pytest.mark.parametrize("how", ["close", "drop"])
def test_closed_or_dropped_stores_free_threads_and_files(tmp_path, how):
    """Item 17: 30 stores opened and closed left +95 threads and +150 file handles."""
    MilvusCollection("warm", ENCODER, uri=str(tmp_path / "warm.db"), progress=False).close()
    gc.collect()
    threads, files = set(threading.enumerate()), _open_files()
    for i in range(5):
        collection = MilvusCollection("c", ENCODER, uri=str(tmp_path / f"{i}.db"), progress=False)
        assert collection.count() == 0
        if how == "close":
            collection.close()
        del collection
        gc.collect()
    _settle(threads)
    assert set(threading.enumerate()) - threads == set()
    assert _open_files() <= files


def test_the_server_stays_while_another_collection_uses_the_path(tmp_path):
    """Closing one of two collections on a path does not stop the other's server."""
    uri = str(tmp_path / "shared.db")
    first = MilvusCollection("first", ENCODER, uri=uri, progress=False)
    second = MilvusCollection("second", ENCODER, uri=uri, progress=False)
    first.close()
    assert second.count() == 0
    second.close()
