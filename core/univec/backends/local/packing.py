"""Pack inputs into padded batches by a token budget instead of a fixed batch size."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["plan_batches"]


def plan_batches(
    lengths: Sequence[int], token_budget: int, max_batch_size: int | None = None
) -> list[list[int]]:
    """Group input indices into batches whose padded size stays within ``token_budget``.

    Inputs are sorted longest first, so each batch pads to its first input's length and
    little compute is spent on padding; an out-of-memory error, if any, comes on the first
    batch. An input longer than the budget gets a batch of its own.

    Args:
        lengths: Token count of each input.
        token_budget: Most ``batch_size * padded_length`` tokens per batch.
        max_batch_size: Optional cap on inputs per batch.

    Returns:
        Lists of indices into ``lengths``; every index appears exactly once.

    Example:
        >>> plan_batches([3, 10, 4, 9], token_budget=20)
        [[1, 3], [2, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda index: (-lengths[index], index))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        padded = lengths[current[0]] if current else lengths[index]
        full = max_batch_size is not None and len(current) >= max_batch_size
        if current and (full or (len(current) + 1) * padded > token_budget):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches
