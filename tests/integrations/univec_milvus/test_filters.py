"""Filter dicts as Milvus boolean expressions: quoting, ``in``, ``None``, pass-through, errors."""

from __future__ import annotations

import pytest

from univec.collections import FieldCondition, normalize_filter
from univec.errors import InvalidArgumentError
from univec_milvus._filters import (
    MATCH_NOTHING,
    both,
    first_parts,
    ids_in,
    literal,
    quote,
    to_expression,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("en", '"en"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("C:\\path", '"C:\\\\path"'),
        ("two\nlines\r\tend", '"two\\nlines\\r\\tend"'),
        ("üñí ✓", '"üñí ✓"'),
        ("", '""'),
    ],
)
def test_quote_escapes_what_ends_a_literal(text, expected):
    assert quote(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, "true"), (False, "false"), (3, "3"), (-7, "-7"), (2.5, "2.5"), ("x", '"x"')],
)
def test_literals(value, expected):
    assert literal(value) == expected


@pytest.mark.parametrize("value", [[1], {"a": 1}, b"x", float("nan"), float("inf"), object()])
def test_unsupported_values_are_refused_with_the_key(value):
    with pytest.raises(InvalidArgumentError, match="'lang'"):
        literal(value, key="lang")


def test_dict_filters_become_anded_conditions_on_the_metadata():
    expression = to_expression(
        normalize_filter({"lang": "en", "year": [2023, 2024], "draft": {"eq": False}})
    )
    assert expression == (
        'payload["metadata"]["lang"] == "en" and '
        '(payload["metadata"]["year"] == 2023 or payload["metadata"]["year"] == 2024) and '
        'payload["metadata"]["draft"] == false'
    )


def test_keys_are_quoted_too():
    expression = to_expression([FieldCondition('we"ird\\key', ("v",))])
    assert expression == 'payload["metadata"]["we\\"ird\\\\key"] == "v"'


def test_none_is_null_and_empty_in_matches_nothing():
    assert to_expression([FieldCondition("x", (None,))]) == 'payload["metadata"]["x"] is null'
    assert to_expression([FieldCondition("x", (), "in")]) == MATCH_NOTHING


def test_native_expressions_pass_through_and_empty_filters_vanish():
    native = 'payload["metadata"]["year"] >= 2020'
    assert to_expression(native) == native
    assert to_expression(None) is None and to_expression([]) is None and to_expression("  ") is None


@pytest.mark.parametrize("bad", [{"lang": "en"}, 42, [("lang", "en")]])
def test_other_filter_types_are_refused(bad):
    with pytest.raises(InvalidArgumentError, match="expression"):
        to_expression(bad)


def test_combinators():
    assert both(None, "b") == "b" and both("a", None) == "a"
    assert both("a", "b") == "(a) and (b)"
    assert first_parts(None) == 'payload["part"] == 0'
    assert first_parts("x") == '(payload["part"] == 0) and (x)'
    assert ids_in(["a", 'b"']) == 'id in ["a", "b\\""]'
    assert ids_in([]) == MATCH_NOTHING
