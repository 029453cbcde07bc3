"""``EncoderConfig``: the one place that names the options of :meth:`univec.Encoder.from_config`.

``Encoder.from_config``, ``Encoder.from_env`` and every framework class (LangChain, LlamaIndex,
Haystack) build their encoder through it. Framework components with the same configuration share
one :class:`~univec.Encoder` (and so one model in memory) through :func:`shared_encoder`.

Example:
    >>> config = EncoderConfig(backend="local", model="jinaai/jina-embeddings-v4", device="cuda")
    >>> encoder = config.build()                 # a new encoder
    >>> same = shared_encoder(config)            # one per configuration in this process
    >>> release_encoder(config)                  # the last release closes it
"""

from __future__ import annotations

import inspect
import os
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from univec.errors import ConfigurationError

if TYPE_CHECKING:
    from univec.encoder import Encoder

__all__ = [
    "BACKENDS",
    "DEFAULT_API_MODEL",
    "DEFAULT_LOCAL_MODEL",
    "EncoderConfig",
    "release_encoder",
    "shared_encoder",
]

DEFAULT_LOCAL_MODEL = "jinaai/jina-embeddings-v4"
DEFAULT_API_MODEL = "jina-embeddings-v4"
BACKENDS = ("local", "api")

#: Flat options that only one backend takes; the other backend ignores them, so one
#: configuration can name both and switch with ``backend`` alone.
LOCAL_ONLY = ("device", "dtype", "min_pixels", "max_pixels")
API_ONLY = ("api_key", "base_url")


@dataclass(frozen=True)
class EncoderConfig:
    """How to build an :class:`univec.Encoder`; frozen and hashable, so it can key a cache.

    Attributes:
        backend: ``"local"`` (PyTorch) or ``"api"`` (hosted Jina API).
        model: Local: checkpoint directory or hub id; API: model name (default: each backend's).
        device: Local: ``"cuda"``, ``"mps"``, ``"cpu"`` (default: the best available).
        dtype: Local: ``"float32"``, ``"bfloat16"``, ``"float16"`` (default: per device).
        max_length: Tokens per input; longer text is truncated.
        min_pixels: Local: smallest image area the image processor resizes to.
        max_pixels: Local: largest image area (default: the checkpoint's, 602,112 for v4).
        api_key: API: the key (default: ``JINA_API_KEY``). Never shown in ``repr``.
        base_url: API: base URL (default ``https://api.jina.ai/v1``).
        options: Further keyword options of the backend (``Encoder.local`` / ``Encoder.api``),
            as sorted ``(name, value)`` pairs.
    """

    backend: str = "local"
    model: str | None = None
    device: str | None = None
    dtype: str | None = None
    max_length: int | None = None
    min_pixels: int | None = None
    max_pixels: int | None = None
    api_key: str | None = field(default=None, repr=False)
    base_url: str | None = None
    options: tuple[tuple[str, Any], ...] = ()

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigurationError(
                f"Unknown backend {self.backend!r}. Use backend='local' (PyTorch) or "
                "backend='api' (hosted Jina API)."
            )
        if self.backend == "local":
            from univec.models import check_local_model

            check_local_model(self.model)
        unknown = (
            sorted(set(dict(self.options)) - set(backend_option_names(self.backend)))
            if self.options
            else []
        )
        if unknown:
            raise ConfigurationError(
                f"Unknown option(s) {unknown} for backend={self.backend!r}. Options: "
                f"{sorted(set(flat_option_names()) | set(backend_option_names(self.backend)))}."
            )

    @classmethod
    def from_options(cls, backend: str = "local", **options: Any) -> EncoderConfig:
        """A configuration from the flat keyword options of :meth:`univec.Encoder.from_config`.

        ``None`` values count as not given. Names that are neither flat options (the fields of
        this class) nor options of the chosen backend raise :class:`ConfigurationError` here,
        before any model is loaded.
        """
        flat = set(flat_option_names())
        given = {key: value for key, value in options.items() if value is not None}
        extra = {key: value for key, value in given.items() if key not in flat}
        return cls(
            backend=backend,
            **{key: value for key, value in given.items() if key in flat},
            options=tuple(sorted(extra.items())),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> EncoderConfig:
        """A configuration from ``UNIVEC_*`` / ``JINA_API_KEY`` variables; ``overrides`` win.

        Reads ``UNIVEC_BACKEND`` (``local`` or ``api``; default ``local``), ``UNIVEC_MODEL``,
        ``UNIVEC_DEVICE``, ``UNIVEC_DTYPE``, ``UNIVEC_MAX_LENGTH``, ``UNIVEC_MAX_PIXELS``,
        ``JINA_API_KEY`` and ``UNIVEC_BASE_URL``.
        """
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {
            "backend": env.get("UNIVEC_BACKEND", "local").strip().lower() or "local"
        }
        for name, variable in _ENVIRONMENT.items():
            raw = env.get(variable, "").strip()
            if not raw:
                continue
            if name in _INTEGER_FIELDS:
                try:
                    values[name] = int(raw)
                except ValueError as exc:
                    raise ConfigurationError(f"{variable}={raw!r} is not an integer.") from exc
            else:
                values[name] = raw
        values.update({key: value for key, value in overrides.items() if value is not None})
        return cls.from_options(**values)

    def for_backend(self) -> dict[str, Any]:
        """The keyword arguments of this backend's factory (``Encoder.local`` / ``Encoder.api``)."""
        skip = API_ONLY if self.backend == "local" else LOCAL_ONLY
        kwargs = {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if item.name not in ("backend", "options", *skip)
            and getattr(self, item.name) is not None
        }
        kwargs.update(dict(self.options))
        return kwargs

    def build(self) -> Encoder:
        """A new encoder with this configuration (the caller owns and closes it)."""
        from univec.encoder import Encoder

        factory: Callable[..., Encoder] = Encoder.local if self.backend == "local" else Encoder.api
        return factory(**self.for_backend())

    def with_options(self, **changes: Any) -> EncoderConfig:
        """A copy with some flat options changed."""
        return replace(self, **changes)


_ENVIRONMENT = {
    "model": "UNIVEC_MODEL",
    "device": "UNIVEC_DEVICE",
    "dtype": "UNIVEC_DTYPE",
    "max_length": "UNIVEC_MAX_LENGTH",
    "max_pixels": "UNIVEC_MAX_PIXELS",
    "api_key": "JINA_API_KEY",
    "base_url": "UNIVEC_BASE_URL",
}
_INTEGER_FIELDS = ("max_length", "min_pixels", "max_pixels")


def flat_option_names() -> tuple[str, ...]:
    """The flat options every framework class exposes (the fields of :class:`EncoderConfig`)."""
    return tuple(item.name for item in fields(EncoderConfig) if item.name != "options")


def backend_option_names(backend: str) -> tuple[str, ...]:
    """Keyword options of a backend beyond the flat ones (timeouts, token budget, ...)."""
    if backend == "local":
        from univec.backends.local.backend import LocalBackend

        init: Callable[..., object] = LocalBackend.__init__
    else:
        from univec.backends.api.backend import APIBackend

        init = APIBackend.__init__
    names = [
        name
        for name, parameter in inspect.signature(init).parameters.items()
        if name != "self" and parameter.kind is not inspect.Parameter.VAR_KEYWORD
    ]
    return tuple(name for name in names if name not in flat_option_names())


# --------------------------------------------------------------------------- shared encoders
_shared: dict[EncoderConfig, tuple[Encoder, int]] = {}
_shared_lock = threading.Lock()


def shared_encoder(config: EncoderConfig) -> Encoder:
    """The process-wide encoder of ``config``, built on first use; each call takes a reference.

    Components with equal configurations get the same encoder, so the model is loaded once.
    Give the reference back with :func:`release_encoder`; the last one closes the encoder.
    A configuration holding an unhashable option value gets an encoder of its own.
    """
    try:
        hash(config)
    except TypeError:
        return config.build()
    with _shared_lock:
        entry = _shared.get(config)
        if entry is None:
            entry = (config.build(), 0)
        _shared[config] = (entry[0], entry[1] + 1)
        return entry[0]


def release_encoder(config: EncoderConfig, encoder: Encoder | None = None) -> None:
    """Give back a reference taken by :func:`shared_encoder`; the last one closes the encoder.

    Args:
        config: The configuration the encoder was taken for.
        encoder: The encoder that was returned; an unshared one (unhashable configuration) is
            closed at once.
    """
    try:
        hash(config)
    except TypeError:
        if encoder is not None:
            encoder.close()
        return
    with _shared_lock:
        entry = _shared.get(config)
        if entry is None or (encoder is not None and entry[0] is not encoder):
            if encoder is not None:
                encoder.close()
            return
        if entry[1] > 1:
            _shared[config] = (entry[0], entry[1] - 1)
            return
        del _shared[config]
    entry[0].close()
