"""Keeping secrets (API keys, tokens, passwords in URLs) out of messages, reprs and logs.

One place for the API backend and every database engine: whatever they show a user passes
through :func:`redact`, :func:`redact_url` or :func:`describe_error`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

__all__ = ["describe_error", "redact", "redact_url", "url_password"]


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with every occurrence of each non-empty secret replaced by ``***``."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def describe_error(exc: BaseException, *secrets: str | None) -> str:
    """``"<type>: <message>"`` of an error from a client library, with the secrets redacted."""
    return redact(f"{type(exc).__name__}: {exc}", *secrets)


def url_password(url: str | None) -> str | None:
    """The password in ``url`` (``scheme://user:password@host``), if it holds one."""
    try:
        return urlsplit(url).password if url else None
    except ValueError:  # not a URL (a path, ":memory:")
        return None


def redact_url(url: str) -> str:
    """``url`` without its password, e.g. ``https://user:***@host:19530``."""
    password = url_password(url)
    if password is None:
        return url
    parts = urlsplit(url)
    netloc = parts.netloc.replace(f":{password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
