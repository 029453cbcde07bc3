"""Fixtures of the API backend tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def server(fake_jina_api_server):
    """The fake-vector API server (deterministic 64-d vectors, no model)."""
    return fake_jina_api_server
