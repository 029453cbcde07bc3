"""Late-interaction scoring in NumPy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["maxsim", "maxsim_many"]


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """MaxSim: sum over query tokens of the best dot product with any document token.

    Args:
        query: ``(q_tokens, d)`` query multi-vector.
        document: ``(d_tokens, d)`` document multi-vector.
    """
    if len(query) == 0 or len(document) == 0:
        return 0.0
    return float((np.asarray(query, np.float32) @ np.asarray(document, np.float32).T).max(axis=1).sum())


def maxsim_many(query: np.ndarray, documents: Sequence[np.ndarray]) -> np.ndarray:
    """MaxSim of one query against many documents, as a float32 array."""
    return np.array([maxsim(query, document) for document in documents], dtype=np.float32)
