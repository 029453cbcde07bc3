"""Image resolution: ``max_pixels``/``min_pixels`` on the local encoder and in EncoderConfig.

The expected token counts come from the Qwen2-VL image processor's own resize rule
(``smart_resize``: 28x28 pixels per image token after merging), computed here.
"""

from __future__ import annotations

import numpy as np
import PIL.Image
import PIL.ImageDraw
import pytest

import univec
from univec.backends.base import Embeddings, ModelInfo, Usage
from univec.config import EncoderConfig

pytest.importorskip("qdrant_edge")
from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import smart_resize

from univec_qdrant import QdrantCollection

DEFAULT_MAX_PIXELS = 602112


def page(width: int, height: int) -> PIL.Image.Image:
    image = PIL.Image.new("RGB", (width, height), "white")
    draw = PIL.ImageDraw.Draw(image)
    for y in range(10, height, 36):
        draw.text(
            (12, y), f"line {y} of a scanned report, with numbers 3.14 and 2.72", fill="black"
        )
    return image


def expected_tokens(
    image: PIL.Image.Image | tuple[int, int], min_pixels: int, max_pixels: int
) -> int:
    width, height = image if isinstance(image, tuple) else image.size
    height, width = smart_resize(
        height, width, factor=28, min_pixels=min_pixels, max_pixels=max_pixels
    )
    return (height // 28) * (width // 28)


@pytest.fixture(scope="module")
def encoders(tiny_model_path):
    made = {
        max_pixels: EncoderConfig(
            model=str(tiny_model_path), device="cpu", dtype="float32", max_pixels=max_pixels
        ).build()
        for max_pixels in (None, 150_000, 1_000_000)
    }
    yield made
    for encoder in made.values():
        encoder.close()


def test_max_pixels_sets_the_image_token_count(encoders):
    image = page(800, 1000)
    counts = {}
    for max_pixels, encoder in encoders.items():
        before = encoder.usage.image_tokens
        tokens = encoder.encode([univec.Image(image)], "retrieval.passage", multivector=True)[0]
        counts[max_pixels] = encoder.usage.image_tokens - before
        expected = expected_tokens(image, 3136, max_pixels or DEFAULT_MAX_PIXELS)
        assert counts[max_pixels] == expected
        assert len(tokens) == expected + 19  # the image template's text tokens
    assert counts[150_000] < counts[None] <= 768 < counts[1_000_000]


def test_min_pixels_upscales_small_images(tiny_model_path):
    image = page(60, 60)
    with univec.Encoder.local(
        str(tiny_model_path), device="cpu", dtype="float32", min_pixels=100_000
    ) as encoder:
        encoder.encode([univec.Image(image)], "retrieval.passage")
        assert encoder.usage.image_tokens == expected_tokens(image, 100_000, DEFAULT_MAX_PIXELS)
        assert encoder.usage.image_tokens > expected_tokens(image, 3136, DEFAULT_MAX_PIXELS)


def test_high_resolution_page_round_trips_a_collection_exactly(encoders, tmp_path):
    encoder = encoders[1_000_000]
    image = univec.Image(page(800, 1000))
    page_tokens = encoder.encode([image], "retrieval.passage", multivector=True)[0]
    assert len(page_tokens) > 768 + 19  # more than the checkpoint's default allows
    texts = ["a short note", "the weather is fine"]
    with QdrantCollection("pages", encoder, path=tmp_path, progress=False) as collection:
        collection.max_part_tokens = 500  # the page is stored in several points
        ids = collection.add([image, *texts], ids=["page", "note", "weather"])
        assert len(collection) == 3
        query = "numbers of the scanned report"
        query_tokens = encoder.encode([query], "retrieval.query", multivector=True)[0]
        hits = {hit.id: hit.score for hit in collection.search(query, k=3, mode="multi")}
    assert set(hits) == set(ids)
    assert hits["page"] == pytest.approx(univec.maxsim(query_tokens, page_tokens), abs=1e-4)


class PageTokensBackend:
    """The real image processor's token count for a page, with deterministic token vectors.

    A 37.8-megapixel page is about 48,000 image tokens; running even the tiny model over it
    takes ~20 minutes on a CPU, so the forward pass is the one part replaced here.
    """

    def __init__(self, tokens_per_image: int) -> None:
        self.info = ModelInfo(name="pages", dim=64, matryoshka_dims=(64,), multivector_dim=128)
        self.tokens_per_image = tokens_per_image

    def _vectors(self, item: object) -> tuple[np.ndarray, np.ndarray]:
        seed = 7 if isinstance(item, univec.Image) else len(str(item))
        count = self.tokens_per_image if isinstance(item, univec.Image) else 6
        rng = np.random.default_rng(seed)
        tokens = rng.standard_normal((count, 128)).astype(np.float32)
        tokens /= np.linalg.norm(tokens, axis=1, keepdims=True)
        dense = rng.standard_normal(64).astype(np.float32)
        return dense / np.linalg.norm(dense), tokens

    def embed(self, items, task, *, dense, multi, dimensions, late_chunking=False):
        pairs = [self._vectors(item) for item in items]
        return Embeddings(
            np.stack([d for d, _ in pairs]) if dense else None,
            [t for _, t in pairs] if multi else None,
            Usage(),
        )

    async def aembed(self, items, task, **kwargs):
        return self.embed(items, task, **kwargs)

    def close(self) -> None:
        pass


def test_a_37_8_megapixel_page_is_stored_and_scored_exactly(tmp_path):
    width, height = 5376, 7056  # A4-like, 37.9 MP
    tokens = expected_tokens((width, height), 3136, 37_788_800)
    assert tokens > 47_000
    encoder = univec.Encoder(PageTokensBackend(tokens))
    image = univec.Image(PIL.Image.new("RGB", (8, 8)))
    with QdrantCollection("big", encoder, path=tmp_path, progress=False) as collection:
        collection.add([image, "a note"], ids=["page", "note"])
        query = encoder.encode(["query text"], "retrieval.query", multivector=True)[0]
        stored = encoder.encode([image], "retrieval.passage", multivector=True)[0]
        assert len(stored) == tokens
        hits = {hit.id: hit.score for hit in collection.search("query text", k=2, mode="multi")}
    assert hits["page"] == pytest.approx(univec.maxsim(query, stored), abs=1e-4)
