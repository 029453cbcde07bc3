"""Turn texts and images into model inputs exactly as jina-embeddings-v4 expects them.

Text: ``prefix + text`` tokenised as a plain string (no chat template, no special tokens),
truncated to ``max_length``. Image: the fixed template
``<|im_start|>user\\n<|vision_start|><|image_pad|><|vision_end|>Describe the image.<|im_end|>\\n``
with the image pad expanded to the image's token count (Qwen2-VL image processor).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from univec.backends.local.checkpoint import Checkpoint
from univec.errors import CheckpointError, ImageLoadError
from univec.inputs import DEFAULT_DOWNLOAD_TIMEOUT, Image

__all__ = ["IMAGE_TEMPLATE", "EncodedInput", "Preprocessor"]

IMAGE_TEMPLATE = (
    "<|im_start|>user\n<|vision_start|><|image_pad|><|vision_end|>Describe the image.<|im_end|>\n"
)


#: First character window a text is cut to before tokenising, per token of ``max_length``
#: (widened 4x at a time while the cut could change the kept tokens).
TEXT_WINDOW_CHARS_PER_TOKEN = 8


@dataclass
class EncodedInput:
    """One input as token ids (and, for images, its preprocessed pixels).

    Attributes:
        input_ids: Token ids, image pad already expanded.
        pixel_values: ``(patches, C*T*P*P)`` for images, else ``None``.
        image_grid_thw: ``(1, 3)`` patch grid for images, else ``None``.
        image_tokens: Number of image placeholder tokens (0 for text).
    """

    input_ids: list[int]
    pixel_values: torch.Tensor | None = None
    image_grid_thw: torch.Tensor | None = None
    image_tokens: int = 0

    @property
    def is_image(self) -> bool:
        """Whether this input is an image."""
        return self.pixel_values is not None


class Preprocessor:
    """Tokeniser and image processor of a checkpoint.

    Args:
        checkpoint: The checkpoint (``tokenizer.json``, ``preprocessor_config.json``).
        max_length: Most tokens a text is encoded with.
        image_options: Overrides of the image processor config (``min_pixels``,
            ``max_pixels``).
    """

    def __init__(
        self, checkpoint: Checkpoint, max_length: int, image_options: dict[str, Any] | None = None
    ) -> None:
        from tokenizers import Tokenizer

        tokenizer_file = checkpoint.path / "tokenizer.json"
        if not tokenizer_file.is_file():
            raise CheckpointError(f"{str(checkpoint.path)!r} has no tokenizer.json.")
        self.tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._pre_tokenizer = self.tokenizer.pre_tokenizer
        self.max_length = max_length
        self.image_token_id = checkpoint.token_id("image_token_id")
        self.vision_start_id = checkpoint.token_id("vision_start_token_id")
        self.vision_end_id = checkpoint.token_id("vision_end_token_id")
        self.pad_id = self._pad_id(checkpoint)
        template = self.tokenizer.encode(IMAGE_TEMPLATE, add_special_tokens=False).ids
        if template.count(self.image_token_id) != 1:
            raise CheckpointError(
                f"The tokenizer of {str(checkpoint.path)!r} does not treat <|image_pad|> as the "
                f"image token {self.image_token_id}."
            )
        split = template.index(self.image_token_id)
        self._template_head, self._template_tail = template[:split], template[split + 1 :]
        image_config = checkpoint.image_processor_config()
        image_config.update(image_options or {})
        if "max_pixels" in (image_options or {}) or "min_pixels" in (image_options or {}):
            image_config["size"] = {
                "shortest_edge": image_config["min_pixels"],
                "longest_edge": image_config["max_pixels"],
            }
        self._image_config = image_config
        self._image_processor: Any = None

    @staticmethod
    def _pad_id(checkpoint: Checkpoint) -> int:
        # Padding is masked out, so any id works; prefer the tokenizer's own pad token.
        for key in ("pad_token_id", "eos_token_id", "bos_token_id"):
            value = checkpoint.text_config.get(key, checkpoint.config.get(key))
            if isinstance(value, int):
                return value
        return 0

    @property
    def image_processor(self) -> Any:
        """The Qwen2-VL image processor (PIL backend: no torchvision needed)."""
        if self._image_processor is None:
            from transformers.models.qwen2_vl.image_processing_pil_qwen2_vl import (
                Qwen2VLImageProcessorPil,
            )

            self._image_processor = Qwen2VLImageProcessorPil(**self._image_config)
        return self._image_processor

    def texts(self, texts: list[str], prefix: str) -> list[EncodedInput]:
        """Tokenise ``prefix + text`` for each text, truncated to ``max_length`` tokens.

        A long text is cut by characters before it is tokenised (tokenising 5 MB to keep
        8,192 tokens cost seconds and gigabytes), and the cut is proven harmless: the kept
        tokens must end before the last pre-tokens of the cut text, the only ones a cut can
        change. Otherwise the window grows and the text is tokenised again, so the ids are
        exactly those of the whole text, truncated.
        """
        full = [prefix + text for text in texts]
        results: list[EncodedInput | None] = [None] * len(full)
        pending = list(range(len(full)))
        window = TEXT_WINDOW_CHARS_PER_TOKEN * self.max_length + len(prefix)
        while pending:
            cuts = [full[i][:window] for i in pending]
            encodings = self.tokenizer.encode_batch(cuts, add_special_tokens=False)
            retry = []
            for position, cut, encoding in zip(pending, cuts, encodings, strict=True):
                if len(cut) == len(full[position]) or self._cut_is_harmless(cut, encoding):
                    results[position] = EncodedInput(encoding.ids[: self.max_length])
                else:
                    retry.append(position)
            pending, window = retry, window * 4
        return [result for result in results if result is not None]

    def _cut_is_harmless(self, cut: str, encoding: Any) -> bool:
        """Whether the first ``max_length`` tokens of ``cut`` are those of the uncut text."""
        if len(encoding.ids) <= self.max_length:
            return False
        pieces = self._pre_tokenizer.pre_tokenize_str(cut) if self._pre_tokenizer else []
        if len(pieces) < 4:
            return False
        # A cut can change the last pre-token, and a whitespace run before it (the split
        # rule looks one character ahead); NFC can shift offsets by a few characters.
        safe_end = pieces[-3][1][0] - 8
        return bool(encoding.offsets[self.max_length - 1][1] <= safe_end)

    def image(self, image: Image, timeout: float = DEFAULT_DOWNLOAD_TIMEOUT) -> EncodedInput:
        """The template ids and pixels of one image (downloaded within ``timeout`` s if a URL).

        Raises:
            ImageLoadError: The image cannot be read, downloaded or decoded.
        """
        pil = image.to_pil(timeout=timeout)
        try:
            features = self.image_processor(images=[pil], return_tensors="pt")
        except ValueError as exc:  # e.g. an aspect ratio over 200
            raise ImageLoadError(
                f"Cannot preprocess {image!r} ({pil.width}x{pil.height}): {exc}. "
                "Crop or pad the image to a less extreme shape."
            ) from exc
        grid = features["image_grid_thw"]
        merge = int(self._image_config.get("merge_size", 2))
        count = int(grid.prod().item()) // (merge * merge)
        ids = [*self._template_head, *([self.image_token_id] * count), *self._template_tail]
        return EncodedInput(ids, features["pixel_values"], grid, count)
