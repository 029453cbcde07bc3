"""Secrets never shown: the helpers every backend and engine uses for messages and reprs."""

from __future__ import annotations

from univec.secrets import describe_error, redact, redact_url, url_password


def test_redact_replaces_every_secret_and_ignores_empty_ones():
    assert redact("key=abc, again abc, token=xyz", "abc", None, "", "xyz") == (
        "key=***, again ***, token=***"
    )


def test_describe_error_names_the_type_without_the_secret():
    assert describe_error(ValueError("bad token s3cr3t"), "s3cr3t") == "ValueError: bad token ***"


def test_url_password_and_redact_url():
    url = "https://user:pa55@db.example:19530/x"
    assert url_password(url) == "pa55"
    assert redact_url(url) == "https://user:***@db.example:19530/x"
    for not_secret in ("./univec.db", ":memory:", "http://host:6333", None):
        assert url_password(not_secret) is None
    assert redact_url("http://host:6333") == "http://host:6333"
