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
