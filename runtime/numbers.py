"""Exact numbers: parsing, bounding and canonical formatting of trace values and answers."""

from __future__ import annotations

import re
from fractions import Fraction

# A plain decimal literal as a model writes it: 16, -3, 0.5, .5, 2.50, 1e3, 1.5e-2.
# Hex, octal, sexagesimal and inf/nan are deliberately not numbers: a model that
# writes them has not written a quantity from the question.
_DECIMAL = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?", re.ASCII)
# Thousands separators as written in GSM8K answers and questions: 80,000 or 1,234.5 (not
# `0,016`: a leading zero group is no grouping, and in a German reply it is 0.016)
_GROUPED = re.compile(r"[-+]?[1-9]\d{0,2}(?:,\d{3})+(?:\.\d+)?", re.ASCII)
_FRACTION = re.compile(r"[-+]?\d+/\d+", re.ASCII)

MAX_LITERAL_CHARS = 40  # longest numeric literal accepted from untrusted text
MAX_EXPONENT = 30  # |e| bound on scientific notation in literals


class NumberError(ValueError):
    """A string is not an acceptable exact number."""


def parse_decimal(text: str, max_chars: int = MAX_LITERAL_CHARS) -> Fraction | None:
    """The exact value of a plain decimal literal, or None when `text` is not one.

    Bounded: literals longer than MAX_LITERAL_CHARS or with huge exponents are
    refused, so untrusted input can never make us build a gigantic integer.
    """
    if len(text) > max_chars:
        return None
    if text.isdigit() and text.isascii():  # the common case, without the regex
        return Fraction(int(text))
    if not _DECIMAL.fullmatch(text):
        return None
    mantissa, _, exponent = text.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_EXPONENT:
        return None
    return Fraction(text)


def parse_trace_number(text: str, max_chars: int = MAX_LITERAL_CHARS) -> Fraction | None:
    """A value as a model's trace may write it, strictly: a plain decimal (`18`, `-2.5`,
    `1e3`), a fraction (`1/3`) or a number with well-formed thousands separators
    (`1,000`: unambiguous, and what a question writes). Nothing else: no spaces (`'4 5'`
    is not 45), no other separators (NEL), no `$` or `%` (a value is a number, not its
    decoration), ASCII digits only. None when `text` is not one."""
    if len(text) > max_chars:
        return None
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    value = parse_decimal(text, max_chars)
    if value is None and _FRACTION.fullmatch(text):
        num, den = text.split("/")
        if int(den) != 0:
            value = Fraction(int(num), int(den))
    return value


MAX_ANSWER_CHARS = 400  # reference answers are trusted, but still bounded


def parse_answer(text: str | int | float | Fraction, max_chars: int = MAX_ANSWER_CHARS) -> Fraction:
    """Normalise a reference answer: 18, 18.0, "18", "$1,000", "25%", "3/4", "18." all work.

    Reference answers are trusted data, so this is lenient about decoration; it
    raises NumberError when nothing numeric remains.
    """
    if isinstance(text, bool):
        raise NumberError(f"not a number: {text!r}")
    if isinstance(text, Fraction):
        return text
    if isinstance(text, int):
        return Fraction(text)
    if isinstance(text, float):
        if text != text or text in (float("inf"), float("-inf")):
            raise NumberError(f"not a finite number: {text!r}")
        # repr() is the shortest string that round-trips, i.e. the decimal the
        # writer meant: 0.1 becomes 1/10, not the binary approximation.
        return Fraction(repr(text))
    cleaned = str(text).strip().replace(" ", "")
    cleaned = cleaned.lstrip("$€£").rstrip("%").rstrip(".")
    if cleaned.startswith("-$"):
        cleaned = "-" + cleaned[2:]
    if _GROUPED.fullmatch(cleaned):
        cleaned = cleaned.replace(",", "")
    value = parse_decimal(cleaned, max_chars)
    if value is None and len(cleaned) <= max_chars and _FRACTION.fullmatch(cleaned):
        num, den = cleaned.split("/")
        if int(den) != 0:
            value = Fraction(int(num), int(den))
    if value is None:
        raise NumberError(f"not a number: {text!r}")
    return value


def is_terminating(value: Fraction | int) -> bool:
    """True when `value` has a finite decimal expansion (denominator 2^a * 5^b)."""
    den = value.denominator
    for p in (2, 5):
        while den % p == 0:
            den //= p
    return den == 1


def format_number(value: Fraction | int) -> str:
    """Canonical text of an exact value: 18, -0.25, 2.5; 1/3 for non-terminating values."""
    if value.denominator == 1:
        return str(value.numerator)
    if not is_terminating(value):
        return f"{value.numerator}/{value.denominator}"
    sign = "-" if value < 0 else ""
    num, den = abs(value.numerator), value.denominator
    whole, rest = divmod(num, den)
    digits = []
    while rest:
        rest *= 10
        digit, rest = divmod(rest, den)
        digits.append(str(digit))
    return f"{sign}{whole}.{''.join(digits)}"


def magnitude_ok(value: Fraction | int, max_digits: int) -> bool:
    """Whether numerator and denominator both stay under `max_digits` decimal digits.

    Used as the runtime's number-size bound: repeated multiplication can otherwise
    grow integers without limit and turn grading into a denial of service.
    """
    limit = 10**max_digits
    return abs(value.numerator) < limit and value.denominator < limit
