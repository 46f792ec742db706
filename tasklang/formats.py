"""Question text: template placeholders and number formatting (80,000, $2.50, "three", "half")."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from runtime.numbers import format_number, is_terminating

from .diagnostics import did_you_mean
from .expr import Structure
from .vocab import Entry


class Labelled(Fraction):
    """A number chosen with a label (`choice "half" = 1/2`): computes as 1/2, renders as "half"."""

    __slots__ = ("label",)
    label: str

    def __new__(cls, value: Fraction, label: str) -> Labelled:
        self = super().__new__(cls, value.numerator, value.denominator)
        self.label = label
        return self


class FormatError(Exception):
    """A placeholder could not be rendered for this sample (e.g. `words` of 2.5)."""


# ---------------------------------------------------------------- number words

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_WORDS = {"one": "first", "two": "second", "three": "third", "five": "fifth",
                  "eight": "eighth", "nine": "ninth", "twelve": "twelfth"}


def number_words(n: int) -> str:
    """English words for 0 <= n < 1,000,000: 21 -> twenty-one, 340 -> three hundred forty."""
    if not 0 <= n < 1_000_000:
        raise FormatError(f"no words for {n}")
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else "-" + _ONES[ones])
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return _ONES[hundreds] + " hundred" + ("" if rest == 0 else " " + number_words(rest))
    thousands, rest = divmod(n, 1000)
    return number_words(thousands) + " thousand" + ("" if rest == 0 else " " + number_words(rest))


def ordinal_words(n: int) -> str:
    words = number_words(n)
    head, sep, last = words.rpartition("-" if "-" in words.split(" ")[-1] else " ")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + last


# ---------------------------------------------------------------- number formats


def _integer(value: Fraction, fmt: str) -> int:
    if value.denominator != 1:
        raise FormatError(f"{fmt} needs a whole number, got {format_number(value)}")
    return value.numerator


def plain(value: Fraction) -> str:
    return format_number(value)


def with_commas(value: Fraction) -> str:
    text = format_number(value)
    if "/" in text:
        return text
    sign = "-" if text.startswith("-") else ""
    whole, dot, frac = text.lstrip("-").partition(".")
    return f"{sign}{int(whole):,}{dot}{frac}"


def _currency(symbol: str, name: str) -> Callable[[Fraction], str]:
    """`money` and its kin: the symbol first, thousands separated, whole amounts bare ($5),
    others to the cent ($5.50); an amount with a fraction of a cent has no rendering."""
    def currency(value: Fraction) -> str:
        sign = "-" if value < 0 else ""  # -$5 like -$5.50, never $-5
        if value.denominator == 1:
            return sign + symbol + with_commas(abs(value))
        cents = value * 100
        if cents.denominator != 1:
            raise FormatError(f"{name} needs whole cents, got {format_number(value)}")
        whole, rest = divmod(abs(cents.numerator), 100)
        return f"{sign}{symbol}{whole:,}.{rest:02d}"

    return currency


money = _currency("$", "money")


def fixed(places: int, commas: bool = False) -> Callable[[Fraction], str]:
    """`fixed2`: exactly `places` decimals (3 -> 3.00, 2.5 -> 2.50), thousands separated only
    with `comma` beside it. A value with more places has no rendering: rounding would show a
    number the answer was not computed from."""
    name = f"fixed{places}"

    def fixed_places(value: Fraction) -> str:
        scaled = value * 10**places
        if scaled.denominator != 1:
            raise FormatError(f"{name} needs at most {places} decimal places, got "
                              f"{format_number(value)}")
        sign = "-" if scaled < 0 else ""
        whole, rest = divmod(abs(scaled.numerator), 10**places)
        head = f"{whole:,}" if commas else str(whole)
        return f"{sign}{head}.{rest:0{places}d}"

    return fixed_places


def fraction_text(value: Fraction) -> str:
    if value.denominator == 1:
        return str(value.numerator)
    return f"{value.numerator}/{value.denominator}"


FIXED_PLACES = (1, 2, 3)
# `{x:comma:fixed2}`: the one pair of number formats that combines (1,234.50).
_FIXED_COMMA = {f"fixed{n}": fixed(n, commas=True) for n in FIXED_PLACES}

NUMBER_FORMATS: dict[str, Callable[[Fraction], str]] = {
    "plain": plain,
    "comma": with_commas,
    "money": money,
    "eur": _currency("€", "eur"),
    "gbp": _currency("£", "gbp"),
    **{f"fixed{n}": fixed(n) for n in FIXED_PLACES},
    "percent": lambda v: format_number(v) + "%",
    "frac": fraction_text,
    "words": lambda v: number_words(_integer(v, "words")),
    "ordinal": lambda v: ordinal_words(_integer(v, "ordinal")),
}
TEXT_FORMATS: dict[str, Callable[[str], str]] = {
    "cap": lambda s: s[:1].upper() + s[1:],
    "lower": str.lower,
    "upper": str.upper,
    "title": str.title,
}
FORMATS = frozenset(NUMBER_FORMATS) | frozenset(TEXT_FORMATS)

# ---------------------------------------------------------------- templates

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_PATH = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


@dataclass(frozen=True, slots=True)
class Placeholder:
    """`{who.subj:cap}`, `{thing@n}`, `{price:money}` at `offset` in the template text."""

    path: tuple[str, ...]
    count: str | None  # `{thing@n}`: singular when n == 1, else plural
    formats: tuple[str, ...]
    offset: int
    raw: str


@dataclass(frozen=True, slots=True)
class ParsedTemplate:
    parts: tuple[str | Placeholder, ...]
    problems: tuple[tuple[int, str, str | None], ...]  # (offset, message, help) found parsing

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))


_TOKEN = re.compile(r"\{\{|\}\}|\{[^{}]*\}|[{}]")


def parse_template(text: str) -> ParsedTemplate:
    """Split a template into literal text and placeholders; `{{` and `}}` are literal braces.

    Scanned left to right like Python's str.format: `{{{w}}}` is a placeholder in literal
    braces. Offsets are positions in `text` (for carets).
    """
    parts: list[str | Placeholder] = []
    problems: list[tuple[int, str, str | None]] = []
    literal: list[str] = []
    pos = 0
    for m in _TOKEN.finditer(text):
        literal.append(text[pos : m.start()])
        pos = m.end()
        token = m.group()
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        if len(token) == 1:
            if not any(msg.startswith("unbalanced") for _, msg, _ in problems):
                problems.append((m.start(), "unbalanced brace", "write {{ or }} for a literal one"))
            literal.append(token)
            continue
        got = _placeholder(token[1:-1], m.start(), problems)
        if got is None:
            literal.append(token)
            continue
        parts.append("".join(literal))
        literal = []
        parts.append(got)
    literal.append(text[pos:])
    parts.append("".join(literal))
    return ParsedTemplate(tuple(p for p in parts if p != ""), tuple(problems))


def _placeholder(body: str, offset: int, problems: list[tuple[int, str, str | None]]
                 ) -> Placeholder | None:
    head, *formats = body.split(":")
    path_text, _, count = head.partition("@")
    if not _PATH.fullmatch(path_text.strip()):
        problems.append((offset, f"bad placeholder {{{body}}}",
                         "write {name}, {name.field}, {name@count} or {name:format}"))
        return None
    for f in formats:
        if f not in FORMATS:
            problems.append((offset, f"unknown format {f!r} in {{{body}}}",
                             did_you_mean(f, FORMATS) or f"known: {', '.join(sorted(FORMATS))}"))
    if "@" in head and not _PATH.fullmatch(count):
        problems.append((offset, f"bad count in {{{body}}}", "write {thing@n}: n is a let"))
    return Placeholder(tuple(path_text.strip().split(".")), count or None, tuple(formats),
                       offset, body)


def _number_format(names: list[str]) -> Callable[[Fraction], str]:
    """The last number format wins, except that `comma` and one `fixedN` (either order)
    combine: `{x:comma:fixed2}` is 1,234.50."""
    if not names:
        return plain
    if len(set(names)) == 2 and "comma" in names:
        other = next(f for f in names if f != "comma")
        if other in _FIXED_COMMA:
            return _FIXED_COMMA[other]
    return NUMBER_FORMATS[names[-1]]


def render_value(value: Any, formats: tuple[str, ...]) -> str:
    """Text of one payload value under its formats (labels win when no number format is asked)."""
    number_fmts = [f for f in formats if f in NUMBER_FORMATS]
    if isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int | Fraction):
        if isinstance(value, Labelled) and not number_fmts:
            text = value.label
        else:
            text = _number_format(number_fmts)(Fraction(value))
    elif isinstance(value, Entry | Structure | str):
        if number_fmts:
            raise FormatError(f"{number_fmts[0]} needs a number, got text")
        text = str(value)
    else:
        text = str(value)
    for f in formats:
        if f in TEXT_FORMATS:
            text = TEXT_FORMATS[f](text)
    return text


def looks_like_raw_float(value: Fraction | int) -> bool:
    """A number that would show as a long decimal or a bare fraction in a question."""
    if value.denominator == 1:
        return False
    if not is_terminating(value):
        return True
    return len(format_number(value).partition(".")[2]) > 2
