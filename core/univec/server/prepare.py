"""Turning a validated request into encoder inputs: images fetched and decoded, tokens counted.

Everything that can fail because of one request's content (a bad image, a refused URL, a text
over the length limit) fails here, before the request joins a shared batch, so one bad input
never fails the other requests it would have been batched with.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from univec.backends.base import Backend, Usage
from univec.errors import ImageLoadError
from univec.inputs import Image, download
from univec.server.protocol import EmbeddingQuery, ImageSource, RequestRejected
from univec.tasks import TaskSpec

__all__ = ["PreparedInputs", "TokenCounter", "prepare_inputs"]

#: Tokens the hosted API bills per 28x28 pixel tile of an image (its ``usage`` convention).
_TILE = 28
_TOKENS_PER_TILE = 10
#: The model sees an image as at most this many pixels (the checkpoint's ``max_pixels``).
_DEFAULT_MAX_PIXELS = 602112
_IMAGE_TEMPLATE_TOKENS = 20


@dataclass
class PreparedInputs:
    """A request's inputs ready for the batcher.

    Attributes:
        items: Texts and decoded images (:class:`univec.Image` holding a PIL image).
        tokens: Estimated tokens of each item in a forward pass (for packing batches).
        usage: What the response reports: text tokens counted by the model's tokenizer, image
            tokens as the hosted API bills them (10 per 28x28 tile).
    """

    items: list[str | Image]
    tokens: list[int]
    usage: Usage


class TokenCounter:
    """Counts the tokens of texts with the served model's own tokenizer when it has one."""

    def __init__(self, backend: Backend, max_length: int) -> None:
        preprocessor = getattr(backend, "preprocessor", None)
        self._tokenizer: Any = getattr(preprocessor, "tokenizer", None)
        self.max_length = max_length
        config = getattr(preprocessor, "_image_config", None) or {}
        self._max_pixels = int(config.get("max_pixels", _DEFAULT_MAX_PIXELS))

    def texts(self, texts: list[str], task: TaskSpec) -> list[int]:
        """Untruncated token counts of ``task.prefix + text``."""
        if not texts:
            return []
        if self._tokenizer is None:  # a remote backend: the API client's estimate
            return [len(text) // 3 + 4 for text in texts]
        encodings = self._tokenizer.encode_batch(
            [task.prefix + text for text in texts], add_special_tokens=False
        )
        return [len(encoding.ids) for encoding in encodings]

    def image(self, width: int, height: int) -> tuple[int, int]:
        """``(tokens in a forward pass, tokens billed)`` of a ``width`` x ``height`` image."""
        seen = min(width * height, self._max_pixels) // (_TILE * _TILE)
        billed = math.ceil(width / _TILE) * math.ceil(height / _TILE) * _TOKENS_PER_TILE
        return max(1, seen) + _IMAGE_TEMPLATE_TOKENS, max(_TOKENS_PER_TILE, billed)


def prepare_inputs(
    query: EmbeddingQuery,
    counter: TokenCounter,
    *,
    fetch: Callable[[str], bytes],
) -> PreparedInputs:
    """Fetch and decode the images of ``query`` and count its tokens (blocking: run in a thread).

    Raises:
        RequestRejected: 400 for an image that cannot be fetched or decoded, or a URL the
            server refuses; 413 for a downloaded image over the size limit; 422 for a text
            over the model's maximum length when ``truncate`` is false.
    """
    text_positions = [i for i, item in enumerate(query.inputs) if isinstance(item, str)]
    texts = [item for item in query.inputs if isinstance(item, str)]
    counts = counter.texts(texts, query.task)
    items: list[str | Image] = list(texts)
    tokens = [min(count, counter.max_length) for count in counts]
    for position, count in zip(text_positions, counts, strict=True):
        if count > counter.max_length and not query.truncate:
            raise RequestRejected(
                422,
                f"input[{position}] has {count} tokens, over the limit of {counter.max_length}. "
                'Send "truncate": true to cut it, or split the text.',
            )
    usage = Usage(prompt_tokens=sum(tokens))
    ordered: list[str | Image | None] = [None] * len(query.inputs)
    ordered_tokens = [0] * len(query.inputs)
    for position, item, count in zip(text_positions, items, tokens, strict=True):
        ordered[position], ordered_tokens[position] = item, count
    for position, source in enumerate(query.inputs):
        if isinstance(source, ImageSource):
            image = _decode(source, position, fetch)
            width, height = image.to_pil().size
            seen, billed = counter.image(width, height)
            ordered[position], ordered_tokens[position] = image, seen
            usage.image_tokens += billed
    usage.total_tokens = usage.prompt_tokens + usage.image_tokens
    return PreparedInputs([item for item in ordered if item is not None], ordered_tokens, usage)


def _decode(source: ImageSource, position: int, fetch: Callable[[str], bytes]) -> Image:
    where = f"input[{position}].image"
    if source.url is not None:
        try:
            data = fetch(source.url)
        except RequestRejected as exc:
            raise RequestRejected(exc.status, f"{where}: {exc.detail}") from None
        except ImageLoadError as exc:
            status = 413 if "limit" in str(exc) and "byte" in str(exc) else 400
            raise RequestRejected(status, f"{where}: {exc}") from None
    else:
        data = source.data
    try:
        return Image(Image(data).to_pil())
    except ImageLoadError as exc:
        raise RequestRejected(400, f"{where} cannot be decoded: {exc}") from None


def url_fetcher(*, allow_private: bool, timeout: float, max_bytes: int) -> Callable[[str], bytes]:
    """A function downloading an image URL under the server's rules (host, size, time)."""

    def fetch(url: str) -> bytes:
        # The library's URL rules (scheme, every resolved address, every redirect) apply as is.
        try:
            return download(
                url, timeout=timeout, limit=max_bytes, allow_private_network=allow_private
            )
        except ImageLoadError as exc:
            if "non-public address" not in str(exc):
                raise
            raise RequestRejected(
                400,
                f"{exc} Send the image as base64 instead (the server's operator can allow "
                "private addresses with --allow-private-urls).",
            ) from None

    return fetch
