"""Local backend hardening (issue 12): incomplete and changed checkpoints."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import univec
from univec.errors import CheckpointError


def _copy(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


def _encoder(path: Path, **options) -> univec.Encoder:
    return univec.Encoder.local(str(path), device="cpu", dtype="float32", **options)


@pytest.mark.parametrize("removed", ["adapters", "adapters/adapter_config.json"])
def test_checkpoint_without_adapters_is_refused(tiny_model_path, tmp_path, removed):
    """Item 2: what an interrupted download leaves gave un-adapted vectors, silently."""
    target = _copy(tiny_model_path, tmp_path / "partial")
    gone = target / removed
    shutil.rmtree(gone) if gone.is_dir() else gone.unlink()
    with pytest.raises(CheckpointError, match=rf"{removed}' is missing.*merged_adapters=True"):
        _encoder(target)


def test_merged_adapters_must_be_said_explicitly_and_truly(tiny_model_path, tmp_path):
    """Item 2: ``merged_adapters=True`` accepts no adapters/, and refuses a checkpoint with them."""
    with pytest.raises(CheckpointError, match="Drop merged_adapters=True"):
        _encoder(tiny_model_path, merged_adapters=True)
    target = _copy(tiny_model_path, tmp_path / "merged")
    shutil.rmtree(target / "adapters")
    encoder = _encoder(target, merged_adapters=True)
    first = encoder.encode(["x"], "retrieval.query")
    np.testing.assert_array_equal(first, encoder.encode(["x"], "code.query"))  # no adapters
    encoder.close()


def _replace_weights(file: Path) -> None:
    from safetensors.torch import load_file, save_file

    state = {key: value + 0.5 for key, value in load_file(file).items()}
    staged = file.with_suffix(".new")
    save_file(state, staged)
    os.replace(staged, file)  # what a re-download does


@pytest.mark.parametrize("change", ["replace", "delete"])
def test_changed_checkpoint_fails_the_switch_and_never_mixes(tiny_model_path, tmp_path, change):
    """Item 6: a task switch re-reads base weights; a changed checkpoint is detected."""
    target = _copy(tiny_model_path, tmp_path / "model")
    encoder = _encoder(target)
    before = encoder.encode(["hello"], "retrieval.query")
    if change == "replace":
        _replace_weights(target / "model.safetensors")
    else:
        shutil.rmtree(target)
    message = "was replaced or modified" if change == "replace" else "was deleted"
    for _ in range(2):
        with pytest.raises(CheckpointError, match=rf"model.safetensors' {message} after"):
            encoder.encode(["hello"], "code.query")  # another adapter: a switch
    # The task that worked keeps working, with the weights it was loaded with.
    np.testing.assert_array_equal(encoder.encode(["hello"], "retrieval.query"), before)
    encoder.close()
