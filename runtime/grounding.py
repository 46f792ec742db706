"""Grounded inits: with the question given, every `init` value must come from it.

A trace may only start from numbers the question states, the previous sub-trace's
result (`source: prev.result`), or a unit constant. Otherwise a model can initialise
the answer (or two numbers that sum to it) and "compute" it through any step.

What the question states (`Grounding.of`, computed once per question and cached):

- digits, with thousands separators and decimals: `1,200` is 1200, `2.50` is 2.5;
  currency signs are decoration (`$0.25` is 0.25);
- percentages: `25%` grounds 25 (the percentage ops take the rate in percent) and 0.25
  (what arithmetic multiplies by);
- fractions `3/4` (and their digits 3 and 4), mixed numbers `3 1/2` (3.5);
- number words as the compiler renders them (`three`, `twenty-one`, `three hundred
  forty`, `eighty thousand`), ordinals (`third` is 3 and 1/3), `half` (1/2), `quarter`
  (1/4), `two thirds` (2/3), `twice`/`double` (2), `triple` (3), `a dozen` (12), `pair` (2);
- the negation of any of these (a trace may write a loss as -5).

UNIT_CONSTANTS below is the table of constants every question grounds; a dataset adds its
own (a `constants` statement, passed to `grade(..., constants=...)`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

from .errors import ErrorKind, ExecError
from .numbers import format_number
from .ops import InitStep
from .trace import AnyTrace, ComposedTrace

# Units a word problem uses without writing them: 1 (one item), 2 (halves, pairs), 7 (days
# a week), 10, 12 (months, a dozen), 24 (hours), 30 (days a month), 52 (weeks a year),
# 60 (minutes, seconds), 100 (percent, cents), 365 (days a year), 1000 (grams, metres),
# 3600 (seconds an hour). 0 is deliberately absent: it is the operand of `add(x, 0)`.
UNIT_CONSTANTS: frozenset[Fraction] = frozenset(
    Fraction(n) for n in (1, 2, 7, 10, 12, 24, 30, 52, 60, 100, 365, 1000, 3600))

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
         "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
         "eighteen", "nineteen"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SMALL: dict[str, int] = {w: i for i, w in enumerate(_ONES)}
_SMALL.update({w: 20 + 10 * i for i, w in enumerate(_TENS)})
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
# Words that stand for a number on their own (multipliers, collective nouns).
_MULTIPLES = {"twice": 2, "double": 2, "doubled": 2, "triple": 3, "tripled": 3, "thrice": 3,
              "quadruple": 4, "dozen": 12, "dozens": 12, "pair": 2, "pairs": 2, "couple": 2,
              "none": 0, "half": Fraction(1, 2), "halves": Fraction(1, 2),
              "quarter": Fraction(1, 4), "quarters": Fraction(1, 4)}
# Ordinals and fraction words: `third` is both 3 (the third day) and 1/3 (a third).
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
             "twelfth": 12, "twentieth": 20, "hundredth": 100, "thousandth": 1000}

_NUMBER = re.compile(
    r"(?<![\w.])(\d+)\s+(\d+)/(\d+)(?![\d/])"  # a mixed number: 3 1/2
    r"|(\d+)/(\d+)"  # a fraction: 3/4
    r"|(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)(\s*%|\s+percent\b)?",  # 1,200.5 / 25%
    re.ASCII)
_WORD = re.compile(r"[a-z]+|[^a-z\s-]", re.ASCII)  # words, and punctuation that ends a number


def _ordinal(word: str) -> int | None:
    if word in _ORDINALS:
        return _ORDINALS[word]
    for suffix in ("ieth", "th"):  # thirtieth, fourteenth, sixtieth
        if word.endswith(suffix):
            stem = word[: -len(suffix)] + ("y" if suffix == "ieth" else "")
            if stem in _SMALL:
                return _SMALL[stem]
    return None


def _words(text: str) -> set[Fraction]:
    """Values of the number words in `text`: compounds are read whole (`three hundred
    forty` is 340, `twenty-one` 21), and each word also counts on its own."""
    out: set[Fraction] = set()
    total, current, run = 0, 0, False
    previous: int | None = None
    last = 0  # the value of the last number-word run, for "two and a half"
    recent: list[str] = []
    for word in _WORD.findall(text.lower().replace("-", " ")):
        recent = [*recent[-2:], word]
        small, scale = _SMALL.get(word), _SCALES.get(word)
        if small is not None or (scale is not None and run):
            if small is not None:
                out.add(Fraction(small))
                current += small
            else:
                assert scale is not None
                out.add(Fraction(scale))
                if scale == 100:
                    current = max(current, 1) * 100
                else:
                    total += max(current, 1) * scale
                    current = 0
            run = True
            out.add(Fraction(total + current))
            previous = small
            continue
        if scale is not None:
            out.add(Fraction(scale))
        if run:
            last = total + current
            out.add(Fraction(last))
        total, current, run = 0, 0, False
        if recent == ["and", "a", "half"] and last:
            out.add(last + Fraction(1, 2))
        if word in _MULTIPLES:
            out.add(Fraction(_MULTIPLES[word]))
        ordinal = _ordinal(word.removesuffix("s"))
        if ordinal:
            out.add(Fraction(ordinal))
            out.add(Fraction(1, ordinal))
            if previous:  # two thirds, three quarters
                out.add(Fraction(previous, ordinal))
        if word in ("quarter", "quarters") and previous:
            out.add(Fraction(previous, 4))
        if word in ("half", "halves") and previous:
            out.add(Fraction(previous, 2))
        previous = None
    if run:
        out.add(Fraction(total + current))
    return out


def _digits(text: str) -> set[Fraction]:
    out: set[Fraction] = set()
    for m in _NUMBER.finditer(text):
        whole, num, den, fnum, fden, plain, percent = m.groups()
        if whole is not None:
            out.update((Fraction(int(whole)), Fraction(int(num)), Fraction(int(den))))
            if int(den):
                out.add(int(whole) + Fraction(int(num), int(den)))
                out.add(Fraction(int(num), int(den)))
        elif fnum is not None:
            out.update((Fraction(int(fnum)), Fraction(int(fden))))
            if int(fden):
                out.add(Fraction(int(fnum), int(fden)))
        else:
            value = Fraction(plain.replace(",", ""))
            out.add(value)
            if percent:
                out.add(value / 100)
    return out


@dataclass(frozen=True, slots=True)
class Grounding:
    """The values an init may take for one question: what it states, plus constants."""

    values: frozenset[Fraction]

    @staticmethod
    def of(question: str, constants: Iterable[Fraction | int | str] = ()) -> Grounding:
        return _grounding(question, tuple(sorted(Fraction(c) for c in constants)))

    def grounds(self, value: Fraction | int) -> bool:
        return value in self.values or -value in self.values


@lru_cache(maxsize=4096)  # RL grades many samples of one prompt: extract once per question
def _grounding(question: str, constants: tuple[Fraction, ...]) -> Grounding:
    values = _digits(question) | _words(question) | UNIT_CONSTANTS | set(constants)
    return Grounding(frozenset(values))


def ungrounded(trace: AnyTrace, grounding: Grounding) -> ExecError | None:
    """The first init whose value the question does not ground, as an `ungrounded_init`."""
    composed = isinstance(trace, ComposedTrace)
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    for p, part in enumerate(parts):
        for s, step in enumerate(part.steps):
            if isinstance(step, InitStep) and step.value is not None \
                    and not grounding.grounds(step.value):
                return ExecError(
                    ErrorKind.UNGROUNDED_INIT,
                    f"init {step.var} = {format_number(step.value)}: the question does not "
                    "state this number (nor is it a unit constant or the previous result)",
                    p if composed else None, s)
    return None
