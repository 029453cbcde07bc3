"""Unit tests of the API backend's pure parts: payload, parser, batching, buckets, errors."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest

import univec
from univec.backends.api.payload import EmbeddingRequest, build_payload, parse_response
from univec.backends.api.ratelimit import RateLimiter, TokenBucket
from univec.backends.api.requests import (
    DEFAULT_IMAGE_TOKENS,
    estimate_tokens,
    plan_batches,
)
from univec.backends.api.transport import (
    RetryPolicy,
    error_from_response,
    retry_after_seconds,
)
from univec.errors import (
    APIAuthenticationError,
    APIPermissionError,
    APIRateLimitError,
    APIRequestError,
    APIResponseError,
    APIServerError,
)


def b64(vector) -> str:
    return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()


def png_bytes(width: int = 56, height: int = 28) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# ----------------------------------------------------------------- payload
def test_payload_text_and_images(tmp_path):
    path = tmp_path / "page.png"
    path.write_bytes(png_bytes())
    from PIL import Image as PILImage

    pil = PILImage.new("RGB", (4, 4), (0, 0, 255))
    items = [
        "hello",
        univec.Image("https://example.com/cat.jpg"),
        univec.Image(path),
        univec.Image(png_bytes(28, 28)),
        univec.Image(pil),
    ]
    payload = build_payload(items, EmbeddingRequest("jina-embeddings-v4", "retrieval.passage"))
    assert list(payload) == [
        "model",
        "input",
        "task",
        "embedding_type",
        "truncate",
        "return_multivector",
    ]
    assert payload["model"] == "jina-embeddings-v4"
    assert payload["task"] == "retrieval.passage"
    assert payload["embedding_type"] == "base64"
    assert payload["truncate"] is True
    assert payload["return_multivector"] is False
    assert payload["input"][0] == "hello"
    assert payload["input"][1] == {"image": "https://example.com/cat.jpg"}
    assert base64.b64decode(payload["input"][2]["image"]) == path.read_bytes()
    assert base64.b64decode(payload["input"][3]["image"]) == png_bytes(28, 28)
    decoded = PILImage.open(io.BytesIO(base64.b64decode(payload["input"][4]["image"])))
    assert decoded.format == "PNG" and decoded.size == (4, 4)


def test_payload_options():
    request = EmbeddingRequest(
        "jina-embeddings-v4", "code.query", dimensions=256, truncate=False, late_chunking=True
    )
    payload = build_payload(["a"], request)
    assert payload["dimensions"] == 256
    assert payload["late_chunking"] is True
    assert payload["truncate"] is False
    multi = build_payload(["a"], EmbeddingRequest("m", "text-matching", multivector=True))
    assert multi["return_multivector"] is True
    assert "dimensions" not in multi and "late_chunking" not in multi


# ----------------------------------------------------------------- parser
def test_parse_orders_by_index_and_decodes_base64():
    vectors = np.arange(12, dtype=np.float32).reshape(3, 4)
    body = {
        "data": [{"index": i, "embedding": b64(vectors[i])} for i in (2, 0, 1)],
        "usage": {"total_tokens": 9, "prompt_tokens": 9},
    }
    result, usage = parse_response(body, expected=3, dim=4, multivector=False)
    np.testing.assert_array_equal(np.stack(result), vectors)
    assert result[0].dtype == np.float32
    assert usage == univec.Usage(total_tokens=9, prompt_tokens=9, image_tokens=0)


def test_parse_little_endian():
    raw = np.array(
        [1.5, -2.0], dtype=">f4"
    ).tobytes()  # big-endian bytes must NOT be accepted as is
    body = {"data": [{"index": 0, "embedding": base64.b64encode(raw).decode()}]}
    result, _ = parse_response(body, expected=1, dim=2, multivector=False)
    assert not np.allclose(result[0], [1.5, -2.0])
    body = {"data": [{"index": 0, "embedding": b64([1.5, -2.0])}]}
    result, _ = parse_response(body, expected=1, dim=2, multivector=False)
    np.testing.assert_array_equal(result[0], [1.5, -2.0])


@pytest.mark.parametrize("form", ["rows", "matrix", "floats"])
def test_parse_multivector_forms(form):
    tokens = [
        np.random.default_rng(i).standard_normal((i + 2, 8)).astype(np.float32) for i in range(2)
    ]

    def encode(matrix):
        if form == "rows":
            return [b64(row) for row in matrix]
        if form == "matrix":
            return b64(matrix)
        return matrix.tolist()

    body = {"data": [{"index": i, "embeddings": encode(tokens[i])} for i in (1, 0)]}
    result, _ = parse_response(body, expected=2, dim=8, multivector=True)
    for got, want in zip(result, tokens, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-6)
        assert got.shape == want.shape


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ([{"index": 0, "embedding": [1.0, 0.0]}], "1 embeddings for 2 inputs"),
        ([{"index": 0, "embedding": [1.0, 0]}, {"index": 0, "embedding": [0, 1.0]}], "twice"),
        ([{"index": 0, "embedding": [1.0, 0]}, {"index": 2, "embedding": [0, 1.0]}], "index 2"),
        ([{"index": 0, "embedding": [1.0, 0]}, {"index": "1", "embedding": [0, 1.0]}], "index '1'"),
        ([{"index": 0, "embedding": [1.0, 0]}, {"index": 1, "embedding": [0, 1.0, 0]}], "3-d"),
        ([{"index": 0, "embedding": [1.0, 0]}, {"index": 1}], "no 'embedding'"),
        ([{"index": 0, "embedding": [1.0, 0]}, {"index": 1, "embedding": "!!"}], "decoded"),
    ],
)
def test_parse_rejects_mismatched_responses(data, problem):
    with pytest.raises(APIResponseError, match=problem) as info:
        parse_response({"data": data}, expected=2, dim=2, multivector=False, request_id="r-1")
    assert info.value.request_id == "r-1"


def test_parse_rejects_non_object():
    with pytest.raises(APIResponseError, match="'data' list"):
        parse_response(["x"], expected=1, dim=2, multivector=False)


# ----------------------------------------------------------------- batching
def test_estimate_tokens(tmp_path):
    assert estimate_tokens("x" * 300, 32768) == 104
    assert estimate_tokens("x" * 300, 50) == 50
    assert estimate_tokens(univec.Image("https://example.com/a.png"), 32768) == DEFAULT_IMAGE_TOKENS
    # 56x28 pixels = 2 x 1 tiles of 28x28 = 20 tokens; 600x600 -> 22x22 tiles = 4,840.
    assert estimate_tokens(univec.Image(png_bytes(56, 28)), 32768) == 20
    path = tmp_path / "big.png"
    path.write_bytes(png_bytes(600, 600))
    assert estimate_tokens(univec.Image(path), 32768) == 4840


def test_plan_batches_by_count_and_tokens():
    items = [f"t{i}" for i in range(1100)]
    batches = plan_batches(items, [1] * 1100, max_items=512, max_tokens=10**9)
    assert [len(b.items) for b in batches] == [512, 512, 76]
    assert [item for b in batches for item in b.items] == items
    batches = plan_batches(list("abcde"), [4, 4, 9, 1, 1], max_items=512, max_tokens=8)
    assert [list(b.items) for b in batches] == [["a", "b"], ["c"], ["d", "e"]]
    assert [b.tokens for b in batches] == [8, 9, 2]
    assert plan_batches([], [], max_items=5, max_tokens=5) == []


# ----------------------------------------------------------------- rate limiting
def test_token_bucket_reserves_and_refills():
    clock = FakeClock()
    bucket = TokenBucket(60, burst=0.05, clock=clock)  # 1 per second, capacity 3
    assert bucket.capacity == 3
    assert [bucket.reserve(1) for _ in range(3)] == [0, 0, 0]
    assert bucket.reserve(1) == pytest.approx(1.0)
    assert bucket.reserve(1) == pytest.approx(2.0)
    clock.now += 10
    assert bucket.level == 3  # capped at capacity
    bucket.clamp(1)
    assert bucket.level == 1
    bucket.drain()
    assert bucket.level == 0


def test_rate_limiter_combines_limits_and_corrections():
    clock = FakeClock()
    limiter = RateLimiter(600, 6000, burst=0.01, clock=clock)  # 10 req/s cap 6; 100 tok/s cap 60
    assert limiter.reserve(50) == clock.now
    # The token bucket (10 left) is the binding limit: 40 more tokens take 0.4 s.
    assert limiter.reserve(50) == pytest.approx(clock.now + 0.4)
    limiter.correct(estimated=50, reserved=50, billed=10)  # billed less: 40 tokens come back
    assert limiter.tokens.level == pytest.approx(0)
    limiter.observe({"x-ratelimit-remaining-requests": "2", "x-ratelimit-remaining-tokens": "x"})
    assert limiter.requests.level == 2
    limiter.pause(5)
    assert limiter.requests.level == 0 and limiter._paused_until == clock.now + 5


def test_rate_limiter_calibrates_estimates():
    limiter = RateLimiter(600, 6000, clock=FakeClock())
    assert limiter.calibrated(100) == 100  # nothing billed yet: the raw estimate
    limiter.correct(estimated=400, reserved=400, billed=300)
    assert limiter.calibrated(100) == 75  # the server bills 3/4 of the estimates
    limiter.correct(estimated=100, reserved=75, billed=10_000)
    assert limiter.calibrated(100) == 400  # bounded at 4x


async def test_rate_limiter_acquire_waits():
    limiter = RateLimiter(1200, None, burst=0.0001)  # 20 per second, capacity 1
    started = limiter._clock()
    for _ in range(4):
        assert await limiter.acquire(7) == 7
    # The first goes at once, three more wait 50 ms each.
    assert limiter._clock() - started == pytest.approx(0.15, abs=0.04)


# ----------------------------------------------------------------- errors
def response(status, body=None, headers=None, text=None):
    request = httpx.Request("POST", "https://api.test/v1/embeddings")
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=body, headers=headers, request=request)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, APIRequestError),
        (401, APIAuthenticationError),
        (403, APIPermissionError),
        (404, APIRequestError),
        (409, APIRequestError),
        (422, APIRequestError),
        (429, APIRateLimitError),
        (500, APIServerError),
        (503, APIServerError),
    ],
)
def test_error_mapping(status, kind):
    error = error_from_response(
        response(status, {"detail": "bad thing", "code": "E1"}, {"x-request-id": "rid-7"})
    )
    assert type(error) is kind
    assert isinstance(error, univec.UnivecError)
    assert (error.status_code, error.detail, error.code, error.request_id) == (
        status,
        "bad thing",
        "E1",
        "rid-7",
    )
    assert "bad thing" in str(error) and "rid-7" in str(error) and str(status) in str(error)


def test_error_redacts_key_and_reads_text_bodies():
    error = error_from_response(
        response(401, {"detail": "key sk-SECRET is invalid"}), secret="sk-SECRET"
    )
    assert "sk-SECRET" not in str(error) and "sk-SECRET" not in str(error.detail)
    assert "***" in str(error)
    error = error_from_response(response(502, text="<html>Bad gateway</html>"))
    assert error.detail == "<html>Bad gateway</html>"


def test_retry_after_and_backoff():
    assert retry_after_seconds({"retry-after": "2.5"}) == 2.5
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None
    when = retry_after_seconds({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=1445412480)
    assert when == pytest.approx(10)
    import random

    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0)
    rng = random.Random(0)
    waits = [policy.backoff(attempt, rng) for attempt in (1, 2, 3, 4, 5)]
    for wait, ceiling in zip(waits, (1, 2, 4, 5, 5), strict=True):
        assert ceiling / 2 <= wait <= ceiling
