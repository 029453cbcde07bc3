"""Bad input gets a typed univec error naming the problem and the fix (issue 12, items 19-24)."""

from __future__ import annotations

import io
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import univec
from univec.errors import (
    CheckpointError,
    CheckpointNotFoundError,
    ImageLoadError,
    InvalidArgumentError,
    InvalidInputError,
)


def _tiny_copy(tiny_model_path: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model_path, tmp_path / "ckpt"))


# ----------------------------------------------------------------- item 19: damaged files
@pytest.mark.parametrize(
    "name",
    [
        "model.safetensors",
        "config.json",
        "tokenizer.json",
        "preprocessor_config.json",
        "adapters/adapter_config.json",
        "adapters/adapter_model.safetensors",
    ],
)
@pytest.mark.parametrize("keep", [0.5, 0.999])
def test_truncated_checkpoint_file_is_named(tiny_model_path, tmp_path, name, keep):
    path = _tiny_copy(tiny_model_path, tmp_path)
    file = path / name
    data = file.read_bytes()
    file.write_bytes(data[: int(len(data) * keep)])  # an interrupted download
    with pytest.raises(CheckpointError) as info:
        encoder = univec.Encoder.local(str(path), device="cpu")
        encoder.encode(["x"], "retrieval.query")  # adapters may be read on first use
    message = str(info.value)
    assert str(file) in message and "Download the checkpoint again" in message
    assert isinstance(info.value, ValueError)


# ----------------------------------------------------------------- item 20: paths vs hub ids
def test_missing_relative_path_is_not_a_hub_download(tmp_path, monkeypatch):
    import huggingface_hub

    def no_download(*args, **kwargs):
        raise AssertionError("a path must never be looked up on the hub")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_download)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "models").mkdir()
    with pytest.raises(CheckpointNotFoundError) as info:
        univec.Encoder.local("models/jev4", device="cpu")
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError) and isinstance(info.value, CheckpointError)
    assert "No such checkpoint directory: 'models/jev4'" in message
    assert "hub id 'models/jev4'" in message  # the hub id spelled out, in case it was meant
    for path_like in ("./jev4", "../jev4", "/no/such/jev4", "a/b/c", "C:\\models\\jev4", "jev4"):
        with pytest.raises(CheckpointNotFoundError, match="No such checkpoint directory"):
            univec.Encoder.local(path_like, device="cpu")


def test_hub_ids_still_go_to_the_hub(tmp_path, monkeypatch):
    import huggingface_hub

    asked = []
    monkeypatch.setattr(
        huggingface_hub,
        "snapshot_download",
        lambda repo_id, **kwargs: asked.append(repo_id) or str(tmp_path / "missing"),
    )
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError):  # the fake download leaves no checkpoint
        univec.Encoder.local("jinaai/jina-embeddings-v4", device="cpu")
    assert asked == ["jinaai/jina-embeddings-v4"]


# ----------------------------------------------------------------- item 21: offline
def test_offline_without_a_model_is_one_short_line_naming_univec_model(tmp_path):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": ":".join(p for p in sys.path if p),
    }
    result = subprocess.run(
        [sys.executable, "-c", "import univec; univec.Encoder.from_env()"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("univec.errors.CheckpointError:")
    assert "UNIVEC_MODEL" in lines[-1] and "local checkpoint directory" in lines[-1]
    assert len(lines) < 30, result.stderr  # not the hub client's whole chained traceback


# ----------------------------------------------------------------- item 19: maxsim shapes
@pytest.mark.parametrize(
    ("query", "document", "words"),
    [
        (np.ones((3, 128)), np.ones((4, 64)), "64-d"),
        (np.ones(128), np.ones((4, 128)), "2-D"),
        (np.ones((2, 3, 128)), np.ones((4, 128)), "2-D"),
        ([["a"]], np.ones((4, 128)), "numbers"),
    ],
)
def test_maxsim_shape_errors(query, document, words):
    for call in (
        lambda: univec.maxsim(query, document),
        lambda: univec.maxsim_many(query, [np.ones((2, 128)), document]),
    ):
        with pytest.raises(InvalidArgumentError, match=words):
            call()


def test_maxsim_still_scores_empty_multivectors():
    assert univec.maxsim(np.zeros((0, 128)), np.ones((3, 128))) == 0.0
    scores = univec.maxsim_many(np.ones((2, 4)), [np.ones((3, 4)), np.zeros((0, 4)), np.empty(0)])
    np.testing.assert_allclose(scores, [8.0, 0.0, 0.0])


# ----------------------------------------------------------------- item 19: lone surrogates
def test_lone_surrogate_text_is_refused(tiny_encoder):
    with pytest.raises(InvalidInputError, match="lone surrogate") as info:
        tiny_encoder.encode(["fine", "bad \ud800 text"], "retrieval.query")
    assert "#1" in str(info.value) and isinstance(info.value, TypeError)
    assert tiny_encoder.encode(["😀 paired surrogates are fine"], "retrieval.query").shape[0] == 1


# ----------------------------------------------------------------- item 22: warnings
def test_warnings_once_per_call(tiny_encoder, caplog):
    caplog.set_level(logging.WARNING, logger="univec")
    texts = ["", "   ", "photo.jpg", "scans/page-1.PNG", "normal text", "long " * 20000]
    vectors = tiny_encoder.encode(texts, "retrieval.passage")  # behaviour kept: all encoded
    assert vectors.shape == (len(texts), tiny_encoder.dim)
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 3, messages  # one per kind, not one per item
    blank, path_like, truncated = messages
    assert "2 input(s) are empty or whitespace-only" in blank
    assert "2 text input(s) look like image paths" in path_like and "univec.Image" in path_like
    assert "longer than max_length=8192" in truncated
    caplog.clear()
    tiny_encoder.encode(["A sentence about Paris."], "retrieval.query")
    assert caplog.records == []


# ----------------------------------------------------------------- item 24: EPS
def test_eps_is_refused_without_running_ghostscript(monkeypatch, tmp_path):
    from PIL import EpsImagePlugin
    from PIL import Image as PILImage

    ran = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *a, **k: ran.append(1))
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "load", lambda self: ran.append(2))
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), "red").save(buffer, format="EPS")
    eps = buffer.getvalue()
    hidden = b"\n\n" + eps  # leading blank lines: still PostScript
    path = tmp_path / "figure.png"  # a misleading name
    path.write_bytes(eps)
    for source in (eps, hidden, path):
        with pytest.raises(ImageLoadError, match="EPS/PostScript") as info:
            univec.Image(source).to_pil()
        assert isinstance(info.value, ValueError)
    assert ran == []
