"""Milvus multi-vector collections: Milvus Lite (in-process) by default, servers by URI.

Needs the ``milvus`` extra: ``pip install "univec[milvus]"``.
"""

from __future__ import annotations

from univec_milvus._engine import DEFAULT_URI
from univec_milvus.collection import MilvusCollection

__all__ = ["DEFAULT_URI", "MilvusCollection"]
