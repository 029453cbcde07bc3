"""Milvus multi-vector collections: Milvus Lite (in-process) by default, servers by URI.

Needs the ``milvus`` extra: ``pip install "univec[milvus]"``.
"""

from __future__ import annotations

from univec._optional import require

require("pymilvus", "milvus")

from univec_milvus._engine import DEFAULT_URI  # noqa: E402
from univec_milvus.collection import MilvusCollection  # noqa: E402

__all__ = ["DEFAULT_URI", "MilvusCollection"]
