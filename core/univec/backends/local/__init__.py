"""The local backend: jina-embeddings-v4 in-process with PyTorch (extra ``local``).

Modules: ``checkpoint`` (find and read checkpoints), ``model`` (the network), ``lora``
(task adapters), ``preprocessing`` (tokens and pixels), ``batching`` (token-budget
packing), ``runner`` (forward passes and pooling), ``backend`` (:class:`LocalBackend`).
"""

from __future__ import annotations

from univec.backends.local.backend import LocalBackend

__all__ = ["LocalBackend"]
