"""Compact representations of unit-norm embeddings: int8, uint8 and packed bits.

One source of truth for what ``precision=`` means everywhere in univec (``Encoder.encode``,
:func:`univec.maxsim`, the collections):

============ ============ ============== =================================================
precision    dtype        width of a     value
                          ``d``-vector
============ ============ ============== =================================================
``float32``  ``float32``  ``d``          the vector itself
``int8``     ``int8``     ``d``          ``round(127 * x / max(|x|))``: one symmetric scale
                                         per vector, its largest component maps to +-127
``uint8``    ``uint8``    ``d``          the ``int8`` codes plus 128 (``1..255``)
``ubinary``  ``uint8``    ``ceil(d/8)``  ``np.packbits(x > 0)``: one bit per component,
                                         the first component in the high bit
``binary``   ``int8``     ``ceil(d/8)``  the ``ubinary`` bytes minus 128
============ ============ ============== =================================================

``binary``/``ubinary`` are exactly what the hosted API returns for ``embedding_type``
``"binary"``/``"ubinary"`` (the sentence-transformers convention), so both backends give
the same arrays.

**int8 calibration.** Each vector gets its own scale (its largest absolute component maps to
127), so the codes use the whole int8 range whatever the vector's dimension and no
calibration data set is needed: a vector's codes never depend on the other vectors of the
batch, on the backend, or on the order of calls. The scale is not stored; it is not needed,
because every output of the model is unit-norm: :func:`dequantize` maps the codes back to
``codes / ||codes||``, a unit vector within about ``0.5 * sqrt(d) / 127`` of the original
per component scale (cosine above 0.9999 for typical embeddings).

**Scoring.** :func:`dequantize` turns every representation into unit-norm float32 rows
(``binary``: ``+-1 / sqrt(d)``, so two packed vectors score ``1 - 2 * hamming / d``), and
:func:`univec.maxsim` scores quantized arrays through it; a float32 query against quantized
documents (asymmetric scoring) works the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, cast

import numpy as np

from univec.errors import InvalidArgumentError

__all__ = [
    "PRECISIONS",
    "Precision",
    "check_precision",
    "dequantize",
    "packed_width",
    "precision_dtype",
    "quantize",
    "quantize_many",
]

Precision = Literal["float32", "int8", "uint8", "binary", "ubinary"]
#: Every ``precision=`` value, float32 first.
PRECISIONS: tuple[Precision, ...] = ("float32", "int8", "uint8", "binary", "ubinary")
#: The hosted API's ``embedding_type`` for the precisions it computes server-side.
API_EMBEDDING_TYPES: dict[str, str] = {"binary": "binary", "ubinary": "ubinary"}

_INT8_MAX = 127
_UINT8_OFFSET = 128
_DTYPES: dict[str, np.dtype] = {
    "float32": np.dtype(np.float32),
    "int8": np.dtype(np.int8),
    "uint8": np.dtype(np.uint8),
    "binary": np.dtype(np.int8),
    "ubinary": np.dtype(np.uint8),
}


def check_precision(precision: object) -> Precision:
    """Return ``precision`` if it is one of :data:`PRECISIONS`.

    Raises:
        InvalidArgumentError: Any other value, naming the allowed ones.
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise InvalidArgumentError(
            f"precision={precision!r} is not supported. Use one of {list(PRECISIONS)}."
        )
    return cast(Precision, precision)


def precision_dtype(precision: str) -> np.dtype:
    """The NumPy dtype of arrays in ``precision``."""
    return _DTYPES[check_precision(precision)]


def packed_width(dim: int, precision: str) -> int:
    """Width of the array holding one ``dim``-d vector in ``precision`` (``dim`` or ``ceil(dim/8)``)."""
    if check_precision(precision) in ("binary", "ubinary"):
        return -(-dim // 8)
    return dim


def quantize(vectors: np.ndarray, precision: str) -> np.ndarray:
    """``vectors`` (``(..., d)``, float) in ``precision``; see the module docs for the values.

    Arrays already in ``precision``'s dtype with the packed width are returned unchanged only
    for ``float32``; integer input is refused (quantize floats once, not codes again).

    Raises:
        InvalidArgumentError: Unknown ``precision``, or ``vectors`` is not a float array.
    """
    precision = check_precision(precision)
    array = np.asarray(vectors)
    if array.dtype.kind != "f":
        raise InvalidArgumentError(
            f"quantize() takes float vectors, got dtype {array.dtype}; quantize the float32 "
            "output once instead of quantizing codes again."
        )
    array = array.astype(np.float32, copy=False)
    if precision == "float32":
        return array
    if precision in ("int8", "uint8"):
        peak = np.abs(array).max(axis=-1, keepdims=True, initial=0.0)
        scale = np.where(peak > 0, _INT8_MAX / np.where(peak > 0, peak, 1.0), 0.0)
        codes = np.clip(np.rint(array * scale), -_INT8_MAX, _INT8_MAX).astype(np.int16)
        if precision == "uint8":
            return (codes + _UINT8_OFFSET).astype(np.uint8)
        return codes.astype(np.int8)
    bits = np.packbits(array > 0, axis=-1)
    if precision == "ubinary":
        return bits.astype(np.uint8, copy=False)
    return (bits.astype(np.int16) - _UINT8_OFFSET).astype(np.int8)


def quantize_many(arrays: Sequence[np.ndarray], precision: str) -> list[np.ndarray]:
    """:func:`quantize` for each array of a list (multi-vectors: one ``(n_tokens, d)`` per input)."""
    return [quantize(array, precision) for array in arrays]


def dequantize(codes: np.ndarray, precision: str, *, dim: int | None = None) -> np.ndarray:
    """Unit-norm float32 rows approximating the vectors ``codes`` were made from.

    Float input is returned as float32 unchanged (whatever ``precision`` says), so a float32
    query can be scored against quantized documents.

    Args:
        codes: ``(..., width)`` array made by :func:`quantize` (or returned by the API).
        precision: The representation of ``codes``.
        dim: For ``binary``/``ubinary``, the vectors' dimension when it is not a multiple of 8
            (the padding bits are dropped); default ``8 * width``.

    Raises:
        InvalidArgumentError: Unknown ``precision``, or ``codes`` has the wrong dtype for it.
    """
    precision = check_precision(precision)
    array = np.asarray(codes)
    if array.dtype.kind == "f":
        return array.astype(np.float32, copy=False)
    expected = _DTYPES[precision]
    if precision == "float32" or array.dtype != expected:
        raise InvalidArgumentError(
            f"An array of dtype {array.dtype} is not {precision!r} data (that is "
            f"{expected}). Pass the precision the vectors were encoded with, e.g. "
            "precision='int8' for int8 codes or precision='binary' for packed bits."
        )
    if precision in ("binary", "ubinary"):
        unsigned = array if precision == "ubinary" else (array.astype(np.int16) + _UINT8_OFFSET)
        width = array.shape[-1] * 8 if dim is None else dim
        bits = np.unpackbits(unsigned.astype(np.uint8), axis=-1, count=width)
        if width == 0:
            return bits.astype(np.float32)
        return (bits.astype(np.float32) * 2.0 - 1.0) / np.float32(np.sqrt(width))
    signed = array.astype(np.float32)
    if precision == "uint8":
        signed -= _UINT8_OFFSET
    norms = np.linalg.norm(signed, axis=-1, keepdims=True)
    return np.divide(signed, norms, out=np.zeros_like(signed), where=norms > 0)
