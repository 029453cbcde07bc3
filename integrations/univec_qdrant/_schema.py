"""What both Qdrant engines agree on: vector names, HNSW settings, schema checks, filters, records.

The two engines build the same filters from different classes (``qdrant_client.models`` and
``qdrant_edge``): :func:`native_filter` holds the translation, each engine a
:class:`FilterClasses` that constructs the objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from univec.collections import (
    PAYLOAD_DOCUMENT_ID,
    PAYLOAD_METADATA,
    PAYLOAD_PART,
    PAYLOAD_PART_COUNT,
    CollectionSchema,
    PointRecord,
)
from univec.collections.compression import (
    MUVERA_FLOAT16,
    MuveraEncoding,
    StorageOptions,
    check_stored_options,
)
from univec.collections.filters import (
    COMPARISON_OPERATORS,
    RANGE_OPERATORS,
    And,
    Comparison,
    FilterNode,
    Not,
    Or,
    comparison_kind,
    comparison_values,
    engine_filter,
    is_filter_node,
    iso_text,
    key_path,
    negate,
)
from univec.errors import (
    ConfigurationError,
    InvalidFilterError,
    SchemaMismatchError,
    UnsupportedFilterError,
)

DENSE = "dense"
MULTI = "multi"
#: The MUVERA encoding of the token vectors (collections with ``first_stage="muvera"``).
MUVERA = "muvera"
#: Key of the storage options in the collection's metadata (Qdrant server) or
#: in ``OPTIONS_FILE`` (Qdrant Edge).
OPTIONS_KEY = "univec"
#: Quantised token vectors: searches select this many times ``limit`` points by quantised
#: score, then rescore them from the original float32 vectors (``int8``; ``multi`` also binary).
OVERSAMPLING = 4.0

#: Characters a collection name may not hold: path separators and what file systems refuse.
_NAME_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def check_collection_name(name: object) -> str:
    """``name`` if it can name a Qdrant collection (and, on disk, a directory of its own).

    Qdrant's own rule, the same on every engine: 1 to 255 characters, no path separator or
    character file systems refuse, not ``.`` or ``..`` (which would place the collection in the
    base folder or its parent).

    Raises:
        ConfigurationError: ``name`` is not such a ``str``.
    """
    if not isinstance(name, str):
        raise ConfigurationError(f"The collection name must be a str, got {type(name).__name__}.")
    bad = _NAME_FORBIDDEN.search(name)
    reason = None
    if not name or len(name) > 255:
        reason = "it must be 1 to 255 characters long"
    elif bad:
        reason = f'it holds {bad.group()!r}; path separators and <>:"|?* are not allowed'
    elif name.strip(".") == "" or name != name.strip():
        reason = "it may not be only dots or start or end with whitespace"
    elif not name.isprintable():  # also lone surrogates, which no file system takes
        reason = "it holds unprintable characters"
    if reason:
        raise ConfigurationError(
            f"Qdrant collection name {name!r} is invalid: {reason}. Use e.g. letters, digits, "
            "'_' and '-'."
        )
    return name


@dataclass(frozen=True)
class HnswSettings:
    """HNSW index of the ``dense`` vector (``multi`` has none: MaxSim is scored exactly).

    Attributes:
        m: Edges per node.
        ef_construct: Candidates while building the graph.
        full_scan_threshold: Below this many KB of vectors, Qdrant scans instead.
        ef_search: Minimum ``hnsw_ef`` of searches (raised to the prefetch size when larger).
    """

    m: int = 16
    ef_construct: int = 100
    full_scan_threshold: int = 10_000
    ef_search: int = 128


def qdrant_muvera(dim: int) -> MuveraEncoding:
    """The MUVERA shape of Qdrant collections: stored in float16, so the 3,072-d one."""
    return MuveraEncoding(dim=dim, **MUVERA_FLOAT16)


def expected_vectors(schema: CollectionSchema) -> dict[str, dict[str, Any]]:
    """The vector facts a collection with ``schema`` has, as :func:`check_schema` compares them."""
    expected = {
        DENSE: {"size": schema.dense_dim, "distance": "cosine", "multivector": None},
        MULTI: {"size": schema.multi_dim, "distance": "dot", "multivector": "max_sim"},
    }
    if schema.storage.first_stage == "muvera":
        size = qdrant_muvera(schema.multi_dim).output_dim
        expected[MUVERA] = {"size": size, "distance": "dot", "multivector": None}
    return expected


def quantised(schema: CollectionSchema) -> bool:
    """Whether the token vectors are searched quantised (with float32 originals on disk)."""
    return schema.storage.token_precision in ("int8", "binary")


def check_schema(where: str, schema: CollectionSchema, found: dict[str, dict[str, Any]]) -> None:
    """Raise :class:`SchemaMismatchError` unless ``found`` vectors are exactly ``schema``'s.

    Args:
        where: The collection, as the error message names it.
        schema: What this collection object stores.
        found: Vector name -> ``{"size", "distance", "multivector"}`` of the existing collection
            (distance and comparator lower-case, e.g. ``"cosine"``, ``"max_sim"``).
    """
    expected = expected_vectors(schema)
    if set(found) - {MUVERA} != set(expected) - {MUVERA}:
        raise SchemaMismatchError(
            f"{where} has the vectors {sorted(found)}, not {sorted(expected)}: it was not created "
            "by univec. Use another collection name."
        )
    for name, facts in expected.items():
        have = found.get(name)
        if name == MUVERA and have is not None and have != facts:
            raise SchemaMismatchError(
                f"{where} stores {have['size']}-d MUVERA encodings (an earlier univec's shape), "
                f"but this version makes {facts['size']}-d ones, so its queries would not match "
                "them. Add the documents again to a new collection (another name, or delete it)."
            )
        if have != facts:
            hint = (
                f"pass dimensions={have['size']} (or the encoder it was built with)"
                if name == DENSE and have is not None and have["size"] != facts["size"]
                else "use another collection name"
            )
            raise SchemaMismatchError(
                f"{where} stores {name!r} vectors as {have}, but this collection needs {facts}. "
                f"It was created with another encoder or dimension: {hint}, or delete it."
            )


def check_options(where: str, schema: CollectionSchema, stored: dict[str, Any] | None) -> None:
    """Raise :class:`SchemaMismatchError` unless the stored options are ``schema``'s.

    ``stored`` is what the collection recorded at creation (``None``: created before univec
    recorded options, i.e. with the defaults).
    """
    check_stored_options(where, schema.storage, StorageOptions.from_stored(stored))


class FilterClasses(Protocol):
    """How one Qdrant engine constructs filter objects (the translation is shared)."""

    #: The engine's native filter class, and its name as error messages spell it.
    filter_type: type
    filter_name: str

    def filter(
        self,
        *,
        must: list[Any] | None = None,
        should: list[Any] | None = None,
        must_not: list[Any] | None = None,
    ) -> Any:
        """A ``Filter``: every ``must``, at least one ``should``, no ``must_not`` condition."""
        ...

    def match_value(self, key: str, value: str | int | bool) -> Any:
        """``key == value`` (a keyword, integer or boolean match)."""
        ...

    def match_any(self, key: str, values: list[Any]) -> Any:
        """``key`` equals one of ``values`` (all str)."""
        ...

    def range(self, key: str, bounds: dict[str, float]) -> Any:
        """A numeric range of ``key``: ``bounds`` has some of ``gt``/``gte``/``lt``/``lte``."""
        ...

    def datetime_range(self, key: str, bounds: dict[str, str]) -> Any:
        """A datetime range of ``key``; the bounds are RFC 3339 strings."""
        ...

    def is_empty(self, key: str) -> Any:
        """``key`` is null, missing (or an empty list)."""
        ...


def native_filter(filter: FilterNode | Any | None, classes: FilterClasses) -> Any:
    """A filter tree as the engine's ``Filter``; a native ``Filter`` passes through.

    Raises:
        InvalidFilterError: ``filter`` is neither.
        UnsupportedFilterError: A node Qdrant cannot express (e.g. ``>`` on a string).
    """
    if filter is None:
        return None
    if isinstance(filter, (list, tuple)):  # FieldConditions of the older form
        filter = engine_filter(list(filter))
        if filter is None:
            return None
    if is_filter_node(filter):
        native = _node(filter, classes)
        if isinstance(native, classes.filter_type):
            return native
        return classes.filter(must=[native])  # requests take a Filter, not a bare condition
    if not isinstance(filter, classes.filter_type):
        raise InvalidFilterError(
            f"filter of type {type(filter).__name__} is not a {classes.filter_name}; pass a "
            f"metadata dict such as {{'lang': 'en'}}, a univec filter tree, or a "
            f"{classes.filter_name}."
        )
    return filter


#: Points per scroll request.
SCROLL_PAGE = 1000


def scroll_records(
    fetch: Callable[[Any, int], tuple[list[Any], Any]], limit: int | None
) -> list[PointRecord]:
    """Payload-only records of a scroll, page by page, up to ``limit`` (``None``: all).

    ``fetch(offset, page_size)`` runs one scroll request of the engine (Edge or client) and
    returns ``(points, next offset)``; a ``None`` offset or an empty page ends the scroll.
    """
    found: list[PointRecord] = []
    offset = None
    while limit is None or len(found) < limit:
        page = SCROLL_PAGE if limit is None else min(SCROLL_PAGE, limit - len(found))
        points, offset = fetch(offset, page)
        found.extend(record_from_payload(str(p.id), p.payload or {}, {}) for p in points)
        if offset is None or not points:
            break
    return found


def first_parts_filter(filter: FilterNode | Any | None, classes: FilterClasses) -> Any:
    """Points that are part 0 of their document (one per document), matching ``filter``."""
    conditions = [classes.match_value(PAYLOAD_PART, 0)]
    translated = native_filter(filter, classes)
    if translated is not None:
        conditions.append(translated)
    return classes.filter(must=conditions)


def _node(node: FilterNode, classes: FilterClasses) -> Any:
    if isinstance(node, And):
        return classes.filter(must=[_node(clause, classes) for clause in node.clauses])
    if isinstance(node, Or):
        if not node.clauses:
            return _nothing(classes)
        return classes.filter(should=[_node(clause, classes) for clause in node.clauses])
    if isinstance(node, Not):
        return classes.filter(must_not=[_node(node.clause, classes)])
    return _comparison(node, classes)


def _nothing(classes: FilterClasses) -> Any:
    """A condition no point meets: every point has a document id."""
    return classes.is_empty(PAYLOAD_DOCUMENT_ID)


def _comparison(node: Comparison, classes: FilterClasses) -> Any:
    key = metadata_path(node.key)
    operator = node.operator
    if operator == "exists":
        return classes.filter(must_not=[classes.is_empty(key)])
    if operator == "missing":
        return classes.is_empty(key)
    if operator in ("!=", "not in"):
        return classes.filter(must_not=[_comparison(negate(node), classes)])  # type: ignore[arg-type]
    if operator == "in":
        values = comparison_values(node)
        if not values:
            return _nothing(classes)
        if all(isinstance(v, str) for v in values):
            return classes.match_any(key, list(values))
        options = [_equals(node, key, value, classes) for value in values]
        return options[0] if len(options) == 1 else classes.filter(should=options)
    if operator == "==":
        return _equals(node, key, node.value, classes)
    if operator in RANGE_OPERATORS:
        bound = _BOUNDS[operator]
        kind = comparison_kind(node, node.value, "Qdrant")
        if kind == "number":
            return classes.range(key, {bound: node.value})
        if kind == "datetime":
            return classes.datetime_range(key, {bound: iso_text(node.value)})
        raise UnsupportedFilterError(
            f"Qdrant cannot compare {node.value!r:.40} with {operator!r} (filter {node}): ranges "
            "take numbers or datetimes. Store the value as a number or an ISO date, or filter "
            "with ==/in."
        )
    raise UnsupportedFilterError(
        f"Qdrant has no filter operator {operator!r} (filter {node}); use one of "
        f"{list(COMPARISON_OPERATORS)}."
    )


_BOUNDS = {">": "gt", ">=": "gte", "<": "lt", "<=": "lte"}


def _equals(node: Comparison, key: str, value: Any, classes: FilterClasses) -> Any:
    kind = comparison_kind(node, value, "Qdrant")
    if kind in ("str", "bool"):
        return classes.match_value(key, value)
    if kind == "number":  # a range matches stored ints and floats alike (1 == 1.0)
        return classes.range(key, {"gte": value, "lte": value})
    text = iso_text(value)
    return classes.datetime_range(key, {"gte": text, "lte": text})


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_]+")


def metadata_path(key: str | tuple[str, ...]) -> str:
    """Payload path of a metadata key (metadata is stored nested, beside the bookkeeping).

    A dotted key (``"a.b"``) is a path into nested metadata. A segment with other characters
    than letters, digits and ``_`` is quoted, so that the tuple key ``("a.b",)`` names that
    key and not ``b`` inside ``a`` (Qdrant's path syntax).

    Raises:
        UnsupportedFilterError: A segment contains a double quote, a backslash or an
            unprintable character (a lone surrogate, ...), which Qdrant paths cannot hold.
    """
    segments = []
    for segment in key_path(key):
        if _PLAIN_KEY.fullmatch(segment):
            segments.append(segment)
        elif '"' in segment or "\\" in segment or not segment.isprintable():
            raise UnsupportedFilterError(
                f"Metadata key {segment!r} contains a double quote, a backslash or an "
                "unprintable character, which Qdrant cannot filter on; rename the key (or "
                "filter with a native Qdrant filter on another key)."
            )
        else:
            segments.append(f'"{segment}"')
    return ".".join([PAYLOAD_METADATA, *segments])


def record_from_payload(
    point_id: str, payload: dict[str, Any], vectors: dict[str, Any]
) -> PointRecord:
    """Rebuild a :class:`PointRecord` from what a Qdrant engine returns."""
    multi = vectors.get(MULTI)
    dense = vectors.get(DENSE)
    return PointRecord(
        point_id=point_id,
        document_id=payload.get(PAYLOAD_DOCUMENT_ID, ""),
        part=int(payload.get(PAYLOAD_PART, 0)),
        part_count=int(payload.get(PAYLOAD_PART_COUNT, 1)),
        dense=np.asarray(dense if dense is not None else [], np.float32),
        multi=np.asarray(multi, np.float32)
        if multi is not None
        else np.zeros((0, 128), np.float32),
        payload=payload,
    )
