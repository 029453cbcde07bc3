"""Shared fixtures: the tiny jina-embeddings-v4 checkpoint, its golden outputs, encoders."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

# The suite never calls out of this machine. Haystack's anonymous telemetry would post events
# from a background thread (retrying while DNS fails), opening sockets that the tests counting
# a process's file handles would see; it is read once, when haystack is first imported.
os.environ.setdefault("HAYSTACK_TELEMETRY_ENABLED", "False")

FIXTURES = Path(__file__).parent / "fixtures"
TINY_MODEL = FIXTURES / "tiny-jev4"
GOLDEN = FIXTURES / "golden"


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    """Directory of the tiny checkpoint (random weights, real layout)."""
    return TINY_MODEL


@pytest.fixture(scope="session")
def golden() -> dict:
    """The reference implementation's outputs for the tiny checkpoint.

    Keys: ``texts`` (list of str), ``images`` (list of Paths), ``arrays`` (the npz as a dict).
    """
    spec = json.loads((GOLDEN / "golden.json").read_text())
    with np.load(GOLDEN / "golden.npz") as npz:
        arrays = {key: npz[key] for key in npz.files}
    return {
        "texts": spec["texts"],
        "images": [GOLDEN / name for name in spec["images"]],
        "arrays": arrays,
    }


@pytest.fixture(scope="session")
def tiny_encoder():
    """A float32 CPU :class:`univec.Encoder` on the tiny checkpoint (shared by the session)."""
    import univec

    encoder = univec.Encoder.local(str(TINY_MODEL), device="cpu", dtype="float32")
    yield encoder
    encoder.close()


@pytest.fixture(scope="session")
def golden_images(golden) -> list[Path]:
    """Paths of the golden test images."""
    return golden["images"]


# ----------------------------------------------------------------- hosted-API test server
@pytest.fixture(scope="session")
def _jina_api_server_session(tiny_encoder):
    from tests.support.jina_api_server import JinaAPIServer

    with JinaAPIServer(tiny_encoder, api_key="test-key") as server:
        yield server


@pytest.fixture
def jina_api_server(_jina_api_server_session):
    """A real HTTP server on 127.0.0.1 speaking the Jina Embeddings API, serving ``tiny_encoder``.

    A :class:`tests.support.jina_api_server.JinaAPIServer` (one per session, reset before and
    after each test). It accepts the key ``"test-key"`` and the model ``"jina-embeddings-v4"``.
    Useful members: ``base_url`` (pass to ``univec.Encoder.api``), ``requests`` (every
    request: ``.headers``, ``.json``, ``.status``), ``embedding_requests``, ``statuses``,
    ``max_in_flight``, ``latency``, ``images`` + ``image_url(name)`` (images served by URL),
    ``inject(kind, times=1, ...)`` (faults: ``"status"`` with ``status=``/``retry_after=``,
    ``"drop"``, ``"slow"`` with ``delay=``, ``"shuffle"``, ``"short"``, ``"duplicate"``,
    ``"wrong_dim"``) and ``rate_limit(requests_per_minute, tokens_per_minute)``.
    """
    _jina_api_server_session.reset()
    yield _jina_api_server_session
    _jina_api_server_session.reset()


@pytest.fixture
def api_encoder(jina_api_server, tiny_encoder):
    """``univec.Encoder.api`` pointed at ``jina_api_server``: same vectors as ``tiny_encoder``.

    Built with ``api_key="test-key"``, ``model_info`` = the tiny model's sizes (64-d, Matryoshka
    dims 16/32/64, 128-d token vectors) and short retry waits, so tests stay fast.
    """
    import dataclasses

    import univec

    info = dataclasses.replace(tiny_encoder.info, name="jina-embeddings-v4")
    encoder = univec.Encoder.api(
        api_key="test-key",
        base_url=jina_api_server.base_url,
        model_info=info,
        timeout=10.0,
        backoff_base=0.01,
        backoff_max=0.05,
        seed=0,
    )
    yield encoder
    encoder.close()


@pytest.fixture(scope="session")
def _fake_jina_api_server_session():
    from tests.support.jina_api_server import JinaAPIServer

    with JinaAPIServer(None, api_key="test-key", fake_dim=64) as server:
        yield server


@pytest.fixture
def fake_jina_api_server(_fake_jina_api_server_session):
    """Like ``jina_api_server`` but serving cheap deterministic fake 64-d vectors (no model)."""
    _fake_jina_api_server_session.reset()
    yield _fake_jina_api_server_session
    _fake_jina_api_server_session.reset()
