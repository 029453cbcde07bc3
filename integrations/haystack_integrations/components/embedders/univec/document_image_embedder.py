"""``UnivecDocumentImageEmbedder``: embeds the images (or PDF pages) Documents point to."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Literal

from haystack import Document, component
from haystack.components.converters.image.image_utils import (
    _batch_convert_pdf_pages_to_images,
    _extract_image_sources_info,
)
from haystack.utils import Secret

from haystack_integrations.components.embedders.univec._encoder_component import (
    EncoderComponent,
    check_documents,
    default_api_key,
)
from univec.encoder import Encoder
from univec_frameworks import as_image


@component
class UnivecDocumentImageEmbedder(EncoderComponent):
    """Embeds the image file each Document names in a meta field, in the text vectors' space.

    A Document's image is its `blob` (a `ByteStream` holding image bytes) when it names no
    file; otherwise, as Haystack's own image embedders do, the path is read from `meta[file_path_meta_field]`
    (relative to `root_path` if given, which it may not escape); a PDF needs `meta["page_number"]`
    and that page is rendered. Images are embedded with the task family's passage side, so a
    :class:`UnivecTextEmbedder` query with the same `task` retrieves them. The returned Documents
    carry `embedding` and `meta["embedding_source"]`.

    Usage example:
    ```python
    from haystack import Document
    from haystack_integrations.components.embedders.univec import UnivecDocumentImageEmbedder

    embedder = UnivecDocumentImageEmbedder(backend="api", root_path="scans")
    docs = [Document(content="invoice", meta={"file_path": "invoice.png"})]
    embedder.run(docs)["documents"][0].embedding
    ```
    """

    file_path_meta_field: str
    root_path: str | None
    batch_size: int
    progress_bar: bool

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
        file_path_meta_field: str = "file_path",
        root_path: str | None = None,
        batch_size: int = 8,
        progress_bar: bool = True,
    ) -> None:
        """Create the component; the model is loaded in ``warm_up``.

        Args:
            encoder: A ready `univec.Encoder` (instead of the configuration below; such a
                component cannot be serialised).
            backend: `"local"` (PyTorch) or `"api"` (hosted Jina API).
            model: Checkpoint directory or hub id (local) or API model name; `None` = default.
            device: Local device (`"cuda"`, `"mps"`, `"cpu"`); `None` = best available.
            dtype: Local dtype (`"float32"`, `"bfloat16"`, ...); `None` = automatic.
            max_length: Tokens per input.
            api_key: The API key, serialised as an env-var reference (default `JINA_API_KEY`);
                a plain string is wrapped with `Secret.from_token` (not serialisable).
            base_url: API base URL.
            encoder_options: Further options of `Encoder.local` / `Encoder.api`.
            task: Task family (`"retrieval"`, `"code"`, `"text-matching"`; an API model's own
                families) or a full task string as jina-haystack takes it
                (`"retrieval.passage"`): queries get the query task, documents the passage task.
            dimensions: Matryoshka truncation, or `None` for the full size.
            file_path_meta_field: Meta field holding the image or PDF path.
            root_path: Directory the paths are relative to; `None`: paths are used as given.
            batch_size: Images per encoder call.
            progress_bar: Show a progress bar over the batches.
        """
        self._init_parameters(locals())

    def _images(self, documents: Any) -> list[Any]:
        documents = check_documents(documents, "UnivecDocumentImageEmbedder")
        # A Document may carry its image itself (blob, a ByteStream) instead of naming a file.
        from_blob = [
            d.blob is not None and d.meta.get(self.file_path_meta_field) is None for d in documents
        ]
        named = [d for d, blob in zip(documents, from_blob, strict=True) if not blob]
        # Haystack's own helpers: the same path checks and PDF rendering as its image embedders.
        sources = iter(
            _extract_image_sources_info(
                documents=named,
                file_path_meta_field=self.file_path_meta_field,
                root_path=self.root_path or "",
            )
            if named
            else []
        )
        images: list[Any] = []
        pdf_pages = []
        for index, (document, blob) in enumerate(zip(documents, from_blob, strict=True)):
            if blob and document.blob is not None:
                images.append(as_image(document.blob.data))
                continue
            source = next(sources)
            images.append(source["path"])
            if source["mime_type"] == "application/pdf":
                pdf_pages.append(
                    {"doc_idx": index, "path": source["path"], "page_number": source["page_number"]}
                )
        rendered = _batch_convert_pdf_pages_to_images(pdf_page_infos=pdf_pages)  # type: ignore[arg-type]
        for page in pdf_pages:
            if page["doc_idx"] not in rendered:
                raise ValueError(
                    f"Page {page['page_number']} of {page['path']} (Document "
                    f"{documents[page['doc_idx']].id}) could not be rendered; check the page number."
                )
            images[page["doc_idx"]] = rendered[page["doc_idx"]]
        return images

    def _result(self, documents: list[Document], vectors: Any) -> dict[str, Any]:
        source = {"type": "image", "file_path_meta_field": self.file_path_meta_field}
        return {
            "documents": [
                replace(doc, embedding=vector, meta={**doc.meta, "embedding_source": source})
                for doc, vector in zip(documents, vectors.tolist(), strict=True)
            ]
        }

    @component.output_types(documents=list[Document])
    def run(self, documents: list[Document]) -> dict[str, Any]:
        """Embed the Documents' images.

        Args:
            documents: Documents whose meta names an image file (or a PDF and a page).

        Returns:
            `documents`: copies of the Documents with `embedding` set.

        Raises:
            TypeError: `documents` is not a list of Documents.
            ValueError: A path is missing, invalid, outside `root_path`, or not an image/PDF.
        """
        images = self._images(documents)
        self.warm_up()
        vectors = self._family.embed_documents(
            images, batch_size=self.batch_size, progress_bar=self.progress_bar
        )
        return self._result(documents, vectors)

    @component.output_types(documents=list[Document])
    async def run_async(self, documents: list[Document]) -> dict[str, Any]:
        """Async form of `run`."""
        images = self._images(documents)
        await self.warm_up_async()
        vectors = await self._family.aembed_documents(
            images, batch_size=self.batch_size, progress_bar=self.progress_bar
        )
        return self._result(documents, vectors)
