"""The API client keeps its key secret and does not retry what cannot succeed (issue 12, 7/11/21)."""

from __future__ import annotations

import logging
import warnings

import pytest

import univec
from tests.support.fake_api import FAKE_INFO, make_encoder
from univec.errors import APIConnectionError, ConfigurationError

CANARY = "CANARY-7f3a9c"


def _everything_said(error: BaseException, caplog) -> str:
    """The error, its whole chain (as a traceback prints it) and every log line."""
    parts = []
    seen: BaseException | None = error
    while seen is not None:
        parts += [str(seen), repr(seen)]
        seen = seen.__cause__ or seen.__context__
    parts += [record.getMessage() for record in caplog.records]
    return "\n".join(parts)


@pytest.mark.parametrize(
    "key",
    [
        f"{CANARY}\nX-Injected: 1",  # a header injection attempt
        f"{CANARY}\rtail",
        f"{CANARY}\x00tail",
        f"{CANARY}\ttail",
        f"{CANARY}é",
        f"{CANARY}\u200btail",  # zero-width space
    ],
)
def test_bad_key_refused_at_construction_without_showing_it(server, caplog, key):
    caplog.set_level(logging.DEBUG)
    with pytest.raises(ConfigurationError) as info:
        make_encoder(server, api_key=key)
    assert isinstance(info.value, ValueError)
    message = str(info.value)
    assert "character" in message and "not shown" in message
    said = _everything_said(info.value, caplog)
    assert CANARY[:6] not in said and "tail" not in said
    assert server.requests == []


def test_whitespace_around_the_key_is_stripped(server):
    with make_encoder(server, api_key="  test-key\n") as encoder:
        encoder.encode(["x"], "retrieval.query")
    (request,) = server.embedding_requests
    assert request.headers["authorization"] == "Bearer test-key"


def test_bad_key_from_the_environment_refused_before_any_request(server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("JINA_API_KEY", f"{CANARY}\nmore")
    encoder = make_encoder(server, api_key=None)
    try:
        assert CANARY not in repr(encoder.backend)
        with pytest.raises(ConfigurationError, match="JINA_API_KEY") as info:
            encoder.encode(["x"], "retrieval.query")
    finally:
        encoder.close()
    assert CANARY not in _everything_said(info.value, caplog)
    assert server.requests == []


def test_unsendable_key_never_reaches_the_http_layer(server, caplog):
    """Even a key that slipped past the constructor never reaches a message, a log or a retry."""
    caplog.set_level(logging.DEBUG)
    encoder = make_encoder(server, max_attempts=6)
    encoder.backend._api_key = f"{CANARY}\nrest"  # as if set behind the constructor's back
    try:
        with pytest.raises(ConfigurationError) as info:
            encoder.encode(["x"], "retrieval.query")
    finally:
        encoder.close()
    assert CANARY not in _everything_said(info.value, caplog)
    assert "retrying" not in caplog.text and encoder.backend.retries == 0
    assert server.requests == []


def test_unresolvable_host_fails_fast(caplog):
    caplog.set_level(logging.INFO, logger="univec")
    encoder = univec.Encoder.api(
        "k", base_url="https://no-such-host.invalid/v1", model_info=FAKE_INFO, backoff_base=5.0
    )
    try:
        with pytest.raises(APIConnectionError, match="does not resolve") as info:
            encoder.encode(["x"], "retrieval.query")
    finally:
        encoder.close()
    assert "Not retried" in str(info.value) and "retrying" not in caplog.text


def test_tls_failure_fails_fast(server, caplog):
    caplog.set_level(logging.INFO, logger="univec")
    base_url = server.base_url.replace("http://", "https://")  # TLS to a plain-http server
    encoder = univec.Encoder.api(
        "test-key", base_url=base_url, model_info=FAKE_INFO, backoff_base=5.0
    )
    try:
        with pytest.raises(APIConnectionError, match="TLS") as info:
            encoder.encode(["x"], "retrieval.query")
    finally:
        encoder.close()
    assert "Not retried" in str(info.value) and "retrying" not in caplog.text


def test_repr_hides_a_password_in_base_url():
    encoder = univec.Encoder.api("k", base_url=f"https://user:{CANARY}@api.example/v1")
    assert CANARY not in repr(encoder.backend) and "user:***@api.example" in repr(encoder.backend)


def test_plain_http_to_another_host_warns_once(monkeypatch):
    from univec.backends.api import backend

    monkeypatch.setattr(backend, "_warned_plain_http", set())
    with pytest.warns(UserWarning, match="plain http") as record:
        univec.Encoder.api("k", base_url=f"http://user:{CANARY}@api.example/v1")
        univec.Encoder.api("k", base_url="http://api.example/v1")
    assert len(record) == 1 and CANARY not in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning for this machine or for https
        univec.Encoder.api("k", base_url="http://127.0.0.1:9/v1")
        univec.Encoder.api("k", base_url="http://localhost:9/v1")
        univec.Encoder.api("k", base_url="http://[::1]:9/v1")
        univec.Encoder.api("k", base_url="https://elsewhere.example/v1")
