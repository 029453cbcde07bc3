"""Compact outputs: the representations of univec.quantization and MaxSim over them.

Every expectation is computed by a reference written here, element by element in plain
Python, independently of the NumPy code under test.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import univec
from univec.errors import InvalidArgumentError
from univec.quantization import PRECISIONS, dequantize, packed_width, quantize

# ----------------------------------------------------------------- references


def reference_int8(vector: list[float]) -> list[int]:
    """round(127 * x / max|x|), half to even like numpy.rint."""
    peak = max(abs(x) for x in vector)
    if peak == 0:
        return [0] * len(vector)
    return [max(-127, min(127, round(127 * x / peak))) for x in vector]


def reference_ubinary(vector: list[float]) -> list[int]:
    bits = "".join("1" if x > 0 else "0" for x in vector)
    bits += "0" * (-len(bits) % 8)
    return [int(bits[i : i + 8], 2) for i in range(0, len(bits), 8)]


def reference_codes(vector: list[float], precision: str) -> list[int] | list[float]:
    if precision == "float32":
        return vector
    if precision == "int8":
        return reference_int8(vector)
    if precision == "uint8":
        return [code + 128 for code in reference_int8(vector)]
    if precision == "ubinary":
        return reference_ubinary(vector)
    return [byte - 128 for byte in reference_ubinary(vector)]


def reference_similarity(a: list[int], b: list[int], precision: str, dim: int) -> float:
    """Token similarity of two code rows: cosine of the codes, or 1 - 2 hamming / d."""
    if precision in ("binary", "ubinary"):
        shift = 128 if precision == "binary" else 0
        hamming = sum(bin((x + shift) ^ (y + shift)).count("1") for x, y in zip(a, b, strict=True))
        return 1.0 - 2.0 * hamming / dim
    shift = 128 if precision == "uint8" else 0
    a2, b2 = [x - shift for x in a], [y - shift for y in b]
    dot = sum(x * y for x, y in zip(a2, b2, strict=True))
    norms = math.sqrt(sum(x * x for x in a2)) * math.sqrt(sum(y * y for y in b2))
    return dot / norms if norms else 0.0


def reference_maxsim(query: np.ndarray, document: np.ndarray, precision: str, dim: int) -> float:
    total = 0.0
    for q in query.tolist():
        total += max(reference_similarity(q, d, precision, dim) for d in document.tolist())
    return total


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


# ----------------------------------------------------------------- representations


@pytest.mark.parametrize("precision", PRECISIONS)
def test_quantize_matches_reference(precision):
    vectors = unit_rows(np.random.default_rng(1), 5, 40)
    vectors[2, :] = 0.0  # a zero vector stays all-zero codes (int8) / all-off bits
    codes = quantize(vectors, precision)
    dtype = {"float32": np.float32, "int8": np.int8, "uint8": np.uint8}.get(precision)
    dtype = dtype or (np.int8 if precision == "binary" else np.uint8)
    assert codes.dtype == dtype
    assert codes.shape == (5, packed_width(40, precision))
    expected = [reference_codes(row, precision) for row in vectors.tolist()]
    assert codes.tolist() == expected


def test_widths():
    assert [packed_width(128, p) for p in PRECISIONS] == [128, 128, 128, 16, 16]
    assert packed_width(2048, "binary") == 256


def test_int8_calibration_uses_the_full_range_and_keeps_direction():
    vectors = unit_rows(np.random.default_rng(2), 50, 2048)
    codes = quantize(vectors, "int8")
    assert (np.abs(codes).max(axis=1) == 127).all()
    decoded = dequantize(codes, "int8")
    cosines = (decoded * vectors).sum(axis=1)
    assert cosines.min() > 0.999
    assert np.allclose(np.linalg.norm(decoded, axis=1), 1.0, atol=1e-6)


def test_binary_decodes_to_unit_sign_vectors():
    vectors = unit_rows(np.random.default_rng(3), 4, 64)
    decoded = dequantize(quantize(vectors, "binary"), "binary")
    assert np.allclose(np.abs(decoded), 1 / 8)
    assert (np.sign(decoded) == np.where(vectors > 0, 1, -1)).all()
    assert np.array_equal(decoded, dequantize(quantize(vectors, "ubinary"), "ubinary"))


def test_codes_are_not_quantized_twice():
    codes = quantize(unit_rows(np.random.default_rng(4), 2, 16), "int8")
    with pytest.raises(InvalidArgumentError, match="float vectors"):
        quantize(codes, "binary")


@pytest.mark.parametrize("bad", ["fp16", "INT8", None, 8])
def test_unknown_precision(bad):
    with pytest.raises(InvalidArgumentError, match="ubinary") as info:
        quantize(np.zeros((1, 8), np.float32), bad)
    assert isinstance(info.value, ValueError)


# ----------------------------------------------------------------- scoring


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_maxsim_over_codes_matches_reference(precision):
    rng = np.random.default_rng(5)
    dim = 128
    query = quantize(unit_rows(rng, 6, dim), precision)
    documents = [quantize(unit_rows(rng, n, dim), precision) for n in (9, 1, 30)]
    expected = [reference_maxsim(query, doc, precision, dim) for doc in documents]
    single = [univec.maxsim(query, doc, precision=precision) for doc in documents]
    assert single == pytest.approx(expected, abs=1e-4)
    many = univec.maxsim_many(query, [*documents, documents[0][:0]], precision=precision)
    assert many.dtype == np.float32
    assert many.tolist() == pytest.approx([*expected, 0.0], abs=1e-4)


def test_binary_maxsim_is_hamming_based():
    query = np.array([[0b11110000 - 128, 0 - 128]], np.int8)  # 16 bits, 4 set
    doc = np.array([[0b11111111 - 128, 0 - 128], [0b11110000 - 128, 0b1 - 128]], np.int8)
    # hamming distances 4 and 1 -> similarities 1 - 8/16 and 1 - 2/16; best is 0.875
    assert univec.maxsim(query, doc, precision="binary") == pytest.approx(0.875)


def test_float_query_against_quantized_documents():
    rng = np.random.default_rng(6)
    query, doc = unit_rows(rng, 3, 64), unit_rows(rng, 7, 64)
    for precision in ("int8", "binary"):
        codes = quantize(doc, precision)
        expected = float((query @ dequantize(codes, precision).T).max(axis=1).sum())
        assert univec.maxsim(query, codes, precision=precision) == pytest.approx(expected)
    exact = univec.maxsim(query, doc)
    assert univec.maxsim(query, quantize(doc, "int8"), precision="int8") == pytest.approx(
        exact, abs=0.02
    )


def test_integer_arrays_need_precision():
    codes = quantize(unit_rows(np.random.default_rng(7), 2, 16), "int8")
    with pytest.raises(InvalidArgumentError, match="precision="):
        univec.maxsim(codes, codes)
    with pytest.raises(InvalidArgumentError, match="not 'ubinary'"):
        univec.maxsim_many(codes, [codes], precision="ubinary")
