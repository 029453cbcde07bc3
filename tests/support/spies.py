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
