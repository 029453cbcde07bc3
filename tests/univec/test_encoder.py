"""univec.Encoder: validation of tasks and dimensions, empty inputs, routing, constructors."""

from __future__ import annotations

import numpy as np
import pytest

import univec
from univec.backends.base import Backend, Embeddings, ModelInfo, Usage
from univec.errors import (
    ConfigurationError,
    InvalidArgumentError,
    InvalidDimensionsError,
    InvalidTaskError,
)


class RecordingBackend:
    """A fake backend that records what the encoder asks of it."""

    def __init__(self) -> None:
        self.info = ModelInfo(name="fake", dim=8, matryoshka_dims=(2, 4, 8), multivector_dim=3)
        self.calls: list[dict] = []

    def embed(self, items, task, *, dense, multi, dimensions):
        self.calls.append(
            {
                "items": items,
                "task": task.name,
                "dense": dense,
                "multi": multi,
                "dimensions": dimensions,
            }
        )
        size = dimensions or self.info.dim
        vectors = np.eye(len(items), size, dtype=np.float32) if dense else None
        tokens = [np.ones((2, 3), np.float32) for _ in items] if multi else None
        return Embeddings(vectors, tokens, Usage(total_tokens=5 * len(items)))

    async def aembed(self, items, task, *, dense, multi, dimensions):
        return self.embed(items, task, dense=dense, multi=multi, dimensions=dimensions)

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def fake():
    backend = RecordingBackend()
    return univec.Encoder(backend), backend


def test_recording_backend_satisfies_protocol():
    assert isinstance(RecordingBackend(), Backend)


def test_only_requested_outputs_are_asked_for(fake):
    encoder, backend = fake
    encoder.encode(["a"], "retrieval.query")
    encoder.encode(["a"], "retrieval.query", dimensions=4)
    encoder.encode(["a"], "code.passage", multivector=True)
    encoder.encode_both(["a"], "text-matching")
    flags = [(c["task"], c["dense"], c["multi"], c["dimensions"]) for c in backend.calls]
    assert flags == [
        ("retrieval.query", True, False, None),
        ("retrieval.query", True, False, 4),
        ("code.passage", False, True, None),
        ("text-matching", True, True, None),
    ]
    assert encoder.usage.total_tokens == 20


@pytest.mark.parametrize("task", ["retrieval", "query", "Retrieval.Query", "", None, 3, "code"])
def test_unknown_task(fake, task):
    encoder, backend = fake
    with pytest.raises(InvalidTaskError) as info:
        encoder.encode(["a"], task)
    assert isinstance(info.value, ValueError) and isinstance(info.value, univec.UnivecError)
    assert repr(task) in str(info.value) and "retrieval.query" in str(info.value)
    assert backend.calls == []


def test_task_family_hint(fake):
    encoder, _ = fake
    with pytest.raises(InvalidTaskError, match=r"task family.*retrieval\.passage"):
        encoder.encode(["a"], "retrieval")


@pytest.mark.parametrize("dimensions", [3, 0, -4, 16, True, "4", 4.0001])
def test_dimensions_not_matryoshka(fake, dimensions):
    encoder, backend = fake
    with pytest.raises(InvalidDimensionsError) as info:
        encoder.encode(["a"], "retrieval.query", dimensions=dimensions)
    assert isinstance(info.value, ValueError) and isinstance(info.value, univec.UnivecError)
    assert repr(dimensions) in str(info.value) and "[2, 4, 8]" in str(info.value)
    assert backend.calls == []


@pytest.mark.parametrize("inputs", [["a"], []])
def test_dimensions_with_multivector(fake, inputs):
    encoder, _ = fake
    with pytest.raises(InvalidDimensionsError, match=r"dimensions=4.*multivector") as info:
        encoder.encode(inputs, "retrieval.query", dimensions=4, multivector=True)
    assert isinstance(info.value, ValueError)


def test_empty_inputs(fake):
    encoder, backend = fake
    empty = encoder.encode([], "retrieval.query")
    assert isinstance(empty, np.ndarray) and empty.shape == (0, 8) and empty.dtype == np.float32
    assert encoder.encode([], "retrieval.query", dimensions=2).shape == (0, 2)
    assert encoder.encode([], "retrieval.query", multivector=True) == []
    both = encoder.encode_both([], "retrieval.query")
    assert both.dense.shape == (0, 8) and both.multi == []
    assert backend.calls == []


def test_empty_inputs_on_the_local_backend(tiny_encoder):
    assert tiny_encoder.encode([], "code.query").shape == (0, 64)
    assert tiny_encoder.encode([], "code.query", dimensions=16).shape == (0, 16)
    assert tiny_encoder.encode([], "code.query", multivector=True) == []
    assert tiny_encoder.encode_both([], "code.query").multi == []
    result = tiny_encoder.backend.embed(
        [], univec.resolve_task("code.query"), dense=True, multi=True, dimensions=None
    )
    assert result.dense.shape == (0, 64) and result.multi == []


async def test_async_empty_and_validation(fake):
    encoder, _ = fake
    assert (await encoder.aencode([], "retrieval.query")).shape == (0, 8)
    assert await encoder.aencode([], "retrieval.query", multivector=True) == []
    with pytest.raises(InvalidTaskError):
        await encoder.aencode(["a"], "nope")
    both = await encoder.aencode_both(["a", "b"], "retrieval.query")
    assert both.dense.shape == (2, 8) and len(both.multi) == 2


def test_mixed_text_and_images_keep_input_order(tiny_encoder, golden):
    texts, images = golden["texts"], [univec.Image(p) for p in golden["images"]]
    task = "text-matching"
    items = [images[1], texts[2], texts[0], images[0], texts[3]]
    expected = [
        golden["arrays"][f"image|{task}|single"][1],
        golden["arrays"][f"text|{task}|single"][2],
        golden["arrays"][f"text|{task}|single"][0],
        golden["arrays"][f"image|{task}|single"][0],
        golden["arrays"][f"text|{task}|single"][3],
    ]
    np.testing.assert_allclose(tiny_encoder.encode(items, task), np.stack(expected), atol=1e-4)
    multi = tiny_encoder.encode(items, task, multivector=True)
    np.testing.assert_allclose(multi[0], golden["arrays"][f"image|{task}|multi|1"], atol=1e-4)
    np.testing.assert_allclose(multi[1], golden["arrays"][f"text|{task}|multi|2"], atol=1e-4)


def test_text_matching_uses_the_query_prefix_for_every_input(tiny_encoder, golden):
    # The reference picks this prefix from a model attribute; univec uses the task table.
    got = tiny_encoder.encode(golden["texts"], "text-matching")
    np.testing.assert_allclose(got, golden["arrays"]["text|text-matching|single"], atol=1e-4)


def test_query_and_document_helpers(tiny_encoder, golden):
    texts = golden["texts"]
    np.testing.assert_array_equal(
        tiny_encoder.encode_query(texts), tiny_encoder.encode(texts, "retrieval.query")
    )
    np.testing.assert_array_equal(
        tiny_encoder.encode_document(texts, "code"), tiny_encoder.encode(texts, "code.passage")
    )
    with pytest.raises(InvalidTaskError, match="'legal'"):
        tiny_encoder.encode_query(texts, "legal")


def test_info_properties(tiny_encoder):
    assert tiny_encoder.dim == 64
    assert tiny_encoder.matryoshka_dims == (16, 32, 64)
    assert tiny_encoder.multivector_dim == 128
    assert tiny_encoder.info.max_length == 8192
    assert tiny_encoder.backend_name == "local" and "local" in repr(tiny_encoder)


def test_from_config_local(tiny_model_path):
    encoder = univec.Encoder.from_config(
        "local", model=str(tiny_model_path), device="cpu", max_length=32, api_key=None
    )
    assert encoder.backend_name == "local" and encoder.info.max_length == 32
    assert encoder.encode(["x"], "retrieval.query").shape == (1, 64)


def test_from_config_errors(tiny_model_path):
    with pytest.raises(ConfigurationError, match="'grpc'"):
        univec.Encoder.from_config("grpc")
    with pytest.raises(ConfigurationError, match="bogus_option"):
        univec.Encoder.from_config("local", model=str(tiny_model_path), bogus_option=1)
    with pytest.raises(InvalidArgumentError, match="40000"):
        univec.Encoder.from_config("local", model=str(tiny_model_path), max_length=40000)


def test_from_env_local(tiny_model_path):
    env = {
        "UNIVEC_BACKEND": "local",
        "UNIVEC_MODEL": str(tiny_model_path),
        "UNIVEC_DEVICE": "cpu",
        "UNIVEC_DTYPE": "float32",
        "UNIVEC_MAX_LENGTH": "16",
    }
    encoder = univec.Encoder.from_env(env)
    assert encoder.backend_name == "local" and encoder.info.max_length == 16
    multi = encoder.encode(["word " * 100], "retrieval.query", multivector=True)
    assert multi[0].shape == (16, 128)
    with pytest.raises(ConfigurationError, match="'lots'"):
        univec.Encoder.from_env({**env, "UNIVEC_MAX_LENGTH": "lots"})


def test_close_and_context_manager(fake):
    encoder, backend = fake
    with encoder as same:
        assert same is encoder
    assert backend.closed
