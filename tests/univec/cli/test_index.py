"""``univec index`` keeps a collection in sync with a folder; ``univec search`` reads it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest
from click.testing import CliRunner

from tests.conftest import FIXTURES
from univec.cli import main

from .conftest import cli_env, run_cli, three_page_pdf


@pytest.fixture
def docs(tmp_path):
    folder = tmp_path / "docs"
    (folder / "notes").mkdir(parents=True)
    (folder / "a.txt").write_text("The Eiffel Tower is in Paris.")
    (folder / "notes" / "b.md").write_text("# Plants\nPhotosynthesis turns light into energy.")
    (folder / "c.txt").write_text("MaxSim scores a query token by token.")
    (folder / "empty.txt").write_text("")
    (folder / "ignored.docx").write_bytes(b"not indexed")
    image = FIXTURES / "golden" / "golden_images" / "0.png"
    (folder / "figure.png").write_bytes(image.read_bytes())
    (folder / "paper.pdf").write_bytes(three_page_pdf())
    return folder


def invoke(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def stored_ids(database: list[str], tiny_encoder, expected: set[str]) -> tuple[int, set[str]]:
    """The collection's document count and which of ``expected`` ids it holds."""
    from univec.cli.options import open_collection

    settings = {
        "database": database[0],
        "collection": "docs",
        "path": None,
        "url": None,
        "uri": None,
    }
    settings.update(dict(zip(("path", "uri"), database[1:], strict=False)))
    if database[0] == "milvus":
        settings["path"], settings["uri"] = None, database[1]
    with open_collection(settings, tiny_encoder, progress=False) as collection:
        found = {document.id for document in collection.get(sorted(expected | EXTRA_IDS))}
        return collection.count(), found


EXTRA_IDS = {"c.txt", "d.txt", "notes/b.md", "empty.txt"}
FIRST = {"a.txt", "notes/b.md", "c.txt", "figure.png", *(f"paper.pdf#page={n}" for n in (1, 2, 3))}


@pytest.mark.parametrize(
    "database",
    [["qdrant", "path"], pytest.param(["milvus", "uri"], marks=pytest.mark.slow)],
)
def test_index_syncs_the_folder_and_encodes_only_what_changed(
    tmp_path, docs, counting, tiny_encoder, database
):
    location = str(tmp_path / ("db" if database[0] == "qdrant" else "univec.db"))
    where = ["--database", database[0], f"--{database[1]}", location]
    first = invoke("index", str(docs), "-c", "docs", *where, "--list")
    assert first.exit_code == 0, first.output
    assert "empty: empty.txt: empty file, skipped" in first.output
    assert "added 5, updated 0, removed 0, skipped 1, failed 0; 7 documents" in first.output
    assert len(counting.inputs) == 7  # three texts, the image, three PDF pages

    found = invoke("search", "Eiffel Tower", "-c", "docs", *where, "-k", "7", "--json")
    hits = json.loads(found.output)
    assert {hit["id"] for hit in hits} == FIRST
    page = next(hit for hit in hits if hit["id"] == "paper.pdf#page=2")
    assert page["metadata"] == {**page["metadata"], "file": "paper.pdf", "page": 2, "kind": "pdf"}
    table = invoke(
        "search", "Eiffel Tower", "-c", "docs", *where, "-k", "3", "--filter", "kind=text"
    )
    assert "score" in table.output.splitlines()[0] and "Eiffel Tower is in Paris" in table.output
    assert "figure.png" not in table.output

    (docs / "notes" / "b.md").write_text("# Plants\nChlorophyll absorbs red and blue light.")
    (docs / "c.txt").unlink()
    (docs / "d.txt").write_text("Qdrant Edge runs inside the process.")
    counting.calls.clear()
    second = invoke("index", str(docs), "-c", "docs", *where)
    assert "added 1, updated 1, removed 1, skipped 4, failed 0; 7 documents" in second.output
    encoded = sorted(item for item in counting.inputs if isinstance(item, str))
    assert encoded == sorted(
        [
            "# Plants\nChlorophyll absorbs red and blue light.",
            "Qdrant Edge runs inside the process.",
        ]
    )
    assert len(counting.inputs) == 2  # only the edited and the added file

    expected = (FIRST - {"c.txt"}) | {"d.txt"}
    count, ids = stored_ids([database[0], location], tiny_encoder, expected)
    assert count == len(expected) and ids == expected

    counting.calls.clear()
    third = invoke("index", str(docs), "-c", "docs", *where)
    assert "added 0, updated 0, removed 0, skipped 6, failed 0" in third.output
    assert counting.calls == []


def test_a_file_emptied_or_corrupted_is_reported(tmp_path, docs, counting, tiny_encoder):
    where = ["--path", str(tmp_path / "db")]
    assert invoke("index", str(docs), "-c", "docs", *where).exit_code == 0
    (docs / "a.txt").write_text("   \n")
    (docs / "broken.png").write_bytes(b"\x89PNG not really")
    result = invoke("index", str(docs), "-c", "docs", *where)
    assert result.exit_code == 1  # a failed file is an error for scripts
    assert "failed: broken.png: Cannot decode" in result.output
    assert "empty: a.txt" in result.output
    assert "added 0, updated 0, removed 1, skipped 6, failed 1; 6 documents" in result.output


def test_another_folder_needs_replace(tmp_path, docs, counting):
    where = ["--path", str(tmp_path / "db")]
    assert invoke("index", str(docs), "-c", "docs", *where).exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.txt").write_text("something else")
    refused = CliRunner().invoke(main, ["index", str(other), "-c", "docs", *where])
    assert refused.exit_code == 1 and "--replace" in refused.output
    replaced = invoke("index", str(other), "-c", "docs", *where, "--replace")
    assert "added 1, updated 0, removed 5" in replaced.output and "1 documents" in replaced.output


@pytest.mark.slow
def test_kill_9_during_index_then_rerun_converges_without_duplicates(tmp_path, tiny_encoder):
    docs = tmp_path / "docs"
    docs.mkdir()
    expected = {f"doc{i:02d}.txt" for i in range(24)}
    for name in expected:
        (docs / name).write_text(f"Document {name} about subject {hash(name) % 5}.")
    args = ["index", str(docs), "-c", "docs", "--path", str(tmp_path / "db"), "--batch-size", "1"]
    process = subprocess.Popen(
        [sys.executable, "-m", "univec", *args, "--list"],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    added = 0
    assert process.stdout is not None
    for line in process.stdout:  # kill it in the middle of the job
        added += line.startswith("added: ")
        if added == 5:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(60)
    assert process.returncode == -signal.SIGKILL
    rerun = run_cli(*args, cwd=tmp_path)
    assert "removed 0" in rerun.stdout and "failed 0; 24 documents" in rerun.stdout
    from univec_qdrant import QdrantCollection

    with QdrantCollection("docs", tiny_encoder, path=tmp_path / "db", progress=False) as stored:
        assert stored.count() == 24
        assert {document.id for document in stored.get(sorted(expected))} == expected
    manifest = json.loads((tmp_path / "db" / ".univec-index" / "docs.json").read_text())
    assert set(manifest["files"]) == expected
    assert all(entry["sha256"] for entry in manifest["files"].values())


def test_index_refuses_a_missing_folder(tmp_path, counting):
    result = CliRunner().invoke(
        main, ["index", str(tmp_path / "nope"), "-c", "x", "--path", str(tmp_path)]
    )
    assert result.exit_code == 1 and "is not a directory" in result.output
