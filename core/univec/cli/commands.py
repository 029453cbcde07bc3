"""The ``univec`` commands (each a thin layer over the library)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from univec.cli import reports_errors
from univec.cli.options import (
    build_encoder,
    database_options,
    database_settings,
    encoder_options,
    encoder_settings,
    open_collection,
)
from univec.errors import ConfigurationError
from univec.tasks import TASKS

__all__ = ["download", "encode", "index", "search", "serve"]


def _echo(line: str) -> None:
    click.echo(line)
    sys.stdout.flush()  # scripts (and tests) follow the progress line by line


# --------------------------------------------------------------------------- index
@click.command()
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@database_options
@encoder_options
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the per-file hashes are kept (default: beside the embedded database).",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Make a collection synced with another folder mirror this one instead.",
)
@click.option("--batch-size", type=int, default=16, show_default=True, help="Documents per batch.")
@click.option("--list", "list_files", is_flag=True, help="Print one line per file handled.")
@reports_errors
def index(**params: Any) -> None:
    """Keep a collection in sync with FOLDER: text, Markdown, images and PDF pages.

    New and changed files (by content hash) are encoded, deleted files are removed, unchanged
    files are skipped; empty or unreadable files are reported and skipped. Interrupted, it
    finishes the job without duplicates when run again.

    \b
      univec index ./docs --collection docs
      univec index ./docs -c docs --database milvus --uri ./univec.db
    """
    from univec.cli.folder_index import Manifest, default_manifest_path, index_folder

    database = database_settings(params)
    encoder = build_encoder(encoder_settings(params))
    manifest = Manifest(params["manifest"] or default_manifest_path(database))

    def report(status: str, file: str, detail: str) -> None:
        if status in ("failed", "empty"):
            _echo(f"{status}: {file}: {detail}")
        elif params["list_files"] and status != "unchanged":
            _echo(f"{status}: {file}" + (f" ({detail})" if detail else ""))

    with encoder, open_collection(database, encoder, progress=False) as collection:
        summary = index_folder(
            params["folder"],
            collection,
            manifest,
            replace=params["replace"],
            batch_size=params["batch_size"],
            report=report,
        )
        count = collection.count()
    _echo(f"{summary.line()}; {count} documents in {database['collection']!r}")
    if summary.failed:
        sys.exit(1)


# --------------------------------------------------------------------------- search
@click.command()
@click.argument("query")
@database_options
@encoder_options
@click.option("-k", type=int, default=5, show_default=True, help="Results to show.")
@click.option(
    "--mode",
    type=click.Choice(["hybrid", "multi", "dense"]),
    default="hybrid",
    show_default=True,
    help="hybrid: dense candidates reranked by exact MaxSim; multi: exact MaxSim; dense.",
)
@click.option(
    "--filter",
    "filters",
    multiple=True,
    metavar="KEY=VALUE",
    help="Metadata condition (repeat it; the same key twice means either value).",
)
@click.option("--image", is_flag=True, help="QUERY is an image path or URL, not text.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@reports_errors
def search(**params: Any) -> None:
    """Search a collection for QUERY and print the best documents.

    \b
      univec search "attention heads" -c docs -k 3
      univec search "tables" -c docs --filter kind=pdf --json
    """
    import univec

    database = database_settings(params)
    encoder = build_encoder(encoder_settings(params))
    query: Any = univec.Image(params["query"]) if params["image"] else params["query"]
    conditions = _parse_filters(params["filters"])
    with encoder, open_collection(database, encoder, progress=False) as collection:
        hits = collection.search(query, k=params["k"], mode=params["mode"], filter=conditions)
    if params["as_json"]:
        rows = [
            {"score": hit.score, "id": hit.id, "metadata": hit.metadata, "text": hit.text}
            for hit in hits
        ]
        _echo(json.dumps(rows, ensure_ascii=False, indent=1))
        return
    if not hits:
        _echo("No documents found.")
        return
    _echo(f"{'score':>8}  {'id':<28} {'file':<24} {'page':>4}  text")
    for hit in hits:
        page = hit.metadata.get("page", "")
        preview = " ".join((hit.text or "").split())[:60]
        file = str(hit.metadata.get("file", ""))
        _echo(
            f"{hit.score:8.3f}  {_cut(str(hit.id), 28):<28} {_cut(file, 24):<24} {page!s:>4}  {preview}"
        )


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _parse_filters(filters: tuple[str, ...]) -> dict[str, Any] | None:
    """``key=value`` pairs as a filter dict; numbers and true/false are typed, repeats are OR."""
    conditions: dict[str, Any] = {}
    for condition in filters:
        key, equals, raw = condition.partition("=")
        if not equals or not key:
            raise ConfigurationError(f"--filter {condition!r} must look like key=value.")
        try:
            value = json.loads(raw)
            if not isinstance(value, (int, float, bool)):
                value = raw
        except ValueError:
            value = raw
        if key in conditions:
            previous = conditions[key]
            conditions[key] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            conditions[key] = value
    return conditions or None


# --------------------------------------------------------------------------- encode
@click.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help=".npy or .parquet"
)
@click.option(
    "--task", type=click.Choice(list(TASKS)), default="retrieval.passage", show_default=True
)
@click.option("--multivector", is_flag=True, help="Token vectors (needs a .parquet output).")
@click.option("--dimensions", type=int, help="Matryoshka truncation of single vectors.")
@click.option("--chunk-size", type=int, default=256, show_default=True, help="Inputs per step.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output.")
@encoder_options
@reports_errors
def encode(**params: Any) -> None:
    """Encode SOURCE (.txt: one text per line; .jsonl: strings, {"text"} or {"image"}) into OUT.

    Memory stays bounded whatever the input's size; an interrupted run resumes when run again.

    \b
      univec encode passages.txt --out passages.npy --dimensions 512
      univec encode pages.jsonl --out pages.parquet --multivector
    """
    from univec.cli.bulk_encode import encode_file

    encoder = build_encoder(encoder_settings(params))
    with encoder:
        rows = encode_file(
            encoder,
            params["source"],
            params["out"],
            task=params["task"],
            multivector=params["multivector"],
            dimensions=params["dimensions"],
            chunk_size=params["chunk_size"],
            overwrite=params["overwrite"],
        )
    _echo(f"{rows} inputs encoded into {params['out']}")


# --------------------------------------------------------------------------- download
@click.command()
@click.argument("model", default="jinaai/jina-embeddings-v4")
@click.option("--to", "target", required=True, type=click.Path(file_okay=False, path_type=Path))
@click.option("--revision", help="Branch, tag or commit of the model repository.")
@reports_errors
def download(model: str, target: Path, revision: str | None) -> None:
    """Fetch a checkpoint (default jinaai/jina-embeddings-v4) into a folder for offline use.

    Then run anything with --model DIR (or UNIVEC_MODEL=DIR).
    """
    from univec._optional import require

    require("huggingface_hub", "local")
    import huggingface_hub

    path = huggingface_hub.snapshot_download(
        repo_id=model,
        revision=revision,
        local_dir=str(target),
        allow_patterns=[
            "*.json",
            "*.safetensors",
            "adapters/*",
            "*.txt",
            "*.model",
            "*.jinja",
        ],
    )
    from univec.backends.local.checkpoint import open_checkpoint

    open_checkpoint(str(path))  # a checkpoint that does not load fails here, not at first use
    _echo(f"{model} is in {path}; use it with --model {path} or UNIVEC_MODEL={path}")


# --------------------------------------------------------------------------- serve
@click.command()
@encoder_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8080, show_default=True, help="0 picks a free port.")
@click.option(
    "--api-key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Accepted bearer keys, one per line (also UNIVEC_SERVER_API_KEYS, comma-separated).",
)
@click.option("--insecure", is_flag=True, help="Allow a non-loopback --host without API keys.")
@click.option(
    "--served-model-name",
    default="jina-embeddings-v4",
    show_default=True,
    help="The model name requests must send.",
)
@click.option(
    "--batching/--no-batching",
    default=True,
    show_default=True,
    help="Share forward passes between concurrent requests.",
)
@click.option("--max-batch-tokens", type=int, help="Tokens per batch (default: the token budget).")
@click.option(
    "--max-queue-inputs",
    type=int,
    default=8192,
    show_default=True,
    help="Queue bound (503 past it).",
)
@click.option(
    "--max-body-mb", type=int, default=64, show_default=True, help="Largest request body."
)
@click.option(
    "--allow-private-urls",
    is_flag=True,
    help="Fetch image URLs on private, loopback and link-local addresses.",
)
@click.option("--download-timeout", type=float, default=10.0, show_default=True)
@click.option(
    "--torch-threads",
    type=int,
    help="local: PyTorch CPU threads (default: PyTorch's). 1 avoids oversubscribing the cores "
    "the web server needs too.",
)
@click.option(
    "--graceful-timeout",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds to finish in-flight requests at shutdown.",
)
@reports_errors
def serve(**params: Any) -> None:
    """Serve the model over HTTP with the hosted Jina Embeddings API's contract.

    POST /v1/embeddings, GET /v1/models, GET /healthz, GET /metrics (Prometheus).
    Any Jina API client works against it, univec's own included:
    Encoder.api(base_url="http://HOST:PORT/v1").

    \b
      univec serve --model ./jev4 --device cuda --port 8080
      UNIVEC_SERVER_API_KEYS=k1,k2 univec serve --host 0.0.0.0
    """
    from univec.server import ServerSettings, load_api_keys, run_server

    settings = encoder_settings(params)
    server_settings = ServerSettings(
        served_model_name=params["served_model_name"],
        api_keys=load_api_keys(params["api_key_file"]),
        max_body_bytes=params["max_body_mb"] * 1024 * 1024,
        max_batch_tokens=params["max_batch_tokens"],
        max_queue_inputs=params["max_queue_inputs"],
        batching=params["batching"],
        allow_private_urls=params["allow_private_urls"],
        download_timeout=params["download_timeout"],
    )
    threads = params["torch_threads"]

    def load() -> Any:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        return build_encoder(settings)

    run_server(
        load,
        server_settings,
        host=params["host"],
        port=params["port"],
        insecure=params["insecure"],
        graceful_timeout=params["graceful_timeout"],
        on_listen=lambda url: _echo(f"univec serve: listening on {url} (loading the model)"),
        on_ready=lambda state: _echo(
            f"univec serve: ready, serving {server_settings.served_model_name!r}"
        ),
    )
