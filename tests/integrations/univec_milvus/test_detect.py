"""Which layout a deployment gets, and what an existing collection's schema says."""

from __future__ import annotations

import pytest

from univec.collections import CollectionSchema
from univec.errors import SchemaMismatchError
from univec_milvus._detect import (
    StoredSchema,
    check_stored,
    is_lite,
    parse_version,
    stored_layout,
    supports_native,
)

pymilvus = pytest.importorskip("pymilvus")
DataType = pymilvus.DataType


@pytest.mark.parametrize(
    ("version", "parsed", "native"),
    [
        ("v2.6.4", (2, 6, 4), True),
        ("2.6.10-gpu", (2, 6, 10), True),
        ("v3.0", (3, 0, 0), True),
        ("v2.6.3", (2, 6, 3), False),
        ("v2.5.14", (2, 5, 14), False),
        ("milvus_lite-3.2.2", (3, 2, 2), False),  # Lite: never native, whatever its number
        ("unknown", None, False),
    ],
)
def test_versions(version, parsed, native):
    assert parse_version(version) == parsed
    assert supports_native(version) is native
    assert is_lite(version) is ("lite" in version)


def _fields(tokens: dict) -> list[dict]:
    return [
        {"name": "id", "type": DataType.VARCHAR, "params": {"max_length": 64}, "is_primary": True},
        {"name": "dense", "type": DataType.FLOAT_VECTOR, "params": {"dim": 64}},
        {"name": "payload", "type": DataType.JSON, "params": {}},
        {"name": "tokens", **tokens},
    ]


def test_portable_schema_as_milvus_lite_describes_it():
    pieces = {
        "type": DataType.ARRAY,
        "params": {"max_capacity": 4096},
        "element_type": DataType.VARCHAR,
    }
    described = {
        "fields": [*_fields(pieces), {"name": "tokens_int8", **pieces}],
        "properties": {"univec.layout": "portable", "univec.multi_dim": "128"},
    }
    assert stored_layout(described) == StoredSchema("portable", 64, 128)
    described["fields"].pop()  # without the int8 codes it is not a univec collection
    assert stored_layout(described) is None


def test_native_schema_as_pymilvus_describes_a_struct_array():
    # pymilvus' describe_collection turns struct_array_fields into this user-facing field.
    described = {
        "fields": _fields(
            {
                "type": DataType.ARRAY,
                "element_type": DataType.STRUCT,
                "params": {"max_capacity": 4096},
                "struct_fields": [
                    {"name": "vector", "type": DataType.FLOAT_VECTOR, "params": {"dim": 128}}
                ],
            }
        ),
        "properties": {"univec.layout": "native"},
    }
    assert stored_layout(described) == StoredSchema("native", 64, 128)


def test_a_dropped_struct_field_or_a_foreign_collection_is_not_univec():
    dropped = {"fields": _fields({"type": DataType.JSON})[:3]}  # Lite dropped "tokens"
    assert stored_layout(dropped) is None
    foreign = {"fields": [{"name": "vector", "type": DataType.FLOAT_VECTOR, "params": {"dim": 8}}]}
    assert stored_layout(foreign) is None
    with pytest.raises(SchemaMismatchError, match="not created by univec"):
        check_stored("Milvus collection 'x'", CollectionSchema(64), None)


def test_other_dimensions_are_named_in_the_error():
    with pytest.raises(SchemaMismatchError, match="dimensions=64"):
        check_stored("c", CollectionSchema(32), StoredSchema("portable", 64, 128))
    with pytest.raises(SchemaMismatchError, match="96-d token vectors"):
        check_stored("c", CollectionSchema(64), StoredSchema("native", 64, 96))
    check_stored("c", CollectionSchema(64), StoredSchema("native", 64, 128))  # matches
