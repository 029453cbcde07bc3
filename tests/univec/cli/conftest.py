"""Fixtures of the command-line tests."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import univec
from tests.conftest import TINY_MODEL
from univec.backends.base import Embeddings

ROOT = Path(__file__).parents[3]


class CountingBackend:
    """The tiny backend, recording the inputs of every call (and never closed by a command)."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.info = backend.info
        self.calls: list[list[object]] = []

    def embed(self, items, task, *, dense, multi, dimensions) -> Embeddings:
        self.calls.append(list(items))
        return self.backend.embed(items, task, dense=dense, multi=multi, dimensions=dimensions)

    async def aembed(self, items, task, *, dense, multi, dimensions) -> Embeddings:
        return self.embed(items, task, dense=dense, multi=multi, dimensions=dimensions)

    def close(self) -> None:
        pass

    @property
    def inputs(self) -> list[object]:
        return [item for call in self.calls for item in call]


@pytest.fixture
def counting(tiny_encoder, monkeypatch):
    """Every command builds this encoder (the tiny one, counting its calls)."""
    backend = CountingBackend(tiny_encoder.backend)
    encoder = univec.Encoder(backend, backend_name="local")
    monkeypatch.setattr("univec.cli.commands.build_encoder", lambda settings: encoder)
    return backend


def run_cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``python -m univec ARGS`` in a subprocess on the tiny checkpoint."""
    completed = subprocess.run(
        [sys.executable, "-m", "univec", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    if check:
        assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    return completed


def cli_env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT / "core"), str(ROOT / "integrations")])
    return dict(
        os.environ,
        UNIVEC_BACKEND="local",
        UNIVEC_MODEL=str(TINY_MODEL),
        UNIVEC_DEVICE="cpu",
        PYTHONPATH=path + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )


def three_page_pdf() -> bytes:
    from PIL import Image

    pages = [Image.new("RGB", (144, 216), color) for color in ("red", "blue", "green")]
    buffer = io.BytesIO()
    pages[0].save(buffer, format="PDF", resolution=72, save_all=True, append_images=pages[1:])
    return buffer.getvalue()
