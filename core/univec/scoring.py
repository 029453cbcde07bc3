"""Late-interaction scoring in NumPy (float32 and the compact precisions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from univec.errors import InvalidArgumentError
from univec.quantization import check_precision, dequantize

__all__ = ["maximal_marginal_relevance", "maxsim", "maxsim_many", "per_document_max"]


def maxsim(
    query: np.ndarray, document: np.ndarray, *, precision: str | None = None, dim: int | None = None
) -> float:
    """MaxSim: sum over query tokens of the best dot product with any document token.

    Args:
        query: ``(q_tokens, d)`` query multi-vector (float32 or codes in ``precision``).
        document: ``(d_tokens, d)`` document multi-vector (float32 or codes in ``precision``).
        precision: The representation of integer arrays (``"int8"``, ``"uint8"``,
            ``"binary"``, ``"ubinary"``; see :mod:`univec.quantization`). Codes are scored
            through :func:`univec.quantization.dequantize` (unit-norm rows), so two
            ``binary`` token vectors score ``1 - 2 * hamming / d`` and a float32 query can be
            scored against quantized documents. Float arrays are always used as they are.
        dim: For packed bits whose dimension is not a multiple of 8: the dimension.

    Raises:
        InvalidArgumentError: An integer array without ``precision``, or one of the wrong
            dtype for it.

    Example:
        >>> docs = encoder.encode(pages, "retrieval.passage", multivector=True, precision="binary")
        >>> query = encoder.encode(["q"], "retrieval.query", multivector=True)[0]
        >>> univec.maxsim(query, docs[0], precision="binary")
    """
    if len(query) == 0 or len(document) == 0:
        return 0.0
    query, document = _as_float(query, precision, dim), _as_float(document, precision, dim)
    similarities = query @ document.T
    return float(similarities.max(axis=1).sum())


def maxsim_many(
    query: np.ndarray,
    documents: Sequence[np.ndarray],
    *,
    precision: str | None = None,
    dim: int | None = None,
) -> np.ndarray:
    """MaxSim of one query against many documents, as a float32 array.

    The same sums as :func:`maxsim` (empty documents score 0; ``precision`` and ``dim`` as
    there), computed with one matrix product over all documents' tokens instead of one per
    document: a page of documents costs one BLAS call (2-10x faster than a Python loop, more
    on a busy machine).
    """
    lengths = [len(document) for document in documents]
    if not sum(lengths):
        return np.zeros(len(documents), dtype=np.float32)
    tokens = _as_float(np.concatenate([d for d in documents if len(d)]), precision, dim)
    return per_document_max(_as_float(query, precision, dim) @ tokens.T, lengths)


def _as_float(array: np.ndarray, precision: str | None, dim: int | None) -> np.ndarray:
    """float32 rows to score: float arrays as given, codes decoded by their precision."""
    values = np.asarray(array)
    if values.dtype.kind == "f":
        return values.astype(np.float32, copy=False)
    if precision is None:
        raise InvalidArgumentError(
            f"MaxSim got an array of dtype {values.dtype} without precision=. Pass the precision "
            "the vectors were encoded with, e.g. maxsim(q, d, precision='int8') or "
            "precision='binary'."
        )
    return dequantize(values, check_precision(precision), dim=dim)


def per_document_max(similarities: np.ndarray, lengths: Sequence[int]) -> np.ndarray:
    """Sum over query rows of each document's best column, for documents laid side by side.

    Args:
        similarities: ``(q_tokens, sum(lengths))`` query-token x document-token scores, the
            columns of each non-empty document contiguous and in order.
        lengths: Token count of each document (0 for an empty one, which scores 0).
    """
    scores = np.zeros(len(lengths), dtype=np.float32)
    filled = [i for i, length in enumerate(lengths) if length]
    if filled and similarities.shape[0]:
        sizes = np.array([lengths[i] for i in filled])
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        scores[filled] = np.maximum.reduceat(similarities, starts, axis=1).sum(axis=0)
    return scores


def maximal_marginal_relevance(
    query: np.ndarray, vectors: np.ndarray, k: int, lambda_mult: float
) -> list[int]:
    """Positions of ``k`` rows of ``vectors`` picked by maximal marginal relevance.

    Each step picks the row maximising ``lambda_mult * sim(query, row) - (1 - lambda_mult) *
    max sim(row, picked)``, with cosine similarity (rows and query are unit-norm).
    """
    if len(vectors) == 0 or k < 1:
        return []
    relevance = vectors @ query
    picked = [int(np.argmax(relevance))]
    while len(picked) < min(k, len(vectors)):
        redundancy = (vectors @ vectors[picked].T).max(axis=1)
        scores = lambda_mult * relevance - (1 - lambda_mult) * redundancy
        scores[picked] = -np.inf
        picked.append(int(np.argmax(scores)))
    return picked
