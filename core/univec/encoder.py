"""``univec.Encoder``: one interface over the local and the hosted-API backends."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from univec.backends.base import Backend, Embeddings, ModelInfo, Usage
from univec.config import DEFAULT_API_MODEL, DEFAULT_LOCAL_MODEL, EncoderConfig
from univec.errors import InvalidArgumentError, InvalidDimensionsError
from univec.inputs import iter_inputs
from univec.tasks import TaskSpec, family_tasks, resolve_task

if TYPE_CHECKING:
    from typing import Literal

__all__ = ["DEFAULT_API_MODEL", "DEFAULT_LOCAL_MODEL", "Encoder"]

#: Inputs an encoding call holds at a time (tokens and pixels included) when it pulls from an
#: iterable: encoding a million items keeps only this window and the results in memory.
STREAM_WINDOW = 1024


class Encoder:
    """Encode text, images and document pages with jina-embeddings-v4.

    Build one with :meth:`local`, :meth:`api`, :meth:`from_config` or :meth:`from_env`;
    both backends give the same shapes and meaning.

    Example:
        >>> encoder = Encoder.local("jinaai/jina-embeddings-v4")
        >>> docs = encoder.encode(["Paris is in France."], task="retrieval.passage")
        >>> query = encoder.encode(["Where is Paris?"], task="retrieval.query")
        >>> scores = query @ docs.T
    """

    def __init__(self, backend: Backend, *, backend_name: str = "custom") -> None:
        self._backend = backend
        self.backend_name = backend_name
        self.usage = Usage()

    # ----------------------------------------------------------------- constructors
    @classmethod
    def local(
        cls,
        model: str = DEFAULT_LOCAL_MODEL,
        *,
        device: str | None = None,
        dtype: Any = None,
        max_length: int = 8192,
        **options: Any,
    ) -> Encoder:
        """Run the model locally with PyTorch (extra ``local``).

        Args:
            model: A local checkpoint directory or a Hugging Face hub id.
            device: ``"cuda"``, ``"mps"``, ``"cpu"`` (default: the best available).
            dtype: ``torch.float32``/``"float32"``, ``"bfloat16"``, ``"float16"`` (default:
                bfloat16 on GPU, float32 on CPU).
            max_length: Tokens per input; longer text is truncated (at most 32768).
            **options: Further options of :class:`univec.backends.local.LocalBackend`.
        """
        from univec.backends.local import LocalBackend

        backend = LocalBackend(model, device=device, dtype=dtype, max_length=max_length, **options)
        return cls(backend, backend_name="local")

    @classmethod
    def api(
        cls,
        api_key: str | None = None,
        *,
        base_url: str = "https://api.jina.ai/v1",
        model: str = DEFAULT_API_MODEL,
        **options: Any,
    ) -> Encoder:
        """Use the hosted Jina Embeddings API (extra ``api``).

        Args:
            api_key: The key; defaults to the ``JINA_API_KEY`` environment variable. A missing
                key is reported at the first request, not here.
            base_url: The API's base URL.
            model: The API model name.
            **options: Further options of :class:`univec.backends.api.APIBackend`.
        """
        from univec.backends.api import APIBackend

        backend = APIBackend(api_key=api_key, base_url=base_url, model=model, **options)
        return cls(backend, backend_name="api")

    @classmethod
    def from_config(cls, backend: str = "local", **options: Any) -> Encoder:
        """Build an encoder from flat configuration, so one flag switches the backend.

        ``backend="local"`` takes the options of :meth:`local`, ``backend="api"`` those of
        :meth:`api`; options of the other backend are ignored, so one configuration can name
        both. ``model=None`` (or absent) picks each backend's default model. The option names
        are those of :class:`univec.config.EncoderConfig` plus the backend's own keywords.

        Raises:
            ConfigurationError: The backend is unknown, or an option name is not one of its
                options (checked before any model is loaded).
        """
        return EncoderConfig.from_options(backend, **options).build()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Encoder:
        """Build an encoder from environment variables (see :meth:`EncoderConfig.from_env`).

        Reads ``UNIVEC_BACKEND`` (``local`` or ``api``; default ``local``), ``UNIVEC_MODEL``,
        ``UNIVEC_DEVICE``, ``UNIVEC_DTYPE``, ``UNIVEC_MAX_LENGTH``, ``UNIVEC_MAX_PIXELS``,
        ``JINA_API_KEY`` and ``UNIVEC_BASE_URL``. Keyword ``overrides`` win over the environment.
        """
        return EncoderConfig.from_env(environ, **overrides).build()

    # ----------------------------------------------------------------- properties
    @property
    def backend(self) -> Backend:
        """The backend object doing the work."""
        return self._backend

    @property
    def info(self) -> ModelInfo:
        """What the model produces (dimensions, Matryoshka dims, multi-vector size)."""
        return self._backend.info

    @property
    def dim(self) -> int:
        """Size of the full single vector."""
        return self.info.dim

    @property
    def matryoshka_dims(self) -> tuple[int, ...]:
        """Dimensions a single vector may be truncated to."""
        return self.info.matryoshka_dims

    @property
    def multivector_dim(self) -> int:
        """Size of each token vector of a multi-vector (128)."""
        return self.info.multivector_dim

    def __repr__(self) -> str:
        return f"Encoder(backend={self.backend_name!r}, model={self.info.name!r})"

    # ----------------------------------------------------------------- encoding
    @overload
    def encode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = ...,
        multivector: Literal[False] = ...,
    ) -> np.ndarray: ...
    @overload
    def encode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: None = ...,
        multivector: Literal[True],
    ) -> list[np.ndarray]: ...
    def encode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        multivector: bool = False,
    ) -> np.ndarray | list[np.ndarray]:
        """Encode texts and images.

        Args:
            inputs: A list of ``str`` (always text) and images (:class:`univec.Image`,
                ``PIL.Image.Image``, ``pathlib.Path``), mixed freely.
            task: ``"retrieval.query"``, ``"retrieval.passage"``, ``"text-matching"``,
                ``"code.query"`` or ``"code.passage"``.
            dimensions: Matryoshka truncation of single vectors (one of :attr:`matryoshka_dims`).
            multivector: Return one ``(n_tokens, 128)`` array per input instead.

        Returns:
            ``(n, d)`` float32 unit-norm rows, or a list of ``(n_tokens_i, 128)`` arrays; in
            input order.
        """
        result = self._embed(inputs, task, dimensions, dense=not multivector, multi=multivector)
        return result.multi if multivector else result.dense

    def encode_both(
        self, inputs: Iterable[object], task: str, *, dimensions: int | None = None
    ) -> Embeddings:
        """Single and multi vectors of ``inputs`` (one forward pass on the local backend).

        Returns:
            :class:`Embeddings` with ``dense`` ``(n, d)`` and ``multi`` (list of arrays).
        """
        return self._embed(inputs, task, dimensions, dense=True, multi=True)

    def iter_encode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        multivector: bool = False,
        window: int | None = None,
    ) -> Iterator[np.ndarray]:
        """Encode an iterable lazily: yield each input's result, in input order.

        Inputs are pulled ``window`` at a time (default :data:`STREAM_WINDOW`) and encoded
        together, so a generator of any length is encoded in bounded memory; nothing is
        pulled before the first result is asked for. Each result is what :meth:`encode`
        returns for that input: a ``(d,)`` single vector, or an ``(n_tokens, 128)`` array
        with ``multivector=True``.

        Example:
            >>> for vector in encoder.iter_encode(line_generator(), "retrieval.passage"):
            ...     index.add(vector)

        Raises:
            InvalidTaskError, InvalidDimensionsError: At once, before any input is pulled.
            InvalidInputError: When a bad input is reached (earlier results are yielded).
        """
        spec = self._check(task, dimensions, multivector)
        size = _window_size(window)
        windows = self._windows(inputs, spec, dimensions, not multivector, multivector, size)
        return _items(windows, "multi" if multivector else "dense")

    def iter_encode_both(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        window: int | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`iter_encode` for both outputs: yield ``(single vector, token vectors)``.

        One forward pass per window on the local backend, as :meth:`encode_both`.
        """
        spec = self._check(task, dimensions, False)
        windows = self._windows(inputs, spec, dimensions, True, True, _window_size(window))
        return _items(windows, "both")

    async def aencode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        multivector: bool = False,
    ) -> np.ndarray | list[np.ndarray]:
        """Async form of :meth:`encode`."""
        result = await self._aembed(
            inputs, task, dimensions, dense=not multivector, multi=multivector
        )
        return result.multi if multivector else result.dense

    async def aencode_both(
        self, inputs: Iterable[object], task: str, *, dimensions: int | None = None
    ) -> Embeddings:
        """Async form of :meth:`encode_both`."""
        return await self._aembed(inputs, task, dimensions, dense=True, multi=True)

    def encode_query(
        self, inputs: Iterable[object], family: str = "retrieval", **kwargs: Any
    ) -> np.ndarray | list[np.ndarray]:
        """Encode queries with the query side of a task family (``retrieval``, ``code``, ...)."""
        return self.encode(inputs, family_tasks(family)[0], **kwargs)

    def encode_document(
        self, inputs: Iterable[object], family: str = "retrieval", **kwargs: Any
    ) -> np.ndarray | list[np.ndarray]:
        """Encode documents with the passage side of a task family."""
        return self.encode(inputs, family_tasks(family)[1], **kwargs)

    def close(self) -> None:
        """Release the backend's resources."""
        self._backend.close()

    def __enter__(self) -> Encoder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- helpers
    def _embed(
        self,
        inputs: Iterable[object],
        task: str,
        dimensions: int | None,
        *,
        dense: bool,
        multi: bool,
    ) -> Embeddings:
        spec = self._check(task, dimensions, multi and not dense)
        windows = self._windows(inputs, spec, dimensions, dense, multi, STREAM_WINDOW)
        return self._joined(list(windows), dimensions)

    async def _aembed(
        self,
        inputs: Iterable[object],
        task: str,
        dimensions: int | None,
        *,
        dense: bool,
        multi: bool,
    ) -> Embeddings:
        spec = self._check(task, dimensions, multi and not dense)
        parts = []
        items = iter_inputs(inputs)
        while chunk := list(islice(items, STREAM_WINDOW)):
            result = await self._backend.aembed(
                chunk, spec, dense=dense, multi=multi, dimensions=dimensions
            )
            self.usage += result.usage
            parts.append(result)
        return self._joined(parts, dimensions)

    def _windows(
        self,
        inputs: Iterable[object],
        spec: TaskSpec,
        dimensions: int | None,
        dense: bool,
        multi: bool,
        window: int,
    ) -> Iterator[Embeddings]:
        """The backend's results, one window of inputs at a time (inputs pulled lazily)."""
        items = iter_inputs(inputs)  # checks the container now, the items when reached
        return self._embed_windows(items, spec, dimensions, dense, multi, window)

    def _embed_windows(
        self,
        items: Iterator[Any],
        spec: TaskSpec,
        dimensions: int | None,
        dense: bool,
        multi: bool,
        window: int,
    ) -> Iterator[Embeddings]:
        while chunk := list(islice(items, window)):
            result = self._backend.embed(
                chunk, spec, dense=dense, multi=multi, dimensions=dimensions
            )
            self.usage += result.usage
            yield result

    def _joined(self, parts: list[Embeddings], dimensions: int | None) -> Embeddings:
        if not parts:
            return self._empty(dimensions)
        if len(parts) == 1:
            return parts[0]
        usage = Usage()
        for part in parts:
            usage += part.usage
        dense = None
        if parts[0].dense is not None:
            dense = np.concatenate([part.dense for part in parts if part.dense is not None])
        multi = None
        if parts[0].multi is not None:
            multi = [matrix for part in parts for matrix in part.multi or ()]
        return Embeddings(dense=dense, multi=multi, usage=usage)

    def _empty(self, dimensions: int | None) -> Embeddings:
        return Embeddings(np.zeros((0, dimensions or self.dim), np.float32), [])

    def _check(self, task: str, dimensions: int | None, multivector: bool) -> TaskSpec:
        spec = resolve_task(task)
        if dimensions is not None:
            if multivector:
                raise InvalidDimensionsError(
                    f"dimensions={dimensions!r} cannot be combined with multivector=True: "
                    f"token vectors are always {self.multivector_dim}-d. Drop one of the two."
                )
            if isinstance(dimensions, bool) or dimensions not in self.matryoshka_dims:
                raise InvalidDimensionsError(
                    f"dimensions={dimensions!r} is not a Matryoshka dimension of {self.info.name}. "
                    f"Use one of {list(self.matryoshka_dims)} or None for the full {self.dim}."
                )
        return spec


def _window_size(window: int | None) -> int:
    if window is None:
        return STREAM_WINDOW
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidArgumentError(
            f"window={window!r} must be a positive integer (inputs per pass)."
        )
    return window


def _items(windows: Iterator[Embeddings], output: str) -> Iterator[Any]:
    """Each input's result from an iterator of per-window :class:`Embeddings`."""
    for result in windows:
        if output == "dense":
            yield from result.dense if result.dense is not None else ()
        elif output == "multi":
            yield from result.multi or ()
        else:
            yield from zip(result.dense, result.multi, strict=True)  # type: ignore[arg-type]
