"""``UnivecTextEmbedder``: embeds a query string with jina-embeddings-v4."""

from __future__ import annotations

from typing import Any, Literal

from haystack import component
from haystack.utils import Secret

from haystack_integrations.components.embedders.univec._encoder_component import (
    EncoderComponent,
    default_api_key,
)
from univec.encoder import Encoder


@component
class UnivecTextEmbedder(EncoderComponent):
    """Embeds a string (a query) with the query side of a task family.

    Pair it with :class:`UnivecDocumentEmbedder` (same ``task``, ``dimensions`` and model): the
    documents get ``retrieval.passage``, the query ``retrieval.query``.

    Usage example:
    ```python
    from haystack_integrations.components.embedders.univec import UnivecTextEmbedder

    embedder = UnivecTextEmbedder(backend="local", model="jinaai/jina-embeddings-v4")
    embedder.warm_up()
    embedder.run("Where is Paris?")["embedding"]
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
            encoder: A ready `univec.Encoder` (instead of the configuration below; such a
                component cannot be serialised).
            backend: `"local"` (PyTorch) or `"api"` (hosted Jina API).
            model: Checkpoint directory or hub id (local) or API model name; `None` = default.
            device: Local device (`"cuda"`, `"mps"`, `"cpu"`); `None` = best available.
            dtype: Local dtype (`"float32"`, `"bfloat16"`, ...); `None` = automatic.
            max_length: Tokens per input; longer text is truncated.
            api_key: The API key, serialised as an env-var reference (default `JINA_API_KEY`);
                a plain string is wrapped with `Secret.from_token` (not serialisable).
            base_url: API base URL.
            encoder_options: Further options of `Encoder.local` / `Encoder.api`.
            task: Task family (`"retrieval"`, `"code"`, `"text-matching"`; an API model's own
                families) or a full task string as jina-haystack takes it
                (`"retrieval.passage"`): queries get the query task, documents the passage task.
            dimensions: Matryoshka truncation, or `None` for the full size.
        """
        self._init_parameters(locals())

    def _check(self, text: Any) -> str:
        if not isinstance(text, str):
            raise TypeError(
                f"UnivecTextEmbedder expects a string as input, got {type(text).__name__}. "
                "To embed a list of Documents, use UnivecDocumentEmbedder."
            )
        return text

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    def run(self, text: str) -> dict[str, Any]:
        """Embed one string.

        Args:
            text: The text to embed.

        Returns:
            `embedding`: the vector, as a list of floats; `meta`: `model` and `usage`
            (`prompt_tokens`, `total_tokens`), as jina-haystack's embedders return them.

        Raises:
            TypeError: `text` is not a string.
        """
        self._check(text)
        self.warm_up()
        result = self._family.embed_queries_result([text])
        return {"embedding": result.dense[0].tolist(), "meta": self._meta(result.usage)}  # type: ignore[index]

    @component.output_types(embedding=list[float], meta=dict[str, Any])
    async def run_async(self, text: str) -> dict[str, Any]:
        """Async form of `run`."""
        self._check(text)
        await self.warm_up_async()
        result = await self._family.aembed_queries_result([text])
        return {"embedding": result.dense[0].tolist(), "meta": self._meta(result.usage)}  # type: ignore[index]
