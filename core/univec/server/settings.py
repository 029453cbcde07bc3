"""``ServerSettings``: what a ``univec serve`` process is configured with, and its API keys."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path

from univec.errors import ConfigurationError
from univec.inputs import MAX_IMAGE_BYTES
from univec.server.protocol import MAX_INPUTS

__all__ = ["API_KEYS_ENV", "ServerSettings", "is_loopback", "load_api_keys"]

#: Environment variable holding the server's accepted bearer keys (comma or newline separated).
API_KEYS_ENV = "UNIVEC_SERVER_API_KEYS"


@dataclass(frozen=True)
class ServerSettings:
    """Limits, batching and access rules of the embedding server.

    Attributes:
        served_model_name: The ``model`` requests must name (and ``/v1/models`` lists).
        api_keys: Accepted bearer keys; empty means no authentication (loopback only, unless
            ``insecure``). Never shown in reprs.
        max_inputs: Most inputs per request (the hosted API's 512).
        max_image_bytes: Largest image accepted, base64-decoded or downloaded (8 MB).
        max_body_bytes: Largest request body.
        max_batch_tokens: Most estimated tokens per backend call (``None``: the local
            backend's token budget).
        max_batch_inputs: Most inputs per backend call.
        max_queue_inputs: Most inputs waiting; past it requests get 503 with ``Retry-After``.
        batching: Share backend calls between requests (``False``: one request per call).
        allow_private_urls: Fetch image URLs on private, loopback and link-local addresses.
        download_timeout: Seconds one image download may take.
        retry_after: Seconds suggested in ``Retry-After`` of 503 answers.
    """

    served_model_name: str = "jina-embeddings-v4"
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    max_inputs: int = MAX_INPUTS
    max_image_bytes: int = MAX_IMAGE_BYTES
    max_body_bytes: int = 64 * 1024 * 1024
    max_batch_tokens: int | None = None
    max_batch_inputs: int = 1024
    max_queue_inputs: int = 8192
    batching: bool = True
    allow_private_urls: bool = False
    download_timeout: float = 10.0
    retry_after: int = 1

    def __post_init__(self) -> None:
        for name in ("max_inputs", "max_image_bytes", "max_body_bytes", "max_batch_inputs"):
            _positive(name, getattr(self, name))
        _positive("max_queue_inputs", self.max_queue_inputs)
        if self.max_batch_tokens is not None:
            _positive("max_batch_tokens", self.max_batch_tokens)
        if self.max_queue_inputs < self.max_inputs:
            raise ConfigurationError(
                f"max_queue_inputs={self.max_queue_inputs} is below max_inputs="
                f"{self.max_inputs}: a full request could never be queued. Raise it."
            )


def load_api_keys(
    key_file: str | Path | None = None, environ: dict[str, str] | None = None
) -> tuple[str, ...]:
    """The accepted keys: one per line of ``key_file`` (``#`` comments allowed), and those in
    ``UNIVEC_SERVER_API_KEYS`` (separated by commas or newlines).

    Raises:
        ConfigurationError: The file cannot be read, or a key has spaces or control characters.
    """
    env = os.environ if environ is None else environ
    raw: list[str] = []
    if key_file is not None:
        try:
            text = Path(key_file).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigurationError(
                f"Cannot read the API key file {str(key_file)!r} ({exc.strerror})."
            ) from exc
        raw += [line.split("#", 1)[0] for line in text.splitlines()]
    raw += env.get(API_KEYS_ENV, "").replace("\n", ",").split(",")
    keys: list[str] = []
    for number, candidate in enumerate(raw, 1):
        key = candidate.strip()
        if not key:
            continue
        if any(ord(char) < 33 or ord(char) > 126 for char in key):
            # Say where, never what: the key itself must not reach a log.
            raise ConfigurationError(
                f"API key #{number} contains spaces, control or non-ASCII characters; keys must "
                "be printable ASCII. Fix the key file or the environment variable."
            )
        if key not in keys:
            keys.append(key)
    return tuple(keys)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` only accepts connections from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _positive(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name}={value!r} must be a positive integer.")
