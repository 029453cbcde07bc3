"""What every backend provides, and the result types shared by all of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

from univec.inputs import Image
from univec.tasks import TaskSpec

__all__ = ["Backend", "Embeddings", "ModelInfo", "Usage", "truncate_dims"]


@dataclass(frozen=True)
class ModelInfo:
    """What a model produces.

    Attributes:
        name: Model name or path.
        dim: Size of the full single vector.
        matryoshka_dims: The dimensions single vectors may be truncated to.
        multivector_dim: Size of each token vector of a multi-vector.
        max_length: Most tokens one input is encoded with (longer text is truncated).
        device: Where a local model runs (``None`` for the hosted API).
        dtype: The local model's dtype (``None`` for the hosted API).
        dtype_choice: How ``dtype`` was picked (e.g. ``"auto: float32 on CPU (...)"``).
        attention: The local model's attention implementation (``"sdpa"``, ...).
    """

    name: str
    dim: int
    matryoshka_dims: tuple[int, ...]
    multivector_dim: int = 128
    max_length: int = 32768
    device: str | None = None
    dtype: str | None = None
    dtype_choice: str | None = None
    attention: str | None = None


@dataclass
class Usage:
    """Tokens a call consumed (as counted by the backend)."""

    total_tokens: int = 0
    prompt_tokens: int = 0
    image_tokens: int = 0

    def __iadd__(self, other: Usage) -> Usage:
        self.total_tokens += other.total_tokens
        self.prompt_tokens += other.prompt_tokens
        self.image_tokens += other.image_tokens
        return self


@dataclass
class Embeddings:
    """Both outputs of one encoding pass.

    Attributes:
        dense: ``(n, d)`` float32 unit-norm single vectors, or ``None`` if not requested.
        multi: ``n`` float32 arrays of shape ``(n_tokens_i, 128)`` (unit-norm rows), or ``None``.
        usage: Tokens consumed.
    """

    dense: np.ndarray | None = None
    multi: list[np.ndarray] | None = None
    usage: Usage = field(default_factory=Usage)

    def __len__(self) -> int:
        if self.dense is not None:
            return int(self.dense.shape[0])
        return len(self.multi or [])


@runtime_checkable
class Backend(Protocol):
    """The transport behind :class:`univec.Encoder`.

    Inputs reach a backend already validated: ``items`` holds only ``str`` and
    :class:`univec.Image`, ``task`` is resolved, ``dimensions`` is one of
    ``info.matryoshka_dims`` (or ``None``) and is never combined with ``multi`` alone.
    Results keep input order.
    """

    info: ModelInfo

    def embed(
        self,
        items: list[str | Image],
        task: TaskSpec,
        *,
        dense: bool,
        multi: bool,
        dimensions: int | None,
        late_chunking: bool = False,
    ) -> Embeddings:
        """Encode ``items``, computing only the requested outputs.

        ``late_chunking=True`` (passed only when asked for, with text items and ``dense``
        alone) means the items are consecutive chunks of one document. A backend that
        computes compact outputs itself lists them in an optional ``native_precisions``
        attribute and then also receives ``precision=``; the encoder quantizes float32
        results otherwise (:mod:`univec.quantization`).
        """
        ...

    async def aembed(
        self,
        items: list[str | Image],
        task: TaskSpec,
        *,
        dense: bool,
        multi: bool,
        dimensions: int | None,
        late_chunking: bool = False,
    ) -> Embeddings:
        """Async form of :meth:`embed`."""
        ...

    def close(self) -> None:
        """Release models, connections and threads."""
        ...


def truncate_dims(vectors: np.ndarray, dimensions: int | None) -> np.ndarray:
    """Matryoshka truncation: keep the first ``dimensions`` columns and L2-normalise again."""
    if dimensions is None or dimensions >= vectors.shape[-1]:
        return vectors
    head = vectors[..., :dimensions]
    norms = np.linalg.norm(head, axis=-1, keepdims=True)
    return (head / np.maximum(norms, 1e-12)).astype(np.float32, copy=False)
