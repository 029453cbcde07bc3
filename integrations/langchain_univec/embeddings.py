"""``UnivecEmbeddings``: jina-embeddings-v4 as a LangChain ``Embeddings``, local or on the API."""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from langchain_core.utils import secret_from_env
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PrivateAttr, SecretStr

from univec.encoder import Encoder
from univec_frameworks import FamilyEncoder, as_image, as_texts

__all__ = ["UnivecEmbeddings"]


class UnivecEmbeddings(BaseModel, Embeddings):
    """jina-embeddings-v4 embeddings for LangChain, with the right task on each side.

    Queries are embedded with the family's query task (``retrieval.query``), documents with its
    passage task (``retrieval.passage``); both ``text-matching`` for the symmetric family. Give
    either a ready ``encoder`` or the configuration of :meth:`univec.Encoder.from_config`; the
    encoder is then built on first use.

    Example:
        >>> embeddings = UnivecEmbeddings(backend="local", model="jinaai/jina-embeddings-v4")
        >>> store = InMemoryVectorStore.from_texts(["Paris is in France."], embeddings)
        >>> store.similarity_search("Where is Paris?", k=1)

    Attributes:
        encoder: A ready :class:`univec.Encoder` (excludes the configuration fields).
        backend: ``"local"`` (PyTorch) or ``"api"`` (hosted Jina API).
        model: Checkpoint directory or hub id (local), or API model name; ``None`` = default.
            Also accepted as ``model_name`` (and ``api_key`` as ``jina_api_key``), as
            ``JinaEmbeddings`` takes them.
        device: Local device (``"cuda"``, ``"mps"``, ``"cpu"``); ``None`` = best available.
        dtype: Local dtype (``"float32"``, ``"bfloat16"``, ...); ``None`` = automatic.
        max_length: Tokens per input; longer text is truncated.
        api_key: API key (API backend); defaults to the ``JINA_API_KEY`` environment variable.
        base_url: API base URL.
        encoder_options: Further options of ``Encoder.local`` / ``Encoder.api``.
        task: Task family (``"retrieval"``, ``"code"``, ``"text-matching"``; an API model's
            own, e.g. ``"classification"`` on jina-embeddings-v3) or a full task string as
            ``JinaEmbeddings`` users write it (``"retrieval.passage"``): queries get the
            family's query task, documents its passage task.
        dimensions: Matryoshka truncation of every vector, or ``None`` for the full size.
        batch_size: Documents per encoder call in :meth:`embed_documents` (``None``: one call).
        late_chunking: The texts of one :meth:`embed_documents` call are the chunks of one
            document (split already): each chunk's vector sees the whole document.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", protected_namespaces=())

    encoder: Encoder | None = Field(default=None, exclude=True, repr=False)
    backend: Literal["local", "api"] = "local"
    # model_name / jina_api_key: the names langchain-community's JinaEmbeddings uses.
    model: str | None = Field(default=None, validation_alias=AliasChoices("model", "model_name"))
    device: str | None = None
    dtype: str | None = None
    max_length: int | None = None
    api_key: SecretStr | None = Field(
        default_factory=secret_from_env("JINA_API_KEY", default=None),
        validation_alias=AliasChoices("api_key", "jina_api_key"),
    )
    base_url: str | None = None
    encoder_options: dict[str, Any] | None = None
    task: str = "retrieval"
    dimensions: int | None = None
    batch_size: int | None = None
    late_chunking: bool = False

    _family: FamilyEncoder = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        """Check the configuration (the encoder itself is built lazily)."""
        self._family = FamilyEncoder.from_settings(self, self.encoder)

    @property
    def resolved_encoder(self) -> Encoder:
        """The :class:`univec.Encoder` in use (built from the configuration on first access)."""
        return self._family.encoder

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed documents with the family's passage task.

        Raises:
            TypeError: ``texts`` is not a list of ``str``.
        """
        items = as_texts(texts, "texts")
        return self._family.embed_documents(items, batch_size=self.batch_size).tolist()

    def embed_query(self, text: str) -> list[float]:
        """Embed a query with the family's query task.

        Raises:
            TypeError: ``text`` is not a ``str``.
        """
        return self._family.embed_queries(as_texts([text], "text"))[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async form of :meth:`embed_documents`."""
        items = as_texts(texts, "texts")
        vectors = await self._family.aembed_documents(items, batch_size=self.batch_size)
        return vectors.tolist()

    async def aembed_query(self, text: str) -> list[float]:
        """Async form of :meth:`embed_query`."""
        vectors = await self._family.aembed_queries(as_texts([text], "text"))
        return vectors[0].tolist()

    def embed_image(self, uris: list[str]) -> list[list[float]]:
        """Embed images (file paths or http(s) URLs) as documents, in the text vectors' space.

        This is the method LangChain's multimodal vector stores call (e.g. ``Chroma.add_images``).

        Raises:
            TypeError: ``uris`` is not a list of ``str``.
            FileNotFoundError: A path does not exist.
        """
        images = [as_image(uri) for uri in as_texts(uris, "uris")]
        return self._family.embed_documents(images, batch_size=self.batch_size).tolist()

    def embed_images(self, uris: list[str]) -> list[list[float]]:
        """:meth:`embed_image` under the name langchain-community's ``JinaEmbeddings`` uses."""
        return self.embed_image(uris)

    async def aembed_image(self, uris: list[str]) -> list[list[float]]:
        """Async form of :meth:`embed_image`."""
        images = [as_image(uri) for uri in as_texts(uris, "uris")]
        vectors = await self._family.aembed_documents(images, batch_size=self.batch_size)
        return vectors.tolist()

    def close(self) -> None:
        """Release the encoder this object built (model memory, API connections and thread).

        An encoder passed in as ``encoder`` is left open: its owner closes it. The object can
        be used again afterwards (the encoder is then built anew). Dropping the object without
        calling this frees the same resources when it is garbage collected.
        """
        self._family.close()

    def __enter__(self) -> UnivecEmbeddings:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
