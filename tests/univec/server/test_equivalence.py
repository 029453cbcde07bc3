"""``Encoder.api`` against ``univec serve`` returns what ``Encoder.local`` computes (1e-5).

The server runs the tiny checkpoint in-process under uvicorn on 127.0.0.1; the client is
univec's own API backend, raw HTTP (for the embedding types the client does not request) and the
official ``openai`` client.
"""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

import univec

from .conftest import KEYS

TEXTS = [
    "The cat sat on the mat.",
    "Paris is the capital of France.",
    "def add(a, b):\n    return a + b",
    "A longer passage about embeddings, retrieval and the late interaction of tokens.",
]
TASKS = ["retrieval.query", "retrieval.passage", "text-matching", "code.query", "code.passage"]
HEADERS = {"Authorization": f"Bearer {KEYS[0]}"}


def post(served, body: dict) -> httpx.Response:
    return httpx.post(f"{served.base_url}/embeddings", json=body, headers=HEADERS, timeout=60)


@pytest.mark.parametrize("task", TASKS)
def test_text_vectors_match_local_for_every_task(served_api, tiny_encoder, task):
    got = served_api.encode(TEXTS, task=task)
    want = tiny_encoder.encode(TEXTS, task=task)
    assert got.shape == want.shape == (4, 64)
    np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("dimensions", [16, 32])
def test_dimensions_match_local(served_api, tiny_encoder, dimensions):
    got = served_api.encode(TEXTS, task="retrieval.passage", dimensions=dimensions)
    want = tiny_encoder.encode(TEXTS, task="retrieval.passage", dimensions=dimensions)
    assert got.shape == (4, dimensions)
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_any_dimensions_up_to_the_full_size_as_the_hosted_api(served, tiny_encoder):
    reply = post(served, {"model": "jina-embeddings-v4", "input": TEXTS[:2], "dimensions": 20})
    assert reply.status_code == 200, reply.text
    got = np.array([item["embedding"] for item in reply.json()["data"]], np.float32)
    full = tiny_encoder.encode(TEXTS[:2], task="text-matching")[:, :20]
    np.testing.assert_allclose(got, full / np.linalg.norm(full, axis=1, keepdims=True), atol=1e-5)


def test_images_by_url_and_base64_match_local(
    served_api, tiny_encoder, golden_images, jina_api_server
):
    first, second = golden_images
    jina_api_server.images["second.png"] = second.read_bytes()  # a real HTTP image server
    inputs = [
        TEXTS[0],
        univec.Image(first),  # sent as base64
        univec.Image(jina_api_server.image_url("second.png")),  # sent as a URL
        univec.Image(second.read_bytes()),
    ]
    for task in ("retrieval.passage", "code.query"):
        got = served_api.encode(inputs, task=task)
        local = [TEXTS[0], univec.Image(first), univec.Image(second), univec.Image(second)]
        np.testing.assert_allclose(got, tiny_encoder.encode(local, task=task), atol=1e-5)
        np.testing.assert_allclose(got[2], got[3], atol=1e-6)


def test_data_uri_images_match_local(served, tiny_encoder, golden_images):
    data = base64.b64encode(golden_images[0].read_bytes()).decode()
    reply = post(
        served,
        {
            "model": "jina-embeddings-v4",
            "input": [{"image": f"data:image/png;base64,{data}"}, {"text": TEXTS[1]}],
            "task": "retrieval.passage",
        },
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    got = np.array([item["embedding"] for item in body["data"]], np.float32)
    want = tiny_encoder.encode([univec.Image(golden_images[0]), TEXTS[1]], "retrieval.passage")
    np.testing.assert_allclose(got, want, atol=1e-5)
    assert body["usage"]["image_tokens"] > 0
    assert body["usage"]["total_tokens"] == (
        body["usage"]["prompt_tokens"] + body["usage"]["image_tokens"]
    )


def test_multivectors_match_local(served_api, tiny_encoder, golden_images):
    inputs = [TEXTS[0], univec.Image(golden_images[0]), TEXTS[3]]
    for task in ("retrieval.query", "text-matching"):
        got = served_api.encode(inputs, task=task, multivector=True)
        want = tiny_encoder.encode(inputs, task=task, multivector=True)
        assert [m.shape for m in got] == [m.shape for m in want]
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)


def test_encode_both_matches_local(served_api, tiny_encoder):
    got = served_api.encode_both(TEXTS, task="retrieval.passage", dimensions=32)
    want = tiny_encoder.encode_both(TEXTS, task="retrieval.passage", dimensions=32)
    np.testing.assert_allclose(got.dense, want.dense, atol=1e-5)
    for a, b in zip(got.multi, want.multi, strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)


def packed_signs(vectors: np.ndarray) -> np.ndarray:
    return np.packbits(np.asarray(vectors) > 0, axis=-1)


@pytest.mark.parametrize("embedding_type", ["float", "base64", "binary", "ubinary"])
@pytest.mark.parametrize("multivector", [False, True])
def test_every_embedding_type(served, tiny_encoder, embedding_type, multivector):
    body = {
        "model": "jina-embeddings-v4",
        "input": TEXTS,
        "task": "retrieval.query",
        "embedding_type": embedding_type,
        "return_multivector": multivector,
    }
    reply = post(served, body)
    assert reply.status_code == 200, reply.text
    data = reply.json()["data"]
    assert [item["index"] for item in data] == [0, 1, 2, 3]
    field = "embeddings" if multivector else "embedding"
    want = tiny_encoder.encode(TEXTS, task="retrieval.query", multivector=multivector)
    for item, expected in zip(data, want, strict=True):
        assert item["object"] == field
        value = item[field]
        rows = value if multivector else [value]
        expected_rows = np.atleast_2d(expected)
        if embedding_type == "float":
            got = np.array(rows, np.float32)
            np.testing.assert_allclose(got, expected_rows, atol=1e-5)
        elif embedding_type == "base64":
            got = np.stack([np.frombuffer(base64.b64decode(row), "<f4") for row in rows])
            np.testing.assert_allclose(got, expected_rows, atol=1e-5)
        else:
            got = np.array(rows)
            packed = packed_signs(expected_rows).astype(np.int16)
            if embedding_type == "binary":
                packed -= 128
                assert got.min() >= -128 and got.max() <= 127
            # Signs of components within 1e-5 of zero may differ between two float32 runs.
            clear = packed_signs(np.abs(expected_rows) > 1e-5) == 255
            assert got.shape == (len(expected_rows), expected_rows.shape[1] // 8)
            assert np.array_equal(got[clear], packed[clear])


def test_usage_and_model_are_reported(served):
    reply = post(served, {"model": "jina-embeddings-v4", "input": TEXTS})
    body = reply.json()
    assert body["model"] == "jina-embeddings-v4" and body["object"] == "list"
    assert body["usage"]["total_tokens"] == body["usage"]["prompt_tokens"] > len(TEXTS)
    assert "image_tokens" not in body["usage"]


def test_the_official_openai_client_works(served, tiny_encoder):
    openai = pytest.importorskip("openai")
    client = openai.OpenAI(base_url=served.base_url, api_key=KEYS[0], max_retries=0)
    want = tiny_encoder.encode(TEXTS, task="text-matching")  # the API's default task
    for encoding_format in ("float", "base64"):
        response = client.embeddings.create(
            model="jina-embeddings-v4", input=TEXTS, encoding_format=encoding_format
        )
        got = np.array(
            [
                np.frombuffer(base64.b64decode(item.embedding), "<f4")
                if isinstance(item.embedding, str)  # asked for base64: returned as sent
                else item.embedding
                for item in response.data
            ],
            np.float32,
        )
        np.testing.assert_allclose(got, want, atol=1e-5)
        assert response.usage.total_tokens > 0
    # Without encoding_format the client asks for base64 and decodes it itself.
    default = client.embeddings.create(model="jina-embeddings-v4", input=TEXTS[0])
    np.testing.assert_allclose(default.data[0].embedding, want[0], atol=1e-5)
    client.close()


def test_models_lists_the_served_model_with_its_sizes(served):
    reply = httpx.get(f"{served.base_url}/models", headers=HEADERS)
    (entry,) = reply.json()["data"]
    assert entry["id"] == "jina-embeddings-v4" and entry["object"] == "model"
    assert entry["dimensions"] == 64 and entry["matryoshka_dims"] == [16, 32, 64]
    assert entry["multivector_dimensions"] == 128


def test_cli_api_backend_reads_the_served_model_sizes(served, tiny_encoder, monkeypatch):
    """``univec ... --backend api --base-url <univec serve>`` works on a model of any size."""
    from univec.cli.options import build_encoder

    monkeypatch.setenv("JINA_API_KEY", KEYS[1])
    encoder = build_encoder({"backend": "api", "base_url": served.base_url})
    try:
        assert encoder.info.dim == 64 and encoder.matryoshka_dims == (16, 32, 64)
        got = encoder.encode(TEXTS, task="retrieval.passage", dimensions=16)
        want = tiny_encoder.encode(TEXTS, task="retrieval.passage", dimensions=16)
        np.testing.assert_allclose(got, want, atol=1e-5)
    finally:
        encoder.close()
