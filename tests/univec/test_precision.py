"""``precision=`` on Encoder.encode: shapes, dtypes and values on both backends.

The API side runs against the test server (which packs bits itself, as the hosted API does
for ``embedding_type`` binary/ubinary); the expected values come from the float32 output and
the references of ``test_quantization``.
"""

from __future__ import annotations

import numpy as np
import pytest

import univec
from tests.univec.test_quantization import reference_codes, reference_maxsim

TEXTS = ["Paris is the capital of France.", "a", "Berlin liegt an der Spree."]
DTYPES = {"int8": np.int8, "uint8": np.uint8, "binary": np.int8, "ubinary": np.uint8}


def expected_codes(vectors: np.ndarray, precision: str) -> list:
    return [reference_codes(row, precision) for row in vectors.tolist()]


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_local_single_vectors(tiny_encoder, precision):
    floats = tiny_encoder.encode(TEXTS, "retrieval.passage", dimensions=32)
    codes = tiny_encoder.encode(TEXTS, "retrieval.passage", dimensions=32, precision=precision)
    width = 4 if "binary" in precision else 32
    assert codes.shape == (3, width) and codes.dtype == DTYPES[precision]
    assert codes.tolist() == expected_codes(floats, precision)


@pytest.mark.parametrize("precision", ["int8", "uint8", "binary", "ubinary"])
def test_local_multi_vectors(tiny_encoder, precision):
    floats = tiny_encoder.encode(TEXTS, "retrieval.passage", multivector=True)
    codes = tiny_encoder.encode(TEXTS, "retrieval.passage", multivector=True, precision=precision)
    for f, c in zip(floats, codes, strict=True):
        assert c.dtype == DTYPES[precision]
        assert c.shape == (len(f), 16 if "binary" in precision else 128)
        assert c.tolist() == expected_codes(f, precision)


def test_local_encode_both_and_empty(tiny_encoder):
    both = tiny_encoder.encode_both(TEXTS[:1], "text-matching", precision="binary")
    assert both.dense.dtype == np.int8 and both.dense.shape == (1, 8)
    assert both.multi[0].dtype == np.int8 and both.multi[0].shape[1] == 16
    empty = tiny_encoder.encode([], "text-matching", precision="ubinary")
    assert empty.shape == (0, 8) and empty.dtype == np.uint8


@pytest.mark.parametrize("precision", ["float32", "int8", "uint8", "binary", "ubinary"])
def test_api_matches_local(api_encoder, jina_api_server, tiny_encoder, precision):
    local = tiny_encoder.encode(TEXTS, "retrieval.query", precision=precision)
    remote = api_encoder.encode(TEXTS, "retrieval.query", precision=precision)
    assert remote.dtype == local.dtype and remote.shape == local.shape
    if precision == "float32":
        np.testing.assert_allclose(remote, local, atol=1e-6)
    else:
        assert remote.tolist() == local.tolist()
    sent = jina_api_server.embedding_requests[-1].json["embedding_type"]
    assert sent == {"binary": "binary", "ubinary": "ubinary"}.get(precision, "base64")


@pytest.mark.parametrize("precision", ["int8", "binary", "ubinary"])
def test_api_multi_vectors(api_encoder, jina_api_server, tiny_encoder, precision):
    local = tiny_encoder.encode(TEXTS, "code.passage", multivector=True, precision=precision)
    remote = api_encoder.encode(TEXTS, "code.passage", multivector=True, precision=precision)
    for r, loc in zip(remote, local, strict=True):
        assert r.dtype == loc.dtype and r.tolist() == loc.tolist()
    request = jina_api_server.embedding_requests[-1].json
    assert request["return_multivector"] is True
    assert request["embedding_type"] == ("base64" if precision == "int8" else precision)


def test_maxsim_on_encoded_binary_matches_reference(tiny_encoder):
    query = tiny_encoder.encode(
        ["capital"], "retrieval.query", multivector=True, precision="binary"
    )
    docs = tiny_encoder.encode(TEXTS, "retrieval.passage", multivector=True, precision="binary")
    expected = [reference_maxsim(query[0], doc, "binary", 128) for doc in docs]
    scores = univec.maxsim_many(query[0], docs, precision="binary")
    assert scores.tolist() == pytest.approx(expected, abs=1e-4)


def test_unknown_precision_is_refused_before_encoding(api_encoder, jina_api_server):
    with pytest.raises(univec.errors.InvalidArgumentError, match="precision='fp8'"):
        api_encoder.encode(["x"], "retrieval.query", precision="fp8")
    assert jina_api_server.requests == []
