"""``UnivecImageEmbedder``: embeds a query image, for image-to-image (and image-to-text) search."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from haystack import component
from haystack.dataclasses import ByteStream
from haystack.utils import Secret

from haystack_integrations.components.embedders.univec._encoder_component import (
    EncoderComponent,
    default_api_key,
)
from univec.encoder import Encoder
from univec_frameworks import as_image


@component
class UnivecImageEmbedder(EncoderComponent):
    """Embeds one image as a query, in the same space as the documents' texts and images.

    The image counterpart of :class:`UnivecTextEmbedder`: a query image retrieves Documents
    embedded by :class:`UnivecDocumentImageEmbedder` (image-to-image search) or
    :class:`UnivecDocumentEmbedder` (image-to-text), with the same `task` and model.

    Usage example:
    ```python
    from haystack_integrations.components.embedders.univec import UnivecImageEmbedder

    embedder = UnivecImageEmbedder(backend="local")
    embedder.run("query.png")["embedding"]
    ```
    """

    def __init__(
        self,
        *,
        encoder: Encoder | None = None,
        backend: Literal["local", "api"] = "local",
        model: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        max_length: int | None = None,
        api_key: Secret | str | None = default_api_key(),  # noqa: B008
        base_url: str | None = None,
        encoder_options: dict[str, Any] | None = None,
        task: str = "retrieval",
        dimensions: int | None = None,
    ) -> None:
        """Create the component; the model is loaded in ``warm_up``.

        Args:
            encoder: A ready `univec.Encoder` (instead of the configuration below).
            backend: `"local"` (PyTorch) or `"api"` (hosted Jina API).
            model: Checkpoint directory or hub id (local) or API model name; `None` = default.
            device: Local device; `None` = best available.
            dtype: Local dtype; `None` = automatic.
            max_length: Tokens per input.
            api_key: The API key, serialised as an env-var reference (default `JINA_API_KEY`);
                a plain string is wrapped with `Secret.from_token` (not serialisable).
            base_url: API base URL.
            encoder_options: Further options of `Encoder.local` / `Encoder.api`.
            task: Task family or full task string; the image is embedded with the query side.
            dimensions: Matryoshka truncation, or `None` for the full size.
        """
        self._init_parameters(locals())

    @staticmethod
    def _image(image: Any) -> Any:
        if isinstance(image, ByteStream):
            return as_image(image.data)
        if not isinstance(image, (str, Path)):
            raise TypeError(
                f"UnivecImageEmbedder expects a file path, URL or ByteStream, got "
                f"{type(image).__name__}. To embed text, use UnivecTextEmbedder."
            )
        return as_image(image)

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, image: str | Path | ByteStream) -> dict[str, Any]:
        """Embed one image.

        Args:
            image: A file path, an http(s) URL, or a `ByteStream` of image bytes.

        Returns:
            `embedding`: the vector; `meta`: `model` and `usage`.

        Raises:
            TypeError: `image` is of another type.
            FileNotFoundError: The path does not exist.
        """
        item = self._image(image)
        self.warm_up()
        result = self._family.embed_queries_result([item])
        return {"embedding": result.dense[0].tolist(), "meta": self._meta(result.usage)}  # type: ignore[index]

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, image: str | Path | ByteStream) -> dict[str, Any]:
        """Async form of `run`."""
        item = self._image(image)
        await self.warm_up_async()
        result = await self._family.aembed_queries_result([item])
        return {"embedding": result.dense[0].tolist(), "meta": self._meta(result.usage)}  # type: ignore[index]
