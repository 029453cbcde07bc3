"""The Milvus tests need pymilvus and Milvus Lite (fixtures: ``tests/integrations/conftest.py``)."""

from __future__ import annotations

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")
