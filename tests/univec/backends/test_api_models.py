"""The Jina model family through the API backend: exact payloads, and refusals before sending.

Each model is served by the test server with that model's request schema (from the API's
OpenAPI description), which rejects any field, task or input the schema does not have.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import pytest

import univec
from tests.support.jina_api_server import JinaAPIServer
from univec.errors import (
    InvalidArgumentError,
    InvalidDimensionsError,
    InvalidInputError,
    InvalidTaskError,
)
from univec.models import MODELS

#: model -> (task of a valid call, dimensions, task it lacks)
CASES = {
    "jina-embeddings-v4": ("code.passage", 256, "classification"),
    "jina-embeddings-v3": ("separation", 64, "code.query"),
    "jina-embeddings-v5-text-small": ("clustering", 512, "separation"),
    "jina-embeddings-v5-text-nano": ("classification", 32, "code.passage"),
    "jina-clip-v2": ("retrieval.query", 768, "code.query"),
    "jina-code-embeddings-0.5b": ("nl2code.query", 128, "retrieval.query"),
    "jina-code-embeddings-1.5b": ("code2code.passage", 1024, "text-matching"),
}


@pytest.fixture(params=sorted(CASES))
def served(request):
    name = request.param
    with JinaAPIServer(None, model=name, fake_dim=MODELS[name].dim) as server:
        encoder = univec.Encoder.api(
            "test-key", base_url=server.base_url, model=name, requests_per_minute=None
        )
        with encoder:
            yield name, server, encoder


def test_table_covers_the_family():
    assert set(MODELS) == set(CASES)
    assert all(MODELS[name].dim == max(MODELS[name].matryoshka_dims) for name in MODELS)


def test_valid_request_has_the_exact_payload(served):
    name, server, encoder = served
    task, dimensions, _ = CASES[name]
    vectors = encoder.encode(["alpha", "beta"], task, dimensions=dimensions)
    assert vectors.shape == (2, dimensions)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    expected = {
        "model": name,
        "input": ["alpha", "beta"],
        "task": task,
        "embedding_type": "base64",
        "truncate": True,
        "dimensions": dimensions,
    }
    if name == "jina-embeddings-v4":
        expected["return_multivector"] = False
    (request,) = server.embedding_requests
    assert request.json == expected
    assert list(request.json)[:2] == ["model", "input"]
    full = encoder.encode(["gamma"], task)
    assert full.shape == (1, MODELS[name].dim)
    assert "dimensions" not in server.embedding_requests[-1].json


def test_unsupported_options_are_refused_before_sending(served):
    name, server, encoder = served
    description = MODELS[name]
    _, _, missing_task = CASES[name]
    with pytest.raises(InvalidTaskError, match=description.tasks[1]) as info:
        encoder.encode(["x"], missing_task)
    assert name in str(info.value) and missing_task in str(info.value)
    with pytest.raises(InvalidDimensionsError, match=str(list(description.matryoshka_dims))):
        encoder.encode(["x"], description.tasks[0], dimensions=description.dim + 8)
    if not description.multivector:
        with pytest.raises(InvalidArgumentError, match="multivector=True is not available"):
            encoder.encode(["x"], description.tasks[0], multivector=True)
    if not description.late_chunking:
        with pytest.raises(InvalidArgumentError, match="late_chunking=True is not available"):
            encoder.encode(["x", "y"], description.tasks[0], late_chunking=True)
    if "image" not in description.inputs:
        image = univec.Image(PIL.Image.new("RGB", (8, 8)))
        with pytest.raises(InvalidInputError, match="text only") as info:
            encoder.encode(["x", image], description.tasks[0])
        assert "jina-embeddings-v4" in str(info.value)
    assert server.requests == []


def test_v3_late_chunking_payload():
    with JinaAPIServer(None, model="jina-embeddings-v3", fake_dim=1024) as server:
        with univec.Encoder.api(
            "test-key", base_url=server.base_url, model="jina-embeddings-v3"
        ) as e:
            assert e.encode(["a.", " b."], "retrieval.passage", late_chunking=True).shape == (
                2,
                1024,
            )
        assert server.embedding_requests[0].json == {
            "model": "jina-embeddings-v3",
            "input": ["a.", " b."],
            "task": "retrieval.passage",
            "embedding_type": "base64",
            "truncate": True,
            "late_chunking": True,
        }


def test_clip_v2_sends_task_for_queries_only_and_takes_images():
    with JinaAPIServer(None, model="jina-clip-v2", fake_dim=1024) as server:
        with univec.Encoder.api("test-key", base_url=server.base_url, model="jina-clip-v2") as e:
            image = univec.Image(PIL.Image.new("RGB", (30, 30)))
            assert e.encode(["a photo", image], "retrieval.passage").shape == (2, 1024)
            e.encode(["a photo"], "text-matching")
            e.encode(["a photo"], "retrieval.query", precision="binary")
        first, second, third = (r.json for r in server.embedding_requests)
        assert "task" not in first and "task" not in second
        assert first["input"][1].keys() == {"image"}
        assert third["task"] == "retrieval.query" and third["embedding_type"] == "binary"


def test_unknown_model_warns_and_is_sent_as_given():
    with JinaAPIServer(None, model="jina-embeddings-v6", fake_dim=96) as server:
        with pytest.warns(UserWarning, match="does not know the API model 'jina-embeddings-v6'"):
            encoder = univec.Encoder.api(
                "test-key", base_url=server.base_url, model="jina-embeddings-v6"
            )
        with encoder:
            vectors = encoder.encode(["x"], "retrieval.query", dimensions=96)
        assert vectors.shape == (1, 96)
        assert server.embedding_requests[0].json == {
            "model": "jina-embeddings-v6",
            "input": ["x"],
            "task": "retrieval.query",
            "embedding_type": "base64",
            "truncate": True,
            "dimensions": 96,
        }


def test_task_family_hint_names_the_models_pair():
    with (
        univec.Encoder.api("k", model="jina-code-embeddings-0.5b") as encoder,
        pytest.raises(InvalidTaskError, match=r"'qa' is a task family: use \['qa.query'"),
    ):
        encoder.encode(["x"], "qa")
