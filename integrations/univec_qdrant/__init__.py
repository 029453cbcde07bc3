"""Qdrant multi-vector collections: embedded (Qdrant Edge) by default, servers and Cloud by URL.

Needs the ``qdrant`` extra: ``pip install "univec[qdrant]"``.
"""

from __future__ import annotations

from univec._optional import require

# Either engine will do (the extra brings both); with neither, say which extra to install.
try:
    import qdrant_edge  # noqa: F401
except ImportError:
    require("qdrant_client", "qdrant")

from univec_qdrant._schema import HnswSettings
from univec_qdrant.collection import DEFAULT_PATH, QdrantCollection

__all__ = ["DEFAULT_PATH", "HnswSettings", "QdrantCollection"]
