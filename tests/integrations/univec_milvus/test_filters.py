"""Filters as Milvus boolean expressions: bound values, quoting, negation, pass-through, errors."""

from __future__ import annotations

from datetime import datetime

import pytest

from univec.collections.filters import And, Comparison, Not, Or, parse_filter
from univec.errors import InvalidArgumentError, UnsupportedFilterError
from univec_milvus._filters import (
    MATCH_ALL,
    MATCH_NOTHING,
    Expression,
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
    [
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (-7, "-7"),
        (2.5, "2.5"),
        ("x", '"x"'),
        (datetime(2024, 1, 2, 3, 4, 5), '"2024-01-02T03:04:05"'),
    ],
)
def test_literals(value, expected):
    assert literal(value) == expected


@pytest.mark.parametrize("value", [[1], {"a": 1}, b"x", float("nan"), float("inf"), object()])
def test_unsupported_values_are_refused_with_the_key(value):
    with pytest.raises(InvalidArgumentError, match="'lang'"):
        literal(value, key="lang")


def test_dict_filters_become_anded_conditions_with_bound_values():
    expression = to_expression(
        parse_filter({"lang": "en", "year": [2023, 2024], "draft": {"eq": False}})
    )
    assert expression == Expression(
        '(payload["metadata"]["lang"] == {univec_0}) and '
        '(payload["metadata"]["year"] == {univec_1} or payload["metadata"]["year"] == {univec_2})'
        ' and (payload["metadata"]["draft"] == {univec_3})',
        {"univec_0": "en", "univec_1": 2023, "univec_2": 2024, "univec_3": False},
    )
    assert expression.request() == {"filter": expression.text, "filter_params": expression.params}


def test_values_never_enter_the_text_with_templates():
    hostile = '" or id != "'
    expression = to_expression(Comparison("name", "==", hostile))
    assert expression is not None and hostile not in expression.text
    assert list(expression.params.values()) == [hostile]


def test_without_templates_values_are_escaped_literals():
    expression = to_expression(parse_filter({"lang": "en", "year": {"gte": 2020}}), templates=False)
    assert expression == Expression(
        '(payload["metadata"]["lang"] == "en") and (payload["metadata"]["year"] >= 2020)'
    )


def test_keys_are_quoted_and_dotted_keys_are_nested():
    expression = to_expression(Comparison(('we"ird\\key',), "==", "v"), templates=False)
    assert expression == Expression('payload["metadata"]["we\\"ird\\\\key"] == "v"')
    nested = to_expression(Comparison("a.b", "exists"))
    assert nested == Expression('payload["metadata"]["a"]["b"] is not null')


def test_negations_also_hold_where_the_key_is_missing():
    path = 'payload["metadata"]["n"]'
    assert to_expression(Comparison("n", "!=", 1), templates=False) == Expression(
        f"{path} is null or not ({path} == 1)"
    )
    assert to_expression(Not(Comparison("n", ">", 1)), templates=False) == Expression(
        f"{path} is null or not ({path} > 1)"
    )
    # De Morgan: not (a and b) == (not a) or (not b)
    both_ = to_expression(Not(And((Comparison("n", "exists"), Comparison("n", "<", 3)))))
    assert both_ is not None and both_.text == (
        f"({path} is null) or ({path} is null or not ({path} < {{univec_0}}))"
    )


def test_none_is_null_and_empty_lists_match_nothing_or_everything():
    assert to_expression(parse_filter({"x": None})) == Expression(
        'payload["metadata"]["x"] is null'
    )
    assert to_expression(Comparison("x", "in", ())) == Expression(MATCH_NOTHING)
    assert to_expression(Comparison("x", "not in", ())) == Expression(MATCH_ALL)
    assert to_expression(Or(())) == Expression(MATCH_NOTHING)
    assert to_expression(And(())) is None


def test_native_expressions_pass_through_and_empty_filters_vanish():
    native = 'payload["metadata"]["year"] >= 2020'
    assert to_expression(native) == Expression(native)
    assert to_expression(None) is None and to_expression([]) is None and to_expression("  ") is None


@pytest.mark.parametrize("bad", [{"lang": "en"}, 42, [("lang", "en")]])
def test_other_filter_types_are_refused(bad):
    with pytest.raises(InvalidArgumentError, match="expression"):
        to_expression(bad)


def test_what_milvus_cannot_express_is_refused_by_name():
    with pytest.raises(UnsupportedFilterError, match="flag"):
        to_expression(Comparison("flag", ">", True))
    with pytest.raises(UnsupportedFilterError, match="tags"):
        to_expression(Comparison("tags", "==", [1, 2]))
    with pytest.raises(UnsupportedFilterError, match="between"):
        to_expression(Comparison("n", "between", 1))  # type: ignore[arg-type]


def test_combinators():
    a, b = Expression("a"), Expression("b", {"p": 1})
    assert both(None, b) == b and both(a, None) == a
    assert both(a, b) == Expression("(a) and (b)", {"p": 1})
    assert first_parts(None) == Expression('payload["part"] == 0')
    assert first_parts(a) == Expression('(payload["part"] == 0) and (a)')
    assert ids_in(["a", 'b"']) == Expression('id in ["a", "b\\""]')
    assert ids_in([]) == Expression(MATCH_NOTHING)
