"""``benchmarks/serve.py`` runs end to end at toy size (no timing is asserted here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "serve.py"


@pytest.mark.slow
def test_serve_benchmark_runs_and_reports_a_ratio(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), "--clients", "4", "--requests", "2", "--plot", "none"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stdout[-2000:] + completed.stderr[-3000:]
    out = completed.stdout
    assert "ratio batching / no batching: throughput x" in out
    assert "same vectors from both servers" in out
    assert "target: throughput >= 4x at an equal or better p99: " in out
    assert "8 requests" in out  # 4 clients x 2 requests, measured on both servers
