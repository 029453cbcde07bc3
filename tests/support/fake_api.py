"""Encoders for the fake-vector API server (``fake_jina_api_server``): fast retries, 64-d vectors."""

from __future__ import annotations

import univec

#: What the fake server's vectors look like (the tiny model's sizes).
FAKE_INFO = univec.ModelInfo("jina-embeddings-v4", dim=64, matryoshka_dims=(16, 32, 64))


def make_encoder(server, api_key: str | None = "test-key", **options) -> univec.Encoder:
    """``univec.Encoder.api`` on ``server`` with short timeouts and retry waits; ``options`` win."""
    settings = {"timeout": 5.0, "backoff_base": 0.01, "backoff_max": 0.05, "seed": 0}
    settings.update(options)
    return univec.Encoder.api(api_key, base_url=server.base_url, model_info=FAKE_INFO, **settings)
