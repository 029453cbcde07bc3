"""Execute every example notebook and script on the tiny checkpoint, offline."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import TINY_MODEL

EXAMPLES = Path(__file__).parents[2] / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))


@pytest.fixture
def offline_env(monkeypatch, tmp_path):
    """Point the examples at the tiny model, on the CPU, in a scratch directory."""
    monkeypatch.setenv("UNIVEC_BACKEND", "local")
    monkeypatch.setenv("UNIVEC_MODEL", str(TINY_MODEL))
    monkeypatch.setenv("UNIVEC_DEVICE", "cpu")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_every_notebook_is_collected():
    assert NOTEBOOKS, "examples/ should hold notebooks"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, offline_env):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")

    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(offline_env)}},
    )
    client.execute()
    errors = [
        output
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors


def test_committed_notebooks_match_their_sources():
    """examples/_build_notebooks.py is the source of truth; the .ipynb files must not drift."""
    nbformat = pytest.importorskip("nbformat")
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "build_notebooks", EXAMPLES / "_build_notebooks.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert sorted(module.NOTEBOOKS) == [path.name for path in NOTEBOOKS]
    for path in NOTEBOOKS:
        committed = nbformat.read(path, as_version=4)
        built = module.build(path.name)
        assert [(c.cell_type, c.source) for c in committed.cells] == [
            (c.cell_type, c.source) for c in built.cells
        ], f"{path.name} differs from examples/_build_notebooks.py: rerun it"
