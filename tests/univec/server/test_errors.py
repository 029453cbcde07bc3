"""Wrong requests get the hosted API's status and a JSON ``detail`` naming the problem."""

from __future__ import annotations

import base64
import io

import httpx
import pytest

from .conftest import KEYS

MODEL = "jina-embeddings-v4"
GOOD = {"Authorization": f"Bearer {KEYS[0]}"}


def post(server, body=None, *, headers=GOOD, content=None) -> httpx.Response:
    return httpx.post(
        f"{server.base_url}/embeddings", json=body, content=content, headers=headers, timeout=60
    )


def png_bytes(size: int = 8) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 10, 10)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"model": MODEL, "input": []}, 422, "'input' is empty"),
        ({"model": MODEL, "input": ["x"] * 513}, 422, "513 items; at most 512"),
        ({"model": MODEL, "input": ["x"], "task": "retrieval"}, 422, "Unknown task 'retrieval'"),
        (
            {"model": MODEL, "input": ["x"], "dimensions": 16, "return_multivector": True},
            422,
            "'dimensions' cannot be combined with 'return_multivector'",
        ),
        ({"model": MODEL, "input": ["x"], "dimensions": 65}, 422, "must be in 1..64"),
        ({"model": MODEL, "input": [{"image": "not base64 !!"}]}, 400, "valid base64"),
        ({"model": MODEL, "input": [{"image": "data:image/png,abc"}]}, 400, ";base64,"),
        (
            {"model": MODEL, "input": [{"image": base64.b64encode(b"not an image").decode()}]},
            400,
            "cannot be decoded",
        ),
        ({"model": MODEL, "input": ["x"], "embedding_type": "int4"}, 422, "'embedding_type'"),
        ({"model": MODEL, "input": ["x"], "colour": "red"}, 422, "Unknown field(s) ['colour']"),
        ({"model": "jina-embeddings-v3", "input": ["x"]}, 422, "serves 'jina-embeddings-v4'"),
        ({"model": MODEL, "input": [42]}, 422, "input[0] is int 42"),
        ({"model": MODEL, "input": ["x"], "truncate": "yes"}, 422, "'truncate' must be"),
        ({"model": MODEL, "input": ["x"], "late_chunking": True}, 422, "late_chunking"),
        ({"model": MODEL, "input": ["word " * 9000]}, 422, '"truncate": true'),
        ([1, 2], 422, "must be a JSON object"),
    ],
)
def test_bad_requests_name_the_problem(served, body, status, words):
    reply = post(served, body)
    assert reply.status_code == status, reply.text
    detail = reply.json()["detail"]
    assert isinstance(detail, str) and words in detail


def test_oversized_image_is_413(served):
    huge = base64.b64encode(png_bytes() + b"\0" * (8 * 1024 * 1024)).decode()
    reply = post(served, {"model": MODEL, "input": ["fine", {"image": huge}]})
    assert reply.status_code == 413
    assert (
        "input[1].image" in reply.json()["detail"]
        and "8,388,608-byte limit" in (reply.json()["detail"])
    )


def test_truncate_true_accepts_long_text(served):
    reply = post(served, {"model": MODEL, "input": ["word " * 9000], "truncate": True})
    assert reply.status_code == 200, reply.text


def test_not_json_is_400(served):
    reply = post(served, content=b"{nope", headers={**GOOD, "Content-Type": "application/json"})
    assert reply.status_code == 400 and "not valid JSON" in reply.json()["detail"]


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "Missing API key"),
        ({"Authorization": "Bearer wrong-key"}, "Invalid API key"),
        ({"Authorization": f"Basic {KEYS[0]}"}, "Missing API key"),
    ],
)
def test_missing_or_wrong_key_is_401(served, headers, words):
    reply = post(served, {"model": MODEL, "input": ["x"]}, headers=headers)
    assert reply.status_code == 401 and reply.headers["www-authenticate"] == "Bearer"
    assert words in reply.json()["detail"]
    assert "wrong-key" not in reply.text and KEYS[0] not in reply.text
    models = httpx.get(f"{served.base_url}/models", headers=headers)
    assert models.status_code == 401


def test_every_key_is_accepted(served):
    for key in KEYS:
        reply = post(
            served, {"model": MODEL, "input": ["x"]}, headers={"Authorization": f"Bearer {key}"}
        )
        assert reply.status_code == 200


def test_private_image_urls_are_refused_by_default(tiny_encoder, jina_api_server):
    from tests.support.serve import ServerThread
    from univec.server import ServerSettings

    jina_api_server.images["a.png"] = png_bytes()
    settings = ServerSettings()  # no keys: loopback only; private URLs refused
    with ServerThread(tiny_encoder, settings) as server:
        for url in (jina_api_server.image_url("a.png"), "http://169.254.169.254/latest/x.png"):
            reply = post(server, {"model": MODEL, "input": [{"image": url}]}, headers={})
            assert reply.status_code == 400
            assert "non-public address" in reply.json()["detail"]
        reply = post(server, {"model": MODEL, "input": [{"image": "ftp://x/a.png"}]}, headers={})
        assert reply.status_code == 400  # not a URL it fetches, and not base64 either
    assert not jina_api_server.requests  # nothing was fetched


def test_body_over_the_cap_is_413(tiny_encoder):
    from tests.support.serve import ServerThread
    from univec.server import ServerSettings

    with ServerThread(tiny_encoder, ServerSettings(max_body_bytes=1000)) as server:
        reply = post(server, {"model": MODEL, "input": ["x" * 2000]}, headers={})
        assert reply.status_code == 413 and "1,000-byte limit" in reply.json()["detail"]
        assert post(server, {"model": MODEL, "input": ["x"]}, headers={}).status_code == 200


def test_unknown_route_is_json_404(served):
    reply = httpx.post(f"{served.base_url}/embedding", json={}, headers=GOOD)
    assert reply.status_code == 404 and "detail" in reply.json()
