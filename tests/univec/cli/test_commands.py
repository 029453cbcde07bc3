"""The ``univec`` console script: help everywhere, ``python -m univec``, ``serve``, ``download``."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import TINY_MODEL
from univec.cli import main

from .conftest import ROOT, cli_env, run_cli

COMMANDS = ["index", "search", "encode", "download", "serve"]


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command):
    result = CliRunner().invoke(main, [command, "--help"] if command else ["--help"])
    assert result.exit_code == 0 and "Usage: " in result.output
    if command not in (None, "download"):
        assert "--backend [local|api]" in result.output  # the encoder options, everywhere


def test_the_console_script_is_declared_and_python_m_univec_works(tmp_path):
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"univec": "univec.cli:main"}
    completed = run_cli("--version", cwd=tmp_path)
    assert completed.stdout.strip() == "univec, version 0.1.0"


def test_download_fetches_a_checkpoint_that_loads(tmp_path, monkeypatch):
    """The hub cannot be reached here: its download function copies the tiny checkpoint."""
    import huggingface_hub

    asked = {}

    def snapshot_download(repo_id, revision, local_dir, allow_patterns):
        asked.update(repo_id=repo_id, revision=revision, patterns=allow_patterns)
        shutil.copytree(TINY_MODEL, local_dir)
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    target = tmp_path / "jev4"
    result = CliRunner().invoke(main, ["download", "--to", str(target)])
    assert result.exit_code == 0, result.output
    assert asked["repo_id"] == "jinaai/jina-embeddings-v4" and "*.safetensors" in asked["patterns"]
    assert f"--model {target}" in result.output
    assert (target / "adapters" / "adapter_model.safetensors").is_file()


def test_serve_refuses_a_public_address_without_keys(tmp_path):
    completed = run_cli("serve", "--host", "0.0.0.0", "--port", "0", cwd=tmp_path, check=False)
    assert completed.returncode == 1
    assert "without API keys" in completed.stderr and "--insecure" in completed.stderr


@pytest.mark.slow
def test_serve_subprocess_answers_then_shuts_down_gracefully(tmp_path, tiny_encoder):
    key_file = tmp_path / "keys.txt"
    key_file.write_text("# one key per line\nsecret-key-1\n")
    env = cli_env()
    process = subprocess.Popen(
        [sys.executable, "-m", "univec", "serve", "--port", "0", "--api-key-file", str(key_file)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        listening = process.stdout.readline()
        assert listening.startswith("univec serve: listening on http://127.0.0.1:"), listening
        root = listening.split()[4]
        assert process.stdout.readline().startswith("univec serve: ready")
        assert httpx.get(f"{root}/healthz").status_code == 200
        reply = httpx.post(
            f"{root}/v1/embeddings",
            json={"model": "jina-embeddings-v4", "input": ["hi"], "task": "retrieval.query"},
            headers={"Authorization": "Bearer secret-key-1"},
        )
        assert reply.status_code == 200
        np.testing.assert_allclose(
            reply.json()["data"][0]["embedding"],
            tiny_encoder.encode(["hi"], task="retrieval.query")[0],
            atol=1e-5,
        )
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    # uvicorn re-raises the signal once it has shut down, so the exit status says SIGTERM.
    assert process.returncode in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in stderr  # the lifespan's drain ran to its end
    assert "secret-key-1" not in stderr  # keys never logged
    assert not Path(tmp_path / "univec_data").exists()
