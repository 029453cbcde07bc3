"""Keys stay secret by every door; framework objects pickle and copy (issue 12, items 9 and 23).

Each framework object gets the key through ``encoder_options={"api_key": ...}`` (and
``api_key=``), talks to a real HTTP server that accepts only that key, and is then swept: its
repr, serialised forms and pickles must not hold the key.
"""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest

from tests.support.fake_api import FAKE_INFO
from univec.errors import ConfigurationError, NotPicklableError

CANARY = "canary-key-5b1e0d"


@pytest.fixture(scope="module")
def canary_server():
    from tests.support.jina_api_server import JinaAPIServer

    with JinaAPIServer(None, api_key=CANARY, fake_dim=64) as server:
        yield server


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch):
    monkeypatch.delenv("JINA_API_KEY", raising=False)


def _options(extra=None):
    return {"api_key": CANARY, "model_info": FAKE_INFO, "backoff_base": 0.01, **(extra or {})}


def _assert_no_canary(*forms) -> None:
    for form in forms:
        text = form if isinstance(form, (str, bytes)) else repr(form)
        needle = CANARY.encode() if isinstance(text, bytes) else CANARY
        assert needle not in text, form


def _langchain(server, **extra):
    from langchain_univec import UnivecEmbeddings

    return UnivecEmbeddings(
        backend="api", base_url=server.base_url, encoder_options=_options(extra)
    )


def _llama(server):
    from llama_index.embeddings.univec import UnivecEmbedding

    return UnivecEmbedding(backend="api", base_url=server.base_url, encoder_options=_options())


def _haystack(server):
    from haystack_integrations.components.embedders.univec import UnivecTextEmbedder

    return UnivecTextEmbedder(backend="api", base_url=server.base_url, encoder_options=_options())


def _used_key(server) -> str:
    return server.embedding_requests[-1].headers["authorization"]


def test_langchain_key_from_encoder_options_stays_secret(canary_server):
    embeddings = _langchain(canary_server)
    assert len(embeddings.embed_query("x")) == 64  # the key works...
    assert _used_key(canary_server) == f"Bearer {CANARY}"
    assert "api_key" not in (embeddings.encoder_options or {})
    _assert_no_canary(  # ...and is nowhere else
        repr(embeddings),
        str(embeddings),
        embeddings.model_dump_json(),
        str(embeddings.model_dump()),
        pickle.dumps(embeddings),
    )


def test_llama_index_key_from_encoder_options_stays_secret(canary_server):
    embedding = _llama(canary_server)
    assert len(embedding.get_query_embedding("x")) == 64
    assert _used_key(canary_server) == f"Bearer {CANARY}"
    _assert_no_canary(
        repr(embedding), embedding.to_json(), str(embedding.to_dict()), pickle.dumps(embedding)
    )


def test_haystack_key_from_encoder_options_stays_secret(canary_server):
    from haystack.utils import Secret

    embedder = _haystack(canary_server)
    assert len(embedder.run("x")["embedding"]) == 64
    assert _used_key(canary_server) == f"Bearer {CANARY}"
    assert embedder.encoder_options and "api_key" not in embedder.encoder_options
    assert isinstance(embedder.api_key, Secret)
    with pytest.raises(ValueError, match="token-based secret"):  # Haystack's rule for keys in code
        embedder.to_dict()
    _assert_no_canary(repr(embedder), str(vars(embedder)), pickle.dumps(embedder))


def test_key_given_twice_is_refused_without_showing_it():
    from haystack.utils import Secret

    from haystack_integrations.components.embedders.univec import UnivecTextEmbedder
    from langchain_univec import UnivecEmbeddings
    from llama_index.embeddings.univec import UnivecEmbedding

    builders = [
        lambda: UnivecEmbeddings(backend="api", api_key="other", encoder_options=_options()),
        lambda: UnivecEmbedding(backend="api", api_key="other", encoder_options=_options()),
        lambda: UnivecTextEmbedder(
            backend="api", api_key=Secret.from_token("other"), encoder_options=_options()
        ),
    ]
    for build in builders:
        with pytest.raises(ConfigurationError, match="given twice") as info:
            build()
        _assert_no_canary(str(info.value), repr(info.value))


def test_langchain_bad_settings_never_echo_values():
    from langchain_univec import UnivecEmbeddings

    with pytest.raises(ValueError) as info:  # a pydantic ValidationError, as LangChain's own
        UnivecEmbeddings(apikey=CANARY)  # a misspelled field holding the key
    assert "apikey" in str(info.value)
    _assert_no_canary(str(info.value), repr(info.value), repr(info.value.errors()))
    with pytest.raises(ValueError, match=r"'cuda-or-what'"):
        UnivecEmbeddings(max_length="cuda-or-what")  # harmless values are still quoted


# ----------------------------------------------------------------- copies (item 23)
def test_langchain_pickles_and_deep_copies_before_and_after_use(canary_server, tiny_model_path):
    from langchain_univec import UnivecEmbeddings

    fresh = UnivecEmbeddings(model=str(tiny_model_path), device="cpu", dtype="float32")
    for clone in (pickle.loads(pickle.dumps(fresh)), copy.deepcopy(fresh)):
        assert clone.model == fresh.model and not clone._family.is_built
    expected = fresh.embed_query("Where is Paris?")
    assert fresh._family.is_built
    data = pickle.dumps(fresh)
    assert len(data) < 20_000  # the configuration, not the model
    for clone in (pickle.loads(data), copy.deepcopy(fresh), fresh.model_copy(deep=True)):
        assert not clone._family.is_built  # takes its own share of the encoder on first use
        np.testing.assert_allclose(clone.embed_query("Where is Paris?"), expected, atol=1e-6)
        clone.close()  # gives its share back
    assert fresh._family.is_built  # the original is untouched
    fresh.close()

    api = _langchain(canary_server)
    api.embed_query("x")
    copied = copy.deepcopy(api)  # in memory: keeps the key, as a secret
    assert copied.api_key is not None and copied.api_key.get_secret_value() == CANARY
    copied.embed_query("y")
    assert _used_key(canary_server) == f"Bearer {CANARY}"
    copied.close()
    api.close()
    loaded = pickle.loads(pickle.dumps(api))  # a pickle does not hold it: the env var is read
    assert loaded.api_key is None


def test_given_encoder_is_shared_by_copies_and_not_pickled(tiny_encoder):
    from langchain_univec import UnivecEmbeddings
    from llama_index.embeddings.univec import UnivecEmbedding

    embeddings = UnivecEmbeddings(encoder=tiny_encoder)
    clone = copy.deepcopy(embeddings)
    assert clone.encoder is tiny_encoder and clone._family.encoder is tiny_encoder
    with pytest.raises(NotPicklableError, match="encoder=") as info:
        pickle.dumps(embeddings)
    assert isinstance(info.value, TypeError)
    with pytest.raises(NotPicklableError, match="encoder="):
        pickle.dumps(UnivecEmbedding(encoder=tiny_encoder))
