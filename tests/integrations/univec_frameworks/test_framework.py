"""univec_frameworks: the shared part of the LangChain, LlamaIndex and Haystack embedders."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from univec.errors import (
    ConfigurationError,
    InvalidDimensionsError,
    InvalidInputError,
    InvalidTaskError,
)
from univec_frameworks import FamilyEncoder, as_image, as_texts, secret_value


class _SecretStr:  # the shape of pydantic's SecretStr
    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value


class _HaystackSecret:  # the shape of haystack's Secret
    def __init__(self, value: str | None) -> None:
        self._value = value

    def resolve_value(self) -> str | None:
        return self._value


def test_secret_value_unwraps_every_framework_secret() -> None:
    assert secret_value(None) is None
    assert secret_value("") is None
    assert secret_value("k1") == "k1"
    assert secret_value(_SecretStr("k2")) == "k2"
    assert secret_value(_HaystackSecret("k3")) == "k3"
    assert secret_value(_HaystackSecret(None)) is None
    with pytest.raises(ConfigurationError, match="int"):
        secret_value(123)


def test_as_texts_accepts_only_lists_of_str() -> None:
    assert as_texts(("a", "b")) == ["a", "b"]
    with pytest.raises(InvalidInputError, match="Wrap"):
        as_texts("abc")
    with pytest.raises(TypeError, match=r"texts\[1\] is PosixPath|texts\[1\] is WindowsPath"):
        as_texts(["a", Path("x.png")])


def test_as_image_reads_file_objects(golden_images) -> None:
    data = golden_images[0].read_bytes()
    assert as_image(io.BytesIO(data)).read_bytes() == data
    assert as_image(str(golden_images[0])).path == golden_images[0]


def test_configuration_is_checked_without_building(tiny_encoder) -> None:
    family = FamilyEncoder(
        task="code", backend="api", api_key="k", base_url="http://127.0.0.1:9/v1"
    )
    assert (family.query_task, family.document_task, family.is_built) == (
        "code.query",
        "code.passage",
        False,
    )
    with pytest.raises(InvalidTaskError, match="family"):
        FamilyEncoder(task="retrievals")
    # The incumbents' full task strings name the family; each side gets its own half.
    full = FamilyEncoder(task="retrieval.passage")
    assert (full.query_task, full.document_task) == ("retrieval.query", "retrieval.passage")
    with pytest.raises(InvalidDimensionsError):
        FamilyEncoder(dimensions=0)
    with pytest.raises(ConfigurationError, match="backend"):
        FamilyEncoder(backend="cloud")
    with pytest.raises(ConfigurationError, match="Unknown encoder option"):
        FamilyEncoder(modle="typo")
    with pytest.raises(ConfigurationError, match="not both"):
        FamilyEncoder(tiny_encoder, device="cpu")
    with pytest.raises(ConfigurationError, match=r"univec\.Encoder"):
        FamilyEncoder("not an encoder")  # type: ignore[arg-type]
    # A default api_key (frameworks read it from the env) does not clash with a given encoder.
    assert FamilyEncoder(tiny_encoder, api_key=_HaystackSecret("k"), backend="local").is_built


def test_builds_lazily_and_closes_only_what_it_built(tiny_encoder, tiny_model_path) -> None:
    family = FamilyEncoder(
        backend="local", model=str(tiny_model_path), device="cpu", options={"max_length": 64}
    )
    assert not family.is_built
    vectors = family.embed_documents(["a", "b", "c"], batch_size=2)
    assert family.is_built and family.encoder.info.max_length == 64
    np.testing.assert_allclose(
        vectors, tiny_encoder.encode(["a", "b", "c"], "retrieval.passage"), atol=1e-6
    )
    family.close()
    assert not family.is_built

    given = FamilyEncoder(tiny_encoder)
    given.close()
    assert given.encoder is tiny_encoder


async def test_async_sides_use_their_tasks(tiny_encoder) -> None:
    family = FamilyEncoder(tiny_encoder, task="text-matching", dimensions=16)
    queries = await family.aembed_queries(["q"])
    documents = await family.aembed_documents(["d1", "d2"], batch_size=1)
    np.testing.assert_allclose(
        queries, tiny_encoder.encode(["q"], "text-matching", dimensions=16), atol=1e-6
    )
    np.testing.assert_allclose(
        documents, tiny_encoder.encode(["d1", "d2"], "text-matching", dimensions=16), atol=1e-6
    )
    assert family.embed_documents([]).shape == (0, 16)
