"""``univec.Encoder``: one interface over the local and the hosted-API backends."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from univec.backends.base import Backend, Embeddings, ModelInfo, Usage
from univec.config import DEFAULT_API_MODEL, DEFAULT_LOCAL_MODEL, EncoderConfig
from univec.errors import InvalidArgumentError, InvalidDimensionsError, InvalidInputError
from univec.inputs import iter_inputs, normalize_inputs
from univec.quantization import check_precision, packed_width, precision_dtype, quantize
from univec.tasks import TaskSpec, family_tasks, resolve_task

if TYPE_CHECKING:
    from typing import Literal

__all__ = ["DEFAULT_API_MODEL", "DEFAULT_LOCAL_MODEL", "STREAM_WINDOW", "Encoder"]

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
        precision: str = ...,
        late_chunking: bool = ...,
    ) -> np.ndarray: ...
    @overload
    def encode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: None = ...,
        multivector: Literal[True],
        precision: str = ...,
        late_chunking: Literal[False] = ...,
    ) -> list[np.ndarray]: ...
    def encode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        multivector: bool = False,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> np.ndarray | list[np.ndarray]:
        """Encode texts and images.

        Args:
            inputs: A list of ``str`` (always text) and images (:class:`univec.Image`,
                ``PIL.Image.Image``, ``pathlib.Path``), mixed freely.
            task: ``"retrieval.query"``, ``"retrieval.passage"``, ``"text-matching"``,
                ``"code.query"`` or ``"code.passage"`` (API models of the Jina family: the
                model's own tasks, see :mod:`univec.models`).
            dimensions: Matryoshka truncation of single vectors (one of :attr:`matryoshka_dims`).
            multivector: Return one ``(n_tokens, 128)`` array per input instead.
            precision: ``"float32"`` (default), ``"int8"``, ``"uint8"``, ``"binary"`` or
                ``"ubinary"``: compact outputs, the same arrays on both backends (see
                :mod:`univec.quantization`; score them with ``univec.maxsim(...,
                precision=...)``).
            late_chunking: The texts are consecutive chunks of one document: encode them as
                one sequence so each chunk's vector sees the whole document, and return one
                vector per chunk (single vectors and text only; see
                :func:`univec.late_chunking.embed_chunks` to split a document first).

        Returns:
            ``(n, d)`` float32 unit-norm rows, or a list of ``(n_tokens_i, 128)`` arrays; in
            input order (in ``precision``'s dtype and width).
        """
        result = self._embed(
            inputs,
            task,
            dimensions,
            dense=not multivector,
            multi=multivector,
            precision=precision,
            late_chunking=late_chunking,
        )
        return _requested(result, multivector)

    def embed(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> Embeddings:
        """Single vectors of ``inputs`` and the tokens this call consumed.

        :meth:`encode` with ``multivector=False``, returning :class:`Embeddings` (``dense``
        and ``usage``) rather than the bare array; framework components report the usage.
        """
        return self._embed(
            inputs,
            task,
            dimensions,
            dense=True,
            multi=False,
            precision=precision,
            late_chunking=late_chunking,
        )

    async def aembed(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> Embeddings:
        """Async form of :meth:`embed`."""
        return await self._aembed(
            inputs,
            task,
            dimensions,
            dense=True,
            multi=False,
            precision=precision,
            late_chunking=late_chunking,
        )

    def encode_both(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        precision: str = "float32",
    ) -> Embeddings:
        """Single and multi vectors of ``inputs`` (one forward pass on the local backend).

        Returns:
            :class:`Embeddings` with ``dense`` ``(n, d)`` and ``multi`` (list of arrays), both
            in ``precision`` (see :meth:`encode`).
        """
        return self._embed(inputs, task, dimensions, dense=True, multi=True, precision=precision)

    def iter_encode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        multivector: bool = False,
        precision: str = "float32",
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
        spec, options = self._check(task, dimensions, not multivector, multivector, precision)
        windows = self._windows(
            inputs, spec, dimensions, not multivector, multivector, precision, options, window
        )
        return _items(windows, "multi" if multivector else "dense")

    def iter_encode_both(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        precision: str = "float32",
        window: int | None = None,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """:meth:`iter_encode` for both outputs: yield ``(single vector, token vectors)``.

        One forward pass per window on the local backend, as :meth:`encode_both`.
        """
        spec, options = self._check(task, dimensions, True, True, precision)
        windows = self._windows(inputs, spec, dimensions, True, True, precision, options, window)
        return _items(windows, "both")

    @overload
    async def aencode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = ...,
        multivector: Literal[False] = ...,
        precision: str = ...,
        late_chunking: bool = ...,
    ) -> np.ndarray: ...
    @overload
    async def aencode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: None = ...,
        multivector: Literal[True],
        precision: str = ...,
        late_chunking: Literal[False] = ...,
    ) -> list[np.ndarray]: ...
    async def aencode(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        multivector: bool = False,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> np.ndarray | list[np.ndarray]:
        """Async form of :meth:`encode`."""
        result = await self._aembed(
            inputs,
            task,
            dimensions,
            dense=not multivector,
            multi=multivector,
            precision=precision,
            late_chunking=late_chunking,
        )
        return _requested(result, multivector)

    async def aencode_both(
        self,
        inputs: Iterable[object],
        task: str,
        *,
        dimensions: int | None = None,
        precision: str = "float32",
    ) -> Embeddings:
        """Async form of :meth:`encode_both`."""
        return await self._aembed(
            inputs, task, dimensions, dense=True, multi=True, precision=precision
        )

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
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> Embeddings:
        if late_chunking:  # the chunks of one document: one call, never split into windows
            items, spec, options = self._prepare(
                inputs, task, dimensions, dense, multi, precision, late_chunking
            )
            if not items:
                return self._empty(dimensions, precision)
            result = self._backend.embed(
                items, spec, dense=dense, multi=multi, dimensions=dimensions, **options
            )
            self.usage += result.usage
            return _to_precision(result, precision)
        spec, options = self._check(task, dimensions, dense, multi, precision)
        windows = self._windows(
            inputs, spec, dimensions, dense, multi, precision, options, STREAM_WINDOW
        )
        return self._joined(list(windows), dimensions, precision)

    async def _aembed(
        self,
        inputs: Iterable[object],
        task: str,
        dimensions: int | None,
        *,
        dense: bool,
        multi: bool,
        precision: str = "float32",
        late_chunking: bool = False,
    ) -> Embeddings:
        if late_chunking:
            items, spec, options = self._prepare(
                inputs, task, dimensions, dense, multi, precision, late_chunking
            )
            windows: Iterable[list[Any]] = [items] if items else []
        else:
            spec, options = self._check(task, dimensions, dense, multi, precision)
            windows = _chunks(iter_inputs(inputs), STREAM_WINDOW)
        parts = []
        for chunk in windows:
            result = await self._backend.aembed(
                chunk, spec, dense=dense, multi=multi, dimensions=dimensions, **options
            )
            self.usage += result.usage
            parts.append(_to_precision(result, precision))
        return self._joined(parts, dimensions, precision)

    def _windows(
        self,
        inputs: Iterable[object],
        spec: TaskSpec,
        dimensions: int | None,
        dense: bool,
        multi: bool,
        precision: str,
        options: dict[str, Any],
        window: int | None,
    ) -> Iterator[Embeddings]:
        """The backend's results, one window of inputs at a time (inputs pulled lazily).

        The window size and the container are checked now; the items when reached.
        """
        chunks = _chunks(iter_inputs(inputs), _window_size(window))
        return self._embed_chunks(chunks, spec, dimensions, dense, multi, precision, options)

    def _embed_chunks(
        self,
        chunks: Iterator[list[Any]],
        spec: TaskSpec,
        dimensions: int | None,
        dense: bool,
        multi: bool,
        precision: str,
        options: dict[str, Any],
    ) -> Iterator[Embeddings]:
        for chunk in chunks:
            result = self._backend.embed(
                chunk, spec, dense=dense, multi=multi, dimensions=dimensions, **options
            )
            self.usage += result.usage
            yield _to_precision(result, precision)

    def _joined(
        self, parts: list[Embeddings], dimensions: int | None, precision: str
    ) -> Embeddings:
        if not parts:
            return self._empty(dimensions, precision)
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

    def _empty(self, dimensions: int | None, precision: str = "float32") -> Embeddings:
        width = packed_width(dimensions or self.dim, precision)
        return Embeddings(np.zeros((0, width), precision_dtype(precision)), [])

    def _check(
        self, task: str, dimensions: int | None, dense: bool, multi: bool, precision: str
    ) -> tuple[TaskSpec, dict[str, Any]]:
        """The task and backend options of a call, checked before any input is read."""
        _, spec, options = self._prepare((), task, dimensions, dense, multi, precision, False)
        return spec, options

    def _prepare(
        self,
        inputs: Iterable[object],
        task: str,
        dimensions: int | None,
        dense: bool,
        multi: bool,
        precision: str,
        late_chunking: bool,
    ) -> tuple[list[Any], TaskSpec, dict[str, Any]]:
        precision = check_precision(precision)
        # An API backend checks tasks against its model (univec.models); others take v4's.
        resolve = getattr(self._backend, "resolve_task", None)
        spec = resolve(task) if callable(resolve) else resolve_task(task)
        if not isinstance(spec, TaskSpec):
            raise TypeError(f"{type(self._backend).__name__}.resolve_task returned {spec!r}.")
        multivector = multi and not dense
        if dimensions is not None:
            if multivector:
                raise InvalidDimensionsError(
                    f"dimensions={dimensions!r} cannot be combined with multivector=True: "
                    f"token vectors are always {self.multivector_dim}-d. Drop one of the two."
                )
            # An API model univec does not know has no Matryoshka list: any size is sent.
            known = dimensions in self.matryoshka_dims if self.matryoshka_dims else True
            if isinstance(dimensions, bool) or not isinstance(dimensions, int) or not known:
                raise InvalidDimensionsError(
                    f"dimensions={dimensions!r} is not a Matryoshka dimension of {self.info.name}. "
                    f"Use one of {list(self.matryoshka_dims)} or None for the full {self.dim}."
                )
        items = normalize_inputs(inputs)
        options: dict[str, Any] = {}
        if precision in getattr(self._backend, "native_precisions", ()):
            options["precision"] = precision
        if late_chunking:
            if multi:
                raise InvalidArgumentError(
                    "late_chunking=True gives single vectors only; drop multivector=True (or "
                    "use encode() rather than encode_both())."
                )
            if not all(isinstance(item, str) for item in items):
                raise InvalidInputError(
                    "late_chunking=True applies to text only, but the inputs include images. "
                    "Encode the images in a separate call without late_chunking."
                )
            options["late_chunking"] = True
        return items, spec, options


def _to_precision(result: Embeddings, precision: str) -> Embeddings:
    """``result`` with its float outputs quantized (a backend may already have done so)."""
    if precision == "float32":
        return result
    dense = result.dense
    if dense is not None and dense.dtype.kind == "f":
        dense = quantize(dense, precision)
    multi = result.multi
    if multi is not None:
        multi = [quantize(m, precision) if m.dtype.kind == "f" else m for m in multi]
    return Embeddings(dense=dense, multi=multi, usage=result.usage)


def _requested(result: Embeddings, multivector: bool) -> np.ndarray | list[np.ndarray]:
    """The output an ``encode`` call asked for (the backend computed exactly that one)."""
    output = result.multi if multivector else result.dense
    if output is None:
        raise RuntimeError(
            f"The backend returned no {'multi' if multivector else 'dense'} vectors although "
            "they were requested; this is a bug in the backend."
        )
    return output


def _chunks(items: Iterator[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive lists of at most ``size`` items, pulled lazily."""
    while chunk := list(islice(items, size)):
        yield chunk


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
