"""Storage options: validation, token pooling, MUVERA encodings (no database)."""

from __future__ import annotations

import numpy as np
import pytest

import univec
from univec.collections.compression import (
    MuveraEncoding,
    StorageOptions,
    check_stored_options,
    pool_tokens,
)
from univec.errors import InvalidArgumentError, SchemaMismatchError


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"pool_factor": 0}, "pool_factor=0"),
        ({"pool_factor": 1.5}, "pool_factor=1.5"),
        ({"pool_factor": True}, "pool_factor=True"),
        ({"token_precision": "int4"}, "token_precision='int4'"),
        ({"first_stage": "bm25"}, "first_stage='bm25'"),
    ],
)
def test_bad_options_are_typed_errors_naming_the_option(kwargs, words):
    with pytest.raises(InvalidArgumentError, match=words) as caught:
        StorageOptions(**kwargs)
    assert isinstance(caught.value, ValueError)


def test_options_round_trip_through_their_stored_form():
    options = StorageOptions(pool_factor=3, token_precision="binary", first_stage="muvera")
    assert StorageOptions.from_stored(options.as_dict()) == options
    assert StorageOptions.from_stored(None) == StorageOptions()  # collections made before


def test_mismatch_names_the_stored_options_and_the_fix():
    stored = StorageOptions(pool_factor=2, token_precision="float16")
    with pytest.raises(SchemaMismatchError, match="pool_factor=2") as caught:
        check_stored_options("Collection 'x'", StorageOptions(), stored)
    assert "token_precision='float16'" in str(caught.value)
    assert "first_stage" not in str(caught.value).split("Its stored")[0]  # only differences
    check_stored_options("Collection 'x'", stored, stored)  # equal: no error


def test_pool_factor_one_returns_the_tokens_unchanged():
    tokens = unit(np.random.default_rng(0).normal(size=(30, 16)))
    assert pool_tokens(tokens, 1) is tokens


def test_pooling_merges_near_duplicates_and_keeps_every_token_reachable():
    rng = np.random.default_rng(1)
    distinct = unit(rng.normal(size=(20, 64)))
    # Every token twice, with a little noise, in shuffled order: pool factor 2 must pair them.
    tokens = unit(np.repeat(distinct, 2, axis=0) + rng.normal(scale=0.02, size=(40, 64)))
    order = rng.permutation(40)
    pooled = pool_tokens(tokens[order], 2)
    assert pooled.shape == (20, 64) and pooled.dtype == np.float32
    assert np.allclose(np.linalg.norm(pooled, axis=1), 1.0, atol=1e-5)
    # Each pooled vector is the renormalised mean of one pair.
    expected = unit(tokens[0::2] + tokens[1::2])
    best = (pooled @ expected.T).max(axis=1)
    assert best.min() > 0.99999
    # A query token equal to any original token still finds it (MaxSim reachability).
    pair_cosines = np.repeat(np.sum(tokens[0::2] * tokens[1::2], axis=1), 2)
    reach = np.sqrt((1 + pair_cosines) / 2)  # a token . the normalised mean of its pair
    assert np.allclose((tokens @ pooled.T).max(axis=1), reach, atol=1e-5)
    assert univec.maxsim(tokens, pooled) == pytest.approx(univec.maxsim(tokens, tokens), rel=1e-2)


@pytest.mark.parametrize(("count", "factor", "kept"), [(300, 2, 150), (301, 3, 101), (5, 4, 2)])
def test_pooling_keeps_ceil_n_over_factor_vectors(count, factor, kept):
    tokens = unit(np.random.default_rng(count).normal(size=(count, 32)))
    pooled = pool_tokens(tokens, factor)
    assert pooled.shape == (kept, 32)
    # Every token belongs to a cluster: its pooled vector leans towards it.
    assert (tokens @ pooled.T).max(axis=1).min() > 0


def test_muvera_encodings_rank_like_maxsim():
    pytest.importorskip("muvera")
    rng = np.random.default_rng(2)
    centroids = unit(rng.normal(size=(8, 128)))
    documents = [
        unit(centroids[rng.integers(0, 8, 30)] + rng.normal(scale=0.2, size=(30, 128)))
        for _ in range(40)
    ]
    query = documents[7][:6]  # tokens taken from document 7
    encoding = MuveraEncoding()
    encoded = encoding.documents(documents)
    assert encoded.shape == (40, encoding.output_dim) == (40, 1152)
    scores = encoded @ encoding.query(query)
    assert int(np.argmax(scores)) == 7
    # The same parameters give the same encodings in another process or object.
    assert np.array_equal(MuveraEncoding().documents(documents[:2]), encoded[:2])


def test_long_documents_are_pooled_block_by_block():
    from univec.collections.compression import POOL_BLOCK

    tokens = unit(np.random.default_rng(3).normal(size=(POOL_BLOCK + 10, 16)))
    pooled = pool_tokens(tokens, 2)
    assert pooled.shape == (POOL_BLOCK // 2 + 5, 16)
    assert np.array_equal(pooled[POOL_BLOCK // 2 :], pool_tokens(tokens[POOL_BLOCK:], 2))
