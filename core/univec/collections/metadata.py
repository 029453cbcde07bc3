"""The one metadata rule every collection engine follows, checked before anything is written.

Metadata is stored as JSON beside the vectors. Each database converts Python values its own way
(Qdrant turns tuples into lists and big ints into floats; Milvus turns datetimes into strings and
NaN into ``null``), and a deeply nested value can make an engine's payload storage unreadable.
So :func:`validate_metadata` applies one rule, the same on every engine:

* A metadata value is a ``dict`` with ``str`` keys (or ``None``, meaning ``{}``).
* Values are JSON values: ``None``, ``bool``, ``int`` in the signed 64-bit range, finite
  ``float``, ``str`` (valid Unicode: no lone surrogates), ``list`` and ``dict`` (``str`` keys)
  of such values.
* Converted: ``tuple`` -> ``list``; numpy scalars (``np.int64``, ``np.float32``, ``np.bool_``)
  -> the Python ``int`` / ``float`` / ``bool`` they hold. Nothing else is converted.
* Refused (with the item, the key and the fix named): everything else — ``bytes``, ``set``,
  ``datetime``, ``UUID``, ``Decimal``, arbitrary objects, ``NaN`` / ``inf``, ints outside
  ``[-2**63, 2**63 - 1]``.
* Nested at most :data:`MAX_METADATA_DEPTH` levels (the metadata dict itself is level 1).
* At most :data:`MAX_METADATA_BYTES` bytes as compact UTF-8 JSON, per document.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from univec.errors import InvalidArgumentError, InvalidInputError

__all__ = [
    "MAX_METADATA_BYTES",
    "MAX_METADATA_DEPTH",
    "MAX_METADATA_INT",
    "MIN_METADATA_INT",
    "validate_metadata",
]

#: Most nesting levels of one document's metadata (the dict itself is level 1). Qdrant's
#: payload storage cannot read back values nested ~128 levels deep; 32 leaves ample room.
MAX_METADATA_DEPTH = 32
#: Most bytes of one document's metadata as compact UTF-8 JSON (Milvus caps a JSON field at
#: 64 KiB; metadata this large belongs in a separate store anyway).
MAX_METADATA_BYTES = 64 * 1024
#: Integer range both engines store exactly (signed 64-bit).
MIN_METADATA_INT = -(2**63)
MAX_METADATA_INT = 2**63 - 1


def validate_metadata(
    metadata: Mapping[str, Any] | None, *, item: int | None = None
) -> dict[str, Any]:
    """Check one document's metadata against the rule above and return it converted.

    Args:
        metadata: The document's metadata (``None`` is ``{}``).
        item: Position of the document in its ``add`` call, for the error message.

    Returns:
        A new dict holding only JSON values (tuples and numpy scalars converted).

    Raises:
        InvalidInputError: The metadata is not a dict with ``str`` keys, or a value has a type
            that is not stored (a ``TypeError``).
        InvalidArgumentError: A value is out of range (NaN, inf, a huge int, a lone surrogate),
            nested deeper than :data:`MAX_METADATA_DEPTH` or larger than
            :data:`MAX_METADATA_BYTES` (a ``ValueError``).

    Example:
        >>> validate_metadata({"tags": ("a", "b"), "year": np.int64(2024)})
        {'tags': ['a', 'b'], 'year': 2024}
    """
    where = "metadata" if item is None else f"metadata #{item}"
    if metadata is None:
        return {}
    if not isinstance(metadata, Mapping):
        raise InvalidInputError(
            f"{where} is {type(metadata).__name__} {_short(metadata)}; use a dict with str keys "
            "(or None)."
        )
    converted = _convert(metadata, where, "", 1)
    size = len(json.dumps(converted, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MAX_METADATA_BYTES:
        raise InvalidArgumentError(
            f"{where} is {size:,} bytes as JSON, over the {MAX_METADATA_BYTES:,}-byte limit per "
            "document. Store large values elsewhere and keep a reference (an id, a path) here."
        )
    return converted


def _convert(value: Any, where: str, path: str, depth: int) -> Any:
    """``value`` as plain JSON data; ``path`` names it in errors (``'a.b[2]'``)."""
    if value is None or isinstance(value, (bool, str)):
        if isinstance(value, str):
            _check_text(value, where, path)
        return value
    if isinstance(value, int):
        if not MIN_METADATA_INT <= value <= MAX_METADATA_INT:
            raise InvalidArgumentError(
                f"{where}: {_name(path)} = {value} is outside the signed 64-bit range every "
                "engine stores exactly. Store it as a str."
            )
        return int(value)  # an int subclass (e.g. an IntEnum) becomes a plain int
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidArgumentError(
                f"{where}: {_name(path)} = {value!r} is not a finite number, which JSON cannot "
                "hold. Use None for a missing value."
            )
        return float(value)
    if isinstance(value, (Mapping, list, tuple)):
        if depth > MAX_METADATA_DEPTH:
            raise InvalidArgumentError(
                f"{where}: {_name(path)} is nested more than {MAX_METADATA_DEPTH} levels deep. "
                "Flatten the metadata (e.g. join nested keys: {'a.b': 1})."
            )
        if isinstance(value, Mapping):
            result: dict[str, Any] = {}
            for key, inner in value.items():
                if not isinstance(key, str):
                    raise InvalidInputError(
                        f"{where}: {_name(path)} has the key {_short(key)} of type "
                        f"{type(key).__name__}; metadata keys must be str. Convert it, e.g. "
                        "str(key)."
                    )
                _check_text(key, where, path, key=True)
                result[key] = _convert(inner, where, f"{path}.{key}" if path else key, depth + 1)
            return result
        return [
            _convert(inner, where, f"{path}[{index}]", depth + 1)
            for index, inner in enumerate(value)
        ]
    scalar = _numpy_scalar(value)
    if scalar is not None:
        return _convert(scalar, where, path, depth)
    hint = (
        "use value.isoformat()"
        if hasattr(value, "isoformat")
        else "use value.hex() or base64"
        if isinstance(value, (bytes, bytearray, memoryview))
        else "use a list"
        if isinstance(value, (set, frozenset))
        else "convert it to str, int, float, bool, list or dict"
    )
    raise InvalidInputError(
        f"{where}: {_name(path)} is a {type(value).__name__} ({_short(value)}), which is not a "
        f"JSON value; {hint}."
    )


def _check_text(text: str, where: str, path: str, *, key: bool = False) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        what = f"the key {text!r:.60}" if key else f"{_name(path)} = {text!r:.60}"
        raise InvalidArgumentError(
            f"{where}: {what} is not valid Unicode (a lone surrogate at {exc.start}). Decode the "
            "source text correctly, or drop the character."
        ) from None


def _numpy_scalar(value: object) -> object | None:
    """The Python value of a numpy scalar (``np.int64(3)`` -> ``3``), else ``None``."""
    if isinstance(value, np.generic):
        item = value.item()
        if isinstance(item, (bool, int, float, str)):
            return item
    return None


def _name(path: str) -> str:
    return f"the value at {path!r}" if path else "the value"


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
