"""The README's main job: examples/index_and_search.py on the embedded default database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, TINY_MODEL

SCRIPT = Path(__file__).parents[2] / "examples" / "index_and_search.py"


def run_script(cwd: Path, *args: str) -> str:
    env = dict(
        os.environ, UNIVEC_BACKEND="local", UNIVEC_MODEL=str(TINY_MODEL), UNIVEC_DEVICE="cpu"
    )
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


@pytest.mark.slow
@pytest.mark.parametrize("database", ["qdrant", "milvus"])
def test_sample_corpus_indexes_and_reruns_without_duplicates(tmp_path, database):
    first = run_script(tmp_path, "--database", database)
    assert re.search(r"^4 documents in", first, re.M), first
    assert first.count("\n  ") >= 2 * 3  # two queries, three hits each
    second = run_script(tmp_path, "--database", database)
    assert re.search(r"^4 documents in", second, re.M), second  # upserted, not duplicated


@pytest.mark.slow
def test_folder_with_text_and_images(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.txt").write_text("A note about towers in Paris.")
    (docs / "b.md").write_text("# Plants\nThey make energy from light.")
    for image in (FIXTURES / "golden" / "golden_images").glob("*.png"):
        (docs / image.name).write_bytes(image.read_bytes())
    out = run_script(tmp_path, "--docs", str(docs), "--query", "towers", "-k", "4")
    assert re.search(r"^4 documents in", out, re.M), out
    assert "a.txt" in out
