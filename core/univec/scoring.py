"""Late-interaction scoring in NumPy."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from univec.errors import InvalidArgumentError

__all__ = ["maxsim", "maxsim_many", "per_document_max"]


def maxsim(query: np.ndarray, document: np.ndarray) -> float:
    """MaxSim: sum over query tokens of the best dot product with any document token.

    Args:
        query: ``(q_tokens, d)`` query multi-vector.
        document: ``(d_tokens, d)`` document multi-vector.
    """
    query = _token_matrix(query, "query")
    document = _token_matrix(document, "document", query.shape[1] if len(query) else None)
    if len(query) == 0 or len(document) == 0:
        return 0.0
    similarities = query @ document.T
    return float(similarities.max(axis=1).sum())


def maxsim_many(query: np.ndarray, documents: Sequence[np.ndarray]) -> np.ndarray:
    """MaxSim of one query against many documents, as a float32 array.

    The same sums as :func:`maxsim` (empty documents score 0), computed with one matrix
    product over all documents' tokens instead of one per document: a page of documents
    costs one BLAS call (2-10x faster than a Python loop, more on a busy machine).
    """
    query = _token_matrix(query, "query")
    width = query.shape[1] if len(query) else None
    documents = [
        _token_matrix(document, f"documents[{i}]", width) for i, document in enumerate(documents)
    ]
    lengths = [len(document) for document in documents]
    if not sum(lengths):
        return np.zeros(len(documents), dtype=np.float32)
    tokens = np.concatenate([d for d in documents if len(d)])
    return per_document_max(query @ tokens.T, lengths)


def _token_matrix(value: object, name: str, width: int | None = None) -> np.ndarray:
    """``value`` as a float32 ``(tokens, width)`` matrix, or a clear error naming ``name``.

    Raises:
        InvalidArgumentError: Not a 2-D array of numbers, or its token vectors are not
            ``width`` wide (e.g. a query and a document from different models).
    """
    try:
        matrix = np.asarray(value, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidArgumentError(
            f"{name} must be a (tokens, dim) array of numbers: {exc}."
        ) from exc
    if matrix.size == 0 and matrix.ndim != 2:  # an empty multi-vector scores 0
        return matrix.reshape(0, width or 0)
    if matrix.ndim != 2:
        raise InvalidArgumentError(
            f"{name} has shape {matrix.shape}; a multi-vector is a 2-D (tokens, dim) array, "
            "e.g. one item of encoder.encode([...], task, multivector=True)."
        )
    if width is not None and len(matrix) and matrix.shape[1] != width:
        raise InvalidArgumentError(
            f"{name} has {matrix.shape[1]}-d token vectors but the query has {width}-d ones; "
            "score multi-vectors of the same model (128-d for jina-embeddings-v4)."
        )
    return matrix


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
