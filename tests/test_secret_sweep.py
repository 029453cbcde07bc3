"""Acceptance sweep (issue 12): a canary key, given by every door, appears nowhere.

The key goes in through ``api_key=``, ``JINA_API_KEY``, a password in ``base_url``, framework
``encoder_options``, a Qdrant ``api_key`` and URL password, a Milvus token; then every repr,
error (with its whole chain, as a traceback prints it), DEBUG log line (univec, httpx, httpcore,
the database clients), serialised form and pickle made on the way is searched for it.
"""

from __future__ import annotations

import logging
import pickle
import traceback
import warnings

import pytest

import univec
from tests.support.fake_api import FAKE_INFO

CANARY = "jina_canary_3f9d2c7b1e"


class Sweep:
    """Collects everything that could show the key."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def add(self, label: str, value: object) -> None:
        text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
        self.seen.append((label, text))
        if not isinstance(value, (str, bytes)):
            self.seen.append((label + " (repr)", repr(value)))

    def error(self, label: str, call) -> BaseException:
        try:
            call()
        except BaseException as exc:  # every error is swept, whatever its type
            self.add(label, "".join(traceback.format_exception(exc)))
            return exc
        raise AssertionError(f"{label}: expected an error")

    def leaks(self) -> list[str]:
        return [f"{label}: ...{text[max(0, text.find(CANARY) - 80) :][:200]}" for label, text
                in self.seen if CANARY in text]  # fmt: skip


@pytest.fixture
def sweep(caplog, monkeypatch):
    monkeypatch.delenv("JINA_API_KEY", raising=False)
    caplog.set_level(logging.DEBUG)  # every logger, at DEBUG
    found = Sweep()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
    found.add("warnings", "\n".join(str(w.message) for w in caught))
    found.add("logs", "\n".join(record.getMessage() for record in caplog.records))
    found.add("logs (formatted)", caplog.text)
    assert found.leaks() == []


def _api(server, key=CANARY, **options):
    settings = {"model_info": FAKE_INFO, "backoff_base": 0.01, "backoff_max": 0.02, "seed": 0}
    return univec.Encoder.api(key, base_url=server.base_url, **{**settings, **options})


def test_api_encoder(sweep, fake_jina_api_server, monkeypatch):
    server = fake_jina_api_server
    encoder = _api(server)
    sweep.add("repr", encoder)
    sweep.add("backend repr", encoder.backend)
    sweep.error("401", lambda: encoder.encode(["x"], "retrieval.query"))
    server.inject("status", status=401, detail=f"Bearer {CANARY} is not a valid key")
    sweep.error("401 echoing the key", lambda: encoder.encode(["x"], "retrieval.query"))
    server.inject("status", times=10, status=500, detail=f"failed for key {CANARY}")
    sweep.error("500 retried", lambda: encoder.encode(["x"], "retrieval.query"))
    encoder.close()

    monkeypatch.setenv("JINA_API_KEY", CANARY)
    from_env = univec.Encoder.from_env(
        {"UNIVEC_BACKEND": "api", "JINA_API_KEY": CANARY, "UNIVEC_BASE_URL": server.base_url},
        model_info=FAKE_INFO,
    )
    sweep.add("from_env repr", from_env.backend)
    sweep.error("env key 401", lambda: from_env.encode(["x"], "retrieval.query"))
    from_env.close()

    in_url = univec.Encoder.api("k", base_url=f"http://user:{CANARY}@api.example/v1")
    sweep.add("password in base_url", in_url.backend)
    sweep.error("bad key", lambda: univec.Encoder.api(f"{CANARY}\nX: y"))


def test_framework_objects(sweep, fake_jina_api_server):
    from haystack.utils import Secret

    from haystack_integrations.components.embedders.univec import UnivecTextEmbedder
    from langchain_univec import UnivecEmbeddings
    from llama_index.embeddings.univec import UnivecEmbedding

    base = {"backend": "api", "base_url": fake_jina_api_server.base_url}
    options = {"model_info": FAKE_INFO, "backoff_base": 0.01}
    for via_options in (False, True):
        key = {"encoder_options": {**options, "api_key": CANARY}} if via_options else {
            "api_key": CANARY, "encoder_options": options}  # fmt: skip
        langchain = UnivecEmbeddings(**base, **key)
        llama = UnivecEmbedding(**base, **key)
        haystack_key = key if via_options else {**key, "api_key": Secret.from_token(CANARY)}
        haystack = UnivecTextEmbedder(**base, **haystack_key)
        for label, obj in (("langchain", langchain), ("llama", llama), ("haystack", haystack)):
            sweep.add(f"{label} repr", obj)
            sweep.add(f"{label} vars", vars(obj))
            sweep.add(f"{label} pickle", pickle.dumps(obj))
        sweep.add("langchain json", langchain.model_dump_json())
        sweep.add("langchain dump", langchain.model_dump())
        sweep.add("llama json", llama.to_json())
        sweep.add("llama dict", llama.to_dict())
        sweep.error("haystack to_dict", haystack.to_dict)
        sweep.error("langchain 401", lambda: langchain.embed_query("x"))  # noqa: B023
        sweep.error("llama 401", lambda: llama.get_query_embedding("x"))  # noqa: B023
        sweep.error("haystack 401", lambda: haystack.run("x"))  # noqa: B023
        sweep.error(
            "key twice",
            lambda: UnivecEmbeddings(**base, api_key="other", encoder_options={"api_key": CANARY}),
        )


def test_database_clients(sweep, tiny_encoder, tmp_path):
    pytest.importorskip("qdrant_client")
    pytest.importorskip("pymilvus")
    from univec_milvus import MilvusCollection
    from univec_qdrant import QdrantCollection

    for label, url, key in (
        ("qdrant api_key", "http://127.0.0.1:9", CANARY),
        ("qdrant url password", f"http://user:{CANARY}@127.0.0.1:9", None),
    ):
        sweep.error(
            label,
            lambda url=url, key=key: QdrantCollection(
                "docs", tiny_encoder, url=url, api_key=key, check_compatibility=False, timeout=1
            ),
        )
    sweep.error(
        "milvus unreachable",
        lambda: MilvusCollection(
            "docs", tiny_encoder, uri=f"http://root:{CANARY}@127.0.0.1:9", token=CANARY, timeout=1
        ),
    )
