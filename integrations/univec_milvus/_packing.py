"""Token vectors packed into VARCHAR pieces, and MaxSim (exact, and bounded from int8 codes).

Two encodings of a point's ``(n_tokens, dim)`` token vectors, each stored as base64 text in
an ARRAY of VARCHAR:

* ``tokens``: the float32 vectors, bit for bit (exact MaxSim, ``get(..., with_vectors=True)``);
* ``tokens_int8``: per token, int8 codes with a float32 scale and the float32 norm of the
  quantisation error ``e = ||t - scale * codes||`` (rounded up). For a query token ``q`` every
  ``q . t`` lies within ``q . t_int8 +- ||q|| e``, so the MaxSim of a document lies between two
  bounds computed from a quarter of the bytes (:func:`maxsim_bounds`).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np

from univec.quantization import dequantize, packed_width, quantize
from univec.scoring import per_document_max

#: Raw bytes per ARRAY element: a multiple of 3 (pieces concatenate as base64), and its base64
#: form (65,532 characters) fits a VARCHAR of 65,535 bytes, the cap of Milvus servers.
PIECE_BYTES = 49_149


def pack_bytes(raw: bytes) -> list[str]:
    """``raw`` as base64 pieces of at most :data:`PIECE_BYTES` bytes each."""
    return [
        base64.b64encode(raw[start : start + PIECE_BYTES]).decode("ascii")
        for start in range(0, len(raw), PIECE_BYTES)
    ]


def unpack_bytes(pieces: Sequence[str]) -> bytes:
    """The bytes :func:`pack_bytes` packed (only the last piece can carry base64 padding)."""
    return base64.b64decode("".join(pieces)) if pieces else b""


def pack_tokens(multi: np.ndarray) -> list[str]:
    """Token vectors as base64 pieces of little-endian float32 bytes."""
    return pack_bytes(np.ascontiguousarray(multi, dtype="<f4").tobytes())


def unpack_tokens(pieces: Sequence[str], dim: int) -> np.ndarray:
    """The ``(n_tokens, dim)`` float32 array that :func:`pack_tokens` packed (read-only)."""
    return np.frombuffer(unpack_bytes(pieces), dtype="<f4").reshape(-1, dim)


def pack_int8(multi: np.ndarray) -> list[str]:
    """int8 codes, scales and error norms of the token vectors, as base64 pieces.

    Layout: ``n * dim`` int8 codes, then ``n`` float32 scales, then ``n`` float32 error norms.
    """
    tokens = np.asarray(multi, dtype=np.float32)
    if not tokens.size:
        return []
    peak = np.abs(tokens).max(axis=1)
    scales = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    codes = np.clip(np.rint(tokens / scales[:, None]), -127, 127).astype(np.int8)
    error = tokens.astype(np.float64) - codes * scales[:, None].astype(np.float64)
    norms = np.linalg.norm(error, axis=1).astype(np.float32)
    norms = np.nextafter(norms, np.float32(np.inf))  # never below the true error
    raw = codes.tobytes() + scales.astype("<f4").tobytes() + norms.astype("<f4").tobytes()
    return pack_bytes(raw)


def unpack_int8(pieces: Sequence[str], dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(codes (n, dim) int8, scales (n,), error norms (n,))`` that :func:`pack_int8` packed."""
    raw = unpack_bytes(pieces)
    count = len(raw) // (dim + 8)
    codes = np.frombuffer(raw, dtype=np.int8, count=count * dim).reshape(count, dim)
    scales = np.frombuffer(raw, dtype="<f4", count=count, offset=count * dim)
    norms = np.frombuffer(raw, dtype="<f4", count=count, offset=count * (dim + 4))
    return codes, scales, norms


def maxsim_bounds(
    query: np.ndarray, sketches: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of each document's MaxSim, from its :func:`unpack_int8` codes."""
    lengths = [len(codes) for codes, _, _ in sketches]
    if not sum(lengths):
        zeros = np.zeros(len(sketches), dtype=np.float32)
        return zeros, zeros.copy()
    query = np.asarray(query, np.float32)
    codes = np.concatenate([c for c, _, _ in sketches if len(c)]).astype(np.float32)
    scales = np.concatenate([s for c, s, _ in sketches if len(c)])
    norms = np.concatenate([n for c, _, n in sketches if len(c)])
    similarities = (query @ codes.T) * scales  # q . t_int8
    slack = np.linalg.norm(query, axis=1)[:, None] * norms  # ||q|| e >= |q . (t - t_int8)|
    lower = per_document_max(similarities - slack, lengths)
    upper = per_document_max(similarities + slack, lengths)
    return lower, upper


def survivors(lower: np.ndarray, upper: np.ndarray, k: int) -> np.ndarray:
    """Indices of the documents that can be among the ``k`` best: upper >= the k-th lower bound.

    At least ``k`` documents score no less than the k-th largest lower bound, so a document
    whose upper bound is below it cannot be in the top ``k``. A margin absorbs float32 rounding.
    """
    if len(lower) <= k:
        return np.arange(len(lower))
    threshold = np.partition(lower, len(lower) - k)[len(lower) - k]
    margin = 1e-3 + 1e-5 * abs(float(threshold))
    return np.flatnonzero(upper >= threshold - margin)


def pack_float16(multi: np.ndarray) -> list[str]:
    """Token vectors as base64 pieces of little-endian float16 bytes (half the bytes)."""
    return pack_bytes(np.ascontiguousarray(multi, dtype="<f2").tobytes())


def unpack_float16(pieces: Sequence[str], dim: int) -> np.ndarray:
    """The ``(n_tokens, dim)`` vectors :func:`pack_float16` packed, as float32."""
    return np.frombuffer(unpack_bytes(pieces), dtype="<f2").reshape(-1, dim).astype(np.float32)


def pack_binary(multi: np.ndarray) -> list[str]:
    """The sign bits of the token vectors (``univec.quantization``'s ``ubinary``), as base64."""
    tokens = np.asarray(multi, dtype=np.float32)
    if not tokens.size:
        return []
    return pack_bytes(quantize(tokens, "ubinary").tobytes())


def unpack_binary(pieces: Sequence[str], dim: int) -> np.ndarray:
    """``(n_tokens, dim)`` float32 rows (+-1 / sqrt(dim)) of :func:`pack_binary`'s bits."""
    raw = np.frombuffer(unpack_bytes(pieces), dtype=np.uint8)
    return dequantize(raw.reshape(-1, packed_width(dim, "ubinary")), "ubinary", dim=dim)


def maxsim_estimates(query: np.ndarray, sketches: Sequence[np.ndarray]) -> np.ndarray:
    """Each document's MaxSim computed from the signs of its token vectors (an estimate)."""
    lengths = [len(signs) for signs in sketches]
    if not sum(lengths):
        return np.zeros(len(sketches), dtype=np.float32)
    signs = np.concatenate([s for s in sketches if len(s)])
    return per_document_max(np.asarray(query, np.float32) @ signs.T, lengths)
