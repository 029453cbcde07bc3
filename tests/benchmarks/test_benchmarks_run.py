"""The benchmark scripts run end to end (at toy sizes: no timing is asserted here).

The speed targets themselves are printed by the scripts at their default sizes; see README.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parents[2] / "benchmarks"


def run(script: str, *args: str, cwd: Path) -> str:
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    return completed.stdout


@pytest.mark.slow
def test_encode_benchmark_runs_and_reports_a_ratio(tmp_path):
    out = run(
        "encode.py", "--hidden", "32", "--layers", "1", "--texts", "12", "--max-words", "30",
        "--images", "2", "--long-tokens", "300", "--queries", "6", "--stream-texts", "300",
        "--dtypes", "float32", "--repeats", "1", "--threads", "1", "--plot", "none", cwd=tmp_path,
    )  # fmt: skip
    for job in ("texts float32", "images float32", "long float32"):
        assert f"{job}: " in out
    assert out.count("ratio: speed x") == 3
    assert out.count("PASS vectors equal to 1e-05") == 3  # univec and the reference agree
    assert "task switching (overlay)" in out and "task switching (re-merge)" in out
    assert "streaming: peak RSS" in out and "summary: " in out
    assert not (tmp_path / "benchmarks").exists()  # no plot written into the working tree


@pytest.mark.slow
def test_api_benchmark_runs_without_429s_or_failures(tmp_path):
    out = run(
        "api.py", "--texts", "300", "--naive-sample", "5", "--skip-limit-run", "--plot", "none",
        cwd=tmp_path,
    )  # fmt: skip
    assert "Throughput ratio" in out
    assert "univec: 429 responses = 0, failures = 0." in out


@pytest.mark.slow
def test_search_benchmark_runs_every_engine(tmp_path):
    out = run(
        "search.py", "--docs", "60", "--tokens", "20", "--queries", "5", "--plot", "none",
        cwd=tmp_path,
    )  # fmt: skip
    for engine in ("numpy", "qdrant-edge", "milvus-lite"):
        assert f"\n{engine} " in out
    assert "recall@10 1.000" in out  # hybrid with candidates >= docs is exact


@pytest.mark.slow
def test_storage_benchmark_runs_every_engine_corpus_and_option(tmp_path):
    out = run(
        "storage.py", "--qdrant-docs", "40", "--milvus-docs", "30", "--tokens", "12",
        "--query-tokens", "4", "--queries", "3", "--multi-queries", "1", "--candidates", "64",
        "--configs", "float32,int8,pool2-binary-muvera",
        "--plot", str(tmp_path / "storage.png"), "--table", str(tmp_path / "storage.md"),
        cwd=tmp_path,
    )  # fmt: skip
    table = (tmp_path / "storage.md").read_text()
    for engine in ("qdrant-edge", "milvus-lite"):
        for corpus in ("synthetic", "lexical"):
            for config in ("float32", "int8", "pool2-binary-muvera"):
                assert f"| {engine} | {corpus} | {config} |" in table
    # candidates >= docs: hybrid reranks every document exactly, whatever the storage
    assert "PASS  qdrant-edge int8: synthetic: searched vector storage 0.258x" in out
    assert (tmp_path / "storage.png").stat().st_size > 0
    assert "the run failed" not in out


@pytest.mark.slow
def test_muvera_shapes_benchmark_reports_each_shape(tmp_path):
    out = run(
        "muvera_shapes.py", "--docs", "300", "--tokens", "12", "--query-tokens", "4",
        "--queries", "4", "--shapes", "2x3x4,1x4x8", "--candidates", "10,300",
        "--plot", str(tmp_path / "shapes.png"), cwd=tmp_path,
    )  # fmt: skip
    for corpus in ("synthetic", "lexical"):
        assert f"{corpus}, 300 documents, 4 queries" in out
    assert "| 2 x 8 x 4 | 64 | 128 |" in out and "| 1 x 16 x 8 | 128 | 256 |" in out
    assert out.count("| 1.000 |") == 4  # 300 candidates of 300 documents: the exact top 10
    assert (tmp_path / "shapes.png").stat().st_size > 0
