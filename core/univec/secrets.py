"""Keeping secrets (API keys, tokens, passwords in URLs) out of messages, reprs and logs.

One place for the API backend and every database engine: whatever they show a user passes
through :func:`redact`, :func:`redact_url` or :func:`describe_error`.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from univec.errors import ConfigurationError

__all__ = ["check_api_key", "describe_error", "redact", "redact_url", "url_password"]


def check_api_key(key: str | None, source: str = "api_key") -> str | None:
    """``key`` without surrounding whitespace; ``None`` when empty.

    A key must be printable ASCII: anything else cannot go into an HTTP header, and a request
    carrying it would fail on every retry (and the HTTP library would quote the key in its error).

    Args:
        key: The key as given.
        source: Where it came from, for the message (``"api_key"``, ``"JINA_API_KEY"``).

    Raises:
        ConfigurationError: The key is not a ``str`` or holds a control or non-ASCII character;
            the message shows no part of the key.
    """
    if key is None:
        return None
    if not isinstance(key, str):
        raise ConfigurationError(f"{source} must be a str, got {type(key).__name__}.")
    key = key.strip()
    for position, char in enumerate(key):
        if not " " <= char <= "~":
            kind = "a control character" if char.isascii() else "a non-ASCII character"
            raise ConfigurationError(
                f"{source} holds {kind} at position {position} (the key is not shown). "
                "API keys are printable ASCII: copy the key again without line breaks, quotes "
                "or other characters around it."
            )
    return key or None


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
