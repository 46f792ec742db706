"""runtime.exact: exact-text grading of operator and procedural answers (no fuzzy matching)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.errors import ParseReason, UsageError
from runtime.exact import EXACT_WEIGHTS, grade_exact, strip_output
from runtime.grade import RewardWeights
from runtime.trace import Limits


@pytest.mark.parametrize("text", [
    "[nebula]", "  [nebula]\n", "\n\t[nebula]  ",
    "```\n[nebula]\n```", "```text\n[nebula]\n```", "  ```\n[nebula]\n```  \n", "~~~\n[nebula]\n~~~",
    "```[nebula]```",
])
def test_correct_after_whitespace_and_fence(text: str) -> None:
    g = grade_exact(text, "[nebula]")
    assert (g.status, g.reward) == ("correct", 1.0)
    assert g.correct and g.parsed and g.value is None


@pytest.mark.parametrize("text", [
    "nebula",  # WRAP without the brackets
    "The answer is [nebula]",  # contains the answer: no partial credit
    "[nebula].",
    "[Nebula]",  # case counts
    "[ nebula ]",  # inner spacing counts
    "[nebula]\n[nebula]",
    "```\n[nebula]\n```\nDone.",  # prose after the fence: not one fenced block
])
def test_anything_else_is_wrong(text: str) -> None:
    g = grade_exact(text, "[nebula]")
    assert (g.status, g.reward) == ("wrong_answer", 0.0)


@pytest.mark.parametrize(("text", "reason"), [
    ("", ParseReason.EMPTY), ("  \n ", ParseReason.EMPTY), ("```\n\n```", ParseReason.EMPTY),
    (None, ParseReason.EMPTY), (42, ParseReason.NO_YAML), (b"[nebula]", ParseReason.NO_YAML),
])
def test_empty_or_not_text_is_a_parse_failure(text: object, reason: ParseReason) -> None:
    g = grade_exact(text, "[nebula]")
    assert (g.status, g.reward) == ("parse_failure", 0.0)
    assert g.error is not None and g.error.reason == reason  # type: ignore[union-attr]


def test_huge_output_is_refused_before_any_work() -> None:
    g = grade_exact("x" * 101, "x", limits=Limits(max_chars=100))
    assert g.status == "parse_failure" and g.error_kind == "parse_failure:too_large"


def test_procedural_answers() -> None:
    assert grade_exact("14", "14").correct
    assert not grade_exact("14.0", "14").correct
    assert not grade_exact("-14", "14").correct
    assert grade_exact("False", "False").correct
    assert not grade_exact("false", "False").correct


def test_normalize_is_applied_to_both_sides() -> None:
    def fold(s: str) -> str:
        return strip_output(s).lower()

    assert grade_exact("```\nFALSE\n```", "False", normalize=fold).correct
    assert not grade_exact("FALSE", "False").correct


def test_weights_are_configurable() -> None:
    w = RewardWeights(correct=2.0, wrong_answer=-1.0, parse_failure=-2.0)
    assert grade_exact("a", "a", weights=w).reward == 2.0
    assert grade_exact("b", "a", weights=w).reward == -1.0
    assert grade_exact("", "a", weights=w).reward == -2.0
    assert EXACT_WEIGHTS.possible() == frozenset({1.0, 0.0})


def test_the_answer_must_be_text() -> None:
    with pytest.raises(UsageError):
        grade_exact("14", 14)  # type: ignore[arg-type]


def test_to_json_shape() -> None:
    assert grade_exact("x", "y").to_json() == {"status": "wrong_answer", "reward": 0.0, "value": None,
                                               "error": None, "message": None, "experts": []}


text_st = st.text(min_size=1, max_size=40).map(str.strip).filter(lambda s: s and "`" not in s
                                                                   and "~~~" not in s)


@given(text_st)
def test_an_answer_grades_itself_correct(answer: str) -> None:
    assert grade_exact(answer, answer).correct
    assert grade_exact(f"\n  {answer}\n", answer).correct
    assert grade_exact(f"```\n{answer}\n```", answer).correct


@given(text_st, st.text(min_size=1, max_size=5).filter(lambda s: s.strip()))
def test_extra_text_is_never_correct(answer: str, extra: str) -> None:
    assert not grade_exact(answer + extra, answer).correct
    assert not grade_exact(extra + answer, answer).correct


@given(st.one_of(st.none(), st.text(max_size=200), st.binary(max_size=50), st.integers()))
def test_never_raises_on_model_output(text: object) -> None:
    g = grade_exact(text, "[nebula]")
    assert g.reward in (0.0, 1.0)
