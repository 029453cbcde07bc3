"""QdrantCollection specifics: Qdrant Edge (locks, optimizing, default path) and clients.

The behaviours every collection shares run on both Qdrant engines in
``tests/integrations/test_collection_contract.py``.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tests.integrations.collection_support import TEXTS, exact_maxsim
from univec.errors import (
    CollectionError,
    ConfigurationError,
    UnsupportedFilterError,
)

pytest.importorskip("qdrant_client")
pytest.importorskip("qdrant_edge")

from qdrant_client import QdrantClient

from univec_qdrant import QdrantCollection


def test_edge_optimizes_while_adding_and_stays_exact(tmp_path, tiny_encoder, monkeypatch):
    from univec_qdrant._edge import EdgeEngine

    calls = []
    original = EdgeEngine.optimize
    monkeypatch.setattr(EdgeEngine, "optimize_min_points", 4)
    monkeypatch.setattr(EdgeEngine, "optimize", lambda self: calls.append(1) or original(self))
    texts = [f"{text} Variant {i}." for i in range(4) for text in TEXTS]  # 20 documents
    with QdrantCollection("docs", tiny_encoder, path=tmp_path, batch_size=4, progress=False) as c:
        ids = c.add(texts)
        assert len(calls) >= 3  # during the add (every >= 4 points) and at its end
        assert c.engine.segments >= 4
        query = "Variant 2 capital"
        exact = exact_maxsim(tiny_encoder, query, texts)
        hits = c.search(query, k=5, mode="multi")
        assert [h.id for h in hits] == [ids[i] for i in np.argsort(-exact, kind="stable")[:5]]
        assert [h.score for h in hits] == pytest.approx(sorted(exact, reverse=True)[:5], abs=1e-4)
        calls.clear()
        c.add(["one more"])
        assert len(calls) == 1  # flush at the end of add
    with QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False) as reopened:
        assert len(reopened) == 21


def test_edge_is_the_default_engine(tmp_path, tiny_encoder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with QdrantCollection("docs", tiny_encoder, progress=False) as collection:
        collection.add(["hello"])
        assert "EdgeEngine" in repr(collection)
    assert (tmp_path / "univec_data" / "docs" / "edge_config.json").is_file()


def test_edge_path_is_locked_while_open(tmp_path, tiny_encoder):
    with (
        QdrantCollection("docs", tiny_encoder, path=tmp_path, progress=False),
        pytest.raises(CollectionError, match="already open"),
    ):
        QdrantCollection("docs", tiny_encoder, path=tmp_path)


def test_client_passed_in_stays_open(tiny_encoder):
    client = QdrantClient(":memory:")
    with QdrantCollection("docs", tiny_encoder, client=client, progress=False) as collection:
        collection.add(["hello"])
    assert client.count("docs").count == 1  # still usable
    client.close()


def test_url_memory_is_an_in_process_client(tiny_encoder):
    with QdrantCollection("docs", tiny_encoder, url=":memory:", progress=False) as collection:
        collection.add(["a", "b"])
        assert len(collection) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"path": "x", "url": "http://localhost:6333"}, "path and url"),
        ({"client": object(), "url": "http://localhost:6333"}, "url and client"),
        ({"api_key": "k"}, "api_key was given without url"),
        ({"timeout": 3}, "QdrantClient options"),
    ],
)
def test_conflicting_engine_arguments(tiny_encoder, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        QdrantCollection("docs", tiny_encoder, **kwargs)


def test_api_key_never_shown(tiny_encoder, caplog, recwarn):
    secret = "sk-univec-test-0123456789"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CollectionError) as info:
        # Nothing listens on port 9: the first request fails.
        QdrantCollection(
            "docs",
            tiny_encoder,
            url="http://127.0.0.1:9",
            api_key=secret,
            timeout=2,
            check_compatibility=False,
        )
    assert "127.0.0.1:9" in str(info.value) or "docs" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in caplog.text
    assert all(secret not in str(warning.message) for warning in recwarn)


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_repr_hides_the_api_key(tiny_encoder):
    from univec_qdrant._client import ClientEngine

    engine = ClientEngine(
        "docs", url="http://127.0.0.1:9", api_key="sk-secret-value", check_compatibility=False
    )
    assert "sk-secret-value" not in repr(engine) and "127.0.0.1:9" in repr(engine)
    engine.close()


def test_password_in_the_url_is_never_shown(tiny_encoder):
    from univec_qdrant._client import ClientEngine

    url = "http://user:pw-secret-value@127.0.0.1:9"
    engine = ClientEngine("docs", url=url, timeout=2, check_compatibility=False)
    assert "pw-secret-value" not in repr(engine) and "user:***@127.0.0.1:9" in repr(engine)
    engine.close()
    with pytest.raises(CollectionError) as info:
        QdrantCollection("docs", tiny_encoder, url=url, timeout=2, check_compatibility=False)
    assert "pw-secret-value" not in str(info.value)


def test_metadata_keys_become_quoted_qdrant_paths():
    from univec_qdrant._schema import metadata_path

    assert metadata_path("lang") == "metadata.lang"
    assert metadata_path("a.b") == "metadata.a.b"  # dotted: nested
    assert metadata_path(("a.b",)) == 'metadata."a.b"' and metadata_path("x y") == 'metadata."x y"'
    with pytest.raises(UnsupportedFilterError, match="double quote"):
        metadata_path('say "hi"')
