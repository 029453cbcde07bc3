"""``UnivecEmbedding``: jina-embeddings-v4 as a LlamaIndex ``MultiModalEmbedding``."""

from __future__ import annotations

from typing import Any, Literal

from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr, SecretStr
from llama_index.core.embeddings import MultiModalEmbedding
from llama_index.core.schema import ImageType

from univec.encoder import DEFAULT_API_MODEL, DEFAULT_LOCAL_MODEL, Encoder
from univec.errors import ConfigurationError
from univec_frameworks import FamilyEncoder, as_image, as_texts

__all__ = ["UnivecEmbedding"]


class UnivecEmbedding(MultiModalEmbedding):
    """jina-embeddings-v4 for LlamaIndex: queries, texts and images, sync and async.

    Queries are embedded with the family's query task (``retrieval.query``), texts (nodes) and
    images with its passage task (``retrieval.passage``); both ``text-matching`` for the
    symmetric family. LlamaIndex splits large calls into batches of ``embed_batch_size``; each
    batch is one encoder call. The serialised form (``to_dict``/``to_json``) never holds the API
    key: a model loaded back reads ``JINA_API_KEY``, or takes ``api_key=`` again.

    Example:
        >>> from llama_index.core import Settings, VectorStoreIndex
        >>> Settings.embed_model = UnivecEmbedding(backend="local", task="retrieval")
        >>> index = VectorStoreIndex.from_documents(documents)
        >>> index.as_retriever().retrieve("Where is Paris?")

    Args:
        encoder: A ready :class:`univec.Encoder` (excludes the configuration fields).
        **data: The fields below, and ``BaseEmbedding``'s (``embed_batch_size``, ...).
    """

    backend: Literal["local", "api"] = Field(default="local", description="'local' or 'api'.")
    model: str | None = Field(default=None, description="Checkpoint, hub id or API model name.")
    device: str | None = Field(default=None, description="Local device; None = best available.")
    dtype: str | None = Field(default=None, description="Local dtype; None = automatic.")
    max_length: int | None = Field(default=None, description="Tokens per input (truncation).")
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        description="API key; None reads JINA_API_KEY. Never serialised.",
    )
    base_url: str | None = Field(default=None, description="API base URL.")
    encoder_options: dict[str, Any] | None = Field(
        default=None, description="Further options of Encoder.local / Encoder.api."
    )
    task: str = Field(
        default="retrieval",
        description="Task family or full task string (e.g. 'retrieval.passage'): queries get "
        "the family's .query task, documents its .passage task.",
    )
    dimensions: int | None = Field(default=None, description="Matryoshka truncation, or None.")
    late_chunking: bool = Field(
        default=False,
        description="The texts of one embedding batch are chunks of one document (pre-split).",
    )

    # Unknown keyword arguments are errors, never silently ignored.
    model_config = ConfigDict(
        protected_namespaces=("pydantic_model_",), arbitrary_types_allowed=True, extra="forbid"
    )

    _family: FamilyEncoder = PrivateAttr()

    def __init__(self, encoder: Encoder | None = None, **data: Any) -> None:
        # model_name (LlamaIndex's field) reports the model really used: it names the model
        # when model is not given, and may not contradict it.
        named = data.get("model_name")
        if named is not None and data.get("model") is None and encoder is None:
            data["model"] = named
        default = DEFAULT_API_MODEL if data.get("backend") == "api" else DEFAULT_LOCAL_MODEL
        used = encoder.info.name if encoder is not None else data.get("model") or default
        if named is not None and named != used:
            raise ConfigurationError(
                f"model_name={named!r} is not the model this embedding uses ({used!r}). Drop "
                "model_name (it is set from model=) or pass the same name."
            )
        data["model_name"] = used
        super().__init__(**data)
        self._family = FamilyEncoder.from_settings(self, encoder)

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex records in serialised forms."""
        return "UnivecEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._family.embed_queries(as_texts([query], "query"))[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        vectors = await self._family.aembed_queries(as_texts([query], "query"))
        return vectors[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embeddings([text])[0]

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return (await self._aget_text_embeddings([text]))[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._family.embed_documents(as_texts(texts)).tolist()

    async def _aget_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return (await self._family.aembed_documents(as_texts(texts))).tolist()

    def _get_image_embedding(self, img_file_path: ImageType) -> list[float]:
        return self._get_image_embeddings([img_file_path])[0]

    async def _aget_image_embedding(self, img_file_path: ImageType) -> list[float]:
        return (await self._aget_image_embeddings([img_file_path]))[0]

    def _get_image_embeddings(self, img_file_paths: list[ImageType]) -> list[list[float]]:
        images = [as_image(path) for path in img_file_paths]
        return self._family.embed_documents(images).tolist()

    async def _aget_image_embeddings(self, img_file_paths: list[ImageType]) -> list[list[float]]:
        images = [as_image(path) for path in img_file_paths]
        return (await self._family.aembed_documents(images)).tolist()
