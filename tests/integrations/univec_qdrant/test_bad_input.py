"""Keys and strings Qdrant cannot take get typed errors, the same on both engines (item 19)."""

from __future__ import annotations

import pytest

from univec.errors import UnivecError

pytest.importorskip("qdrant_client")
pytest.importorskip("qdrant_edge")

from univec_qdrant import QdrantCollection


@pytest.fixture(scope="module", params=["edge", "memory"])
def collection(request, tmp_path_factory, tiny_encoder):
    path = tmp_path_factory.mktemp("edge")
    where = {"path": path} if request.param == "edge" else {"url": ":memory:"}
    with QdrantCollection("docs", tiny_encoder, progress=False, **where) as collection:
        collection.add(["hello"], ids=["a"], metadata=[{"k": "v", "a\\b": 1}])
        yield collection


@pytest.mark.parametrize(
    ("filter", "words"),
    [
        ({"a\\b": 1}, "backslash"),
        ({"a\ud800": 1}, "surrogate"),  # the key
        ({"k": "\ud800"}, "surrogate"),  # a value
        ({"k": ["v", "x\udfff"]}, "surrogate"),
    ],
)
def test_unfilterable_keys_and_values(collection, filter, words):
    for call in (
        lambda: collection.search("hello", k=1, filter=filter),
        lambda: collection.count(filter=filter),
    ):
        with pytest.raises(UnivecError, match=words) as info:
            call()
        assert isinstance(info.value, ValueError)
    assert len(collection.search("hello", k=1, filter={"k": "v"})) == 1  # still fine


@pytest.mark.parametrize("bad_id", ["x\ud800", "\udc00"])
def test_lone_surrogate_ids(collection, bad_id):
    for call in (
        lambda: collection.add(["text"], ids=[bad_id]),
        lambda: collection.get([bad_id]),
        lambda: collection.delete([bad_id]),
    ):
        with pytest.raises(UnivecError, match="lone surrogate") as info:
            call()
        assert isinstance(info.value, TypeError)
    assert len(collection) == 1  # nothing written
