"""MilvusCollection specifics on Milvus Lite: default path, clients, arguments, secrets.

The behaviours every collection shares run on Milvus Lite in
``tests/integrations/test_collection_contract.py``.
"""

from __future__ import annotations

import logging

import pytest

from tests.integrations.collection_support import release_lite
from univec.errors import CollectionError, ConfigurationError
from univec.secrets import redact_url
from univec_milvus import DEFAULT_URI, MilvusCollection


def test_milvus_lite_is_the_default_engine(tmp_path, tiny_encoder, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with MilvusCollection("docs", tiny_encoder, progress=False) as collection:
        collection.add(["hello"])
        assert "MilvusEngine" in repr(collection) and "portable" in repr(collection)
        assert collection.layout == "portable"
    assert DEFAULT_URI == "./univec.db" and (tmp_path / "univec.db").is_dir()
    release_lite(str(tmp_path / "univec.db"))


def test_missing_parent_directories_are_created(tmp_path, tiny_encoder):
    uri = tmp_path / "a" / "b" / "docs.db"
    with MilvusCollection("docs", tiny_encoder, uri=uri, progress=False) as collection:
        collection.add(["hello"])
    assert uri.is_dir()
    release_lite(str(uri))


def test_client_passed_in_stays_open(lite_uri, collection_name, tiny_encoder):
    from pymilvus import MilvusClient

    client = MilvusClient(lite_uri)
    with MilvusCollection(collection_name, tiny_encoder, client=client, progress=False) as c:
        c.add(["hello", "world"])
        assert "'client'" in repr(c)
    rows = client.query(collection_name, filter="", output_fields=["count(*)"])
    assert rows[0]["count(*)"] == 2  # still usable
    client.close()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"client": object(), "uri": "http://localhost:19530"}, "client and uri"),
        ({"client": object(), "token": "t"}, "client and token"),
        ({"client": object(), "timeout": 3}, "options"),
        ({"layout": "fast"}, "layout='fast'"),
    ],
)
def test_conflicting_engine_arguments(tiny_encoder, kwargs, match):
    with pytest.raises(ConfigurationError, match=match):
        MilvusCollection("docs", tiny_encoder, **kwargs)


def test_token_never_shown(tiny_encoder, caplog):
    secret = "sk-univec-test-0123456789"
    caplog.set_level(logging.DEBUG)
    with pytest.raises(CollectionError) as info:
        # Nothing listens on port 9: connecting fails at once.
        MilvusCollection(
            "docs", tiny_encoder, uri=f"http://root:{secret}@127.0.0.1:9", token=secret
        )
    assert "127.0.0.1:9" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__
    assert secret not in caplog.text


def test_password_in_the_uri_is_never_shown(tiny_encoder):
    secret = "pw-univec-test-0123456789"
    with pytest.raises(CollectionError) as info:
        MilvusCollection("docs", tiny_encoder, uri=f"http://root:{secret}@127.0.0.1:9")
    assert "root:***@127.0.0.1:9" in str(info.value) and secret not in str(info.value)


def test_repr_hides_the_token(lite_uri, collection_name, tiny_encoder):
    token = "sk-secret-value"
    with MilvusCollection(
        collection_name, tiny_encoder, uri=lite_uri, token=token, progress=False
    ) as c:
        assert token not in repr(c) and token not in repr(c.engine) and lite_uri in repr(c.engine)
    assert (
        redact_url(f"https://root:{token}@example.com:19530")
        == "https://root:***@example.com:19530"
    )
    assert redact_url("http://localhost:19530") == "http://localhost:19530"


def test_a_broken_expression_is_a_collection_error(lite_uri, collection_name, tiny_encoder):
    with MilvusCollection(collection_name, tiny_encoder, uri=lite_uri, progress=False) as c:
        c.add(["x"])
        with pytest.raises(CollectionError, match="failed"):
            c.search("text", filter="this is not ( an expression")
