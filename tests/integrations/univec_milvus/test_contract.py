"""The shared collection behaviour (``tests/integrations/collection_contract.py``) on Milvus."""

from __future__ import annotations

from tests.integrations.collection_contract import *  # noqa: F403 (the shared tests)
from tests.integrations.collection_contract import store_fixture
from tests.integrations.collection_hardening import *  # noqa: F403 (issue 12 hardening)

store = store_fixture(["milvus-lite"])
