"""``univec serve``: jina-embeddings-v4 over HTTP with the hosted Jina Embeddings API's contract.

``POST /v1/embeddings`` (texts and images; tasks, ``dimensions``, multi-vectors, every
``embedding_type``), ``GET /v1/models``, ``GET /healthz`` and ``GET /metrics``, with dynamic
batching across requests, bounded queues and bearer keys. Needs the extra ``serve``
(FastAPI + uvicorn); nothing here is imported by ``import univec``.

Example:
    >>> from univec.server import ServerSettings, run_server
    >>> run_server(lambda: univec.Encoder.local(), ServerSettings(), port=8080)
"""

from __future__ import annotations

from univec.server.app import ServerState, create_app
from univec.server.runner import run_server
from univec.server.settings import ServerSettings, load_api_keys

__all__ = ["ServerSettings", "ServerState", "create_app", "load_api_keys", "run_server"]
