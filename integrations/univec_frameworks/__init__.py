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

from univec.config import (
    BACKENDS,
    EncoderConfig,
    flat_option_names,
    release_encoder,
    shared_encoder,
)
from univec.encoder import Encoder
from univec.errors import ConfigurationError, InvalidDimensionsError, InvalidInputError
from univec.inputs import Image
from univec.tasks import family_tasks

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
    if isinstance(value, io.IOBase) or hasattr(value, "read"):
        data = value.getvalue() if hasattr(value, "getvalue") else value.read()
        return Image(data)
    return Image(value)


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
        task: The task family: ``"retrieval"``, ``"code"`` or ``"text-matching"``.
        dimensions: Matryoshka truncation of every vector, or ``None`` for the full size.
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
        **config: Any,
    ) -> None:
        unknown = sorted(set(config) - set(ENCODER_CONFIG_KEYS))
        if unknown:
            raise ConfigurationError(
                f"Unknown encoder option(s) {unknown}; use {list(ENCODER_CONFIG_KEYS)} or options={{...}}."
            )
        self.query_task, self.document_task = family_tasks(task)
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

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """``(n, d)`` vectors of query texts, with the family's query task."""
        return self.encoder.encode(as_texts(texts), self.query_task, dimensions=self.dimensions)

    async def aembed_queries(self, texts: Sequence[str]) -> np.ndarray:
        """Async form of :meth:`embed_queries`."""
        return await self.encoder.aencode(
            as_texts(texts), self.query_task, dimensions=self.dimensions
        )

    def embed_documents(
        self, items: Sequence[object], *, batch_size: int | None = None, progress_bar: bool = False
    ) -> np.ndarray:
        """``(n, d)`` vectors of documents (texts and/or images), with the family's passage task.

        Args:
            items: Texts (``str``) and images, as :meth:`univec.Encoder.encode` takes them.
            batch_size: Items per encoder call (``None``: one call for all).
            progress_bar: Show a tqdm bar over the batches.
        """
        parts = [
            self.encoder.encode(batch, self.document_task, dimensions=self.dimensions)
            for batch in self._batches(items, batch_size, progress_bar)
        ]
        return self._join(parts)

    async def aembed_documents(
        self, items: Sequence[object], *, batch_size: int | None = None, progress_bar: bool = False
    ) -> np.ndarray:
        """Async form of :meth:`embed_documents`."""
        parts = [
            await self.encoder.aencode(batch, self.document_task, dimensions=self.dimensions)
            for batch in self._batches(items, batch_size, progress_bar)
        ]
        return self._join(parts)

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
        if batch_size is not None and (isinstance(batch_size, bool) or batch_size < 1):
            raise ConfigurationError(f"batch_size={batch_size!r} must be a positive int or None.")
        size = batch_size or max(len(items), 1)
        from tqdm import tqdm

        for start in tqdm(
            range(0, len(items), size), disable=not progress_bar, desc="Embedding", unit="batch"
        ):
            yield list(items[start : start + size])

    def _join(self, parts: list[np.ndarray]) -> np.ndarray:
        if parts:
            return np.concatenate(parts) if len(parts) > 1 else parts[0]
        return np.zeros((0, self.dimensions or self.encoder.dim), np.float32)
