"""Resource limits: how big a dataset, a pattern and a value may get, each with its own code.

A `.task` file may come from anyone: without limits one line (`split train 10**12`,
`(10**64)**64`, `round(a, 300000000)`) takes minutes or gigabytes before any diagnostic.
Every limit has a default, a dataset setting that raises it, and a stable diagnostic code.
They are checked before anything proportional to the request is computed or allocated.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from .diagnostics import Diagnostic, Span, error

# Python refuses to print ints of more digits than this (`sys.int_info`); a value tasklang
# writes into a record must stay printable, so no setting raises the digit limit past it.
DIGITS_CEILING = sys.int_info.default_max_str_digits or 4300


@dataclass(frozen=True, slots=True)
class Limit:
    """One limit: the dataset setting that raises it, its default, its diagnostic code."""

    setting: str
    default: int
    code: str
    what: str  # what it bounds, as docs/LANGUAGE.md's Limits table says
    ceiling: int | None = None  # the most the setting may raise it to


LIMITS: tuple[Limit, ...] = (
    Limit("max_examples", 10_000_000, "limit-examples", "examples per dataset (all splits)"),
    Limit("max_templates", 1000, "limit-templates", "templates per pattern"),
    Limit("max_digits", 1000, "limit-digits", "digits of a literal or a computed value",
          DIGITS_CEILING),
    Limit("max_places", 100, "limit-places", "|places| of round"),
    Limit("max_test_cases", 100, "limit-test-cases", "test cases per code pattern"),
    Limit("max_preflight_seconds", 10, "limit-preflight-time",
          "seconds of preflight sampling per pattern"),
)
BY_SETTING = {limit.setting: limit for limit in LIMITS}
_DEFAULT = {limit.setting: limit.default for limit in LIMITS}


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits in force for one dataset (its settings over the defaults). One field per
    entry of LIMITS, named after its setting; the defaults are LIMITS'."""

    max_examples: int = _DEFAULT["max_examples"]
    max_templates: int = _DEFAULT["max_templates"]
    max_digits: int = _DEFAULT["max_digits"]
    max_places: int = _DEFAULT["max_places"]
    max_test_cases: int = _DEFAULT["max_test_cases"]
    max_preflight_seconds: int = _DEFAULT["max_preflight_seconds"]


DEFAULT_LIMITS = Limits()


def limits_of(settings: Callable[[str], Any]) -> Limits:
    """Limits from a dataset's settings; `settings(key)` gives a setting's value or None.
    Values were checked (`check_setting`): whole, at least 1, at most the ceiling."""
    values = {}
    for limit in LIMITS:
        value = settings(limit.setting)
        if value is not None:
            values[limit.setting] = int(value)
    return Limits(**values)


def check_setting(key: str, value: Fraction, span: Span) -> Diagnostic | None:
    """A limit setting past its ceiling (whole and at least 1 is checked with the other
    whole-number settings)."""
    limit = BY_SETTING[key]
    if limit.ceiling is not None and value > limit.ceiling:
        return error("bad-setting", f"{key} can be at most {limit.ceiling}", span,
                     "Python cannot print integers longer than that")
    return None


def exceeded(setting: str, message: str, span: Span, *notes: str,
             raisable: bool = True) -> Diagnostic:
    """The diagnostic of a limit: its code, and how to raise it (unless nothing can)."""
    limit = BY_SETTING[setting]
    if raisable:
        notes = (*notes, f"raise it in the dataset: `{setting} N` (default {limit.default})")
    return error(limit.code, message, span, *notes)


class LimitError(Exception):
    """A value computed while sampling went past a limit. Not a rejected sample: the
    pattern asks for something tasklang refuses to compute, so it becomes a diagnostic."""

    def __init__(self, setting: str, message: str, span: Span) -> None:
        super().__init__(message)
        self.setting = setting
        self.message = message
        self.span = span

    def diagnostic(self, pattern: str) -> Diagnostic:
        return exceeded(self.setting, f"{pattern}: {self.message}", self.span)


# ---------------------------------------------------------------- digits


@lru_cache(maxsize=8)
def _bound(max_digits: int) -> int:
    return 10**max_digits


def too_many_digits(value: Any, max_digits: int) -> bool:
    """Whether an int, or a Fraction's numerator or denominator, has more than `max_digits`
    digits. Exact, and without converting to text (a size comparison of two ints)."""
    if type(value) is int:
        return value >= _bound(max_digits) or -value >= _bound(max_digits)
    if isinstance(value, Fraction):
        return (too_many_digits(value.numerator, max_digits)
                or value.denominator >= _bound(max_digits))
    return False


def digits_at_least(value: int) -> int:
    """A lower bound on the decimal digits of |value|, from its bit length (constant time)."""
    return max(1, ((abs(value).bit_length() - 1) * 30102) // 100000 + 1)
