"""The wire format of ``POST /v1/embeddings``: request validation and response rendering.

This module is the server's single source of truth for the hosted API's contract
(jina-embeddings-v4): which fields a request may carry, which values they take, what status
and ``detail`` a bad request gets, and how vectors are written back (``float``, ``base64``,
``binary``, ``ubinary``). It imports no web framework, so it is tested on its own.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from univec.backends.base import Usage, truncate_dims
from univec.tasks import TASKS, TaskSpec

__all__ = [
    "DEFAULT_TASK",
    "EMBEDDING_TYPES",
    "MAX_INPUTS",
    "EmbeddingQuery",
    "ImageSource",
    "RequestRejected",
    "parse_request",
    "render_response",
]

#: Most inputs one request may carry (the hosted API's limit for jina-embeddings-v4).
MAX_INPUTS = 512
#: The task of a request that names none, as on the hosted API.
DEFAULT_TASK = "text-matching"
EMBEDDING_TYPES = ("float", "base64", "binary", "ubinary")
#: Fields of the hosted API's v4 request, plus OpenAI's ``encoding_format`` and ``user`` so
#: that the official ``openai`` client works unchanged.
FIELDS = frozenset(
    {
        "model",
        "input",
        "task",
        "dimensions",
        "embedding_type",
        "truncate",
        "late_chunking",
        "return_multivector",
        "encoding_format",
        "user",
    }
)
_FLOAT32_LE = np.dtype("<f4")


class RequestRejected(Exception):
    """A request the server answers with an error status and ``{"detail": ...}``.

    Attributes:
        status: The HTTP status (400, 401, 413, 422, 503, ...).
        detail: What was wrong and how to fix it.
        headers: Extra response headers (e.g. ``Retry-After``).
    """

    def __init__(self, status: int, detail: str, headers: Mapping[str, str] | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = dict(headers or {})


@dataclass(frozen=True)
class ImageSource:
    """An image input as sent: a URL to download, or the decoded bytes of base64 / a data URI."""

    url: str | None = None
    data: bytes = field(default=b"", repr=False)


@dataclass(frozen=True)
class EmbeddingQuery:
    """A validated ``/embeddings`` request.

    Attributes:
        inputs: Texts and images, in request order.
        task: The task.
        dimensions: Matryoshka truncation of single vectors, or ``None``.
        embedding_type: ``float``, ``base64``, ``binary`` or ``ubinary``.
        multivector: Token vectors (``return_multivector``) instead of single vectors.
        truncate: Cut over-long texts at the model's maximum instead of refusing them.
    """

    inputs: list[str | ImageSource]
    task: TaskSpec
    dimensions: int | None = None
    embedding_type: str = "float"
    multivector: bool = False
    truncate: bool = False


def parse_request(
    body: object, *, model: str, dim: int, max_inputs: int = MAX_INPUTS, max_image_bytes: int
) -> EmbeddingQuery:
    """Validate a decoded JSON body as the hosted API does.

    Args:
        body: The decoded JSON body.
        model: The model name this server serves; requests must name it.
        dim: Size of the model's full single vector (the upper bound of ``dimensions``).
        max_inputs: Most inputs a request may carry.
        max_image_bytes: Largest image (decoded bytes) accepted.

    Raises:
        RequestRejected: 422 for a malformed request (unknown field or task, bad types,
            empty or too many inputs, ``dimensions`` with ``return_multivector``), 400 for
            undecodable base64, 413 for an image over ``max_image_bytes``.
    """
    if not isinstance(body, dict):
        raise _invalid(f"The body must be a JSON object, got {_kind(body)}.")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise _invalid(f"Unknown field(s) {unknown}. Allowed fields: {sorted(FIELDS - {'user'})}.")
    if body.get("model") != model:
        raise _invalid(
            f"'model' is {body.get('model')!r}; this server serves {model!r}. "
            f'Send "model": {model!r}.'
        )
    raw = body.get("input")
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list):
        raise _invalid(f"'input' must be a list of strings and objects, got {_kind(raw)}.")
    if not raw:
        raise _invalid("'input' is empty: send at least one text or image.")
    if len(raw) > max_inputs:
        raise _invalid(
            f"'input' has {len(raw)} items; at most {max_inputs} are allowed per request. "
            "Split the inputs into several requests."
        )
    inputs = [_parse_input(item, position, max_image_bytes) for position, item in enumerate(raw)]
    task_name = body.get("task", DEFAULT_TASK)
    task = TASKS.get(task_name) if isinstance(task_name, str) else None
    if task is None:
        raise _invalid(f"Unknown task {task_name!r}. Use one of: {', '.join(TASKS)}.")
    flags = {}
    for name in ("truncate", "late_chunking", "return_multivector"):
        value = body.get(name, False)
        if not isinstance(value, bool):
            raise _invalid(f"'{name}' must be true or false, got {_kind(value)}.")
        flags[name] = value
    if flags["late_chunking"]:
        raise _invalid(
            "'late_chunking' is not supported by this server. Send the chunks without it."
        )
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int):
            raise _invalid(f"'dimensions' must be an integer, got {_kind(dimensions)}.")
        if not 1 <= dimensions <= dim:
            raise _invalid(f"'dimensions' is {dimensions}; it must be in 1..{dim}.")
        if flags["return_multivector"]:
            raise _invalid(
                "'dimensions' cannot be combined with 'return_multivector': token vectors have "
                "a fixed size. Drop one of the two."
            )
    return EmbeddingQuery(
        inputs=inputs,
        task=task,
        dimensions=dimensions,
        embedding_type=_embedding_type(body),
        multivector=flags["return_multivector"],
        truncate=flags["truncate"],
    )


def render_response(
    query: EmbeddingQuery,
    *,
    model: str,
    dense: np.ndarray | None,
    multi: Sequence[np.ndarray] | None,
    usage: Usage,
) -> dict[str, Any]:
    """The JSON body answering ``query``: one item per input, ``index`` in request order."""
    data: list[dict[str, Any]] = []
    if query.multivector:
        assert multi is not None  # the batcher computed what the query asked for
        for index, matrix in enumerate(multi):
            rows = [render_vector(row, query.embedding_type) for row in np.asarray(matrix)]
            data.append({"object": "embeddings", "index": index, "embeddings": rows})
    else:
        assert dense is not None
        vectors = truncate_dims(np.asarray(dense, np.float32), query.dimensions)
        for index, vector in enumerate(vectors):
            value = render_vector(vector, query.embedding_type)
            data.append({"object": "embedding", "index": index, "embedding": value})
    counts: dict[str, int] = {
        "total_tokens": usage.total_tokens,
        "prompt_tokens": usage.prompt_tokens,
    }
    if usage.image_tokens:
        counts["image_tokens"] = usage.image_tokens
    return {"model": model, "object": "list", "usage": counts, "data": data}


def render_vector(vector: np.ndarray, embedding_type: str) -> Any:
    """One vector as the API writes it.

    ``float``: a list of numbers; ``base64``: little-endian float32 bytes; ``binary`` /
    ``ubinary``: the signs packed 8 to a byte (first dimension in the highest bit), as
    ``int8`` (byte - 128) or ``uint8`` numbers.
    """
    vector = np.asarray(vector, dtype=_FLOAT32_LE)
    if embedding_type == "float":
        return vector.tolist()
    if embedding_type == "base64":
        return base64.b64encode(vector.tobytes()).decode("ascii")
    packed = np.packbits(vector > 0)
    if embedding_type == "ubinary":
        return packed.tolist()
    return (packed.astype(np.int16) - 128).tolist()


def _embedding_type(body: Mapping[str, Any]) -> str:
    given = {name: body[name] for name in ("embedding_type", "encoding_format") if name in body}
    for name, value in given.items():
        if value not in EMBEDDING_TYPES:
            raise _invalid(
                f"'{name}' is {value!r}; use one of {', '.join(map(repr, EMBEDDING_TYPES))}."
            )
    if len(set(given.values())) > 1:
        raise _invalid("'embedding_type' and 'encoding_format' disagree; send only one of them.")
    return next(iter(given.values()), "float")


def _parse_input(item: object, position: int, max_image_bytes: int) -> str | ImageSource:
    if isinstance(item, str):
        return item
    if isinstance(item, dict) and set(item) == {"text"} and isinstance(item["text"], str):
        return item["text"]
    if isinstance(item, dict) and set(item) == {"image"} and isinstance(item["image"], str):
        return _parse_image(item["image"], position, max_image_bytes)
    if isinstance(item, dict) and "pdf" in item:
        raise _invalid(
            f"input[{position}] is a PDF; this server embeds text and images. Render the pages "
            '(univec.pdf_pages) and send each as {"image": ...}.'
        )
    raise _invalid(
        f"input[{position}] is {_kind(item)}; each input must be a string, "
        '{"text": "..."} or {"image": "<URL, base64 or data URI>"}.'
    )


def _parse_image(value: str, position: int, max_image_bytes: int) -> ImageSource:
    stripped = value.strip()
    if stripped.lower().startswith(("http://", "https://")):
        return ImageSource(url=stripped)
    encoded = stripped
    if stripped.startswith("data:"):
        header, comma, encoded = stripped.partition(",")
        if not comma or not header.endswith(";base64"):
            raise RequestRejected(
                400,
                f"input[{position}].image is a data URI without ';base64,' data. Send "
                "'data:image/png;base64,<base64>'.",
            )
    encoded = "".join(encoded.split())  # line breaks are common in base64 from files
    if len(encoded) // 4 * 3 > max_image_bytes + 2:
        raise _too_large(position, len(encoded) // 4 * 3, max_image_bytes)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise RequestRejected(
            400,
            f"input[{position}].image is neither an http(s) URL nor valid base64. Send a URL, "
            "the base64 of the image file, or a data URI.",
        ) from None
    if not data:
        raise RequestRejected(400, f"input[{position}].image is empty.")
    if len(data) > max_image_bytes:
        raise _too_large(position, len(data), max_image_bytes)
    return ImageSource(data=data)


def _too_large(position: int, size: int, limit: int) -> RequestRejected:
    return RequestRejected(
        413,
        f"input[{position}].image is {size:,} bytes, over the {limit:,}-byte limit. Resize or "
        "recompress it.",
    )


def _invalid(detail: str) -> RequestRejected:
    return RequestRejected(422, detail)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"
