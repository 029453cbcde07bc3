"""Fixtures of the server tests: ``univec serve``'s app on 127.0.0.1 with the tiny checkpoint."""

from __future__ import annotations

import dataclasses
import threading

import pytest

import univec
from univec.backends.base import Embeddings

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

KEYS = ("key-one", "key-two")


@pytest.fixture(scope="session")
def served(tiny_encoder):
    """A session server (two keys, private URLs allowed for the local image server)."""
    from tests.support.serve import ServerThread
    from univec.server import ServerSettings

    settings = ServerSettings(api_keys=KEYS, allow_private_urls=True)
    with ServerThread(tiny_encoder, settings) as server:
        yield server


@pytest.fixture
def served_api(served, tiny_encoder):
    """``univec.Encoder.api`` pointed at the served tiny model."""
    info = dataclasses.replace(tiny_encoder.info, name="jina-embeddings-v4")
    encoder = univec.Encoder.api(KEYS[1], base_url=served.base_url, model_info=info, max_attempts=1)
    yield encoder
    encoder.close()


class GatedBackend:
    """The tiny backend behind a gate: ``embed`` signals ``entered`` and waits for ``release``.

    Lets a test hold one batch in the forward pass while it queues other requests.
    """

    def __init__(self, backend) -> None:
        self.backend = backend
        self.info = backend.info
        self.token_budget = backend.token_budget
        self.preprocessor = backend.preprocessor
        self.entered = threading.Event()
        self.release = threading.Event()
        self.calls: list[int] = []
        self.tasks: list[str] = []

    def embed(self, items, task, *, dense, multi, dimensions) -> Embeddings:
        self.calls.append(len(items))
        self.tasks.append(task.name)
        self.entered.set()
        if not self.release.wait(60):
            raise TimeoutError("the test never released the gate")
        return self.backend.embed(items, task, dense=dense, multi=multi, dimensions=dimensions)

    async def aembed(self, *args, **kwargs) -> Embeddings:  # pragma: no cover - unused
        raise NotImplementedError

    def close(self) -> None:
        pass


@pytest.fixture
def gated(tiny_encoder):
    """A gated encoder over the tiny backend (see :class:`GatedBackend`)."""
    backend = GatedBackend(tiny_encoder.backend)
    yield univec.Encoder(backend, backend_name="gated")
    backend.release.set()
