"""The hosted Jina Embeddings API backend (extra ``api``).

Modules: ``payload`` (the one request builder and response parser), ``batching`` (splitting
calls by inputs and tokens), ``ratelimit`` (client-side token buckets), ``transport`` (retries
and typed errors), ``runner`` (the private event loop shared by sync and async calls) and
``backend`` (:class:`APIBackend`). httpx is imported only when a backend is built.
"""

from __future__ import annotations

from univec.backends.api.backend import KNOWN_MODELS, APIBackend

__all__ = ["KNOWN_MODELS", "APIBackend"]
