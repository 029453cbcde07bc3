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
def lite_uri(tmp_path_factory) -> str:
    """The ``.db`` path of the session's Milvus Lite instance."""
    return str(tmp_path_factory.mktemp("milvus") / "lite.db")


@pytest.fixture
def collection_name(request) -> str:
    """A collection name unique in the session (Milvus names: letters, digits, underscores)."""
    stem = re.sub(r"\W", "_", request.node.name)[:60]
    return f"t{next(_names)}_{stem}"
