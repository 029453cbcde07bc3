"""The one metadata rule (``univec.collections.metadata``): refuse or convert, never guess."""

from __future__ import annotations

import datetime
import decimal
import uuid

import numpy as np
import pytest

from univec.collections.metadata import (
    MAX_METADATA_BYTES,
    MAX_METADATA_DEPTH,
    validate_metadata,
)
from univec.errors import InvalidArgumentError, InvalidInputError, UnivecError


def nested(levels: int) -> dict:
    """A dict nested ``levels`` deep (the dict itself is level 1)."""
    value: dict = {}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def test_json_values_pass_unchanged():
    meta = {"s": "é", "i": -(2**63), "j": 2**63 - 1, "f": 1.5, "b": True, "n": None}
    meta["l"] = [1, "x", {"k": [None]}]
    assert validate_metadata(meta) == meta
    assert validate_metadata(None) == {}


def test_tuples_and_numpy_scalars_are_converted():
    converted = validate_metadata(
        {"t": (1, (2, 3)), "i": np.int64(7), "f": np.float32(0.5), "b": np.bool_(True)}
    )
    assert converted == {"t": [1, [2, 3]], "i": 7, "f": 0.5, "b": True}
    assert type(converted["i"]) is int and type(converted["b"]) is bool


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        (b"raw", "hex"),
        ({1, 2}, "list"),
        (datetime.date(2024, 1, 1), "isoformat"),
        (uuid.UUID(int=1), "convert it"),
        (decimal.Decimal("1.5"), "convert it"),
        (object(), "convert it"),
    ],
)
def test_other_types_are_refused_naming_item_and_key(value, hint):
    with pytest.raises(InvalidInputError, match=rf"metadata #3: the value at 'x.y'.*{hint}"):
        validate_metadata({"x": {"y": value}}, item=3)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**63, -(2**63) - 1, "a\ud800"])
def test_values_no_engine_stores_exactly_are_refused(value):
    with pytest.raises(InvalidArgumentError, match="'k'"):
        validate_metadata({"k": value})


def test_keys_must_be_str():
    with pytest.raises(InvalidInputError, match="key 1 of type int"):
        validate_metadata({"a": {1: "x"}})
    with pytest.raises(InvalidInputError, match="use a dict"):
        validate_metadata(["not", "a", "dict"])  # type: ignore[arg-type]


def test_depth_is_bounded():
    assert validate_metadata(nested(MAX_METADATA_DEPTH))
    with pytest.raises(InvalidArgumentError, match="nested more than 32 levels"):
        validate_metadata(nested(MAX_METADATA_DEPTH + 1))
    with pytest.raises(InvalidArgumentError, match="nested"):
        validate_metadata(nested(200))
    deep_list: list = []
    for _ in range(40):
        deep_list = [deep_list]
    with pytest.raises(InvalidArgumentError, match="nested"):
        validate_metadata({"l": deep_list})


def test_self_reference_is_refused_not_a_recursion_error():
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(UnivecError, match="nested"):
        validate_metadata(loop)


def test_size_is_bounded():
    assert validate_metadata({"text": "x" * (MAX_METADATA_BYTES - 20)})
    with pytest.raises(InvalidArgumentError, match="over the 65,536-byte limit"):
        validate_metadata({"text": "x" * MAX_METADATA_BYTES})
