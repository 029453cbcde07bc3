"""Pack inputs into padded batches by a token budget instead of a fixed batch size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["VarlenBatch", "pack_varlen", "plan_batches"]


def plan_batches(
    lengths: Sequence[int],
    token_budget: int,
    max_batch_size: int | None = None,
    *,
    padded: bool = True,
) -> list[list[int]]:
    """Group input indices into batches whose padded size stays within ``token_budget``.

    Inputs are sorted longest first, so each batch pads to its first input's length and
    little compute is spent on padding; an out-of-memory error, if any, comes on the first
    batch. An input longer than the budget gets a batch of its own.

    Args:
        lengths: Token count of each input.
        token_budget: Most ``batch_size * padded_length`` tokens per batch.
        max_batch_size: Optional cap on inputs per batch.
        padded: Count ``batch_size * longest`` tokens (padded batches); ``False`` counts
            the sum of lengths (packed batches, no padding).

    Returns:
        Lists of indices into ``lengths``; every index appears exactly once.

    Example:
        >>> plan_batches([3, 10, 4, 9], token_budget=20)
        [[1, 3], [2, 0]]
    """
    order = sorted(range(len(lengths)), key=lambda index: (-lengths[index], index))
    batches: list[list[int]] = []
    current: list[int] = []
    packed = 0  # tokens in ``current`` (packed batches)
    for index in order:
        full = max_batch_size is not None and len(current) >= max_batch_size
        if padded:
            width = lengths[current[0]] if current else lengths[index]
            over = (len(current) + 1) * width > token_budget
        else:
            over = packed + lengths[index] > token_budget
        if current and (full or over):
            batches.append(current)
            current, packed = [], 0
        current.append(index)
        packed += lengths[index]
    if current:
        batches.append(current)
    return batches


@dataclass(frozen=True)
class VarlenBatch:
    """Sequences laid end to end in one row, with no padding (variable-length attention).

    Attributes:
        input_ids: All token ids, sequence after sequence.
        position_ids: Each token's position within its own sequence (restarts at 0).
        segment_ids: Each token's sequence number (0 .. n-1).
        cu_seqlens: Cumulative lengths ``[0, l0, l0 + l1, ...]`` (flash-attention's layout).
        lengths: Each sequence's length.
    """

    input_ids: list[int]
    position_ids: list[int]
    segment_ids: list[int]
    cu_seqlens: list[int]
    lengths: list[int]


def pack_varlen(sequences: Sequence[Sequence[int]]) -> VarlenBatch:
    """Lay ``sequences`` end to end for a variable-length (packed) forward pass.

    Attention must then be block-diagonal: each token sees only its own sequence, which
    the positions restarting at 0 tell transformers (flash-attention 2's varlen kernel, or
    a block-diagonal mask).

    Example:
        >>> batch = pack_varlen([[5, 6, 7], [8, 9]])
        >>> batch.position_ids, batch.cu_seqlens
        ([0, 1, 2, 0, 1], [0, 3, 5])
    """
    if not sequences or any(len(sequence) == 0 for sequence in sequences):
        raise ValueError("pack_varlen needs at least one sequence and no empty sequence.")
    input_ids: list[int] = []
    position_ids: list[int] = []
    segment_ids: list[int] = []
    cu_seqlens = [0]
    for number, sequence in enumerate(sequences):
        input_ids.extend(sequence)
        position_ids.extend(range(len(sequence)))
        segment_ids.extend([number] * len(sequence))
        cu_seqlens.append(cu_seqlens[-1] + len(sequence))
    return VarlenBatch(
        input_ids, position_ids, segment_ids, cu_seqlens, [len(s) for s in sequences]
    )
