"""Bad input to a collection: typed errors before anything is written, the same on every engine.

Issue 12, item 18 (and the acceptance sweep): imported by ``test_errors.py`` of each engine
with its ``store`` fixture.
"""

from __future__ import annotations

import datetime
import decimal
import math
import uuid

import pytest

from univec.errors import InvalidArgumentError, InvalidInputError, UnivecError


def test_bad_metadata_late_in_a_batch_writes_nothing(store):
    """Item 18: non-JSON metadata at item 90 of 100 failed at upsert after 90 were stored."""
    collection = store.open(batch_size=10)
    texts = [f"Document number {i}." for i in range(100)]
    metadata = [{"n": i} for i in range(100)]
    metadata[90] = {"n": 90, "blob": b"\x00\x01"}
    with pytest.raises(InvalidInputError) as info:
        collection.add(texts, metadata=metadata)
    message = str(info.value)
    assert "metadata #90" in message and "blob" in message and "bytes" in message
    assert isinstance(info.value, TypeError)
    assert collection.engine.count() == 0  # not one of the 90 good ones


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (b"raw", InvalidInputError),
        (datetime.datetime(2024, 1, 2, 3, 4, 5), InvalidInputError),
        (uuid.UUID(int=7), InvalidInputError),
        (decimal.Decimal("1.5"), InvalidInputError),
        ({1, 2}, InvalidInputError),
        (math.nan, InvalidArgumentError),
        (math.inf, InvalidArgumentError),
        (2**64, InvalidArgumentError),
        ("lone \ud800", InvalidArgumentError),
    ],
)
def test_one_metadata_rule_on_every_engine(store, value, error):
    """Item 18: Qdrant turned bytes into lists and big ints into floats, Milvus datetimes and
    UUIDs into strings and NaN into null; now each is refused the same way everywhere."""
    collection = store.open()
    with pytest.raises(error) as info:
        collection.add(["text"], ids=["a"], metadata=[{"key": value}])
    assert isinstance(info.value, UnivecError) and "key" in str(info.value)
    assert collection.engine.count() == 0
