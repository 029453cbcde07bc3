"""Fixtures of the collection tests: one Milvus Lite instance per session, a name per test.

Milvus Lite serves one ``.db`` path per process and takes about a second to start, so every
test that needs it shares the session's path and takes its own collection name.
"""

from __future__ import annotations

import itertools
import re

import pytest

_names = itertools.count()


@pytest.fixture(scope="session")
def lite_uri(tmp_path_factory):
    """The ``.db`` path of the session's Milvus Lite instance.

    An engine stays open on it for the session: Milvus Lite stops serving a path when its last
    user closes, and restarting it for every test would cost a second each.
    """
    pytest.importorskip("milvus_lite")
    from univec_milvus._engine import MilvusEngine

    uri = str(tmp_path_factory.mktemp("milvus") / "lite.db")
    keep_alive = MilvusEngine("keep_alive", uri=uri)
    yield uri
    keep_alive.close()


@pytest.fixture
def collection_name(request) -> str:
    """A collection name unique in the session (Milvus names: letters, digits, underscores)."""
    stem = re.sub(r"\W", "_", request.node.name)[:60]
    return f"t{next(_names)}_{stem}"
