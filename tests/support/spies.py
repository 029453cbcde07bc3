"""Spies on an encoder's calls, for tests of batching."""

from __future__ import annotations

import pytest

import univec


def count_encode_calls(encoder: univec.Encoder, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record each encoding call's input count (``encode``, ``embed`` and their async forms)."""
    sizes: list[int] = []
    embed, aembed = encoder._embed, encoder._aembed

    def counting_embed(inputs, *args, **kwargs):
        sizes.append(len(inputs))
        return embed(inputs, *args, **kwargs)

    async def counting_aembed(inputs, *args, **kwargs):
        sizes.append(len(inputs))
        return await aembed(inputs, *args, **kwargs)

    monkeypatch.setattr(encoder, "_embed", counting_embed)
    monkeypatch.setattr(encoder, "_aembed", counting_aembed)
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
