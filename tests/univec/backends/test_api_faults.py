"""The API client against a real HTTP server with injected faults.

Every test checks the exact payload the server received and the outcome: retried faults end in
the right vectors after the right number of requests; others raise the right typed error at once.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import univec
from tests.support.fake_api import FAKE_INFO, make_encoder
from univec.errors import (
    APIAuthenticationError,
    APIConnectionError,
    APIPermissionError,
    APIRateLimitError,
    APIRequestError,
    APIResponseError,
    APIServerError,
    APITimeoutError,
)

TEXTS = ["A cat sat on the mat.", "Paris is the capital of France.", "def f(x): return x"]


def payload(inputs, task="retrieval.query", **extra):
    body = {
        "model": "jina-embeddings-v4",
        "input": list(inputs),
        "task": task,
        "embedding_type": "base64",
        "truncate": True,
        "return_multivector": False,
    }
    body.update(extra)
    return body


@pytest.fixture
def reference(server):
    """The vectors of TEXTS as served without faults (the fake server is deterministic)."""
    with make_encoder(server) as encoder:
        vectors = encoder.encode(TEXTS, task="retrieval.query")
    server.reset()
    return vectors


def assert_all_payloads(server, expected, count):
    requests = server.embedding_requests
    assert len(requests) == count
    for request in requests:
        assert request.json == expected
        assert request.headers["authorization"] == "Bearer test-key"


def assert_recovers(server, reference, requests, **options):
    """Encoding TEXTS gives the fault-free vectors, after ``requests`` identical requests."""
    with make_encoder(server, **options) as encoder:
        vectors = encoder.encode(TEXTS, task="retrieval.query")
    np.testing.assert_array_equal(vectors, reference)
    assert_all_payloads(server, payload(TEXTS), requests)


# ----------------------------------------------------------------- retried faults
def test_429_waits_retry_after_then_succeeds(server, reference):
    server.inject("status", status=429, retry_after=0.4, detail="Too many requests")
    assert_recovers(server, reference, 2)
    first, second = server.embedding_requests
    assert second.received_at - first.received_at >= 0.4  # Retry-After honoured
    assert [first.status, second.status] == [429, 200]


def test_503_twice_then_succeeds(server, reference):
    server.inject("status", status=503, times=2, detail="overloaded")
    assert_recovers(server, reference, 3)
    assert server.statuses == {503: 2, 200: 1}


@pytest.mark.parametrize("status", [500, 502, 504])
def test_other_transient_statuses_are_retried(server, reference, status):
    server.inject("status", status=status)
    assert_recovers(server, reference, 2)


def test_dropped_connection_then_succeeds(server, reference):
    server.inject("drop")
    assert_recovers(server, reference, 2)
    assert [r.status for r in server.embedding_requests] == [None, 200]


def test_slow_response_times_out_then_succeeds(server, reference):
    server.inject("slow", delay=1.5)
    started = time.monotonic()
    assert_recovers(server, reference, 2, timeout=0.3)
    elapsed = time.monotonic() - started
    assert 0.3 <= elapsed < 1.5  # gave up on the slow answer after the timeout


def test_slow_responses_exhaust_total_timeout(server):
    server.inject("slow", delay=1.0, times=10)
    started = time.monotonic()
    with (
        make_encoder(server, timeout=0.2, total_timeout=0.6) as encoder,
        pytest.raises(APITimeoutError, match="total_timeout") as info,
    ):
        encoder.encode(TEXTS, task="retrieval.query")
    elapsed = time.monotonic() - started
    # Bounded by total_timeout (0.6 s), not by the attempts: 6 x 0.2 s plus backoff is over 5 s.
    # The margin absorbs a loaded machine.
    assert elapsed < 2.0
    assert isinstance(info.value, TimeoutError) and info.value.status_code is None
    assert 2 <= len(server.embedding_requests) <= 4
    assert_all_payloads(server, payload(TEXTS), len(server.embedding_requests))


def test_attempts_are_bounded(server):
    server.inject("status", status=503, times=10, detail="down for maintenance")
    with (
        make_encoder(server, max_attempts=3) as encoder,
        pytest.raises(APIServerError, match="Gave up after 3 attempt") as info,
    ):
        encoder.encode(TEXTS, task="retrieval.query")
    assert info.value.status_code == 503
    assert info.value.detail == "down for maintenance"
    assert info.value.request_id.startswith("req-")
    assert_all_payloads(server, payload(TEXTS), 3)


def test_dropped_connections_exhaust_attempts(server):
    server.inject("drop", times=10)
    with make_encoder(server, max_attempts=2) as encoder, pytest.raises(APIConnectionError):
        encoder.encode(TEXTS, task="retrieval.query")
    assert_all_payloads(server, payload(TEXTS), 2)


def test_retry_after_beyond_budget_fails_at_once(server):
    server.inject("status", status=429, retry_after=30, times=3)
    started = time.monotonic()
    with make_encoder(server, total_timeout=5) as encoder, pytest.raises(APIRateLimitError) as info:
        encoder.encode(TEXTS, task="retrieval.query")
    assert time.monotonic() - started < 2  # did not sleep 30 s
    assert info.value.status_code == 429
    assert_all_payloads(server, payload(TEXTS), 1)


# ----------------------------------------------------------------- malformed responses
def test_shuffled_indexes_are_reordered(server, reference):
    server.inject("shuffle")
    assert_recovers(server, reference, 1)


def test_shuffled_multivectors_are_reordered(server):
    with make_encoder(server) as encoder:
        expected = encoder.encode(TEXTS, task="retrieval.passage", multivector=True)
        server.reset()
        server.inject("shuffle")
        got = encoder.encode(TEXTS, task="retrieval.passage", multivector=True)
    assert [m.shape for m in got] == [m.shape for m in expected]
    assert len({m.shape for m in got}) > 1  # the order is observable
    for a, b in zip(got, expected, strict=True):
        np.testing.assert_array_equal(a, b)
    assert_all_payloads(server, payload(TEXTS, "retrieval.passage", return_multivector=True), 1)


@pytest.mark.parametrize(
    ("fault", "problem"),
    [("short", "2 embeddings for 3 inputs"), ("duplicate", "twice"), ("wrong_dim", "63-d")],
)
def test_mismatched_response_is_an_error(server, fault, problem):
    server.inject(fault)
    with make_encoder(server) as encoder, pytest.raises(APIResponseError, match=problem) as info:
        encoder.encode(TEXTS, task="retrieval.query")
    assert info.value.request_id.startswith("req-")
    assert_all_payloads(server, payload(TEXTS), 1)  # not retried


# ----------------------------------------------------------------- client errors
def test_401_is_typed_has_detail_and_request_id_and_hides_the_key(server, caplog):
    secret = "sk-wrong-key-8f3a"
    caplog.set_level("DEBUG")
    with (
        make_encoder(server, api_key=secret) as encoder,
        pytest.raises(APIAuthenticationError) as info,
    ):
        encoder.encode(TEXTS, task="retrieval.query")
        assert secret not in repr(encoder) and secret not in repr(encoder.backend)
    error = info.value
    assert error.status_code == 401
    assert error.detail == "Unauthorized: the API key is missing or invalid."
    assert error.request_id.startswith("req-") and error.request_id in str(error)
    assert secret not in str(error) and "JINA_API_KEY" in str(error)
    assert secret not in caplog.text
    requests = server.embedding_requests
    assert len(requests) == 1  # not retried
    assert requests[0].json == payload(TEXTS)
    assert requests[0].headers["authorization"] == f"Bearer {secret}"


def test_error_detail_echoing_the_key_is_redacted(server):
    server.inject("status", status=403, detail="key test-key has no balance", code="BALANCE")
    with make_encoder(server) as encoder, pytest.raises(APIPermissionError) as info:
        encoder.encode(TEXTS, task="retrieval.query")
    assert "test-key" not in str(info.value) and "test-key" not in info.value.detail
    assert info.value.detail == "key *** has no balance" and info.value.code == "BALANCE"


def test_422_from_validation_is_a_request_error(server):
    options = {"model": "jina-embeddings-v9", "model_info": FAKE_INFO}
    with (
        pytest.warns(UserWarning, match="does not know the API model 'jina-embeddings-v9'"),
        univec.Encoder.api("test-key", base_url=server.base_url, **options) as encoder,
        pytest.raises(APIRequestError) as info,
    ):
        encoder.encode(TEXTS, task="retrieval.query")
    assert info.value.status_code == 422
    assert "Unknown model 'jina-embeddings-v9'" in info.value.detail
    assert "jina-embeddings-v9" in str(info.value)
    assert isinstance(info.value, ValueError)
    requests = server.embedding_requests
    assert len(requests) == 1
    # An unknown model is sent as given, with only the fields the call needs.
    expected = {**payload(TEXTS), "model": "jina-embeddings-v9"}
    del expected["return_multivector"]
    assert requests[0].json == expected


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, APIRequestError),
        (403, APIPermissionError),
        (404, APIRequestError),
        (409, APIRequestError),
        (422, APIRequestError),
    ],
)
def test_client_errors_are_not_retried(server, status, kind):
    detail = [{"loc": ["body", "input"], "msg": "bad input"}]
    server.inject("status", status=status, detail=detail, times=3)
    with make_encoder(server) as encoder, pytest.raises(kind) as info:
        encoder.encode(TEXTS, task="retrieval.query")
    assert type(info.value) is kind
    assert info.value.detail == detail and info.value.status_code == status
    assert_all_payloads(server, payload(TEXTS), 1)


def test_failure_cancels_the_other_requests(server):
    server.latency = 0.3
    server.inject("status", status=422, detail="bad")
    with make_encoder(server, max_batch_size=1, max_concurrency=2) as encoder:
        started = time.monotonic()
        with pytest.raises(APIRequestError):
            encoder.encode([f"text {i}" for i in range(20)], task="retrieval.query")
    # 20 sequential-ish requests would take ~3 s; the call stops right after the 422.
    assert time.monotonic() - started < 1.5
    assert len(server.embedding_requests) < 6
