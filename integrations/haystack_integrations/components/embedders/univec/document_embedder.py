"""``UnivecDocumentEmbedder``: embeds Documents' text with jina-embeddings-v4."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from haystack import Document, component
from haystack.utils import Secret

from haystack_integrations.components.embedders.univec._encoder_component import (
    EncoderComponent,
    check_documents,
    default_api_key,
)
from univec.backends.base import Embeddings
from univec.encoder import Encoder


@component
class UnivecDocumentEmbedder(EncoderComponent):
    """Embeds Documents with the passage side of a task family; the vector goes in `embedding`.

    The text embedded is the values of `meta_fields_to_embed` and the content, joined by
    `embedding_separator`. Input Documents are not modified: new ones are returned.

    Usage example:
    ```python
    from haystack import Document
    from haystack_integrations.components.embedders.univec import UnivecDocumentEmbedder

    embedder = UnivecDocumentEmbedder(backend="api", task="retrieval")
    embedder.run([Document(content="Paris is in France.")])["documents"][0].embedding
    ```
    """

    batch_size: int
    progress_bar: bool
    meta_fields_to_embed: list[str]
    embedding_separator: str

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
        batch_size: int = 32,
        progress_bar: bool = True,
        meta_fields_to_embed: list[str] | None = None,
        embedding_separator: str = "\n",
        late_chunking: bool = False,
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
            batch_size: Documents per encoder call.
            progress_bar: Show a progress bar over the batches.
            meta_fields_to_embed: Meta fields whose values are embedded with the content.
            embedding_separator: Separator between the meta values and the content.
            late_chunking: The Documents are chunks of longer documents (pre-split, e.g. by
                `DocumentSplitter`): the chunks of each source document (same
                `meta["source_id"]`; without it, all Documents of a run) are encoded as one
                sequence, so each chunk's vector sees its whole document.
        """
        self._init_parameters(locals())
        self.meta_fields_to_embed = meta_fields_to_embed or []

    def _texts(self, documents: Any) -> list[str]:
        texts = []
        for document in check_documents(documents, "UnivecDocumentEmbedder"):
            meta_values = [
                str(document.meta[key])
                for key in self.meta_fields_to_embed
                if document.meta.get(key) is not None
            ]
            texts.append(self.embedding_separator.join([*meta_values, document.content or ""]))
        return texts

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed Documents.

        Args:
            documents: The Documents to embed.

        Returns:
            `documents`: copies of the Documents with `embedding` set; `meta`: `model` and
            `usage` (`prompt_tokens`, `total_tokens`), as jina-haystack returns them.

        Raises:
            TypeError: `documents` is not a list of Documents.
        """
        texts = self._texts(documents)
        self.warm_up()
        result = self._family.embed_documents_result(
            texts,
            batch_size=self.batch_size,
            progress_bar=self.progress_bar,
            groups=_source_groups(documents) if self.late_chunking else None,
        )
        return self._with_embeddings(documents, result)

    @component.output_types(documents=list[Document], meta=dict[str, Any])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """Async form of `run`."""
        texts = self._texts(documents)
        await self.warm_up_async()
        result = await self._family.aembed_documents_result(
            texts,
            batch_size=self.batch_size,
            progress_bar=self.progress_bar,
            groups=_source_groups(documents) if self.late_chunking else None,
        )
        return self._with_embeddings(documents, result)

    def _with_embeddings(self, documents: list[Document], result: Embeddings) -> dict[str, Any]:
        vectors = result.dense.tolist()  # type: ignore[union-attr]
        return {
            "documents": [replace(d, embedding=v) for d, v in zip(documents, vectors, strict=True)],
            "meta": self._meta(result.usage),
        }


def _source_groups(documents: list[Document]) -> list[list[int]]:
    """Positions of the chunks of each source document (``meta["source_id"]``), in order."""
    groups: dict[object, list[int]] = {}
    for position, document in enumerate(documents):
        groups.setdefault(document.meta.get("source_id"), []).append(position)
    return list(groups.values())
