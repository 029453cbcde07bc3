"""The one request builder and the one response parser of the hosted-API backend.

Both the sync and the async paths call :func:`build_payload` and :func:`parse_response`, so
the wire format lives in this module only.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from univec.backends.base import Usage
from univec.errors import APIResponseError
from univec.inputs import Image
from univec.models import describe
from univec.quantization import API_EMBEDDING_TYPES, packed_width, precision_dtype

__all__ = ["EmbeddingRequest", "build_payload", "encode_image", "parse_response"]

#: Wire format of the vectors we ask for: little-endian float32, a third of the JSON size.
EMBEDDING_TYPE = "base64"
_FLOAT32_LE = np.dtype("<f4")


@dataclass(frozen=True)
class EmbeddingRequest:
    """What one request asks for, besides its inputs.

    Attributes:
        model: The API model name, e.g. ``"jina-embeddings-v4"``.
        task: The API task string, e.g. ``"retrieval.query"``.
        multivector: Ask for token vectors (``return_multivector``) instead of single vectors.
        dimensions: Matryoshka truncation of single vectors, or ``None`` for the full size.
        truncate: Let the server truncate inputs longer than the model's maximum.
        late_chunking: Embed the texts of one request as chunks of one document.
        precision: ``"float32"`` (sent as ``embedding_type: "base64"``), ``"binary"`` or
            ``"ubinary"`` (sent as that ``embedding_type``: packed bits computed by the API).
        fields: The request fields the model's schema has; ``None``: those of
            :mod:`univec.models` for ``model``, and for a model univec does not know only the
            fields the call needs.
    """

    model: str
    task: str | None
    multivector: bool = False
    dimensions: int | None = None
    truncate: bool = True
    late_chunking: bool = False
    precision: str = "float32"
    fields: frozenset[str] | None = None


def encode_image(image: Image) -> str:
    """The API's form of an image: a URL passed through, anything else as base64 file bytes.

    PIL images are encoded as PNG (by :meth:`univec.Image.read_bytes`).
    """
    if image.kind == "url" and image.url is not None:
        return image.url
    return base64.b64encode(image.read_bytes()).decode("ascii")


def build_payload(items: Sequence[str | Image], request: EmbeddingRequest) -> dict[str, Any]:
    """The JSON body of ``POST /embeddings`` for ``items``.

    Texts are sent as plain strings and images as ``{"image": <URL or base64>}``. ``task`` is
    sent unless ``None``, ``dimensions`` only when given, ``late_chunking`` only when enabled,
    ``return_multivector`` only to models whose schema has it (or when asked for); no field
    outside ``request.fields`` is ever sent.
    """
    inputs: list[Any] = [
        item if isinstance(item, str) else {"image": encode_image(item)} for item in items
    ]
    fields = request.fields
    if fields is None and (description := describe(request.model)) is not None:
        fields = description.fields
    payload: dict[str, Any] = {"model": request.model, "input": inputs}
    if request.task is not None:
        payload["task"] = request.task
    payload["embedding_type"] = API_EMBEDDING_TYPES.get(request.precision, EMBEDDING_TYPE)
    payload["truncate"] = request.truncate
    if request.multivector or (fields and "return_multivector" in fields):
        payload["return_multivector"] = request.multivector
    if request.dimensions is not None:
        payload["dimensions"] = request.dimensions
    if request.late_chunking:
        payload["late_chunking"] = True
    if fields is not None:
        payload = {key: value for key, value in payload.items() if key in fields}
    return payload


def parse_response(
    body: object,
    *,
    expected: int,
    dim: int,
    multivector: bool,
    request_id: str | None = None,
    precision: str = "float32",
) -> tuple[list[np.ndarray], Usage]:
    """Decode an ``/embeddings`` response into one float32 array per input, in input order.

    Args:
        body: The decoded JSON body.
        expected: How many inputs the request carried.
        dim: The size every vector must have (the requested dimensions, or the token-vector
            size for multi-vectors); 0 when unknown (a model univec does not know).
        multivector: Whether token vectors were requested (``embeddings`` per item, 2-D).
        request_id: Named in errors.
        precision: ``"binary"``/``"ubinary"`` when packed bits were requested: vectors come
            as lists of byte values (or base64 bytes), ``ceil(dim / 8)`` per vector, returned
            as int8/uint8 arrays.

    Returns:
        ``expected`` arrays, each ``(dim,)`` (single vectors) or ``(n_tokens, dim)``, ordered by
        the items' ``index`` field, and the usage the server reported.

    Raises:
        APIResponseError: The body does not match the request (missing, duplicate or
            out-of-range ``index``, wrong count, wrong vector size, undecodable vectors).
    """

    def fail(problem: str) -> APIResponseError:
        return APIResponseError(
            f"The API response does not match the request: {problem}. No vectors were returned "
            "rather than risk misaligned ones; retry the call, and report it if it persists.",
            request_id=request_id,
        )

    if not isinstance(body, Mapping) or not isinstance(body.get("data"), list):
        raise fail(f"expected a JSON object with a 'data' list, got {_describe(body)}")
    data: list[Any] = body["data"]
    if len(data) != expected:
        raise fail(f"{len(data)} embeddings for {expected} inputs")
    field = "embeddings" if multivector else "embedding"
    packed = precision in API_EMBEDDING_TYPES
    width = packed_width(dim, precision) if packed else dim
    ordered: list[np.ndarray | None] = [None] * expected
    for item in data:
        if not isinstance(item, Mapping):
            raise fail(f"a data item is {_describe(item)}, not an object")
        index = item.get("index")
        if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < expected:
            raise fail(f"index {index!r} is not in 0..{expected - 1}")
        if ordered[index] is not None:
            raise fail(f"index {index} appears twice")
        if field not in item:
            raise fail(f"item {index} has no {field!r} field")
        try:
            if packed:
                vectors = _decode_packed(item[field], width, precision, multivector)
            elif multivector:
                vectors = _decode_multi(item[field], dim)
            else:
                vectors = _decode_one(item[field])
        except (ValueError, TypeError, binascii.Error) as exc:
            raise fail(f"item {index} cannot be decoded ({exc})") from exc
        if width and vectors.shape[-1] != width:
            raise fail(f"item {index} has {vectors.shape[-1]}-d vectors, expected {width}-d")
        ordered[index] = vectors
    return [vector for vector in ordered if vector is not None], parse_usage(body.get("usage"))


def parse_usage(usage: object) -> Usage:
    """The ``usage`` object of a response (missing fields count as 0)."""
    if not isinstance(usage, Mapping):
        return Usage()

    def count(key: str) -> int:
        value = usage.get(key)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0

    total, prompt, image = count("total_tokens"), count("prompt_tokens"), count("image_tokens")
    return Usage(total_tokens=total or prompt + image, prompt_tokens=prompt, image_tokens=image)


def _decode_one(value: object) -> np.ndarray:
    """One single vector, from base64 (little-endian float32) or a list of floats."""
    if isinstance(value, str):
        return np.frombuffer(base64.b64decode(value, validate=True), _FLOAT32_LE).astype(np.float32)
    if isinstance(value, list):
        vector = np.asarray(value, dtype=np.float32)
        if vector.ndim != 1:
            raise ValueError(f"expected a flat list of floats, got shape {vector.shape}")
        return vector
    raise TypeError(f"expected a base64 string or a list of floats, got {_describe(value)}")


def _decode_multi(value: object, dim: int) -> np.ndarray:
    """A ``(n_tokens, dim)`` multi-vector from one base64 matrix, base64 rows or float rows."""
    if isinstance(value, str):
        flat = _decode_one(value)
        if not dim or flat.size % dim:
            raise ValueError(f"{flat.size} floats do not split into {dim}-d token vectors")
        return flat.reshape(-1, dim)
    if isinstance(value, list):
        if not value:
            return np.zeros((0, dim), np.float32)
        rows = [_decode_one(row) for row in value]
        if len({row.size for row in rows}) != 1:
            raise ValueError("token vectors of different sizes")
        return np.stack(rows)
    raise TypeError(f"expected a list of token vectors, got {_describe(value)}")


def _decode_packed(value: object, width: int, precision: str, multivector: bool) -> np.ndarray:
    """Packed bits (``binary``: int8, ``ubinary``: uint8) from byte values or base64 bytes."""
    dtype = precision_dtype(precision)
    info = np.iinfo(dtype)

    def row(entry: object) -> np.ndarray:
        if isinstance(entry, str):
            return np.frombuffer(base64.b64decode(entry, validate=True), dtype).copy()
        if isinstance(entry, list) and all(
            isinstance(x, int) and not isinstance(x, bool) for x in entry
        ):
            if entry and not info.min <= min(entry) <= max(entry) <= info.max:
                raise ValueError(f"byte values outside {info.min}..{info.max} for {precision}")
            return np.asarray(entry, dtype=dtype)
        raise TypeError(f"expected a list of integers or base64, got {_describe(entry)}")

    if not multivector:
        return row(value)
    if isinstance(value, str):
        flat = row(value)
        if not width or flat.size % width:
            raise ValueError(f"{flat.size} bytes do not split into {width}-byte token vectors")
        return flat.reshape(-1, width)
    if isinstance(value, list):
        if not value:
            return np.zeros((0, width), dtype)
        rows = [row(entry) for entry in value]
        if len({r.size for r in rows}) != 1:
            raise ValueError("token vectors of different sizes")
        return np.stack(rows)
    raise TypeError(f"expected a list of token vectors, got {_describe(value)}")


def _describe(value: object) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 60 else text[:57] + '...'}"
