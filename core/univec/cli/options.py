"""Options every command shares: the encoder (``--backend`` ...) and the database."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

import click

from univec.errors import ConfigurationError

__all__ = ["build_encoder", "database_options", "encoder_options", "open_collection"]

F = TypeVar("F", bound=Callable[..., Any])


def encoder_options(command: F) -> F:
    """Add ``--backend``, ``--model``, ``--device``, ``--dtype``, ``--max-length``, ``--base-url``.

    Unset options fall back to the ``UNIVEC_*`` environment (see ``Encoder.from_env``).
    """
    options = [
        click.option(
            "--backend",
            type=click.Choice(["local", "api"]),
            help="local: run the model here (PyTorch); api: the hosted Jina API or a "
            "`univec serve` (UNIVEC_BACKEND, default local).",
        ),
        click.option(
            "--model",
            help="local: checkpoint directory or hub id; api: model name (UNIVEC_MODEL).",
        ),
        click.option("--device", help="local: cuda, mps or cpu (UNIVEC_DEVICE)."),
        click.option("--dtype", help="local: bfloat16 or float32 (UNIVEC_DTYPE)."),
        click.option("--max-length", type=int, help="Tokens per input; longer text is truncated."),
        click.option(
            "--base-url",
            help="api: base URL, e.g. http://gpu-box:8080/v1 for a `univec serve` "
            "(UNIVEC_BASE_URL). The key comes from JINA_API_KEY.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def encoder_settings(params: dict[str, Any]) -> dict[str, Any]:
    """Pop the encoder options out of a command's ``params``."""
    names = ("backend", "model", "device", "dtype", "max_length", "max_pixels", "base_url")
    return {name: params.pop(name, None) for name in names}


def build_encoder(settings: dict[str, Any]) -> Any:
    """The encoder the options and the environment describe (options win).

    With the ``api`` backend and a non-default ``base_url`` (e.g. a ``univec serve``), the
    model's sizes are read from ``GET {base_url}/models`` when the server reports them.
    """
    from univec.config import EncoderConfig

    config = EncoderConfig.from_env(**settings)
    if config.backend == "api":
        info = _served_model_info(config.base_url, config.api_key, config.model)
        if info is not None:
            config = EncoderConfig.from_env(**settings, model_info=info)
    return config.build()


def _served_model_info(base_url: str | None, api_key: str | None, model: str | None) -> Any:
    """The model sizes a `univec serve` reports at ``/models`` (``None`` for other servers)."""
    from univec.backends.api.backend import DEFAULT_BASE_URL, KNOWN_MODELS
    from univec.backends.base import ModelInfo

    base = str(base_url or DEFAULT_BASE_URL).rstrip("/")
    if base == DEFAULT_BASE_URL:
        return None
    request = urllib.request.Request(f"{base}/models")
    if api_key:
        request.add_header("Authorization", f"Bearer {api_key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            listing = json.loads(response.read(1_000_000))
    except (OSError, ValueError):
        return None
    name = model or "jina-embeddings-v4"
    for entry in listing.get("data", []) if isinstance(listing, dict) else []:
        if isinstance(entry, dict) and entry.get("id") == name and "dimensions" in entry:
            known = KNOWN_MODELS.get(name)
            return ModelInfo(
                name=name,
                dim=int(entry["dimensions"]),
                matryoshka_dims=tuple(int(d) for d in entry.get("matryoshka_dims", ())),
                multivector_dim=int(entry.get("multivector_dimensions", 128)),
                max_length=int(entry.get("max_length", known.max_length if known else 32768)),
            )
    return None


def database_options(command: F) -> F:
    """Add ``--collection``, ``--database``, ``--path``, ``--url``, ``--uri``."""
    options = [
        click.option("--collection", "-c", required=True, help="Collection name."),
        click.option(
            "--database",
            type=click.Choice(["qdrant", "milvus"]),
            default="qdrant",
            show_default=True,
            help="qdrant: Qdrant Edge embedded (or a server with --url); milvus: Milvus Lite "
            "(or a server with --uri http://...).",
        ),
        click.option(
            "--path",
            help="qdrant: directory of the embedded database (default ./univec_data).",
        ),
        click.option("--url", help="qdrant: server URL (key from QDRANT_API_KEY), or :memory:."),
        click.option(
            "--uri",
            help="milvus: Milvus Lite file (default ./univec.db) or server URI "
            "(token from MILVUS_TOKEN).",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def database_settings(params: dict[str, Any]) -> dict[str, Any]:
    """Pop the database options out of a command's ``params``."""
    names = ("collection", "database", "path", "url", "uri")
    return {name: params.pop(name, None) for name in names}


def open_collection(database: dict[str, Any], encoder: Any, *, progress: bool = True) -> Any:
    """The collection the database options name.

    Raises:
        ConfigurationError: Options of the other database were given.
    """
    kind, name = database["database"], database["collection"]
    if kind == "qdrant":
        if database.get("uri"):
            raise ConfigurationError("--uri is a Milvus option; for Qdrant use --path or --url.")
        from univec_qdrant import QdrantCollection

        if database.get("url"):
            return QdrantCollection(
                name,
                encoder,
                url=database["url"],
                api_key=os.environ.get("QDRANT_API_KEY") or None,
                progress=progress,
            )
        return QdrantCollection(name, encoder, path=database.get("path"), progress=progress)
    if database.get("path") or database.get("url"):
        raise ConfigurationError("--path and --url are Qdrant options; for Milvus use --uri.")
    from univec_milvus import MilvusCollection

    options: dict[str, Any] = {"progress": progress}
    if database.get("uri"):
        options["uri"] = database["uri"]
    if os.environ.get("MILVUS_TOKEN"):
        options["token"] = os.environ["MILVUS_TOKEN"]
    return MilvusCollection(name, encoder, **options)
