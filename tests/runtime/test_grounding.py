"""runtime.grounding: the numbers a question states, and the compiler's fast test agreeing."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import UNIT_CONSTANTS, Grounding
from runtime.grounding import states_integer

CASES = [
    ("She has 1,200 apples.", [1200], [200, 1]),
    ("A sticker costs $0.25.", [Fraction(1, 4)], [25]),
    ("The coat is 25% off.", [25, Fraction(1, 4), Fraction(1, 100)], []),
    ("It rose 10 percent.", [10, Fraction(1, 10)], []),
    ("He keeps half of them.", [Fraction(1, 2)], []),
    ("She buys a dozen eggs.", [12], []),
    ("A cake needs 3 1/2 cups.", [Fraction(7, 2), 3, Fraction(1, 2)], []),
    ("Add 3/4 of a cup.", [Fraction(3, 4), 3, 4], []),
    ("three hundred forty people and twenty-one dogs", [340, 21, 3], [361]),
    ("two thirds of the class", [Fraction(2, 3), 3, Fraction(1, 3)], []),
    ("three-quarters of it, a quarter of that", [Fraction(3, 4), 4, Fraction(1, 4)], []),
    ("twice as many, and triple that", [2, 3], []),
    ("their twenty-fifth anniversary", [25], []),
    ("two and a half hours", [Fraction(5, 2)], []),
    ("4 dimes and 6 nickels", [Fraction(1, 10), Fraction(1, 20)], []),
    ("a house for $280,000", [280000, 280], []),
    ("eighty thousand dollars", [80000], []),
    ("four, five", [4, 5], [9]),
]


@pytest.mark.parametrize(("question", "stated", "not_stated"), CASES, ids=[c[0] for c in CASES])
def test_what_a_question_states(question: str, stated: list, not_stated: list) -> None:
    g = Grounding.of(question)
    for v in stated:
        assert g.grounds(v), v
        assert g.grounds(-v)  # a loss may be written negative
    for v in not_stated:
        if v not in UNIT_CONSTANTS:
            assert not g.grounds(v), v


def test_unit_constants_and_dataset_constants() -> None:
    g = Grounding.of("nothing stated")
    assert all(g.grounds(c) for c in (1, 2, 7, 12, 24, 60, 100, 365, 1000, 3600))
    assert not g.grounds(0) and not g.grounds(3)
    assert Grounding.of("nothing stated", constants=[3]).grounds(3)


@given(st.integers(0, 10**7), st.sampled_from(["{} eggs", "${}", "x{}y", "{}.5", "1{}", "{}0",
                                                "0.{}", "{}%", "{},000 dollars", "{},0001",
                                                "1,{}", "{}/4", "{}.", "({})", "-{}"]))
def test_the_fast_integer_test_is_sufficient(n: int, shape: str) -> None:
    """Whenever the compiler's fast test says a question states n, the full one agrees."""
    question = "We have " + shape.format(f"{n:,}" if n >= 1000 and "," not in shape else n) + "!"
    if states_integer(question, n):
        assert Grounding.of(question).grounds(n), question


def test_a_question_with_an_absurdly_long_number_grades_without_raising() -> None:
    """Found by bench/fuzz_tasks.py (seed 3, case 441): a template holding `0.000...1` with
    4,302 digits made the compiler's grounding check raise ValueError (Python's int-string
    limit); a model's question could do the same to `grade`. Such a number grounds nothing."""
    from runtime import grade

    text = ("expert: arithmetic\ntrace:\n- {op: init, var: a, value: 3}\n"
            "- {op: init, var: b, value: 4}\n"
            "- {op: compute, compute_op: add, args: [a, b], var: result}\n- {op: query, var: result}\n")
    for huge in ("9" * 5000, "0." + "0" * 4400 + "1", "1" + ",000" * 1500, "7/" + "3" * 4400):
        question = f"A number {huge} and then 3 and 4."
        assert grade(text, 7, question=question).status == "correct"
        assert not Grounding.of(question).grounds(9)
