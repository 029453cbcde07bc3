"""What a Milvus deployment supports, and what an existing collection stores.

The *native* layout needs StructArray fields searched with ``MAX_SIM_IP`` (Milvus >= 2.6.4);
Milvus Lite and older servers get the *portable* one. Milvus Lite accepts a StructArray field
at creation and silently drops it, so after creating a native collection the engine reads the
schema back (:func:`stored_layout`) instead of trusting the version alone.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from univec.collections import CollectionSchema
from univec.collections.compression import MuveraEncoding, StorageOptions, check_stored_options
from univec.errors import SchemaMismatchError

Layout = Literal["native", "portable"]
LAYOUTS: tuple[str, ...] = ("auto", "native", "portable")

#: First Milvus release with StructArray fields and ``MAX_SIM*`` metrics.
NATIVE_SINCE = (2, 6, 4)

# Field names of both layouts.
ID = "id"
DENSE = "dense"
PAYLOAD = "payload"
TOKENS = "tokens"
#: Portable layout: int8 codes of the token vectors, for MaxSim bounds.
TOKENS_INT8 = "tokens_int8"
#: Sub-field of the native ``tokens`` StructArray holding one token vector.
TOKEN_VECTOR = "vector"
#: Collection properties recording what the portable layout packs into ``tokens``.
LAYOUT_PROPERTY = "univec.layout"
MULTI_DIM_PROPERTY = "univec.multi_dim"
#: Collection property holding the storage options (JSON: pool factor, token precision, first
#: stage); a collection without it was created with the defaults.
STORAGE_PROPERTY = "univec.storage"
#: Portable layout, ``first_stage="muvera"``: the MUVERA encoding of the token vectors.
MUVERA = "muvera"

_VERSION = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def is_lite(version: str) -> bool:
    """Whether a ``get_server_version()`` answer is Milvus Lite's (e.g. ``"milvus_lite-3.2.2"``)."""
    return "lite" in version.lower()


def parse_version(version: str) -> tuple[int, int, int] | None:
    """``"v2.6.4-gpu"`` -> ``(2, 6, 4)``; ``None`` when no version number is in the text."""
    match = _VERSION.search(version)
    if match is None:
        return None
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


def supports_native(version: str) -> bool:
    """Whether a server of this version can hold the native layout (never Milvus Lite)."""
    if is_lite(version):
        return False
    parsed = parse_version(version)
    return parsed is not None and parsed >= NATIVE_SINCE


@dataclass(frozen=True)
class StoredSchema:
    """The facts of an existing univec collection, read from ``describe_collection``."""

    layout: Layout
    dense_dim: int | None
    multi_dim: int | None
    storage: StorageOptions = field(default_factory=StorageOptions)
    muvera_dim: int | None = None  # size of the stored MUVERA encodings (portable layout)


def stored_layout(description: dict[str, Any]) -> StoredSchema | None:
    """What a ``describe_collection`` answer stores; ``None`` unless it is a univec collection.

    The native layout has ``tokens`` as an ARRAY of STRUCT with a ``vector`` sub-field; the
    portable one has ``tokens`` as an ARRAY of VARCHAR and its token size in the properties.
    A native schema that lost its StructArray field (Milvus Lite) has no ``tokens``: ``None``.
    """
    fields = {f.get("name"): f for f in description.get("fields", [])}
    if not {ID, DENSE, PAYLOAD, TOKENS} <= set(fields):
        return None
    properties = description.get("properties") or {}
    try:
        storage = StorageOptions.from_stored(json.loads(properties.get(STORAGE_PROPERTY) or "{}"))
    except (ValueError, TypeError):
        return None
    dense_dim = _int(fields[DENSE].get("params", {}).get("dim"))
    tokens = fields[TOKENS]
    element = _type_name(tokens.get("element_type"))
    if element == "STRUCT":
        sub = {f.get("name"): f for f in tokens.get("struct_fields", [])}
        vector = sub.get(TOKEN_VECTOR, {})
        multi_dim = _int(vector.get("params", {}).get("dim"))
        return StoredSchema("native", dense_dim, multi_dim, storage)
    if element == "VARCHAR" and TOKENS_INT8 in fields:
        multi_dim = _int(properties.get(MULTI_DIM_PROPERTY))
        muvera_dim = _int(fields.get(MUVERA, {}).get("params", {}).get("dim"))
        return StoredSchema("portable", dense_dim, multi_dim, storage, muvera_dim)
    return None


def check_stored(where: str, schema: CollectionSchema, stored: StoredSchema | None) -> None:
    """Raise :class:`SchemaMismatchError` unless ``stored`` holds exactly ``schema``'s vectors.

    Args:
        where: The collection, as the error message names it.
        schema: What this collection object stores.
        stored: What the existing collection stores (``None``: not a univec collection).
    """
    if stored is None:
        raise SchemaMismatchError(
            f"{where} exists but was not created by univec (it lacks the fields "
            f"{ID!r}, {DENSE!r}, {PAYLOAD!r}, {TOKENS!r}). Use another collection name."
        )
    check_stored_options(where, schema.storage, stored.storage)
    if stored.dense_dim != schema.dense_dim:
        raise SchemaMismatchError(
            f"{where} stores {DENSE!r} vectors of {stored.dense_dim} dimensions, but this "
            f"collection makes {schema.dense_dim}: pass dimensions={stored.dense_dim} (or the "
            "encoder it was built with), use another collection name, or drop it."
        )
    if stored.multi_dim != schema.multi_dim:
        raise SchemaMismatchError(
            f"{where} stores {stored.multi_dim}-d token vectors, but this encoder makes "
            f"{schema.multi_dim}-d ones. Use the encoder it was built with or another name."
        )
    muvera_dim = MuveraEncoding(dim=schema.multi_dim).output_dim
    if schema.storage.first_stage == "muvera" and stored.muvera_dim not in (None, muvera_dim):
        raise SchemaMismatchError(
            f"{where} stores {stored.muvera_dim}-d MUVERA encodings (an earlier univec's "
            f"shape), but this version makes {muvera_dim}-d ones, so its queries would not "
            "match them. Add the documents again to a new collection (another name, or drop "
            "this one)."
        )


def _type_name(value: Any) -> str:
    return str(getattr(value, "name", value)).upper()


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
