"""The forward passes: batch, run the backbone, pool and project, restore input order."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from univec.backends.base import Usage
from univec.backends.local.packing import plan_batches
from univec.backends.local.preprocessing import EncodedInput
from univec.errors import ConfigurationError
from univec.inputs import Image
from univec.tasks import TaskSpec

if TYPE_CHECKING:
    from univec.backends.local.backend import LocalBackend

__all__ = ["run_batches"]

#: Images decoded and preprocessed at a time (bounds the memory of big image lists).
IMAGE_CHUNK = 64


def run_batches(
    backend: LocalBackend, items: list[str | Image], task: TaskSpec, *, dense: bool, multi: bool
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
    groups: list[tuple[list[int], list[EncodedInput]]] = []
    if text_positions:
        texts = [item for item in items if isinstance(item, str)]
        groups.append((text_positions, backend.preprocessor.texts(texts, task.prefix)))
    with torch.inference_mode():
        for positions, encoded in groups:
            _run_group(backend, positions, encoded, pooled, tokens, usage, dense, multi)
        for start in range(0, len(image_positions), IMAGE_CHUNK):
            chunk = image_positions[start : start + IMAGE_CHUNK]
            encoded = [
                backend.preprocessor.image(image, backend.download_timeout)
                for image in (items[i] for i in chunk)
                if isinstance(image, Image)
            ]
            _run_group(backend, chunk, encoded, pooled, tokens, usage, dense, multi)
    return (
        [vector for vector in pooled if vector is not None],
        [matrix for matrix in tokens if matrix is not None],
        usage,
    )


def _run_group(
    backend: LocalBackend,
    positions: list[int],
    encoded: list[EncodedInput],
    pooled: list[np.ndarray | None],
    tokens: list[np.ndarray | None],
    usage: Usage,
    dense: bool,
    multi: bool,
) -> None:
    lengths = [len(item.input_ids) for item in encoded]
    for batch in plan_batches(lengths, backend.token_budget, backend.max_batch_size):
        inputs = [encoded[i] for i in batch]
        single, per_token = _forward(backend, inputs, dense, multi)
        for row, index in enumerate(batch):
            if dense:
                pooled[positions[index]] = single[row]
            if multi:
                tokens[positions[index]] = per_token[row]
        for item in inputs:
            usage.total_tokens += len(item.input_ids)
            usage.prompt_tokens += len(item.input_ids) - item.image_tokens
            usage.image_tokens += item.image_tokens


def _forward(
    backend: LocalBackend, inputs: list[EncodedInput], dense: bool, multi: bool
) -> tuple[np.ndarray, list[np.ndarray]]:
    """One padded forward pass; returns ``(pooled (n, d), token vectors per input)``."""
    device, preprocessor = backend.device, backend.preprocessor
    width = max(len(item.input_ids) for item in inputs)
    input_ids = torch.full((len(inputs), width), preprocessor.pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(inputs), width), dtype=torch.long)
    for row, item in enumerate(inputs):  # right padding
        input_ids[row, : len(item.input_ids)] = torch.tensor(item.input_ids)
        attention_mask[row, : len(item.input_ids)] = 1
    input_ids, attention_mask = input_ids.to(device), attention_mask.to(device)
    images = [item for item in inputs if item.is_image]
    kwargs = {}
    if images:
        kwargs = {
            "pixel_values": torch.cat(
                [item.pixel_values for item in images if item.pixel_values is not None]
            ).to(device),
            "image_grid_thw": torch.cat(
                [item.image_grid_thw for item in images if item.image_grid_thw is not None]
            ).to(device),
            # Without these transformers 5 silently uses 1-D positions for image tokens.
            "mm_token_type_ids": (input_ids == preprocessor.image_token_id).int(),
        }
    hidden = backend.model.hidden_states(input_ids, attention_mask, **kwargs)
    single = np.zeros((0,), np.float32)
    if dense:
        mask = attention_mask.bool()
        if images:
            mask = mask & _vision_span(
                input_ids, preprocessor.vision_start_id, preprocessor.vision_end_id
            )
        weights = mask.unsqueeze(-1).to(torch.float32)
        summed = (hidden.to(torch.float32) * weights).sum(dim=1)
        vectors = summed / weights.sum(dim=1).clamp(min=1.0)
        single = torch.nn.functional.normalize(vectors, dim=-1).cpu().numpy()
    per_token: list[np.ndarray] = []
    if multi:
        real = attention_mask.bool()
        projector = backend.model.multi_vector_projector
        if projector is None:  # embed() refuses multi for such checkpoints before getting here
            raise ConfigurationError("This checkpoint has no multi-vector projector.")
        projected = projector(hidden[real])
        projected = torch.nn.functional.normalize(projected.to(torch.float32), dim=-1).cpu().numpy()
        counts = attention_mask.sum(dim=1).tolist()
        per_token = np.split(projected, np.cumsum(counts)[:-1])
    return single, per_token


def _vision_span(input_ids: torch.Tensor, start_id: int, end_id: int) -> torch.Tensor:
    """Mask of ``<|vision_start|>`` .. ``<|vision_end|>`` inclusive in each row."""
    started = (input_ids == start_id).cumsum(dim=1) > 0
    is_end = input_ids == end_id
    ended_before = (is_end.cumsum(dim=1) - is_end.long()) > 0
    return started & ~ended_before
