"""The API backend's batching, concurrency, rate limiting, async path, usage and key handling."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import univec
from tests.support.fake_api import FAKE_INFO, make_encoder
from univec.backends.api import KNOWN_MODELS, APIBackend
from univec.errors import APIAuthenticationError, ConfigurationError


def texts(count: int, prefix: str = "text") -> list[str]:
    return [f"{prefix} number {i}" for i in range(count)]


# ----------------------------------------------------------------- construction
def test_known_model_info_and_repr():
    backend = APIBackend(api_key="sk-construct-secret")
    assert backend.info == univec.ModelInfo(
        "jina-embeddings-v4", 2048, (128, 256, 512, 1024, 2048), 128, 32768
    )
    assert KNOWN_MODELS["jina-embeddings-v4"] is backend.info
    assert "sk-construct-secret" not in repr(backend)
    assert repr(backend) == (
        "APIBackend(model='jina-embeddings-v4', base_url='https://api.jina.ai/v1', api_key='***')"
    )
    backend.close()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"model": "jina-embeddings-v5-text-nano", "late_chunking": True}, "late_chunking"),
        ({"max_concurrency": 0}, "max_concurrency=0"),
        ({"timeout": -1}, "timeout=-1"),
        ({"requests_per_minute": 0}, "requests_per_minute=0"),
        ({"base_url": "api.jina.ai/v1"}, "not an http"),
    ],
)
def test_bad_options_are_configuration_errors(options, message):
    with pytest.raises(ConfigurationError, match=message):
        univec.Encoder.api("k", **options)


def test_from_config_builds_an_api_encoder(server, monkeypatch):
    monkeypatch.setenv("UNIVEC_BACKEND", "api")
    monkeypatch.setenv("UNIVEC_BASE_URL", server.base_url)
    monkeypatch.setenv("JINA_API_KEY", "test-key")
    with univec.Encoder.from_env(model_info=FAKE_INFO) as encoder:
        assert encoder.backend_name == "api" and isinstance(encoder.backend, APIBackend)
        assert encoder.encode(["x"], task="text-matching").shape == (1, 64)
    assert server.embedding_requests[0].json["task"] == "text-matching"


def test_import_is_light():
    code = (
        "import sys, univec, univec.backends.api; "
        "assert 'httpx' not in sys.modules, 'httpx imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----------------------------------------------------------------- keys
def test_missing_key_fails_at_first_request_not_construction(server, monkeypatch):
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    encoder = make_encoder(server, api_key=None)  # no error yet
    with pytest.raises(APIAuthenticationError, match="JINA_API_KEY") as info:
        encoder.encode(["x"], task="retrieval.query")
    assert info.value.status_code is None
    assert server.embedding_requests == []  # nothing was sent
    monkeypatch.setenv("JINA_API_KEY", "test-key")  # read again at the next request
    assert encoder.encode(["x"], task="retrieval.query").shape == (1, 64)
    assert server.embedding_requests[0].headers["authorization"] == "Bearer test-key"
    encoder.close()


def test_key_never_logged(server, caplog, monkeypatch):
    monkeypatch.setenv("JINA_API_KEY", "test-key")
    caplog.set_level("DEBUG")
    server.inject("status", status=503)
    with make_encoder(server, api_key=None) as encoder:
        encoder.encode(texts(3), task="retrieval.query")
        assert "test-key" not in repr(encoder) and "test-key" not in repr(encoder.backend)
    assert "univec.api" in {record.name for record in caplog.records}  # it did log
    assert "retrying" in caplog.text
    assert "test-key" not in caplog.text


# ----------------------------------------------------------------- batching and concurrency
def test_large_call_is_split_at_512_and_reassembled_in_order(server):
    inputs = texts(1100)
    with make_encoder(server) as encoder:
        vectors = encoder.encode(inputs, task="retrieval.passage", dimensions=32)
        one_by_one = np.concatenate(
            [
                encoder.encode(inputs[i : i + 100], task="retrieval.passage", dimensions=32)
                for i in range(0, 1100, 100)
            ]
        )
    requests = server.embedding_requests[:3]
    assert sorted(len(r.json["input"]) for r in requests) == [76, 512, 512]
    sent = sorted((r.json["input"] for r in requests), key=lambda batch: inputs.index(batch[0]))
    assert [text for batch in sent for text in batch] == inputs
    for request in requests:
        assert request.json == {
            "model": "jina-embeddings-v4",
            "input": request.json["input"],
            "task": "retrieval.passage",
            "embedding_type": "base64",
            "truncate": True,
            "return_multivector": False,
            "dimensions": 32,
        }
    assert vectors.shape == (1100, 32)
    np.testing.assert_array_equal(vectors, one_by_one)


def test_token_budget_splits_requests(server):
    inputs = ["x" * 300] * 10  # ~104 estimated tokens each
    with make_encoder(server, max_batch_tokens=350) as encoder:
        encoder.encode(inputs, task="retrieval.query")
    assert sorted(len(r.json["input"]) for r in server.embedding_requests) == [1, 3, 3, 3]


@pytest.mark.parametrize("concurrency", [1, 3, 5])
def test_concurrency_is_bounded(server, concurrency):
    server.latency = 0.15
    inputs = texts(60)
    with make_encoder(server, max_batch_size=6, max_concurrency=concurrency) as encoder:
        started = time.monotonic()
        vectors = encoder.encode(inputs, task="retrieval.query")
        elapsed = time.monotonic() - started
    assert len(server.embedding_requests) == 10
    assert server.max_in_flight == concurrency
    rounds = -(-10 // concurrency)
    assert elapsed >= rounds * 0.15
    assert vectors.shape == (60, 64)


def test_default_concurrency_is_5(server):
    server.latency = 0.1
    with make_encoder(server, max_batch_size=1) as encoder:
        encoder.encode(texts(12), task="retrieval.query")
    assert server.max_in_flight == 5


# ----------------------------------------------------------------- rate limiting
def test_requests_per_minute_paces_requests(server):
    # 600/min = one every 0.1 s, with a burst of 3 requests.
    options = {"requests_per_minute": 600, "rate_limit_burst": 3 / 600, "max_batch_size": 1}
    with make_encoder(server, **options) as encoder:
        started = time.monotonic()
        encoder.encode(texts(8), task="retrieval.query")
        elapsed = time.monotonic() - started
    times = sorted(r.received_at for r in server.embedding_requests)
    assert len(times) == 8
    assert times[2] - times[0] < 0.15  # the burst goes at once (paced, it would take 0.2 s)
    # Then five more at 10 per second: the last cannot leave before 0.5 s. Measured on the
    # client: the server's receive times can bunch up on a busy machine (the exact pacing is
    # unit-tested with a fake clock in test_api_payload.py).
    assert elapsed >= 0.5


def test_tokens_per_minute_paces_requests(server):
    # 60,000 tokens/min = 1,000 per second, burst 600; each text is ~504 estimated tokens.
    options = {"tokens_per_minute": 60_000, "rate_limit_burst": 0.01, "max_batch_size": 1}
    with make_encoder(server, **options) as encoder:
        started = time.monotonic()
        encoder.encode(["y" * 1500] * 3, task="retrieval.query")
        elapsed = time.monotonic() - started
    assert len(server.embedding_requests) == 3
    # The server bills ~375 tokens each, which the limiter credits back after each answer,
    # but each later request still waits for its estimate: (504 - 96) / 1000 s at least, twice.
    # Measured on the client (server receive times can bunch up on a busy machine).
    assert elapsed >= 0.6


SERVER_LIMIT = {"requests_per_minute": 1200, "tokens_per_minute": None, "burst": 0.005}


def test_client_limit_avoids_server_429s(server):
    server.rate_limit(**SERVER_LIMIT)  # 20 requests/s, bucket of 6
    options = {"requests_per_minute": 1200, "rate_limit_burst": 0.002, "max_batch_size": 1}
    with make_encoder(server, **options) as encoder:
        encoder.encode(texts(30), task="retrieval.query")
    assert server.statuses == {200: 30}
    headers = server.embedding_requests[-1]
    assert headers.status == 200


def test_without_client_limit_the_server_429s_are_retried(server):
    server.rate_limit(**SERVER_LIMIT)
    options = {"requests_per_minute": None, "tokens_per_minute": None, "max_batch_size": 1}
    with make_encoder(server, max_attempts=30, **options) as encoder:
        vectors = encoder.encode(texts(30), task="retrieval.query")
    assert vectors.shape == (30, 64)
    assert server.statuses[429] >= 1 and server.statuses[200] == 30


def test_remaining_headers_slow_the_client(server):
    # The server allows 3 requests then 20/s and says so in X-RateLimit-Remaining-Requests;
    # the client believes it may send 600 at once, yet follows the header and gets no 429.
    server.rate_limit(requests_per_minute=1200, tokens_per_minute=None, burst=3 / 1200)
    options = {"requests_per_minute": 1200, "rate_limit_burst": 0.5, "max_batch_size": 1}
    with make_encoder(server, max_concurrency=1, **options) as encoder:
        encoder.encode(texts(12), task="retrieval.query")
    assert server.statuses == {200: 12}  # without the header the 4th request would get a 429


# ----------------------------------------------------------------- both outputs, options
def test_encode_both_sends_one_request_per_kind(server):
    inputs = texts(3)
    with make_encoder(server) as encoder:
        both = encoder.encode_both(inputs, task="code.passage", dimensions=16)
        dense = encoder.encode(inputs, task="code.passage", dimensions=16)
        multi = encoder.encode(inputs, task="code.passage", multivector=True)
    first_two = sorted(
        (r.json for r in server.embedding_requests[:2]), key=lambda body: body["return_multivector"]
    )
    common = {
        "model": "jina-embeddings-v4",
        "input": inputs,
        "task": "code.passage",
        "embedding_type": "base64",
        "truncate": True,
    }
    assert first_two == [
        {**common, "return_multivector": False, "dimensions": 16},
        {**common, "return_multivector": True},
    ]
    np.testing.assert_array_equal(both.dense, dense)
    for a, b in zip(both.multi, multi, strict=True):
        np.testing.assert_array_equal(a, b)
        assert a.shape[1] == 128


def test_late_chunking_and_truncate_options(server):
    with make_encoder(server, late_chunking=True, truncate=False) as encoder:
        encoder.encode(["chunk one", "chunk two"], task="retrieval.passage")
        with pytest.raises(univec.errors.InvalidInputError, match="late_chunking"):
            encoder.encode(["text", univec.Image("https://x.test/a.png")], task="retrieval.passage")
    (request,) = server.embedding_requests  # the image call was refused before sending
    assert request.json["late_chunking"] is True and request.json["truncate"] is False


def test_backend_with_no_items(server):
    backend = APIBackend("test-key", base_url=server.base_url, model_info=FAKE_INFO)
    spec = univec.resolve_task("retrieval.query")
    empty = backend.embed([], spec, dense=True, multi=True, dimensions=16)
    assert empty.dense.shape == (0, 16) and empty.multi == []
    assert server.embedding_requests == []
    backend.close()


# ----------------------------------------------------------------- async
async def test_aencode_matches_encode(server):
    inputs = texts(700)
    with make_encoder(server) as encoder:
        sync = encoder.encode(inputs, task="retrieval.query", dimensions=32)
        sync_multi = encoder.encode(inputs[:5], task="retrieval.query", multivector=True)
        together = await asyncio.gather(
            encoder.aencode(inputs, task="retrieval.query", dimensions=32),
            encoder.aencode(inputs[:5], task="retrieval.query", multivector=True),
            encoder.aencode_both(inputs[:5], task="retrieval.query"),
        )
    np.testing.assert_array_equal(together[0], sync)
    for a, b in zip(together[1], sync_multi, strict=True):
        np.testing.assert_array_equal(a, b)
    assert together[2].dense.shape == (5, 64) and len(together[2].multi) == 5
    # sync: 2 + 1 requests; async: 2 + 1 + 2, including the same three payloads.
    bodies = [r.json for r in server.embedding_requests]
    assert len(bodies) == 8
    for body in bodies[:3]:
        assert body in bodies[3:]


async def test_aencode_does_not_block_the_event_loop(server):
    server.latency = 0.3
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    with make_encoder(server) as encoder:
        task = asyncio.create_task(ticker())
        await encoder.aencode(texts(3), task="retrieval.query")
        task.cancel()
    assert ticks >= 5  # ~15 if the loop is free, 0 if the call blocked it


async def test_aencode_cancellation_leaves_the_encoder_usable(server):
    server.latency = 0.5
    with make_encoder(server) as encoder:
        call = asyncio.create_task(encoder.aencode(texts(3), task="retrieval.query"))
        await asyncio.sleep(0.1)
        call.cancel()
        with pytest.raises(asyncio.CancelledError):
            await call
        server.latency = 0
        assert (await encoder.aencode(["again"], task="retrieval.query")).shape == (1, 64)


# ----------------------------------------------------------------- usage
def test_usage_per_call_and_cumulative(server):
    inputs = texts(600)  # two requests
    with make_encoder(server) as encoder:
        both = encoder.encode_both(inputs, task="retrieval.query")
        billed = [r for r in server.embedding_requests]
        assert len(billed) == 4
        per_request = sum(-(-len(t) // 4) for t in inputs)  # the server bills len/4 per text
        assert both.usage == univec.Usage(2 * per_request, 2 * per_request, 0)
        encoder.encode(["abcdefgh"], task="retrieval.query")
        assert encoder.usage.total_tokens == 2 * per_request + 2
        backend = encoder.backend
        assert backend.usage == encoder.usage
        assert backend.requests_sent == 5 and backend.retries == 0


def test_close_then_reuse(server):
    encoder = make_encoder(server)
    encoder.encode(["a"], task="retrieval.query")
    encoder.close()
    encoder.close()  # idempotent
    assert encoder.encode(["b"], task="retrieval.query").shape == (1, 64)
    encoder.close()
    assert len(server.embedding_requests) == 2


def _client_threads() -> set[threading.Thread]:
    # The test server answers each request in a thread of its own, which may still be winding
    # down after the response arrived: those are the server's, not the client's.
    return {t for t in threading.enumerate() if "process_request_thread" not in t.name}


def test_close_joins_every_thread_it_started(server, golden_images):
    before = _client_threads()
    for _ in range(5):  # the leak was a race: repeat to catch it every time
        encoder = make_encoder(server)
        # Image inputs are read in worker threads of the engine loop (asyncio.to_thread).
        encoder.encode([golden_images[0]], task="retrieval.passage")
        started = _client_threads() - before
        assert started, "the client runs its engine loop in a thread of its own"
        encoder.close()
        assert _client_threads() <= before
