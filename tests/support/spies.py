"""Spies on an encoder's calls, for tests of batching."""

from __future__ import annotations

import pytest

import univec


def count_encode_calls(encoder: univec.Encoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch ``encoder.encode``/``aencode`` to record each call's input count; return the record."""
    sizes: list[int] = []
    encode, aencode = encoder.encode, encoder.aencode

    def counting_encode(inputs, *args, **kwargs):
        sizes.append(len(inputs))
        return encode(inputs, *args, **kwargs)

    async def counting_aencode(inputs, *args, **kwargs):
        sizes.append(len(inputs))
        return await aencode(inputs, *args, **kwargs)

    monkeypatch.setattr(encoder, "encode", counting_encode)
    monkeypatch.setattr(encoder, "aencode", counting_aencode)
    return sizes


def count_forward_rows(encoder: univec.Encoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Patch the local model's forward (``hidden_states``) to record each pass's row count.

    Every row is one input run through the model, so ``sum(record)`` counts model passes per
    input.
    """
    rows: list[int] = []
    model = encoder.backend.model  # type: ignore[attr-defined]
    forward = model.hidden_states

    def counting_forward(input_ids, *args, **kwargs):
        rows.append(int(input_ids.shape[0]))
        return forward(input_ids, *args, **kwargs)

    monkeypatch.setattr(model, "hidden_states", counting_forward)
    return rows
