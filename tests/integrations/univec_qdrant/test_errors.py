"""Typed errors on bad input (``tests/integrations/collection_errors.py``) on Qdrant."""

from __future__ import annotations

from tests.integrations.collection_contract import store_fixture
from tests.integrations.collection_errors import *  # noqa: F403 (the shared tests)

store = store_fixture(["qdrant-edge", "qdrant-memory"])
