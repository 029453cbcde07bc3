"""``LocalBackend``: jina-embeddings-v4 in-process with PyTorch and stock transformers."""

from __future__ import annotations

import asyncio
import threading
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import numpy as np

from univec._optional import require
from univec.backends.base import Embeddings, ModelInfo, truncate_dims
from univec.errors import ClosedError, ConfigurationError, check_positive_int
from univec.inputs import DEFAULT_DOWNLOAD_TIMEOUT, Image
from univec.tasks import TaskSpec

__all__ = ["MAX_LENGTH_CAP", "LocalBackend"]

#: Longest input the model handles (the reference's default).
MAX_LENGTH_CAP = 32768
#: Default most ``batch_size * padded_length`` tokens per forward pass, on GPUs and on CPU
#: (where batches that stay in cache win: on the encode benchmark 1024 was 1.1-1.8x faster
#: than 4096, and 8192+ slower still).
DEFAULT_TOKEN_BUDGET = 16384
DEFAULT_CPU_TOKEN_BUDGET = 1024


class LocalBackend:
    """jina-embeddings-v4 run locally (extra ``local``); use it via :meth:`univec.Encoder.local`.

    Exact: reproduces the reference implementation (Qwen2.5-VL backbone, task LoRA,
    mean pooling, multi-vector projector) on current transformers without remote code.
    Fast: no LM head, only the last hidden state, only the requested outputs, LoRA merged
    once per task, inputs sorted by length and packed by a token budget.

    Args:
        model: Checkpoint directory or hub id (e.g. ``"jinaai/jina-embeddings-v4"``).
        device: ``"cuda"``, ``"mps"``, ``"cpu"`` or ``None`` for the best available.
        dtype: torch dtype or its name; ``None`` is bfloat16 on GPUs and float32 on CPU
            (``info.dtype_choice`` says why; bfloat16 asked for on a CPU without bfloat16
            hardware logs a warning once).
        max_length: Most tokens per text (longer text is truncated); at most 32768.
        token_budget: Most ``batch_size * padded_length`` tokens per forward pass (default
            16384 on GPUs, 1024 on CPU).
        max_batch_size: Optional cap on inputs per forward pass.
        revision: Hub revision to download.
        attn_implementation: transformers attention kernel: ``"auto"`` (default:
            ``"flash_attention_2"`` on CUDA in 16-bit when ``flash-attn`` is installed, with
            texts packed without padding; else ``"sdpa"``), ``"sdpa"``, ``"eager"`` or
            ``"flash_attention_2"``.
        min_pixels: Override of the image processor's smallest image area.
        max_pixels: Override of the largest image area (default 602112, as trained).
        download_timeout: Seconds an image URL's whole download may take.
        merged_adapters: The checkpoint has its task adapter merged into its weights and no
            ``adapters/`` directory (the vLLM variants); every task then runs those weights.
            Without it, a checkpoint lacking ``adapters/adapter_config.json`` is refused.

    Raises:
        ConfigurationError: Bad ``max_length``, ``token_budget``, device or dtype.
        CheckpointError: The checkpoint is missing or malformed.
    """

    def __init__(
        self,
        model: str,
        *,
        device: Any = None,
        dtype: Any = None,
        max_length: int = 8192,
        token_budget: int | None = None,
        max_batch_size: int | None = None,
        revision: str | None = None,
        attn_implementation: str | None = "auto",
        min_pixels: int | None = None,
        max_pixels: int | None = None,
        download_timeout: float = DEFAULT_DOWNLOAD_TIMEOUT,
        merged_adapters: bool = False,
    ) -> None:
        from univec.models import check_local_model

        check_local_model(model)
        check_positive_int("max_length", max_length, MAX_LENGTH_CAP)
        if token_budget is not None:
            check_positive_int("token_budget", token_budget)
        if max_batch_size is not None:
            check_positive_int("max_batch_size", max_batch_size)
        require("torch", "local")
        require("transformers", "local")
        from univec.backends.local.checkpoint import check_adapters, open_checkpoint
        from univec.backends.local.device import choose_dtype, resolve_attention, resolve_device
        from univec.backends.local.lora import TaskAdapters
        from univec.backends.local.model import load_model
        from univec.backends.local.preprocessing import Preprocessor

        self.device = resolve_device(device)
        self.dtype, dtype_choice = choose_dtype(dtype, self.device)
        self.attn_implementation = resolve_attention(attn_implementation, self.device, self.dtype)
        if token_budget is None:
            cpu = self.device.type == "cpu"
            token_budget = DEFAULT_CPU_TOKEN_BUDGET if cpu else DEFAULT_TOKEN_BUDGET
        self.token_budget = token_budget
        #: Calls of at least this many (estimated) tokens merge a new task's LoRA into the
        #: weights; smaller ones apply it unmerged on top of the merged task, so alternating
        #: tasks on short queries costs no re-merge.
        self.switch_tokens = token_budget
        self._overlay_run: tuple[str, int] | None = None  # (task, tokens) of a run
        self.download_timeout = download_timeout
        self.max_batch_size = max_batch_size
        self.checkpoint = open_checkpoint(model, revision)
        check_adapters(self.checkpoint, merged_adapters=merged_adapters)
        image_options = {
            key: value
            for key, value in (("min_pixels", min_pixels), ("max_pixels", max_pixels))
            if value is not None
        }
        self.preprocessor = Preprocessor(self.checkpoint, max_length, image_options)
        self.model = load_model(
            self.checkpoint,
            device=self.device,
            dtype=self.dtype,
            attn_implementation=self.attn_implementation,
            mlp_chunk_tokens=max(token_budget, 1024),
            # On CPU one long text runs a chunk at a time (memory); GPUs keep the one
            # unmasked flash/SDPA call over the whole text.
            chunk_tokens=max(token_budget, 1024) if self.device.type == "cpu" else None,
        )
        self.adapters = TaskAdapters(self.checkpoint, self.model)
        self.info = ModelInfo(
            name=str(model),
            dim=self.checkpoint.hidden_size,
            matryoshka_dims=self.checkpoint.matryoshka_dims,
            multivector_dim=self.checkpoint.multivector_dim,
            max_length=max_length,
            device=str(self.device),
            dtype=str(self.dtype).removeprefix("torch."),
            dtype_choice=dtype_choice,
            attention=self.attn_implementation,
        )
        self.closed = False
        # One forward pass at a time: task switches rewrite weights in place.
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"LocalBackend({self.info.name!r}, device={str(self.device)!r}, "
            f"dtype={str(self.dtype).removeprefix('torch.')!r})"
        )

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
        """Encode ``items`` (texts and images, in any mix), computing only what is asked.

        ``late_chunking=True``: the items are text chunks of one document (see
        :mod:`univec.late_chunking`); single vectors only.

        Returns:
            :class:`Embeddings` in input order; ``usage`` counts every token fed to the model.
        """
        from univec.backends.local.forward import ForwardContext, run_batches

        # Downloads happen before the model lock: a slow server holds up only this call.
        items = [
            item.prefetched(self.download_timeout) if isinstance(item, Image) else item
            for item in items
        ]
        with self._lock:
            if self.closed:
                raise ClosedError(
                    f"{self!r} was closed; create a new encoder to encode more inputs."
                )
            if multi and self.model.multi_vector_projector is None:
                raise ConfigurationError(
                    f"Checkpoint {self.info.name!r} has no multi-vector projector (a merged "
                    "vLLM variant?). Use jinaai/jina-embeddings-v4 for multi-vectors."
                )
            if late_chunking:  # whole-document passes: merge the task (no overlay)
                from univec.backends.local.late_chunking import embed_late_chunks

                self.adapters.activate(task.adapter)
                chunks = [item for item in items if isinstance(item, str)]
                vectors, usage = embed_late_chunks(self, chunks, task)
                return Embeddings(dense=truncate_dims(vectors, dimensions), usage=usage)
            context = ForwardContext(
                model=self.model,
                preprocessor=self.preprocessor,
                device=self.device,
                token_budget=self.token_budget,
                max_batch_size=self.max_batch_size,
                download_timeout=self.download_timeout,
                varlen=self.attn_implementation == "flash_attention_2",
            )
            with self._adapter(task.adapter, items):
                pooled, tokens, usage = run_batches(context, items, task, dense=dense, multi=multi)
        dense_out = None
        if dense:
            dense_out = np.stack(pooled) if pooled else np.zeros((0, self.info.dim), np.float32)
            dense_out = truncate_dims(dense_out, dimensions)
        return Embeddings(dense=dense_out, multi=tokens if multi else None, usage=usage)

    def _adapter(self, adapter: str, items: list[str | Image]) -> AbstractContextManager[None]:
        """Merge ``adapter`` for a big call; overlay it unmerged on a small one (see lora).

        A run of small calls for one task that is not the merged one merges it once their
        tokens add up to ``switch_tokens``: from then on they cost no correction, and the
        merge is paid once for the run, not per call. Alternating tasks never build a run.
        """
        tokens = _estimated_tokens(items)
        active = self.adapters.active
        if adapter == active:
            self._overlay_run = None
            return nullcontext()
        run = self._overlay_run
        total = tokens + (run[1] if run is not None and run[0] == adapter else 0)
        if active is None or total >= self.switch_tokens:
            self.adapters.activate(adapter)
            self._overlay_run = None
            return nullcontext()
        self._overlay_run = (adapter, total)
        return self.adapters.overlay(adapter)

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
        """:meth:`embed` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(
            self.embed,
            items,
            task,
            dense=dense,
            multi=multi,
            dimensions=dimensions,
            late_chunking=late_chunking,
        )

    def close(self) -> None:
        """Drop the model (and free GPU memory), after the forward pass in progress, if any."""
        with self._lock:
            if not self.closed:
                self.closed = True
                del self.model  # frees the weights; embed() checks ``closed`` first
        if self.device.type == "cuda":
            import torch

            torch.cuda.empty_cache()


def _estimated_tokens(items: list[str | Image]) -> int:
    """A cheap upper-side estimate of a call's tokens (before tokenising)."""
    return sum(len(item) // 3 + 8 if isinstance(item, str) else 800 for item in items)
