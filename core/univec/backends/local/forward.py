"""The forward passes: batch, run the backbone, pool and project, restore input order.

What a pass needs travels in a :class:`ForwardContext` (model, preprocessor, device and
batching limits), so this module never reaches back into the backend.

Device-friendly by construction: a batch's inputs are built on the host (pinned memory on
CUDA, copied without blocking), token positions come from the host-side lengths (no
boolean indexing, which would wait for the device), and results stay on the device until
the whole group of batches is done, when they are copied back once. Images are decoded and
resized in a small thread pool while the forward passes run (Pillow releases the GIL).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from univec.backends.base import Usage
from univec.backends.local.model import JinaEmbeddingsV4
from univec.backends.local.packing import VarlenBatch, pack_varlen, plan_batches
from univec.backends.local.preprocessing import EncodedInput, Preprocessor
from univec.inputs import Image
from univec.tasks import TaskSpec

__all__ = ["IMAGE_CHUNK", "ForwardContext", "run_batches"]

#: Images decoded and preprocessed ahead of the forward passes (bounds the memory of big
#: image lists; the next chunk is prepared while the current one runs).
IMAGE_CHUNK = 64
#: Threads decoding and resizing images.
IMAGE_WORKERS = 2


@dataclass(frozen=True)
class ForwardContext:
    """What the forward passes need from the backend, and nothing else.

    Attributes:
        model: The network (backbone and projector), adapter already active.
        preprocessor: Tokeniser and image processor.
        device: Where the model lives.
        token_budget: Most ``batch_size * padded_length`` tokens per pass.
        max_batch_size: Optional cap on inputs per pass.
        download_timeout: Seconds an image URL's whole download may take.
        varlen: Pack text batches without padding (flash-attention 2 only).
    """

    model: JinaEmbeddingsV4
    preprocessor: Preprocessor
    device: torch.device
    token_budget: int
    max_batch_size: int | None = None
    download_timeout: float = 30.0
    varlen: bool = False


@dataclass
class _Pending:
    """One finished batch whose outputs are still on the device."""

    indices: list[int]  # into the group
    single: torch.Tensor | None  # (n, d)
    tokens: torch.Tensor | None  # (sum of lengths, 128)
    lengths: list[int]


def run_batches(
    context: ForwardContext,
    items: list[str | Image],
    task: TaskSpec,
    *,
    dense: bool,
    multi: bool,
) -> tuple[list[np.ndarray], list[np.ndarray], Usage]:
    """Encode ``items`` with the active adapter; outputs in input order.

    Each item is routed by its own kind: texts get ``task.prefix``, images the image
    template. Texts and images run in separate batches (texts need no pixels).

    Returns:
        ``(single vectors, multi-vectors, usage)``; an output not requested is empty.
    """
    size = len(items)
    pooled: list[np.ndarray | None] = [None] * size
    tokens: list[np.ndarray | None] = [None] * size
    usage = Usage()
    text_positions = [i for i, item in enumerate(items) if isinstance(item, str)]
    image_positions = [i for i, item in enumerate(items) if not isinstance(item, str)]
    with torch.inference_mode():
        if text_positions:
            texts = [item for item in items if isinstance(item, str)]
            encoded = context.preprocessor.texts(texts, task.prefix)
            _run_group(context, text_positions, encoded, pooled, tokens, usage, dense, multi)
        for chunk, encoded in _prepared_images(context, items, image_positions):
            _run_group(context, chunk, encoded, pooled, tokens, usage, dense, multi)
    return (
        [vector for vector in pooled if vector is not None],
        [matrix for matrix in tokens if matrix is not None],
        usage,
    )


def _prepared_images(
    context: ForwardContext, items: list[str | Image], positions: list[int]
) -> Iterator[tuple[list[int], list[EncodedInput]]]:
    """Chunks of preprocessed images; the next chunk is prepared while the caller runs one."""
    if not positions:
        return
    chunks = [
        positions[start : start + IMAGE_CHUNK] for start in range(0, len(positions), IMAGE_CHUNK)
    ]
    prepare: Callable[[Any], EncodedInput] = lambda image: context.preprocessor.image(  # noqa: E731
        image, context.download_timeout
    )
    with ThreadPoolExecutor(IMAGE_WORKERS, thread_name_prefix="univec-image") as pool:
        pending: list[Future[EncodedInput]] = [pool.submit(prepare, items[i]) for i in chunks[0]]
        try:
            for number, chunk in enumerate(chunks):
                encoded = [future.result() for future in pending]
                pending = []
                if number + 1 < len(chunks):
                    pending = [pool.submit(prepare, items[i]) for i in chunks[number + 1]]
                yield chunk, encoded
        finally:
            for future in pending:
                future.cancel()


def _run_group(
    context: ForwardContext,
    positions: list[int],
    encoded: list[EncodedInput],
    pooled: list[np.ndarray | None],
    tokens: list[np.ndarray | None],
    usage: Usage,
    dense: bool,
    multi: bool,
) -> None:
    lengths = [len(item.input_ids) for item in encoded]
    finished: list[_Pending] = []
    packed = context.varlen and not any(item.is_image for item in encoded)
    plan = plan_batches(lengths, context.token_budget, context.max_batch_size, padded=not packed)
    for batch in plan:
        inputs = [encoded[i] for i in batch]
        single, per_token = _forward(context, inputs, dense, multi)
        finished.append(_Pending(batch, single, per_token, [lengths[i] for i in batch]))
        for item in inputs:
            usage.total_tokens += len(item.input_ids)
            usage.prompt_tokens += len(item.input_ids) - item.image_tokens
            usage.image_tokens += item.image_tokens
    # One copy back per group, after every batch was queued (no wait inside the loop).
    for done in finished:
        if done.single is not None:
            for row, vector in zip(done.indices, _to_numpy(done.single), strict=True):
                pooled[positions[row]] = vector
        if done.tokens is not None:
            matrices = np.split(_to_numpy(done.tokens), np.cumsum(done.lengths)[:-1])
            for row, matrix in zip(done.indices, matrices, strict=True):
                tokens[positions[row]] = matrix


def _to_numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.cpu().numpy()


def _host_tensor(values: Any, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A tensor built on the host and sent to ``device`` (pinned and non-blocking on CUDA)."""
    tensor = values if isinstance(values, torch.Tensor) else torch.tensor(values, dtype=dtype)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _forward(
    context: ForwardContext, inputs: list[EncodedInput], dense: bool, multi: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """One forward pass; returns device tensors ``(pooled (n, d), token vectors)``."""
    images = [item for item in inputs if item.is_image]
    if context.varlen and not images:
        return _forward_varlen(
            context, pack_varlen([item.input_ids for item in inputs]), dense, multi
        )
    device, preprocessor = context.device, context.preprocessor
    lengths = [len(item.input_ids) for item in inputs]
    width = max(lengths)
    ids = torch.full((len(inputs), width), preprocessor.pad_id, dtype=torch.long)
    mask = torch.zeros((len(inputs), width), dtype=torch.long)
    for row, item in enumerate(inputs):  # right padding
        ids[row, : lengths[row]] = torch.tensor(item.input_ids)
        mask[row, : lengths[row]] = 1
    input_ids, attention_mask = (
        _host_tensor(ids, torch.long, device),
        _host_tensor(mask, torch.long, device),
    )
    kwargs = {}
    if images:
        pixels = [item.pixel_values for item in images if item.pixel_values is not None]
        grids = [item.image_grid_thw for item in images if item.image_grid_thw is not None]
        kwargs = {
            "pixel_values": _host_tensor(torch.cat(pixels), torch.float32, device),
            "image_grid_thw": _host_tensor(torch.cat(grids), torch.long, device),
            # Without these transformers 5 silently uses 1-D positions for image tokens.
            "mm_token_type_ids": (input_ids == preprocessor.image_token_id).int(),
        }
    if len(inputs) == 1 and not images:  # one unpadded text: long ones run chunk by chunk
        hidden = context.model.text_hidden_states(input_ids)
    else:
        hidden = context.model.hidden_states(input_ids, attention_mask, **kwargs)
    single = None
    if dense:
        weights = attention_mask.to(torch.float32)
        if images:
            span = _vision_span(input_ids, preprocessor.vision_start_id, preprocessor.vision_end_id)
            weights = weights * span
        weights = weights.unsqueeze(-1)
        summed = (hidden.to(torch.float32) * weights).sum(dim=1)
        single = torch.nn.functional.normalize(summed / weights.sum(dim=1).clamp(min=1.0), dim=-1)
    per_token = None
    if multi:
        # Real token rows of the flattened batch, computed on the host from the lengths.
        rows = [
            row * width + column for row, length in enumerate(lengths) for column in range(length)
        ]
        index = _host_tensor(rows, torch.long, device)
        flat = hidden.reshape(-1, hidden.shape[-1]).index_select(0, index)
        per_token = _project(context, flat)
    return single, per_token


def _forward_varlen(
    context: ForwardContext, packed: VarlenBatch, dense: bool, multi: bool
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Texts packed into one row without padding (flash-attention 2's variable-length path)."""
    device = context.device
    input_ids = _host_tensor(packed.input_ids, torch.long, device).unsqueeze(0)
    position_ids = _host_tensor(packed.position_ids, torch.long, device)
    # M-RoPE: text positions are the same on the three axes.
    position_ids = position_ids.view(1, 1, -1).expand(3, 1, -1)
    hidden = context.model.packed_hidden_states(input_ids, position_ids)[0]
    single = None
    if dense:
        segment = _host_tensor(packed.segment_ids, torch.long, device)
        summed = torch.zeros(
            (len(packed.lengths), hidden.shape[-1]), dtype=torch.float32, device=device
        )
        summed.index_add_(0, segment, hidden.to(torch.float32))
        counts = _host_tensor(packed.lengths, torch.float32, device).unsqueeze(-1)
        single = torch.nn.functional.normalize(summed / counts, dim=-1)
    per_token = _project(context, hidden) if multi else None
    return single, per_token


def _project(context: ForwardContext, hidden: torch.Tensor) -> torch.Tensor:
    projector = context.model.multi_vector_projector
    assert projector is not None  # checked by the backend before the pass
    return torch.nn.functional.normalize(projector(hidden).to(torch.float32), dim=-1)


def _vision_span(input_ids: torch.Tensor, start_id: int, end_id: int) -> torch.Tensor:
    """Mask of ``<|vision_start|>`` .. ``<|vision_end|>`` inclusive in each row."""
    started = (input_ids == start_id).cumsum(dim=1) > 0
    is_end = input_ids == end_id
    ended_before = (is_end.cumsum(dim=1) - is_end.long()) > 0
    return started & ~ended_before
