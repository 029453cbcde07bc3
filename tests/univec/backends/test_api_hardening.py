"""API client hardening (issue 12): limiter waits within total_timeout, no stall, no thread leak."""

from __future__ import annotations

import asyncio
import gc
import io
import threading

import pytest

import univec
from tests.support.fake_api import make_encoder
from univec.backends.api.ratelimit import RateLimiter
from univec.errors import APITimeoutError


def _png(width: int, height: int) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (0, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_total_timeout_covers_rate_limiter_waits(server):
    """Item 15: a large image was held 76 s by the limiter despite total_timeout=20."""
    big = univec.Image(_png(1000, 1000))  # ~12,960 estimated tokens, over the 6,000 bucket
    options = {"tokens_per_minute": 60_000, "rate_limit_burst": 0.1, "total_timeout": 2.0}
    with make_encoder(server, **options) as encoder:
        assert encoder.encode([big], "retrieval.passage").shape == (1, 64)  # a full bucket
        with pytest.raises(APITimeoutError, match=r"rate limiter would hold .* 2 s total_timeout"):
            encoder.encode([big], "retrieval.passage")  # the bucket is empty: ~6 s to wait
        assert len(server.embedding_requests) == 1  # the second was never sent


async def test_an_oversized_request_does_not_stall_the_others():
    """Item 15: an unrelated request queued behind the oversized one's reservation."""
    limiter = RateLimiter(None, 600, burst=0.5)  # 10 tokens/s, bucket of 300
    assert await limiter.acquire(300) == 300  # empties the bucket
    oversized = asyncio.ensure_future(limiter.acquire(2_000))  # needs a full bucket: ~30 s
    await asyncio.sleep(0)
    try:
        # 5 tokens come back in ~0.5 s; behind the oversized request it took ~200 s.
        assert await asyncio.wait_for(limiter.acquire(5), timeout=20) == 5
        assert not oversized.done()
    finally:
        oversized.cancel()
    assert limiter.tokens.level < 300


def _engine_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("univec-api-")}


def test_a_dropped_api_encoder_frees_its_thread(server):
    """Item 17: an API encoder dropped without close() kept its engine thread."""
    before = _engine_threads()
    for _ in range(5):
        encoder = make_encoder(server)
        encoder.encode(["x"], "retrieval.query")
        assert len(_engine_threads() - before) == 1
        del encoder
        gc.collect()
    for thread in _engine_threads() - before:
        thread.join(timeout=30)
    assert _engine_threads() - before == set()
