"""Typed exceptions raised by univec.

Every exception derives from :class:`UnivecError` and, where one fits, from the
builtin a Python user would expect (``ValueError`` for bad values, ``TypeError``
for wrong kinds, ``FileNotFoundError`` for missing files, ...), so that both
``except univec.UnivecError`` and ``except ValueError`` work.

Messages name the bad value and the fix. API keys never appear in them.

The rule: an error's class says what kind of mistake was made, never where it was noticed, so
the same mistake raises the same class from every backend, collection and integration:

- :class:`InvalidInputError` (``TypeError``): an input item or id of the wrong kind (``None``,
  a number where text or an image was expected, a ``bool`` id).
- :class:`InvalidArgumentError` (``ValueError``): a parameter has a bad value, in a constructor
  or a call alike: ``k``, ``mode``, ``batch_size``, ``token_budget``, ``max_length``, ids or
  metadata of the wrong length (see :func:`check_positive_int`).
- :class:`InvalidFilterError` (an :class:`InvalidArgumentError`): a metadata filter is malformed
  (unknown operator, empty value list); :class:`UnsupportedFilterError` (one of those): the
  engine cannot express it. Never a silent match-all.
- :class:`InvalidTaskError`, :class:`InvalidDimensionsError` (``ValueError``): the model's rules.
- :class:`ConfigurationError` (``ValueError``): components chosen or combined wrongly: an
  unknown backend or option name, ``encoder=`` together with configuration, a missing setting.
- :class:`ClosedError` (``RuntimeError``): an encoder, collection, store or server used after
  ``close()``.
- :class:`MissingDependencyError` (``ImportError``): an extra is not installed; names it.
- File, image, PDF, checkpoint, collection and API errors: their own classes below.
"""

from __future__ import annotations

__all__ = [
    "APIAuthenticationError",
    "APIConnectionError",
    "APIError",
    "APIPermissionError",
    "APIRateLimitError",
    "APIRequestError",
    "APIResponseError",
    "APIServerError",
    "APITimeoutError",
    "CheckpointError",
    "ClosedError",
    "CollectionError",
    "ConfigurationError",
    "ImageLoadError",
    "InputFileNotFoundError",
    "InvalidArgumentError",
    "InvalidDimensionsError",
    "InvalidFilterError",
    "InvalidInputError",
    "InvalidTaskError",
    "MissingDependencyError",
    "PDFLoadError",
    "SchemaMismatchError",
    "UnivecError",
    "UnsupportedFilterError",
]


class UnivecError(Exception):
    """Base class of every error univec raises on purpose."""


class ConfigurationError(UnivecError, ValueError):
    """A backend or integration was configured with missing or contradictory options."""


class MissingDependencyError(UnivecError, ImportError):
    """An optional dependency is not installed; the message names the extra to install."""


class InvalidTaskError(UnivecError, ValueError):
    """The task string is not one of the model's tasks."""


class InvalidDimensionsError(UnivecError, ValueError):
    """``dimensions`` is not a Matryoshka dimension of the model, or was combined with multivector."""


class InvalidInputError(UnivecError, TypeError):
    """An input item is neither text nor an image (``None``, a number, a dict, ...)."""


class InvalidArgumentError(UnivecError, ValueError):
    """An argument has a bad value: a search ``mode``, ``k``, ids or metadata of the wrong length, ..."""


class InputFileNotFoundError(UnivecError, FileNotFoundError):
    """An image or PDF path does not exist."""


class ImageLoadError(UnivecError, ValueError):
    """An image could not be read, decoded or downloaded (corrupt, too large, too slow, bad URL)."""


class PDFLoadError(ImageLoadError):
    """A PDF could not be opened or rendered (corrupt, encrypted, not a PDF, bad page index)."""


class CheckpointError(UnivecError, ValueError):
    """A model checkpoint is missing files or has an unexpected layout."""


class CollectionError(UnivecError, RuntimeError):
    """A vector-database collection operation failed."""


class SchemaMismatchError(CollectionError, ValueError):
    """An existing collection was created with another schema or dimension."""


class InvalidFilterError(InvalidArgumentError):
    """A metadata filter is malformed: an unknown operator or key form, an empty value list."""


class UnsupportedFilterError(InvalidFilterError):
    """A filter uses an operator, key or value the engine cannot express (never a match-all)."""


class ClosedError(UnivecError, RuntimeError):
    """An encoder, collection, store or server was used after ``close()``."""


class APIError(UnivecError, RuntimeError):
    """An error from the hosted Jina Embeddings API.

    Attributes:
        status_code: The HTTP status, or ``None`` when no response arrived.
        detail: The server's ``detail`` field (or body text), if any.
        code: The server's ``code`` field, if any.
        request_id: The request id header of the failing response, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        detail: object = None,
        code: object = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.detail = detail
        self.code = code
        self.request_id = request_id


class APIRequestError(APIError, ValueError):
    """The API rejected the request as invalid (400, 404, 409, 422)."""


class APIAuthenticationError(APIError):
    """The API key is missing or was rejected (401)."""


class APIPermissionError(APIError):
    """The key may not make this request, e.g. its balance is used up (403)."""


class APIRateLimitError(APIError):
    """Rate limited (429) and the retry budget ran out."""


class APIServerError(APIError):
    """The API failed on its side (5xx) and the retry budget ran out."""


class APITimeoutError(APIError, TimeoutError):
    """The API did not answer within the timeout and the retry budget ran out."""


class APIConnectionError(APIError, ConnectionError):
    """The connection to the API failed or was dropped and the retry budget ran out."""


class APIResponseError(APIError, ValueError):
    """The API answered with data that does not match the request (count, index, dims)."""


def check_positive_int(name: str, value: object, cap: int | None = None) -> int:
    """``value`` as an ``int`` if it is a positive integer (at most ``cap``).

    The one check of counts and sizes (``k``, ``batch_size``, ``token_budget``, ``max_length``,
    ...), so a bad one raises the same error everywhere.

    Raises:
        InvalidArgumentError: ``value`` is not a positive ``int`` (``bool`` is refused), or is
            over ``cap``.
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise InvalidArgumentError(f"{name}={value!r} must be a positive integer.")
    if cap is not None and int(value) > cap:
        raise InvalidArgumentError(
            f"{name}={value!r} is over the limit of {cap}. Use at most {cap}."
        )
    return int(value)
