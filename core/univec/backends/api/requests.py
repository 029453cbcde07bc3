"""Splitting a call into requests, by input count and estimated tokens."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from univec.inputs import Image

__all__ = ["Batch", "estimate_tokens", "plan_batches"]

#: Rough characters per token of the model's BPE tokenizer; rounding down over-estimates,
#: which keeps the client's rate limiter on the safe side.
CHARS_PER_TOKEN = 3
#: The API bills 10 tokens per 28x28 pixel tile of an image.
IMAGE_TILE_PIXELS = 28
TOKENS_PER_TILE = 10
#: Estimate for an image whose size is unknown without downloading it (a 600x600 image).
DEFAULT_IMAGE_TOKENS = 4840


@dataclass(frozen=True)
class Batch:
    """A run of consecutive inputs sent in one request.

    Attributes:
        items: The inputs.
        tokens: Their estimated token count.
    """

    items: Sequence[str | Image]
    tokens: int


def estimate_tokens(item: str | Image, max_length: int) -> int:
    """Estimate what the API will count for one input (used for batching and rate limits).

    Text: ``len(text) / 3`` plus the task prefix, capped at ``max_length`` (the API truncates).
    Images: 10 tokens per 28x28 tile of the image as stored; URL images, whose size is unknown
    without a download, count as a 600x600 image.
    """
    if isinstance(item, str):
        return min(max_length, len(item) // CHARS_PER_TOKEN + 4)
    size = _image_size(item)
    if size is None:
        return DEFAULT_IMAGE_TOKENS
    width, height = size
    tiles = math.ceil(width / IMAGE_TILE_PIXELS) * math.ceil(height / IMAGE_TILE_PIXELS)
    return max(TOKENS_PER_TILE, tiles * TOKENS_PER_TILE)


def plan_batches(
    items: Sequence[str | Image], tokens: Sequence[int], *, max_items: int, max_tokens: int
) -> list[Batch]:
    """Cut ``items`` into consecutive batches of at most ``max_items`` and ``max_tokens``.

    An input larger than ``max_tokens`` alone still forms a batch of one (the server truncates
    it). Batches keep input order, so results are reassembled by concatenation.
    """
    batches: list[Batch] = []
    start, budget = 0, 0
    for position, cost in enumerate(tokens):
        count = position - start
        if count and (count >= max_items or budget + cost > max_tokens):
            batches.append(Batch(items[start:position], budget))
            start, budget = position, 0
        budget += cost
    if start < len(items):
        batches.append(Batch(items[start:], budget))
    return batches


def _image_size(image: Image) -> tuple[int, int] | None:
    """Width and height from the image header, without decoding pixels; ``None`` if unknown."""
    if image.kind == "url":
        return None
    if image.kind == "pil":
        return image.size  # known without rendering or decoding
    try:
        import PIL.Image

        source = (
            image.path
            if image.kind == "path" and image.path is not None
            else io.BytesIO(image.read_bytes())
        )
        with PIL.Image.open(source) as opened:  # reads the header only
            return opened.size
    except Exception:  # PIL raises many types for unreadable data; the server will say why
        return None
