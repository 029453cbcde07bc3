"""Streaming: ``Encoder.encode`` over any iterable and ``Encoder.iter_encode`` in bounded memory."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import univec
from univec.errors import InvalidArgumentError, InvalidInputError, InvalidTaskError


class Counting:
    """A generator of inputs that records how many were pulled."""

    def __init__(self, items: list[object]) -> None:
        self.items, self.pulled = items, 0

    def __iter__(self) -> Iterator[object]:
        for item in self.items:
            self.pulled += 1
            yield item


@pytest.fixture(scope="module")
def mixed(golden) -> list[object]:
    texts, images = golden["texts"], golden["images"]
    return [texts[0], images[0], texts[1], texts[2], images[1], texts[3], "x " * 40, texts[0]]


@pytest.mark.parametrize("window", [1, 3, 1024])
def test_iter_encode_returns_exactly_what_encode_returns_in_input_order(
    tiny_encoder, mixed, window
):
    dense = tiny_encoder.encode(mixed, "retrieval.passage")
    streamed = list(tiny_encoder.iter_encode(iter(mixed), "retrieval.passage", window=window))
    assert len(streamed) == len(mixed)
    np.testing.assert_allclose(np.stack(streamed), dense, atol=1e-6)
    # Each result is its own input's: encoding one input alone gives the same row.
    np.testing.assert_allclose(
        streamed[4], tiny_encoder.encode([mixed[4]], "retrieval.passage")[0], atol=1e-5
    )
    multi = tiny_encoder.encode(mixed, "retrieval.passage", multivector=True)
    streamed_multi = list(
        tiny_encoder.iter_encode(mixed, "retrieval.passage", multivector=True, window=window)
    )
    assert [m.shape for m in streamed_multi] == [m.shape for m in multi]
    for got, expected in zip(streamed_multi, multi, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)
    both = list(tiny_encoder.iter_encode_both(mixed, "retrieval.passage", window=window))
    np.testing.assert_allclose(np.stack([d for d, _ in both]), dense, atol=1e-6)
    for (_, got), expected in zip(both, multi, strict=True):
        np.testing.assert_allclose(got, expected, atol=1e-6)


def test_iter_encode_pulls_one_window_at_a_time(tiny_encoder, golden):
    source = Counting([f"text number {i}" for i in range(10)])
    results = tiny_encoder.iter_encode(source, "retrieval.query", window=3)
    assert source.pulled == 0  # nothing is pulled before the first result is asked for
    next(results)
    assert source.pulled == 3
    for _ in range(3):
        next(results)
    assert source.pulled == 6
    assert len(list(results)) == 6 and source.pulled == 10


def test_encode_takes_a_generator_and_matches_a_list(tiny_encoder, golden, monkeypatch):
    monkeypatch.setattr("univec.encoder.STREAM_WINDOW", 2)
    texts = golden["texts"]
    expected = tiny_encoder.encode(list(texts), "text-matching", dimensions=32)
    got = tiny_encoder.encode((text for text in texts), "text-matching", dimensions=32)
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert got.shape == (len(texts), 32)
    assert tiny_encoder.encode(iter([]), "text-matching").shape == (0, 64)


def test_encode_holds_one_window_of_a_generator(tiny_encoder, monkeypatch):
    monkeypatch.setattr("univec.encoder.STREAM_WINDOW", 4)
    source = Counting([f"text {i}" for i in range(10)])
    seen = []
    backend = tiny_encoder.backend
    original = backend.embed

    def spy(items, *args, **kwargs):
        seen.append((len(items), source.pulled))
        return original(items, *args, **kwargs)

    monkeypatch.setattr(backend, "embed", spy)
    assert tiny_encoder.encode(source, "retrieval.query").shape == (10, 64)
    assert seen == [(4, 4), (4, 8), (2, 10)]  # each call saw only the window pulled so far


def test_bad_arguments_fail_before_anything_is_pulled(tiny_encoder):
    source = Counting(["a", "b"])
    with pytest.raises(InvalidTaskError):
        tiny_encoder.iter_encode(source, "summarise")
    with pytest.raises(InvalidArgumentError, match="window"):
        tiny_encoder.iter_encode(source, "retrieval.query", window=0)
    with pytest.raises(InvalidInputError, match="single str"):
        tiny_encoder.iter_encode("just one string", "retrieval.query")
    assert source.pulled == 0


def test_a_bad_item_mid_stream_raises_after_the_earlier_results(tiny_encoder):
    results = tiny_encoder.iter_encode(
        ["fine", "also fine", 42, "never"], "retrieval.query", window=2
    )
    assert len([next(results), next(results)]) == 2
    with pytest.raises(InvalidInputError, match="Input #2"):
        next(results)


async def test_aencode_takes_a_generator(tiny_encoder, golden, monkeypatch):
    monkeypatch.setattr("univec.encoder.STREAM_WINDOW", 2)
    texts = golden["texts"]
    got = await tiny_encoder.aencode((t for t in texts), "retrieval.query")
    np.testing.assert_allclose(got, tiny_encoder.encode(texts, "retrieval.query"), atol=1e-6)


def test_usage_counts_every_window(tiny_model_path):
    encoder = univec.Encoder.local(str(tiny_model_path), device="cpu", dtype="float32")
    one = encoder.encode(["a b c", "d e"], "retrieval.query")
    single_call = encoder.usage.total_tokens
    list(encoder.iter_encode(["a b c", "d e"], "retrieval.query", window=1))
    assert one.shape == (2, 64) and encoder.usage.total_tokens == 2 * single_call
