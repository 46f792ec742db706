"""Builtin procedural generators (`let e = generate rpn(difficulty = 4)`): structures with exact answers.

Each generator is one registration: its parameters with bounds, the fields it
exposes, and a function of an RNG. Answers come from a builtin evaluator over
the generated structure, never from `eval`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from runtime.numbers import format_number

from .expr import Structure
from .rng import StreamRandom


@dataclass(frozen=True, slots=True)
class Param:
    default: int
    lo: int
    hi: int


@dataclass(frozen=True, slots=True)
class Generator:
    name: str
    params: dict[str, Param]
    fields: tuple[str, ...]  # besides text and answer
    fn: Callable[..., Structure]
    doc: str
    returns: str = "str"  # the Python type of its answer in code tests: int, bool or str


GENERATORS: dict[str, Generator] = {}


def register(name: str, params: dict[str, Param], fields: tuple[str, ...], doc: str,
             returns: str = "str") -> Callable[[Callable[..., Structure]], Callable[..., Structure]]:
    def deco(fn: Callable[..., Structure]) -> Callable[..., Structure]:
        GENERATORS[name] = Generator(name, params, fields, fn, doc, returns)
        return fn

    return deco


# ---------------------------------------------------------------- arithmetic with precedence

_PREC = {"+": 1, "-": 1, "*": 2}


def _expr_tree(rng: StreamRandom, ops: int, max_operand: int) -> tuple[str, Fraction, int]:
    """(text, exact value, precedence) of a random expression with `ops` operators."""
    if ops == 0:
        n = rng.randint(1, max_operand)
        return str(n), Fraction(n), 3
    left_ops = rng.randint(0, ops - 1)
    op = rng.choice("+-*")
    lt, lv, lp = _expr_tree(rng, left_ops, max_operand)
    rt, rv, rp = _expr_tree(rng, ops - 1 - left_ops, max_operand)
    prec = _PREC[op]
    # Parenthesise only where precedence requires it, so the model must know the rules.
    if lp < prec:
        lt = f"({lt})"
    if rp < prec or (rp == prec and op == "-"):
        rt = f"({rt})"
    value = lv + rv if op == "+" else lv - rv if op == "-" else lv * rv
    return f"{lt} {op} {rt}", value, prec


@register("arithmetic", {"difficulty": Param(3, 1, 10)}, ("value", "operators"),
          "an integer expression with + - * and parentheses; difficulty = operator count",
          returns="int")
def arithmetic(rng: StreamRandom, difficulty: int) -> Structure:
    max_operand = 9 if difficulty <= 4 else 20
    text, value, _ = _expr_tree(rng, difficulty, max_operand)
    return Structure(text, format_number(value), (("value", value), ("operators", difficulty)))


# ---------------------------------------------------------------- reverse Polish notation


@register("rpn", {"difficulty": Param(3, 1, 10)}, ("value", "operators"),
          "a reverse-Polish expression over + - *; difficulty = operator count", returns="int")
def rpn(rng: StreamRandom, difficulty: int) -> Structure:
    stack: list[tuple[list[str], Fraction]] = []
    pushed, applied = 0, 0
    while applied < difficulty or len(stack) > 1:
        must_push = len(stack) < 2
        if must_push or (pushed < difficulty + 1 and rng.random() < 0.5):
            n = rng.randint(1, 9)
            stack.append(([str(n)], Fraction(n)))
            pushed += 1
            continue
        (bt, bv), (at, av) = stack.pop(), stack.pop()
        op = rng.choice("+-*")
        value = av + bv if op == "+" else av - bv if op == "-" else av * bv
        stack.append((at + bt + [op], value))
        applied += 1
    tokens, value = stack[0]
    return Structure(" ".join(tokens), format_number(value), (("value", value),
                                                                ("operators", applied)))


# ---------------------------------------------------------------- balanced brackets

_PAIRS = {"(": ")", "[": "]", "{": "}"}


def is_balanced(text: str) -> bool:
    """The builtin checker: every bracket closed by its partner, in order."""
    stack: list[str] = []
    for ch in text:
        if ch in _PAIRS:
            stack.append(_PAIRS[ch])
        elif ch in _PAIRS.values() and (not stack or stack.pop() != ch):
            return False
    return not stack


def _balanced(rng: StreamRandom, pairs: int) -> str:
    if pairs == 0:
        return ""
    inner = rng.randint(0, pairs - 1)
    opener = rng.choice("([{")
    return opener + _balanced(rng, inner) + _PAIRS[opener] + _balanced(rng, pairs - 1 - inner)


@register("brackets", {"difficulty": Param(3, 1, 10)}, ("balanced",),
          "a bracket string of 2*difficulty characters, balanced half of the time", returns="bool")
def brackets(rng: StreamRandom, difficulty: int) -> Structure:
    text = _balanced(rng, difficulty)
    if rng.random() < 0.5:
        chars = list(text)
        i = rng.randrange(len(chars))
        chars[i] = rng.choice([c for c in "()[]{}" if c != chars[i]])
        text = "".join(chars)
    balanced = is_balanced(text)
    return Structure(text, "True" if balanced else "False", (("balanced", balanced),))
