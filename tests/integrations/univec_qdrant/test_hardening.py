"""Qdrant Edge hardening (issue 12): engine panics, a second open of the same path."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.integrations.collection_support import TEXTS
from univec.collections import PointRecord, point_id
from univec.errors import CollectionError

pytest.importorskip("qdrant_edge")

from univec_qdrant import QdrantCollection


def test_an_engine_panic_is_a_collection_error(tmp_path, tiny_encoder):
    """Item 1: a pyo3 PanicException (a BaseException) never escapes."""
    with QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False) as collection:
        deep: dict = {}
        for _ in range(130):
            deep = {"a": deep}
        # Past the metadata check on purpose, as data written by an older univec could be.
        record = PointRecord(
            point_id=point_id("x"),
            document_id="x",
            part=0,
            part_count=1,
            dense=np.ones(collection.schema.dense_dim, np.float32),
            multi=np.ones((2, 128), np.float32),
            payload={"document_id": "x", "part": 0, "part_count": 1, "metadata": deep},
        )
        collection.engine.upsert([record])
        with pytest.raises(CollectionError, match="Qdrant Edge crashed"):
            collection.count({"k": 1})


def test_a_second_open_in_the_process_leaves_the_first_intact(tmp_path, tiny_encoder):
    """Item 3: the failed open used to break the first handle's write-ahead log."""
    first = QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False)
    first.add(TEXTS[:2], ids=["a", "b"])
    for _ in range(2):  # e.g. a notebook cell run twice
        with pytest.raises(CollectionError, match=r"docs' is in use") as info:
            QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False)
        assert str(tmp_path / "docs") in str(info.value)
    first.add(TEXTS[2:], ids=list("cde"))
    assert len(first) == 5
    first.close()  # no raw Exception
    with QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False) as reopened:
        assert sorted(d.id for d in reopened.get(list("abcde"))) == list("abcde")


def test_a_second_open_in_another_process_leaves_the_first_intact(tmp_path, tiny_encoder):
    """Item 3, across processes."""
    first = QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False)
    first.add(TEXTS[:2], ids=["a", "b"])
    info = dataclasses.asdict(tiny_encoder.info)
    script = textwrap.dedent(
        f"""
        import types
        from univec.backends.base import ModelInfo
        from univec.errors import CollectionError
        from univec_qdrant import QdrantCollection
        encoder = types.SimpleNamespace(info=ModelInfo(**{info!r}))  # opening needs no model
        try:
            QdrantCollection("docs", encoder, path={str(tmp_path)!r}, progress=False)
        except CollectionError as exc:
            print("REFUSED", exc)
        else:
            print("OPENED")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert "REFUSED" in result.stdout and "is in use" in result.stdout, result.stderr[-2000:]
    first.add(TEXTS[2:], ids=list("cde"))
    assert len(first) == 5
    first.close()
    with QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False) as reopened:
        assert len(reopened) == 5
