"""``UnivecDocumentStore``: a Haystack DocumentStore over a univec multi-vector collection."""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from haystack import Document, default_from_dict, default_to_dict, logging
from haystack.core.errors import SerializationError
from haystack.dataclasses import ByteStream
from haystack.document_stores.errors import DuplicateDocumentError
from haystack.document_stores.types import DuplicatePolicy
from haystack.utils import Secret, deserialize_secrets_inplace
from haystack_integrations.document_stores.univec.filters import (
    BLOB,
    CONTENT,
    ID,
    META,
    UnsupportedUnivecFilterError,
    convert_filters,
)

from univec.collections import MultiVectorCollection, SearchMode
from univec.collections.types import SEARCH_MODES
from univec.errors import (
    ClosedError,
    ConfigurationError,
    InvalidArgumentError,
    UnsupportedFilterError,
)
from univec.inputs import Image
from univec_frameworks import FamilyEncoder, as_image, secret_value

logger = logging.getLogger(__name__)

Database = Literal["qdrant", "milvus"]


def _default_api_key() -> Secret:
    """``JINA_API_KEY`` from the environment, optional (the local backend needs no key)."""
    return Secret.from_env_var("JINA_API_KEY", strict=False)


class UnivecDocumentStore:
    """A Haystack DocumentStore keeping jina-embeddings-v4 single *and* multi vectors.

    Documents are embedded by the store itself, once each, with both outputs of the model (one
    dense vector and one 128-d vector per token), in a univec collection on Qdrant (embedded
    Qdrant Edge, a server, or `":memory:"`) or Milvus (Milvus Lite or a server). Use
    :class:`~haystack_integrations.components.retrievers.univec.UnivecMultiVectorRetriever` to
    search them by late interaction (MaxSim); no embedder component is needed on either side.

    A Document is stored as text when it has `content`; otherwise as the image in its `blob`
    (`ByteStream` bytes), or in the file named by `meta[file_path_meta_field]`. The Document's
    own `embedding` is not kept (the store computes its own vectors).

    Usage example:
    ```python
    from haystack import Document
    from haystack_integrations.document_stores.univec import UnivecDocumentStore

    store = UnivecDocumentStore(collection_name="docs", path="./univec_data")
    store.write_documents([Document(content="Paris is the capital of France.")])
    store.filter_documents({"field": "meta.lang", "operator": "==", "value": "en"})
    ```
    """

    def __init__(
        self,
        *,
        collection: MultiVectorCollection | None = None,
        collection_name: str = "haystack",
        database: Database = "qdrant",
        path: str | None = None,
        url: str | None = None,
        uri: str | None = None,
        database_api_key: Secret | None = None,
        collection_options: dict[str, Any] | None = None,
        backend: Literal["local", "api"] = "local",
        model: str | None = None,
        device: str | None = None,
        dtype: str | None = None,
        max_length: int | None = None,
        api_key: Secret | None = _default_api_key(),  # noqa: B008
        base_url: str | None = None,
        encoder_options: dict[str, Any] | None = None,
        dimensions: int | None = None,
        file_path_meta_field: str = "file_path",
        root_path: str | None = None,
        progress_bar: bool = False,
    ) -> None:
        """Create the store; the collection (and the model) are opened on first use.

        Args:
            collection: A ready `QdrantCollection` / `MilvusCollection` (instead of the
                options below; such a store cannot be serialised).
            collection_name: Name of the collection.
            database: `"qdrant"` or `"milvus"`.
            path: Qdrant: directory of the embedded Qdrant Edge collections.
            url: Qdrant: server URL, or `":memory:"`.
            uri: Milvus: a Milvus Lite `.db` path or a server URI (default `./univec.db`).
            database_api_key: Qdrant API key / Milvus token (a `Secret`, serialised as an
                env-var reference).
            collection_options: Further options of the collection (`candidates`,
                `batch_size`, `hnsw`, `layout`, client options, ...).
            backend: `"local"` (PyTorch) or `"api"` (hosted Jina API).
            model: Checkpoint directory or hub id (local) or API model name.
            device: Local device; `None` = best available.
            dtype: Local dtype; `None` = automatic.
            max_length: Tokens per input.
            api_key: The Jina API key (default `JINA_API_KEY`).
            base_url: API base URL.
            encoder_options: Further options of `Encoder.local` / `Encoder.api`.
            dimensions: Matryoshka size of the stored single vectors (`None` = full).
            file_path_meta_field: Meta field naming an image file for Documents without
                `content` or `blob`.
            root_path: Directory the file paths are relative to.
            progress_bar: Show a progress bar while writing.

        Raises:
            ConfigurationError: Contradictory options (e.g. `collection` with configuration,
                an unknown `database`).
        """
        if database not in ("qdrant", "milvus"):
            raise ConfigurationError(f"database={database!r}; use 'qdrant' or 'milvus'.")
        self.collection_name = collection_name
        self.database = database
        self.path = path
        self.url = url
        self.uri = uri
        self.database_api_key = database_api_key
        self.collection_options = collection_options
        self.backend = backend
        self.model = model
        self.device = device
        self.dtype = dtype
        self.max_length = max_length
        self.api_key = api_key
        self.base_url = base_url
        self.encoder_options = encoder_options
        self.dimensions = dimensions
        self.file_path_meta_field = file_path_meta_field
        self.root_path = root_path
        self.progress_bar = progress_bar
        self._given = collection
        if collection is not None:
            configured = [
                name
                for name, value in (("path", path), ("url", url), ("uri", uri), ("model", model))
                if value is not None
            ]
            if configured:
                raise ConfigurationError(
                    f"Pass either collection= or configuration ({', '.join(configured)}), not both."
                )
            self._family: FamilyEncoder | None = None
        else:
            if database == "qdrant" and uri is not None:
                raise ConfigurationError("uri= is a Milvus option; for Qdrant pass path= or url=.")
            if database == "milvus" and (path is not None or url is not None):
                raise ConfigurationError("path=/url= are Qdrant options; for Milvus pass uri=.")
            self._family = FamilyEncoder(
                task="retrieval",
                options=encoder_options,
                backend=backend,
                model=model,
                device=device,
                dtype=dtype,
                max_length=max_length,
                api_key=api_key,
                base_url=base_url,
            )
        self._collection = collection
        self._lock = threading.RLock()
        self._closed = False

    def __repr__(self) -> str:
        where = self.path or self.url or self.uri or "default"
        return (
            f"UnivecDocumentStore(collection_name={self.collection_name!r}, "
            f"database={self.database!r}, location={where!r})"
        )

    # ------------------------------------------------------------------ the collection
    @property
    def collection(self) -> MultiVectorCollection:
        """The univec collection (opened, with the encoder, on first access).

        Raises:
            ClosedError: The store was closed.
        """
        with self._lock:
            if self._closed:
                raise ClosedError(
                    "This UnivecDocumentStore is closed; create a new one (e.g. with from_dict)."
                )
            if self._collection is None:
                self._collection = self._open()
            return self._collection

    def _open(self) -> MultiVectorCollection:
        assert self._family is not None
        encoder = self._family.encoder
        options: dict[str, Any] = {
            "dimensions": self.dimensions,
            "progress": self.progress_bar,
            **(self.collection_options or {}),
        }
        secret = secret_value(self.database_api_key)
        if self.database == "milvus":
            from univec_milvus import MilvusCollection

            if self.uri is not None:
                options["uri"] = self.uri
            return MilvusCollection(self.collection_name, encoder, token=secret, **options)
        from univec_qdrant import QdrantCollection

        return QdrantCollection(
            self.collection_name, encoder, path=self.path, url=self.url, api_key=secret, **options
        )

    def close(self) -> None:
        """Close the collection; every later call raises :class:`univec.errors.ClosedError`."""
        with self._lock:
            if not self._closed:
                self._closed = True
                if self._collection is not None:
                    self._collection.close()

    # ------------------------------------------------------------------ DocumentStore protocol
    def count_documents(self) -> int:
        """Number of documents in the store."""
        with self._lock:
            return self.collection.count()

    def count_documents_by_filter(self, filters: dict[str, Any]) -> int:
        """Number of documents matching Haystack `filters`."""
        tree = convert_filters(filters)
        with self._lock:
            return self._with_filter(lambda: self.collection.count(tree))

    def filter_documents(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """The documents matching Haystack `filters` (all of them without filters).

        Raises:
            FilterError: The filters are malformed (a `UnivecFilterError`) or the database
                cannot express them (an `UnsupportedUnivecFilterError`).
        """
        tree = convert_filters(filters)
        with self._lock:
            stored = self._with_filter(lambda: self.collection.list_documents(tree))
        return [self._document(item.id, item.metadata, item.text) for item in stored]

    def write_documents(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        """Embed and store `documents`; returns how many were written.

        Args:
            documents: Documents with text `content`, an image `blob`, or an image file path in
                `meta[file_path_meta_field]`.
            policy: `FAIL` (the default, also for `NONE`) raises on an id already stored
                (before anything is written); `SKIP` leaves stored ids alone; `OVERWRITE`
                replaces them. Re-written ids never duplicate.

        Raises:
            ValueError: `documents` is not a list of Documents, or a Document has no text and
                no image (an `InvalidArgumentError`).
            DuplicateDocumentError: With `FAIL`, an id is already stored or repeats in the batch.
        """
        documents = _check_documents(documents)
        if policy == DuplicatePolicy.NONE:
            policy = DuplicatePolicy.FAIL
        unique: dict[str, Document] = {}
        for document in documents:
            if document.id in unique:
                if policy == DuplicatePolicy.FAIL:
                    raise DuplicateDocumentError(
                        f"ID '{document.id}' appears twice in this batch; give each Document its "
                        "own id, or write with policy=DuplicatePolicy.OVERWRITE."
                    )
                if policy == DuplicatePolicy.SKIP:
                    continue
            unique[document.id] = document
        items = [self._item(document) for document in unique.values()]  # checks every document
        with self._lock:
            collection = self.collection
            if policy in (DuplicatePolicy.FAIL, DuplicatePolicy.SKIP) and unique:
                stored = {d.id for d in collection.get(list(unique))}
                if stored and policy == DuplicatePolicy.FAIL:
                    raise DuplicateDocumentError(
                        f"ID '{sorted(stored, key=str)[0]}' already exists in the document store; "
                        "write with policy=DuplicatePolicy.OVERWRITE or SKIP."
                    )
                keep = [i for i, doc_id in enumerate(unique) if doc_id not in stored]
            else:
                keep = list(range(len(unique)))
            if not keep:
                return 0
            chosen = list(unique.values())
            collection.add(
                [items[i] for i in keep],
                ids=[chosen[i].id for i in keep],
                metadata=[_metadata(chosen[i]) for i in keep],
            )
        return len(keep)

    def delete_documents(self, document_ids: list[str]) -> None:
        """Delete the documents with these ids (ids not stored are ignored).

        Raises:
            ValueError: `document_ids` is not a list of str (an `InvalidArgumentError`).
        """
        ids = _check_ids(document_ids)
        with self._lock:
            self.collection.delete(ids)

    def delete_by_filter(self, filters: dict[str, Any]) -> int:
        """Delete the documents matching Haystack `filters`; returns how many were deleted."""
        tree = convert_filters(filters)
        with self._lock:
            doomed = [d.id for d in self._with_filter(lambda: self.collection.list_documents(tree))]
            self.collection.delete(doomed)
        return len(doomed)

    def delete_all_documents(self) -> None:
        """Delete every document (the collection itself stays)."""
        with self._lock:
            collection = self.collection
            collection.delete([d.id for d in collection.list_documents()])

    # ------------------------------------------------------------------ search
    def search(
        self,
        query: str | Image,
        *,
        top_k: int = 10,
        mode: SearchMode = "hybrid",
        filters: dict[str, Any] | None = None,
        candidates: int | None = None,
    ) -> list[Document]:
        """The `top_k` documents best matching `query`, best first, with their `score`.

        Args:
            query: A text (or a `univec.Image`).
            top_k: Number of documents.
            mode: `"hybrid"` (dense candidates reranked by exact MaxSim), `"multi"` (exact
                MaxSim over every document) or `"dense"` (cosine of the single vectors).
            filters: Haystack filters.
            candidates: Dense candidates of a hybrid search (default: the collection's).
        """
        if mode not in SEARCH_MODES:
            raise InvalidArgumentError(f"mode={mode!r}; use one of {list(SEARCH_MODES)}.")
        tree = convert_filters(filters)
        with self._lock:
            hits = self._with_filter(
                lambda: self.collection.search(
                    query, k=top_k, mode=mode, filter=tree, candidates=candidates
                )
            )
        return [self._document(hit.id, hit.metadata, hit.text, hit.score) for hit in hits]

    # ------------------------------------------------------------------ async forms
    async def count_documents_async(self) -> int:
        """Async :meth:`count_documents` (runs in a worker thread)."""
        return await asyncio.to_thread(self.count_documents)

    async def count_documents_by_filter_async(self, filters: dict[str, Any]) -> int:
        """Async :meth:`count_documents_by_filter`."""
        return await asyncio.to_thread(self.count_documents_by_filter, filters)

    async def filter_documents_async(self, filters: dict[str, Any] | None = None) -> list[Document]:
        """Async :meth:`filter_documents` (runs in a worker thread)."""
        return await asyncio.to_thread(self.filter_documents, filters)

    async def write_documents_async(
        self, documents: list[Document], policy: DuplicatePolicy = DuplicatePolicy.NONE
    ) -> int:
        """Async :meth:`write_documents`: the model runs in a worker thread."""
        return await asyncio.to_thread(self.write_documents, documents, policy)

    async def delete_documents_async(self, document_ids: list[str]) -> None:
        """Async :meth:`delete_documents` (runs in a worker thread)."""
        await asyncio.to_thread(self.delete_documents, document_ids)

    async def delete_by_filter_async(self, filters: dict[str, Any]) -> int:
        """Async :meth:`delete_by_filter`."""
        return await asyncio.to_thread(self.delete_by_filter, filters)

    async def delete_all_documents_async(self) -> None:
        """Async :meth:`delete_all_documents`."""
        await asyncio.to_thread(self.delete_all_documents)

    async def search_async(
        self,
        query: str | Image,
        *,
        top_k: int = 10,
        mode: SearchMode = "hybrid",
        filters: dict[str, Any] | None = None,
        candidates: int | None = None,
    ) -> list[Document]:
        """Async :meth:`search`: the query is encoded in a worker thread."""
        return await asyncio.to_thread(
            lambda: self.search(
                query, top_k=top_k, mode=mode, filters=filters, candidates=candidates
            )
        )

    # ------------------------------------------------------------------ serialisation
    def to_dict(self) -> dict[str, Any]:
        """Serialise the store (secrets as env-var references).

        Raises:
            SerializationError: The store was given a ready `collection=`.
        """
        if self._given is not None:
            raise SerializationError(
                "This UnivecDocumentStore was given a ready collection=, which cannot be "
                "serialised. Build it from configuration (database=..., path=/url=/uri=, "
                "model=...) to save it in a pipeline."
            )
        return default_to_dict(
            self,
            collection_name=self.collection_name,
            database=self.database,
            path=self.path,
            url=self.url,
            uri=self.uri,
            database_api_key=self.database_api_key.to_dict() if self.database_api_key else None,
            collection_options=self.collection_options,
            backend=self.backend,
            model=self.model,
            device=self.device,
            dtype=self.dtype,
            max_length=self.max_length,
            api_key=self.api_key.to_dict() if self.api_key else None,
            base_url=self.base_url,
            encoder_options=self.encoder_options,
            dimensions=self.dimensions,
            file_path_meta_field=self.file_path_meta_field,
            root_path=self.root_path,
            progress_bar=self.progress_bar,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UnivecDocumentStore:
        """Build the store from :meth:`to_dict`'s output."""
        data = {**data, "init_parameters": dict(data.get("init_parameters", {}))}
        deserialize_secrets_inplace(data["init_parameters"], keys=["api_key", "database_api_key"])
        return default_from_dict(cls, data)

    # ------------------------------------------------------------------ helpers
    def _with_filter(self, call: Any) -> Any:
        try:
            return call()
        except UnsupportedFilterError as exc:
            if isinstance(exc, UnsupportedUnivecFilterError):
                raise
            raise UnsupportedUnivecFilterError(str(exc)) from exc

    def _item(self, document: Document) -> str | Image:
        """What the collection embeds for `document`: its text or its image."""
        blob = document.blob
        if blob is not None and (
            document.content is None or (blob.mime_type or "").startswith("image/")
        ):
            return as_image(blob.data)
        if document.content is not None:
            if not isinstance(document.content, str):
                raise InvalidArgumentError(
                    f"Document {document.id!r} has content of type "
                    f"{type(document.content).__name__}; content must be a str."
                )
            return document.content
        file_path = document.meta.get(self.file_path_meta_field)
        if isinstance(file_path, (str, Path)) and str(file_path):
            root = Path(self.root_path) if self.root_path else None
            return as_image(root / file_path if root else Path(file_path))
        raise InvalidArgumentError(
            f"Document {document.id!r} has no text content, no image blob and no "
            f"meta[{self.file_path_meta_field!r}]: UnivecDocumentStore stores text or images. "
            "Set content=, blob=ByteStream(image bytes) or the file path meta field."
        )

    def _document(
        self,
        document_id: Any,
        metadata: Mapping[str, Any],
        text: str | None,
        score: float | None = None,
    ) -> Document:
        """A Haystack Document from what the collection returns."""
        if isinstance(metadata.get(META), Mapping) and ID in metadata:  # written by this store
            blob_fields = metadata.get(BLOB)
            blob = None
            if isinstance(blob_fields, Mapping):
                blob = ByteStream(
                    data=base64.b64decode(blob_fields["data"]),
                    mime_type=blob_fields.get("mime_type"),
                    meta=dict(blob_fields.get("meta") or {}),
                )
            return Document(
                id=str(metadata[ID]),
                content=metadata.get(CONTENT),
                blob=blob,
                meta=dict(metadata[META]),
                score=score,
            )
        # Added to the collection by other means: its metadata becomes the meta.
        return Document(id=str(document_id), content=text, meta=dict(metadata), score=score)


def _metadata(document: Document) -> dict[str, Any]:
    """How a Document is kept in the collection's metadata (what filters address)."""
    metadata: dict[str, Any] = {ID: document.id, META: dict(document.meta)}
    if document.content is not None:
        metadata[CONTENT] = document.content
    if document.blob is not None:
        metadata[BLOB] = {
            "data": base64.b64encode(document.blob.data).decode("ascii"),
            "mime_type": document.blob.mime_type,
            "meta": dict(document.blob.meta or {}),
        }
    return metadata


def _check_documents(documents: object) -> list[Document]:
    if not isinstance(documents, list) or not all(isinstance(d, Document) for d in documents):
        raise InvalidArgumentError(
            "write_documents takes a list of haystack Document objects, got "
            f"{type(documents).__name__}"
            + (
                f" holding {type(next(d for d in documents if not isinstance(d, Document))).__name__}"
                if isinstance(documents, list)
                else ""
            )
            + ". Wrap texts as Document(content=...)."
        )
    return documents


def _check_ids(document_ids: object) -> list[str]:
    if isinstance(document_ids, (str, bytes)) or not isinstance(document_ids, Sequence):
        raise InvalidArgumentError(
            f"document_ids must be a list of str ids, got {type(document_ids).__name__}; wrap a "
            "single id in a list."
        )
    for document_id in document_ids:
        if not isinstance(document_id, str):
            raise InvalidArgumentError(
                f"Document id {document_id!r} is a {type(document_id).__name__}; Haystack ids are "
                f"str (Document.id): pass str({document_id!r})."
            )
    return list(document_ids)


__all__ = ["UnivecDocumentStore"]
