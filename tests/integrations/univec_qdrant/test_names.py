"""Collection names cannot leave the base folder, on every Qdrant engine (issue 12, item 8)."""

from __future__ import annotations

import pytest

from univec.errors import ConfigurationError, UnivecError

pytest.importorskip("qdrant_client")
pytest.importorskip("qdrant_edge")

from qdrant_client import QdrantClient

from univec_qdrant import QdrantCollection

BAD_NAMES = ["../escaped", "../../escaped", "/tmp/absolute", ".", "..", "a/b", "a\\b", "", "x\n"]


def _tree(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*"))


@pytest.mark.parametrize("name", BAD_NAMES)
def test_edge_refuses_names_outside_its_path(tmp_path, tiny_encoder, name):
    base = tmp_path / "base" / "data"
    base.mkdir(parents=True)
    with pytest.raises(ConfigurationError) as info:
        QdrantCollection(name, tiny_encoder, path=base, progress=False)
    assert isinstance(info.value, (UnivecError, ValueError))
    assert repr(name) in str(info.value) and "collection name" in str(info.value)
    assert _tree(tmp_path) == ["base", "base/data"]  # nothing written anywhere


@pytest.mark.parametrize("name", BAD_NAMES)
def test_client_engines_refuse_the_same_names(tmp_path, tiny_encoder, name):
    local = QdrantClient(path=str(tmp_path / "local"))  # stores each collection in a folder
    try:
        with pytest.raises(ConfigurationError, match="collection name"):
            QdrantCollection(name, tiny_encoder, client=local, progress=False)
        with pytest.raises(ConfigurationError, match="collection name"):
            QdrantCollection(name, tiny_encoder, url=":memory:", progress=False)
        assert not local.get_collections().collections
    finally:
        local.close()
    assert [p for p in _tree(tmp_path) if "escaped" in p or "absolute" in p] == []


@pytest.mark.parametrize("name", ["docs", "my-docs_v2.1", "Документы", "a" * 255])
def test_ordinary_names_still_work(tmp_path, tiny_encoder, name):
    with QdrantCollection(name, tiny_encoder, path=tmp_path, progress=False) as collection:
        collection.add(["hello"])
        assert len(collection) == 1
    assert (tmp_path / name).is_dir()
