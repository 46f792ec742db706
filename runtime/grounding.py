"""Grounded inits: with the question given, every `init` value must come from it.

A trace may only start from numbers the question states, the previous sub-trace's
result (`source: prev.result`), or a unit constant. Otherwise a model can initialise
the answer (or two numbers that sum to it) and "compute" it through any step.

What the question states (`Grounding.of`, computed once per question and cached):

- digits, with thousands separators and decimals: `1,200` is 1200, `2.50` is 2.5;
  currency signs are decoration (`$0.25` is 0.25);
- percentages: `25%` grounds 25 (the percentage ops take the rate in percent), 0.25
  (what arithmetic multiplies by) and 0.01; `280,000` also grounds 280 (thousands);
- unit words ground their conversion factors (`dimes` 0.1, `a quart` 32 ounces, 4 quarts
  a gallon, `feet` 12 inches, `pounds` 16 ounces ...: _UNIT_WORDS);
- fractions `3/4` (and their digits 3 and 4), mixed numbers `3 1/2` (3.5);
- number words as the compiler renders them (`three`, `twenty-one`, `three hundred
  forty`, `eighty thousand`), ordinals (`third` is 3 and 1/3, `twenty-fifth` 25), `half`
  (1/2), `quarter` (1/4 and 4), `two thirds` (2/3), `twice`/`double` (2), `triple` (3),
  `a dozen` (12), `pair` (2);
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
_MULTIPLES: dict[str, int | Fraction] = {
              "twice": 2, "double": 2, "doubled": 2, "triple": 3, "tripled": 3, "thrice": 3,
              "quadruple": 4, "dozen": 12, "dozens": 12, "pair": 2, "pairs": 2, "couple": 2,
              "none": 0, "half": Fraction(1, 2), "halves": Fraction(1, 2),
              "quarter": Fraction(1, 4), "quarters": Fraction(1, 4)}
# Units a question names without their conversion factor: naming the unit grounds it
# (`4 dimes` may be written 4 * 0.1; `a quart` is 32 ounces).
_UNIT_WORDS: dict[str, tuple[Fraction | int, ...]] = {
    "penny": (Fraction(1, 100),), "pennies": (Fraction(1, 100),), "cent": (Fraction(1, 100),),
    "cents": (Fraction(1, 100),), "nickel": (Fraction(1, 20), 5), "nickels": (Fraction(1, 20), 5),
    "dime": (Fraction(1, 10),), "dimes": (Fraction(1, 10),), "quart": (32, 4, 2),
    "quarts": (32, 4, 2), "gallon": (128, 4, 8, 16), "gallons": (128, 4, 8, 16),
    "pint": (16, 2), "pints": (16, 2), "cup": (8,), "cups": (8,), "pound": (16,),
    "pounds": (16,), "foot": (12,), "feet": (12, 3), "yard": (3, 36), "yards": (3, 36),
    "mile": (5280,), "miles": (5280,), "ton": (2000,), "tons": (2000,), "decade": (10,),
    "decades": (10,), "century": (100,), "centuries": (100,), "quarter": (Fraction(1, 4), 25),
    "quarters": (Fraction(1, 4), 25), "month": (4,), "months": (4,), "minute": (60,),
    "hour": (60, 3600), "week": (7,), "year": (12, 52, 365),
}
# Ordinals and fraction words: `third` is both 3 (the third day) and 1/3 (a third).
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
             "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "eleventh": 11,
             "twelfth": 12, "twentieth": 20, "hundredth": 100, "thousandth": 1000}

# Starts with a digit, so the regex engine skips ahead to digits: a mixed number `3 1/2`,
# a fraction `3/4`, or a number with separators and decimals `1,200.5`, maybe a percent.
_NUMBER = re.compile(
    r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?:\s+(\d+)/(\d+)|/(\d+))?"
    r"(\s*%|\s+percent\b)?", re.ASCII)


def _ordinals() -> dict[str, int]:
    out = dict(_ORDINALS)
    for word, n in _SMALL.items():
        if 13 <= n <= 19:
            out[word + "th"] = n  # thirteenth .. nineteenth (eighteen + th)
        elif n >= 20 and n % 10 == 0:
            out[word[:-1] + "ieth"] = n  # twentieth .. ninetieth
    return out


_ORDINAL_WORDS = _ordinals()
_KNOWN = (set(_SMALL) | set(_SCALES) | set(_MULTIPLES) | set(_UNIT_WORDS) | set(_ORDINAL_WORDS)
          | {w + "s" for w in _ORDINAL_WORDS})
# Spaces and hyphens join the words of one number (`twenty-one`, `three hundred forty`);
# punctuation ends one. str.split is C-fast; a regex tokenizer was 10x slower.
_PUNCT = ".,;:!?()[]\"'$%/"
_AND_HALF = re.compile(r"\b(\w+) and a half\b")


def _number(value: Fraction | int) -> Fraction | int:
    """Whole values as ints (cheap to build, equal and hash-equal to their Fraction)."""
    return value.numerator if type(value) is Fraction and value.denominator == 1 else value


def _words(text: str) -> set[Fraction | int]:
    """Values of the number words in `text`: compounds are read whole (`three hundred
    forty` is 340, `twenty-one` 21), and each word also counts on its own."""
    text = text.lower()
    out: set[Fraction | int] = set()
    total = current = last = 0
    run = False
    previous: int | None = None
    adjacent = False
    for raw in text.replace("-", " ").split():
        word = raw.strip(_PUNCT)
        if word not in _KNOWN:  # most words: they only end a number
            adjacent = False
            continue
        if raw[0] in _PUNCT:
            adjacent = False
        if not adjacent:
            if run:
                out.add(total + current)
            total = current = 0
            run, previous = False, None
        adjacent = raw[-1] not in _PUNCT  # `four, five` are two numbers
        small, scale = _SMALL.get(word), _SCALES.get(word)
        if small is not None:
            out.add(small)
            current += small
            run, previous = True, small
            out.add(total + current)
            continue
        if scale is not None:
            out.add(scale)
            if run:
                if scale == 100:
                    current = max(current, 1) * 100
                else:
                    total += max(current, 1) * scale
                    current = 0
                out.add(total + current)
                previous = None
                continue
        last = total + current if run else 0
        if run:
            out.add(last)
        total = current = 0
        run = False
        if word in _MULTIPLES:
            out.add(_number(Fraction(_MULTIPLES[word])))
        if word in _UNIT_WORDS:
            out.update(_number(Fraction(u)) for u in _UNIT_WORDS[word])
        ordinal = _ORDINAL_WORDS.get(word.removesuffix("s")) or (
            4 if word in ("quarter", "quarters") else None)
        if ordinal:  # `third` is 3 and 1/3; `a quarter` divides by 4
            out.update((ordinal, Fraction(1, ordinal)))
            if previous:  # two thirds, three quarters
                out.add(_number(Fraction(previous, ordinal)))
                if last % 10 == 0 and ordinal < 10:  # twenty-fifth
                    out.update((last + ordinal, Fraction(1, last + ordinal)))
        if word in ("half", "halves") and previous:
            out.add(_number(Fraction(previous, 2)))
        previous = None
    if run:
        out.add(total + current)
    for m in _AND_HALF.finditer(text):  # two and a half, 3 and a half
        head = m.group(1)
        whole = int(head) if head.isdigit() and head.isascii() else _SMALL.get(head)
        if whole is not None:
            out.add(whole + Fraction(1, 2))
    return out


def _digits(text: str) -> set[Fraction | int]:
    out: set[Fraction | int] = set()
    for plain, num, den, over, percent in _NUMBER.findall(text):
        if len(plain) + len(num) + len(den) + len(over) > MAX_NUMBER_CHARS:
            continue  # not a quantity (and Python refuses int() past 4,300 digits)
        digits = plain.replace(",", "")
        value: Fraction | int = int(digits) if digits.isdigit() else _number(Fraction(digits))
        out.add(value)
        if num:  # 3 1/2: also 3, 1, 2 and 1/2
            n, d = int(num), int(den)
            out.update((n, d))
            if d:
                out.update((_number(value + Fraction(n, d)), _number(Fraction(n, d))))
        elif over:  # 3/4
            d = int(over)
            out.add(d)
            if d:
                out.add(_number(Fraction(value) / d))
        if percent:
            out.update((_number(Fraction(value) / 100), Fraction(1, 100)))
        if plain.endswith(",000"):  # "$280,000 ... in thousands of dollars": 280
            out.add(_number(Fraction(value) / 1000))
    return out


# A number written with more characters than this grounds nothing: no word problem states
# one, and reading it would cost time quadratic in its length (or raise, past 4,300 digits).
MAX_NUMBER_CHARS = 100


@dataclass(frozen=True, slots=True)
class Grounding:
    """The values an init may take for one question: what it states, plus constants."""

    values: frozenset[Fraction | int]
    # What the question itself states, without the unit table and the dataset's constants:
    # an answer must depend on one of these (runtime.execute.ignored_inputs).
    stated: frozenset[Fraction | int] = frozenset()

    @staticmethod
    def of(question: str, constants: Iterable[Fraction | int | str] = ()) -> Grounding:
        return _grounding(question, tuple(sorted(Fraction(c) for c in constants)))

    @staticmethod
    def fresh(question: str, constants: Iterable[Fraction | int | str] = ()) -> Grounding:
        """`of`, uncached: for callers that see every question once (the compiler)."""
        return _grounding.__wrapped__(question, tuple(sorted(Fraction(c) for c in constants)))

    def grounds(self, value: Fraction | int) -> bool:
        return value in self.values or -value in self.values

    def states(self, value: Fraction | int) -> bool:
        """Whether the question itself states `value` (or its negation), not only a constant."""
        return value in self.stated or -value in self.stated


@lru_cache(maxsize=4096)  # RL grades many samples of one prompt: extract once per question
def _grounding(question: str, constants: tuple[Fraction, ...]) -> Grounding:
    stated = _digits(question) | _words(question)
    return Grounding(frozenset(stated | UNIT_CONSTANTS | set(constants)), frozenset(stated))


def states_integer(question: str, n: int) -> bool:
    """A fast sufficient test that the question writes the whole number `n` in digits, as
    a number of its own (not inside 160, 1,200 or 0.16): then `Grounding.of(question)`
    grounds it. For the compiler, which checks every gold init of every example."""
    text = str(abs(n))
    at = question.find(text)
    while at >= 0:
        end = at + len(text)
        before = question[at - 1] if at else " "
        after = question[end] if end < len(question) else " "
        after2 = question[end + 1] if end + 1 < len(question) else " "
        if before not in "0123456789,." and after not in "0123456789":
            if not (after in ",." and after2 in "0123456789"):
                return True
            # `280,000` in thousands: 280 (what _digits grounds), not `280,0001` or `1,280,000`
            nxt, nxt2 = question[end + 4:end + 5], question[end + 5:end + 6]
            if question.startswith(",000", end) and len(text) <= 3 \
                    and not (nxt and nxt in "0123456789,") \
                    and not (nxt == "." and nxt2 and nxt2 in "0123456789"):
                return True
        at = question.find(text, at + 1)
    return False


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
