"""EncoderConfig: the one list of encoder options, checked before loading; shared encoders."""

from __future__ import annotations

import gc

import pytest

import univec
from univec.config import (
    EncoderConfig,
    flat_option_names,
    release_encoder,
    shared_encoder,
)
from univec.errors import ConfigurationError


def _live_local_backends() -> int:
    from univec.backends.local.backend import LocalBackend

    gc.collect()
    return sum(type(obj) is LocalBackend for obj in gc.get_objects())


def test_flat_options_are_the_fields() -> None:
    assert flat_option_names() == (
        "backend",
        "model",
        "device",
        "dtype",
        "max_length",
        "min_pixels",
        "max_pixels",
        "api_key",
        "base_url",
    )


def test_from_options_keeps_backend_options_apart_and_hashable() -> None:
    config = EncoderConfig.from_options("api", api_key="k", timeout=3.0, model=None)
    assert config.options == (("timeout", 3.0),)
    assert config.model is None
    assert config.for_backend() == {"api_key": "k", "timeout": 3.0}
    assert hash(config) == hash(EncoderConfig.from_options("api", timeout=3.0, api_key="k"))


def test_the_key_never_shows_in_repr() -> None:
    assert "canary-key" not in repr(EncoderConfig(backend="api", api_key="canary-key"))


def test_options_of_the_other_backend_are_ignored() -> None:
    local = EncoderConfig.from_options("local", api_key="k", base_url="http://x", device="cpu")
    assert "api_key" not in local.for_backend() and "base_url" not in local.for_backend()
    api = EncoderConfig.from_options("api", device="cuda", max_pixels=10)
    assert api.for_backend() == {}


@pytest.mark.parametrize("backend", ["local", "api"])
def test_unknown_option_is_refused_before_any_factory_runs(backend, monkeypatch) -> None:
    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("the factory must not run")

    monkeypatch.setattr(univec.Encoder, "local", boom)
    monkeypatch.setattr(univec.Encoder, "api", boom)
    with pytest.raises(ConfigurationError, match=r"modle.*Options:.*'model'"):
        univec.Encoder.from_config(backend, modle="x")


def test_unknown_backend() -> None:
    with pytest.raises(ConfigurationError, match="backend='local'"):
        univec.Encoder.from_config("cloud")


def test_a_type_error_inside_loading_surfaces_as_itself(monkeypatch) -> None:
    def broken_loader(*args: object, **kwargs: object) -> None:
        raise TypeError("inside the model loader")

    monkeypatch.setattr(univec.Encoder, "local", broken_loader)
    with pytest.raises(TypeError, match="inside the model loader") as caught:
        univec.Encoder.from_config("local", model="somewhere")
    assert not isinstance(caught.value, ConfigurationError)


def test_from_env_reads_every_variable(tiny_model_path) -> None:
    config = EncoderConfig.from_env(
        {
            "UNIVEC_BACKEND": "API",
            "UNIVEC_MODEL": "jina-embeddings-v4",
            "JINA_API_KEY": "k",
            "UNIVEC_BASE_URL": "http://127.0.0.1:9/v1",
            "UNIVEC_MAX_LENGTH": "512",
            "UNIVEC_MAX_PIXELS": "1000000",
        },
        timeout=5.0,
    )
    assert config == EncoderConfig(
        backend="api",
        model="jina-embeddings-v4",
        api_key="k",
        base_url="http://127.0.0.1:9/v1",
        max_length=512,
        max_pixels=1000000,
        options=(("timeout", 5.0),),
    )
    with pytest.raises(ConfigurationError, match="UNIVEC_MAX_PIXELS"):
        EncoderConfig.from_env({"UNIVEC_MAX_PIXELS": "many"})


def test_shared_encoder_loads_one_model_per_configuration(tiny_model_path) -> None:
    before = _live_local_backends()
    # max_length 77 / 78: configurations no other test shares, so none is cached yet.
    config = EncoderConfig(model=str(tiny_model_path), device="cpu", max_length=77)
    first = shared_encoder(config)
    second = shared_encoder(EncoderConfig(model=str(tiny_model_path), device="cpu", max_length=77))
    other = shared_encoder(config.with_options(max_length=78))
    assert first is second and other is not first
    assert _live_local_backends() == before + 2

    release_encoder(config, first)
    assert first.encode(["still open"], "retrieval.query").shape == (1, 64)
    release_encoder(config, second)
    release_encoder(config.with_options(max_length=78), other)
    del first, second, other
    assert _live_local_backends() == before
