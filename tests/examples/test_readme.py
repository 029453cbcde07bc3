"""The README's quickstart runs as written on the tiny checkpoint (from another directory)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def _quickstart() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Quickstart") :]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "the Quickstart section has a python block"
    return match.group(1)


def test_quickstart_runs_on_the_tiny_checkpoint(tiny_model_path, tmp_path) -> None:
    from PIL import Image

    Image.new("RGB", (64, 48), (10, 120, 200)).save(tmp_path / "page.png")  # the block's image
    script = _quickstart() + "\nprint('dims', small.shape, len(both.multi))\n"
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=tmp_path,  # not the repository: the model path must not depend on the directory
        env={**os.environ, "UNIVEC_MODEL": str(tiny_model_path), "HF_HUB_OFFLINE": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "dims (1, 16) 2" in done.stdout
