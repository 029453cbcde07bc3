"""Shared fixtures: the tiny jina-embeddings-v4 checkpoint, its golden outputs, encoders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

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
