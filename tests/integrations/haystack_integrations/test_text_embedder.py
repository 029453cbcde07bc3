"""UnivecTextEmbedder: init, to_dict, from_dict, run (local and API), run_async, wrong input."""

from __future__ import annotations

import numpy as np
import pytest
from haystack.core.errors import SerializationError
from haystack.utils import Secret

import univec
from haystack_integrations.components.embedders.univec import UnivecTextEmbedder

TYPE = "haystack_integrations.components.embedders.univec.text_embedder.UnivecTextEmbedder"
DEFAULT_KEY = {"type": "env_var", "env_vars": ["JINA_API_KEY"], "strict": False}


def test_all_is_pinned() -> None:
    import haystack_integrations.components.embedders.univec as module

    assert module.__all__ == [
        "UnivecDocumentEmbedder",
        "UnivecDocumentImageEmbedder",
        "UnivecImageEmbedder",
        "UnivecTextEmbedder",
    ]


def test_init_defaults_load_nothing() -> None:
    embedder = UnivecTextEmbedder()
    assert (embedder.backend, embedder.task, embedder.dimensions, embedder.model) == (
        "local",
        "retrieval",
        None,
        None,
    )
    assert embedder.api_key == Secret.from_env_var("JINA_API_KEY", strict=False)
    assert not embedder._family.is_built


def test_to_dict() -> None:
    embedder = UnivecTextEmbedder(
        backend="api",
        api_key=Secret.from_env_var("MY_JINA_KEY"),
        base_url="http://127.0.0.1:9/v1",
        task="code",
        dimensions=128,
        encoder_options={"timeout": 5.0},
    )
    assert embedder.to_dict() == {
        "type": TYPE,
        "init_parameters": {
            "backend": "api",
            "model": None,
            "device": None,
            "dtype": None,
            "max_length": None,
            "api_key": {"type": "env_var", "env_vars": ["MY_JINA_KEY"], "strict": True},
            "base_url": "http://127.0.0.1:9/v1",
            "encoder_options": {"timeout": 5.0},
            "task": "code",
            "dimensions": 128,
        },
    }


def test_from_dict() -> None:
    data = {
        "type": TYPE,
        "init_parameters": {
            "backend": "local",
            "model": "some/dir",
            "device": "cpu",
            "api_key": DEFAULT_KEY,
            "task": "text-matching",
            "dimensions": 32,
        },
    }
    embedder = UnivecTextEmbedder.from_dict(data)
    assert (embedder.model, embedder.device, embedder.task, embedder.dimensions) == (
        "some/dir",
        "cpu",
        "text-matching",
        32,
    )
    assert embedder.api_key == Secret.from_env_var("JINA_API_KEY", strict=False)
    assert embedder.to_dict()["init_parameters"]["model"] == "some/dir"


def test_token_secret_and_ready_encoder_are_not_serialised(tiny_encoder) -> None:
    with pytest.raises(ValueError, match="token"):
        UnivecTextEmbedder(backend="api", api_key=Secret.from_token("jina_secret")).to_dict()
    with pytest.raises(SerializationError, match="encoder="):
        UnivecTextEmbedder(encoder=tiny_encoder).to_dict()


@pytest.mark.parametrize(
    ("family", "task"),
    [("retrieval", "retrieval.query"), ("code", "code.query"), ("text-matching", "text-matching")],
)
def test_run_matches_encoder_query_task(tiny_encoder, family: str, task: str) -> None:
    embedder = UnivecTextEmbedder(encoder=tiny_encoder, task=family)
    embedding = embedder.run("Where is Paris?")["embedding"]
    assert isinstance(embedding, list) and isinstance(embedding[0], float)
    np.testing.assert_allclose(
        embedding, tiny_encoder.encode(["Where is Paris?"], task)[0], atol=1e-6
    )


def test_run_built_from_config(tiny_encoder, tiny_model_path) -> None:
    embedder = UnivecTextEmbedder(
        backend="local", model=str(tiny_model_path), device="cpu", dimensions=16
    )
    embedder.warm_up()
    assert embedder._family.is_built
    embedding = embedder.run("Where is Paris?")["embedding"]
    expected = tiny_encoder.encode(["Where is Paris?"], "retrieval.query", dimensions=16)[0]
    np.testing.assert_allclose(embedding, expected, atol=1e-6)


async def test_run_async_matches_encoder(tiny_encoder) -> None:
    embedder = UnivecTextEmbedder(encoder=tiny_encoder, task="code")
    embedding = (await embedder.run_async("def add(a, b)"))["embedding"]
    np.testing.assert_allclose(
        embedding, tiny_encoder.encode(["def add(a, b)"], "code.query")[0], atol=1e-6
    )


async def test_api_backend_from_config(
    jina_api_server, api_encoder, tiny_encoder, monkeypatch
) -> None:
    monkeypatch.setenv("JINA_API_KEY", jina_api_server.api_key)
    embedder = UnivecTextEmbedder(
        backend="api",
        base_url=jina_api_server.base_url,
        encoder_options={"model_info": api_encoder.info},
        dimensions=32,
    )
    expected = tiny_encoder.encode(["Where is Paris?"], "retrieval.query", dimensions=32)[0]

    np.testing.assert_allclose(embedder.run("Where is Paris?")["embedding"], expected, atol=1e-6)
    np.testing.assert_allclose(
        (await embedder.run_async("Where is Paris?"))["embedding"], expected, atol=1e-6
    )
    assert [r.json["task"] for r in jina_api_server.embedding_requests] == ["retrieval.query"] * 2


def test_api_encoder_matches_local(api_encoder, tiny_encoder) -> None:
    embedding = UnivecTextEmbedder(encoder=api_encoder).run("Where is Paris?")["embedding"]
    np.testing.assert_allclose(
        embedding, tiny_encoder.encode(["Where is Paris?"], "retrieval.query")[0], atol=1e-6
    )


@pytest.mark.parametrize("bad", [["a list"], None, 42])
async def test_wrong_input_is_a_type_error(tiny_encoder, bad: object) -> None:
    embedder = UnivecTextEmbedder(encoder=tiny_encoder)
    with pytest.raises(TypeError, match="UnivecDocumentEmbedder"):
        embedder.run(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expects a string"):
        await embedder.run_async(bad)  # type: ignore[arg-type]


def test_bad_configuration_is_a_value_error(tiny_encoder) -> None:
    with pytest.raises(univec.errors.InvalidTaskError):
        UnivecTextEmbedder(task="retrieval.queries")
    with pytest.raises(univec.errors.ConfigurationError, match="backend"):
        UnivecTextEmbedder(backend="cloud")  # type: ignore[arg-type]
    with pytest.raises(univec.errors.ConfigurationError, match="not both"):
        UnivecTextEmbedder(encoder=tiny_encoder, model="x")
