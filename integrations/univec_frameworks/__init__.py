"""What the framework embedders (LangChain, LlamaIndex, Haystack) share.

Each framework class only translates its own notions onto :class:`FamilyEncoder`; choosing the
task of each side, building the encoder lazily from flat configuration, unwrapping API-key
secrets, checking inputs and batching live here, once.

Example:
    >>> family = FamilyEncoder(task="retrieval", backend="local", model="jinaai/jina-embeddings-v4")
    >>> family.embed_queries(["Where is Paris?"])       # "retrieval.query"
    >>> family.embed_documents(["Paris is in France."])  # "retrieval.passage"
"""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from univec.backends.base import Embeddings, Usage
from univec.config import (
    BACKENDS,
    EncoderConfig,
    flat_option_names,
    release_encoder,
    shared_encoder,
)
from univec.encoder import Encoder
from univec.errors import (
    ConfigurationError,
    InvalidDimensionsError,
    InvalidInputError,
    check_positive_int,
)
from univec.inputs import Image
from univec.models import task_sides

__all__ = ["ENCODER_CONFIG_KEYS", "FamilyEncoder", "as_image", "as_texts", "secret_value"]

#: The flat options of :meth:`univec.Encoder.from_config` (the fields of
#: :class:`univec.config.EncoderConfig`) the framework classes take.
ENCODER_CONFIG_KEYS = flat_option_names()


def secret_value(secret: object) -> str | None:
    """The plain API key held by ``secret``, or ``None`` when there is none.

    Args:
        secret: ``None``, a ``str``, a pydantic ``SecretStr`` (LangChain, LlamaIndex) or a
            Haystack ``Secret`` (a non-strict environment secret may resolve to ``None``).

    Raises:
        ConfigurationError: ``secret`` is of another type.
    """
    if secret is None or isinstance(secret, str):
        return secret or None
    for getter_name in ("get_secret_value", "resolve_value"):
        getter = getattr(secret, getter_name, None)
        if callable(getter):
            value = getter()
            return str(value) if value else None
    raise ConfigurationError(
        f"api_key must be a str or a secret (pydantic SecretStr, haystack Secret), got "
        f"{type(secret).__name__}."
    )


def as_texts(values: object, what: str = "texts") -> list[str]:
    """Check that ``values`` is a list of ``str`` and return it as a list.

    Framework text methods take text only: a ``Path`` item must not silently become an image.

    Raises:
        InvalidInputError: ``values`` is a bare string or holds a non-``str`` item (a ``TypeError``).
    """
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise InvalidInputError(
            f"{what} must be a list of str, got {type(values).__name__}. Wrap a single text in a list."
        )
    for position, value in enumerate(values):
        if not isinstance(value, str):
            raise InvalidInputError(
                f"{what}[{position}] is {type(value).__name__} {value!r:.60}: every item must be a str."
            )
    return list(values)


def as_image(value: object) -> Image:
    """An :class:`univec.Image` from a path, an http(s) URL, bytes, a binary file object or a PIL image.

    Raises:
        InvalidInputError: ``value`` cannot name an image.
        InputFileNotFoundError: A path does not exist.
    """
    source: Any = value  # Image checks the type itself and names the fix
    if isinstance(source, io.BytesIO):
        source = source.getvalue()
    elif callable(getattr(source, "read", None)):
        source = source.read()
    return Image(source)


class FamilyEncoder:
    """An :class:`univec.Encoder` bound to one task family and one output size.

    Queries get the family's query task, documents its passage task (both ``"text-matching"``
    for the symmetric family). The encoder is either given, or built from flat configuration on
    first use (so framework objects can be created and serialised without loading a model).
    Objects built from equal configurations share one encoder (one model in memory), see
    :func:`univec.config.shared_encoder`.

    Args:
        encoder: A ready encoder. Excludes the configuration (an ``api_key`` or ``backend``
            alone is ignored: frameworks fill them in by default).
        task: The task family (``"retrieval"``, ``"code"``, ``"text-matching"``; for other
            API models their own, e.g. ``"nl2code"``) or a full task string as the incumbent
            Jina integrations take it (``"retrieval.passage"``): queries get the family's
            query task, documents its passage task (see :func:`univec.models.task_sides`).
        dimensions: Matryoshka truncation of every vector, or ``None`` for the full size.
        late_chunking: Documents arrive pre-split: the texts of one document call (or one
            group, see :meth:`embed_documents_result`) are chunks of one document, encoded
            with ``late_chunking=True``.
        options: Extra keyword options of :meth:`univec.Encoder.from_config` (timeouts, ...).
        **config: ``backend`` (``"local"``/``"api"``), ``model``, ``device``, ``dtype``,
            ``max_length``, ``api_key`` (``str`` or a framework secret), ``base_url``.

    Raises:
        ConfigurationError: Both ``encoder`` and configuration were given, or the backend is unknown.
        InvalidTaskError: ``task`` is not a task family.
        InvalidDimensionsError: ``dimensions`` is not a positive int.
    """

    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        task: str = "retrieval",
        dimensions: int | None = None,
        options: dict[str, Any] | None = None,
        late_chunking: bool = False,
        **config: Any,
    ) -> None:
        unknown = sorted(set(config) - set(ENCODER_CONFIG_KEYS))
        if unknown:
            raise ConfigurationError(
                f"Unknown encoder option(s) {unknown}; use {list(ENCODER_CONFIG_KEYS)} or options={{...}}."
            )
        if not isinstance(late_chunking, bool):
            raise ConfigurationError(f"late_chunking={late_chunking!r} must be True or False.")
        self.late_chunking = late_chunking
        api_model = config.get("model") if config.get("backend") == "api" else None
        if isinstance(encoder, Encoder) and encoder.backend_name == "api":
            api_model = encoder.info.name
        self.query_task, self.document_task = task_sides(task, api_model)
        self.task = task
        if dimensions is not None and (
            isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1
        ):
            raise InvalidDimensionsError(
                f"dimensions={dimensions!r} must be a positive int (a Matryoshka dim) or None."
            )
        self.dimensions = dimensions
        # backend and api_key say nothing on their own: frameworks default the key from the env.
        given = sorted(
            key
            for key, value in config.items()
            if value is not None and key not in ("backend", "api_key")
        )
        if encoder is not None:
            if not isinstance(encoder, Encoder):
                raise ConfigurationError(
                    f"encoder must be a univec.Encoder, got {type(encoder).__name__}."
                )
            if given or options:
                raise ConfigurationError(
                    f"Pass either encoder= or configuration ({', '.join(given or ['options'])}), not both."
                )
        backend = config.get("backend") or "local"
        if backend not in BACKENDS:
            raise ConfigurationError(
                f"Unknown backend {backend!r}. Use backend='local' (PyTorch) or backend='api' "
                "(hosted Jina API)."
            )
        set_options = {key: value for key, value in config.items() if value is not None}
        self._config = {**(options or {}), **set_options, "backend": backend}
        # Check every option name now (no model is loaded), not at the first embedding.
        EncoderConfig.from_options(
            **{key: value for key, value in self._config.items() if key != "api_key"}
        )
        self._encoder = encoder
        self._shared_config: EncoderConfig | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, encoder: Encoder | None = None) -> FamilyEncoder:
        """Build one from a framework object holding the configuration as attributes.

        Args:
            settings: An object with ``task``, ``dimensions``, ``encoder_options`` and each of
                :data:`ENCODER_CONFIG_KEYS` as attributes (the framework classes' fields).
            encoder: A ready encoder, if one was given instead of configuration.

        Raises:
            ConfigurationError, InvalidTaskError, InvalidDimensionsError: As the constructor.
        """
        return cls(
            encoder,
            task=settings.task,
            dimensions=settings.dimensions,
            options=settings.encoder_options,
            late_chunking=bool(getattr(settings, "late_chunking", False)),
            **{key: getattr(settings, key, None) for key in ENCODER_CONFIG_KEYS},
        )

    @property
    def encoder(self) -> Encoder:
        """The encoder, built from the configuration on first access."""
        if self._encoder is None:
            with self._lock:
                if self._encoder is None:
                    config = self.config()
                    self._encoder = shared_encoder(config)
                    self._shared_config = config
        return self._encoder

    def config(self) -> EncoderConfig:
        """The encoder configuration, with the API key's secret resolved (local: no key)."""
        options = dict(self._config)
        if options["backend"] == "api":
            options["api_key"] = secret_value(options.get("api_key"))
        else:
            options.pop("api_key", None)
        return EncoderConfig.from_options(**options)

    @property
    def is_built(self) -> bool:
        """Whether the encoder exists (given, or built by a first use)."""
        return self._encoder is not None

    @property
    def model_name(self) -> str:
        """The model really used: the encoder's, or the one the configuration will load."""
        if self._encoder is not None:
            return self._encoder.info.name
        config = self.config()
        if config.model:
            return config.model
        from univec.config import DEFAULT_API_MODEL, DEFAULT_LOCAL_MODEL

        return DEFAULT_API_MODEL if config.backend == "api" else DEFAULT_LOCAL_MODEL

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, d)`` vectors of query texts, with the family's query task."""
        return self.embed_queries_result(texts).dense  # type: ignore[return-value]

    async def aembed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Async form of :meth:`embed_queries`."""
        return (await self.aembed_queries_result(texts)).dense  # type: ignore[return-value]

    def embed_queries_result(self, items: Sequence[object]) -> Embeddings:
        """Query vectors (texts, or images for image queries) and the usage of the call."""
        return self.encoder.embed(
            self._query_items(items), self.query_task, dimensions=self.dimensions
        )

    async def aembed_queries_result(self, items: Sequence[object]) -> Embeddings:
        """Async form of :meth:`embed_queries_result`."""
        return await self.encoder.aembed(
            self._query_items(items), self.query_task, dimensions=self.dimensions
        )

    def embed_documents_result(
        self,
        items: Sequence[object],
        *,
        batch_size: int | None = None,
        progress_bar: bool = False,
        groups: Sequence[Sequence[int]] | None = None,
    ) -> Embeddings:
        """Document vectors and the usage of the calls (see :meth:`embed_documents`).

        Args:
            groups: With ``late_chunking``: the positions of each document's chunks (default:
                all items are one document). Each group is one encoder call.
        """
        usage = Usage()
        parts: list[np.ndarray] = []
        calls = self._calls(items, batch_size, progress_bar, groups)
        for batch in calls:
            result = self.encoder.embed(
                batch,
                self.document_task,
                dimensions=self.dimensions,
                late_chunking=self.late_chunking,
            )
            usage += result.usage
            parts.append(result.dense)  # type: ignore[arg-type]
        return Embeddings(self._reorder(self._join(parts), items, groups), usage=usage)

    async def aembed_documents_result(
        self,
        items: Sequence[object],
        *,
        batch_size: int | None = None,
        progress_bar: bool = False,
        groups: Sequence[Sequence[int]] | None = None,
    ) -> Embeddings:
        """Async form of :meth:`embed_documents_result`."""
        usage = Usage()
        parts: list[np.ndarray] = []
        for batch in self._calls(items, batch_size, progress_bar, groups):
            result = await self.encoder.aembed(
                batch,
                self.document_task,
                dimensions=self.dimensions,
                late_chunking=self.late_chunking,
            )
            usage += result.usage
            parts.append(result.dense)  # type: ignore[arg-type]
        return Embeddings(self._reorder(self._join(parts), items, groups), usage=usage)

    def _query_items(self, items: Sequence[object]) -> list[object]:
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise InvalidInputError(
                f"queries must be a list, got {type(items).__name__}. Wrap a single one in a list."
            )
        return list(items)

    def _calls(
        self,
        items: Sequence[object],
        batch_size: int | None,
        progress_bar: bool,
        groups: Sequence[Sequence[int]] | None,
    ) -> Iterator[list[object]]:
        if not self.late_chunking:
            return self._batches(items, batch_size, progress_bar)
        # Late chunking: one call per document, never split by batch_size.
        self._batches(items, None, False)  # checks ``items``
        ordered = groups if groups is not None else [range(len(items))]
        return iter([[items[i] for i in group] for group in ordered if len(group)])

    @staticmethod
    def _reorder(
        vectors: np.ndarray, items: Sequence[object], groups: Sequence[Sequence[int]] | None
    ) -> np.ndarray:
        if groups is None:
            return vectors
        positions = [i for group in groups for i in group]
        if sorted(positions) != list(range(len(items))):
            raise InvalidInputError("groups must hold every document position exactly once.")
        out = np.empty_like(vectors)
        out[positions] = vectors
        return out

    def embed_documents(
        self, items: Sequence[object], *, batch_size: int | None = None, progress_bar: bool = False
    ) -> np.ndarray:
        """``(n, d)`` vectors of documents (texts and/or images), with the family's passage task.

        Args:
            items: Texts (``str``) and images, as :meth:`univec.Encoder.encode` takes them.
            batch_size: Items per encoder call (``None``: one call for all).
            progress_bar: Show a tqdm bar over the batches.
        """
        result = self.embed_documents_result(
            items, batch_size=batch_size, progress_bar=progress_bar
        )
        return result.dense  # type: ignore[return-value]

    async def aembed_documents(
        self, items: Sequence[object], *, batch_size: int | None = None, progress_bar: bool = False
    ) -> np.ndarray:
        """Async form of :meth:`embed_documents`."""
        result = await self.aembed_documents_result(
            items, batch_size=batch_size, progress_bar=progress_bar
        )
        return result.dense  # type: ignore[return-value]

    def close(self) -> None:
        """Give back the shared encoder (the last user closes it); a given encoder stays open."""
        with self._lock:
            if self._shared_config is not None:
                release_encoder(self._shared_config, self._encoder)
                self._shared_config = None
                self._encoder = None

    def _batches(
        self, items: Sequence[object], batch_size: int | None, progress_bar: bool
    ) -> Iterator[list[object]]:
        if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
            raise InvalidInputError(
                f"documents must be a list, got {type(items).__name__}. Wrap a single item in a list."
            )
        size = (
            max(len(items), 1)
            if batch_size is None
            else check_positive_int("batch_size", batch_size)
        )
        from tqdm import tqdm

        for start in tqdm(
            range(0, len(items), size), disable=not progress_bar, desc="Embedding", unit="batch"
        ):
            yield list(items[start : start + size])

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if parts:
            return np.concatenate(parts) if len(parts) > 1 else parts[0]
        return np.zeros((0, self.dimensions or self.encoder.dim), np.float32)
