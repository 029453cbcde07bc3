"""The README's main job (``univec index`` + ``univec search`` on examples/docs) and the
library example ``examples/index_and_search.py``, on the tiny checkpoint."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "examples" / "index_and_search.py"
DOCS = ROOT / "examples" / "docs"


def run(cwd: Path, *command: str) -> str:
    path = os.pathsep.join([str(ROOT / "core"), str(ROOT / "integrations")])
    env = dict(
        os.environ,
        UNIVEC_BACKEND="local",
        UNIVEC_MODEL=str(TINY_MODEL),
        UNIVEC_DEVICE="cpu",
        PYTHONPATH=path + os.pathsep + os.environ.get("PYTHONPATH", ""),
    )
    completed = subprocess.run(
        [sys.executable, *command], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    return completed.stdout


@pytest.mark.slow
def test_readme_main_job_index_then_search(tmp_path):
    first = run(tmp_path, "-m", "univec", "index", str(DOCS), "--collection", "docs")
    assert "added 4, updated 0, removed 0, skipped 0, failed 0; 4 documents" in first
    again = run(tmp_path, "-m", "univec", "index", str(DOCS), "--collection", "docs")
    assert "skipped 4, failed 0; 4 documents" in again  # in sync: nothing re-encoded
    found = run(tmp_path, "-m", "univec", "search", "Where is the Eiffel Tower?", "-c", "docs")
    assert "eiffel-tower.md" in found and "score" in found.splitlines()[0]
    assert (tmp_path / "univec_data" / "docs").is_dir()  # the embedded default database


@pytest.mark.slow
def test_library_example_indexes_and_reruns_without_duplicates(tmp_path):
    first = run(tmp_path, str(SCRIPT))
    assert re.search(r"^4 documents in collection 'examples'", first, re.M), first
    assert first.count("\n  ") == 2 * 3  # two queries, three hits each
    second = run(tmp_path, str(SCRIPT), "towers")
    assert re.search(r"^4 documents in", second, re.M), second  # upserted, not duplicated
