"""generators: procedural structures whose answers the builtin evaluators compute."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasklang.expr import compile_expr
from tasklang.generators import GENERATORS, is_balanced
from tasklang.rng import StreamRandom

from .test_expr import parse_expr


def test_registry() -> None:
    assert set(GENERATORS) >= {"arithmetic", "rpn", "brackets"}
    for gen in GENERATORS.values():
        assert "difficulty" in gen.params and gen.doc
        p = gen.params["difficulty"]
        assert p.lo <= p.default <= p.hi


def rpn_value(text: str) -> Fraction:
    stack: list[Fraction] = []
    for tok in text.split():
        if tok in "+-*":
            b, a = stack.pop(), stack.pop()
            stack.append(a + b if tok == "+" else a - b if tok == "-" else a * b)
        else:
            stack.append(Fraction(int(tok)))
    assert len(stack) == 1
    return stack[0]


@given(st.integers(0, 2**32), st.integers(1, 10))
def test_arithmetic_answer_is_the_value_of_its_text(seed: int, difficulty: int) -> None:
    s = GENERATORS["arithmetic"].fn(StreamRandom.of(seed), difficulty=difficulty)
    value = compile_expr(parse_expr(s.text))({})  # the .task evaluator agrees with the answer
    assert value == s.get("value") and s.answer == str(value)
    assert s.get("operators") == difficulty


@given(st.integers(0, 2**32), st.integers(1, 10))
def test_rpn_answer_is_the_value_of_its_text(seed: int, difficulty: int) -> None:
    s = GENERATORS["rpn"].fn(StreamRandom.of(seed), difficulty=difficulty)
    assert rpn_value(s.text) == s.get("value")
    assert s.answer == str(s.get("value"))
    assert s.get("operators") == sum(tok in "+-*" for tok in s.text.split())


@given(st.integers(0, 2**32), st.integers(1, 10))
def test_brackets(seed: int, difficulty: int) -> None:
    s = GENERATORS["brackets"].fn(StreamRandom.of(seed), difficulty=difficulty)
    assert len(s.text) == 2 * difficulty
    assert s.get("balanced") is is_balanced(s.text)
    assert s.answer == str(is_balanced(s.text))


@pytest.mark.parametrize(("text", "balanced"), [
    ("", True), ("()", True), ("([]{})", True), ("(]", False), ("((", False), ("())(", False),
    ("{[()()]}", True),
])
def test_is_balanced(text: str, balanced: bool) -> None:
    assert is_balanced(text) is balanced


def test_generators_are_deterministic() -> None:
    for gen in GENERATORS.values():
        a = gen.fn(StreamRandom.of(7), difficulty=5)
        b = gen.fn(StreamRandom.of(7), difficulty=5)
        assert a == b
