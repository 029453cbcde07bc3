"""Input hardening (issue 12): download deadlines, pixel bounds, long texts."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest

import univec
from tests.support.trickle_server import TrickleServer
from univec.errors import ImageLoadError
from univec.inputs import download


def _png(width: int = 32, height: int = 24) -> bytes:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), (10, 200, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_download_deadline_covers_trickled_headers():
    """Item 12: a server trickling headers kept a timeout=2 download going 30 s."""
    with TrickleServer(_png(), max_bytes=400, interval=0.05) as server:  # ~20 s of headers
        with pytest.raises(ImageLoadError, match=r"took longer than 0\.5 s"):
            download(server.url, timeout=0.5)
        server.release()
        assert download(server.url, timeout=30) == _png()  # the server itself works


def test_a_slow_download_does_not_hold_up_other_encodes(tiny_encoder):
    """Item 12: downloads happen outside the local backend's model lock."""
    with TrickleServer(_png(), max_bytes=500, interval=0.05) as server:  # <= 25 s, under 30 s
        results: dict[str, object] = {}

        def encode_url() -> None:
            results["image"] = tiny_encoder.encode([univec.Image(server.url)], "retrieval.query")

        def encode_text() -> None:
            results["text"] = tiny_encoder.encode(["unrelated"], "retrieval.query")

        downloading = threading.Thread(target=encode_url)
        downloading.start()
        assert server.connected.wait(30)
        other = threading.Thread(target=encode_text)
        other.start()
        other.join(timeout=60)  # a bound, not a timing: it ends as soon as the encode does
        finished_first = not other.is_alive()
        still_downloading = downloading.is_alive()
        server.release()
        downloading.join(timeout=60)
        other.join(timeout=60)
    assert finished_first and still_downloading
    assert np.asarray(results["text"]).shape[0] == 1
    assert np.asarray(results["image"]).shape[0] == 1
