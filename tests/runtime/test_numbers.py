"""runtime.numbers: exact literals, lenient reference answers, canonical formatting, bounds."""

from __future__ import annotations

from fractions import Fraction

import pytest

from runtime.numbers import (
    MAX_LITERAL_CHARS,
    NumberError,
    format_number,
    is_terminating,
    magnitude_ok,
    parse_answer,
    parse_decimal,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("16", Fraction(16)),
        ("-3", Fraction(-3)),
        ("+7", Fraction(7)),
        ("0.5", Fraction(1, 2)),
        (".5", Fraction(1, 2)),
        ("2.50", Fraction(5, 2)),
        ("0.1", Fraction(1, 10)),  # exactly one tenth, not the binary float
        ("1e3", Fraction(1000)),
        ("1.5e-2", Fraction(3, 200)),
        ("010", Fraction(10)),  # decimal, never YAML 1.1 octal
        ("1e30", Fraction(10**30)),  # the largest exponent allowed
    ],
)
def test_parse_decimal_values(text: str, expected: Fraction) -> None:
    assert parse_decimal(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "abc", "0x10", "0o17", "1_000", "inf", "nan", ".inf", "1:30", "4 * 18", "1/2",
     "1,000", "1e31", "1e-31", "1" * (MAX_LITERAL_CHARS + 1), "--1", "1.2.3", "e5"],
)
def test_parse_decimal_refuses_non_decimals(text: str) -> None:
    assert parse_decimal(text) is None


def test_parse_decimal_accepts_a_literal_at_the_length_bound() -> None:
    literal = "9" * MAX_LITERAL_CHARS
    assert parse_decimal(literal) == Fraction(int(literal))


@pytest.mark.parametrize(
    "answer",
    [18, 18.0, "18", "18.00", "18.", "$18", " 18 ", Fraction(18), "+18", "1.8e1"],
)
def test_parse_answer_normalises_eighteen(answer: object) -> None:
    assert parse_answer(answer) == 18  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ("1,000", Fraction(1000)),
        ("80,000", Fraction(80000)),
        ("1,234.5", Fraction(2469, 2)),
        ("-$5", Fraction(-5)),
        ("25%", Fraction(25)),
        ("3/4", Fraction(3, 4)),
        ("-3/4", Fraction(-3, 4)),
        (0.1, Fraction(1, 10)),  # a float means the decimal its writer typed
        (0.3, Fraction(3, 10)),
        (-2, Fraction(-2)),
        ("€7.50", Fraction(15, 2)),
    ],
)
def test_parse_answer_values(answer: object, expected: Fraction) -> None:
    assert parse_answer(answer) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "answer",
    ["eighteen", "", "$", "1/0", True, False, float("nan"), float("inf"), "18 apples", "1,00"],
)
def test_parse_answer_refuses(answer: object) -> None:
    with pytest.raises(NumberError):
        parse_answer(answer)  # type: ignore[arg-type]


def test_number_error_is_a_value_error() -> None:
    assert issubclass(NumberError, ValueError)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction(18), "18"),
        (Fraction(0), "0"),
        (Fraction(-7), "-7"),
        (Fraction(5, 2), "2.5"),
        (Fraction(-1, 4), "-0.25"),
        (Fraction(-1, 2), "-0.5"),
        (Fraction(1, 8), "0.125"),
        (Fraction(2469, 2), "1234.5"),
        (Fraction(1, 3), "1/3"),
        (Fraction(-2, 3), "-2/3"),
        (Fraction(100, 3), "100/3"),
        (Fraction(1, 10**6), "0.000001"),
    ],
)
def test_format_number(value: Fraction, text: str) -> None:
    assert format_number(value) == text


@pytest.mark.parametrize(
    "value",
    [Fraction(18), Fraction(-1, 4), Fraction(1, 3), Fraction(-22, 7), Fraction(12345, 100)],
)
def test_format_then_parse_is_identity(value: Fraction) -> None:
    assert parse_answer(format_number(value)) == value


@pytest.mark.parametrize(
    ("value", "expected"),
    [(Fraction(1, 2), True), (Fraction(3, 40), True), (Fraction(7), True),
     (Fraction(1, 3), False), (Fraction(1, 6), False), (Fraction(5, 14), False)],
)
def test_is_terminating(value: Fraction, expected: bool) -> None:
    assert is_terminating(value) is expected


def test_magnitude_bound_on_numerator_and_denominator() -> None:
    assert magnitude_ok(Fraction(10**59), 60)
    assert not magnitude_ok(Fraction(10**60), 60)
    assert not magnitude_ok(Fraction(-(10**60)), 60)
    assert magnitude_ok(Fraction(1, 10**59), 60)
    assert not magnitude_ok(Fraction(1, 10**60), 60)


@pytest.mark.parametrize("text", ["0,016", "-0,500", "00,100", "0,000,001"])
def test_a_leading_zero_group_is_no_thousands_separator(text: str) -> None:
    """redteam: `0,016` was read as 16 (a trace value); it is no well-formed grouping."""
    from runtime.numbers import parse_trace_number

    assert parse_trace_number(text) is None
    assert parse_trace_number("1,016") == 1016 and parse_trace_number("-10,500") == -10500
