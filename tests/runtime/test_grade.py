"""runtime.grade: statuses, rewards, answer normalisation, expected experts, weights, JSON."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from runtime import (
    COMPOSITION,
    DEFAULT_WEIGHTS,
    ErrorKind,
    ExecError,
    Grade,
    ParseFailure,
    ParseReason,
    RewardWeights,
    UsageError,
    grade,
    grade_trace,
    parse,
)
from runtime.extract import HAS_C_LOADER
from runtime.trace import Trace

from .helpers import HOUSE, JANET, mul_trace, single

EIGHTEEN = mul_trace(6, 3)
SHORT_CIRCUIT = single("arithmetic", "{op: init, var: a, value: 18}", "{op: query, var: a}")


# ---------------------------------------------------------------- statuses


def test_correct() -> None:
    g = grade(EIGHTEEN, 18, expert="arithmetic")
    assert (g.status, g.reward, g.value) == ("correct", 1.0, Fraction(18))
    assert isinstance(g.value, Fraction)
    assert g.correct and g.parsed and g.valid and g.error is None and g.error_kind is None
    assert g.experts == ("arithmetic",)
    assert isinstance(g.trace, Trace)


def test_wrong_answer() -> None:
    g = grade(EIGHTEEN, 19, expert="arithmetic")
    assert (g.status, g.reward, g.value) == ("wrong_answer", 0.7, Fraction(18))
    assert not g.correct and g.valid and g.parsed


def test_exec_error() -> None:
    g = grade(SHORT_CIRCUIT, 18, expert="arithmetic")
    assert (g.status, g.reward, g.value) == ("exec_error:short_circuit", 0.5, None)
    assert not g.valid and g.parsed
    assert isinstance(g.error, ExecError) and g.error_kind == "short_circuit"


def test_wrong_expert() -> None:
    g = grade(EIGHTEEN, 18, expert="rate_equation")
    assert (g.status, g.reward, g.value) == ("wrong_expert", 0.3, None)
    assert g.parsed and not g.valid and g.experts == ("arithmetic",)


def test_wrong_expert_is_judged_before_the_steps() -> None:
    # a broken trace under the wrong expert is wrong_expert, whatever its steps hold
    broken = single("arithmetic", "{op: frobnicate}", "{op: query, var: nothing}")
    assert grade(broken, 18, expert="comparison").status == "wrong_expert"
    assert grade(broken, 18, expert="arithmetic").status == "exec_error:unknown_op"


def test_parse_failure() -> None:
    g = grade("I think it is 18.", 18, expert="arithmetic")
    assert (g.status, g.reward, g.value) == ("parse_failure", 0.0, None)
    assert not g.parsed and not g.valid
    assert isinstance(g.error, ParseFailure) and g.error.reason == ParseReason.NO_YAML
    assert g.error_kind == "parse_failure:no_yaml"


def test_valid_without_an_answer() -> None:
    g = grade(EIGHTEEN)
    assert (g.status, g.reward, g.value) == ("valid", None, Fraction(18))
    assert g.valid and not g.correct


def test_no_answer_still_reports_errors() -> None:
    assert grade(SHORT_CIRCUIT).status == "exec_error:short_circuit"
    assert grade("").status == "parse_failure"


def test_no_expected_expert_accepts_any_known_expert() -> None:
    assert grade(mul_trace(6, 3, expert="comparison"), 18).status == "correct"


# ---------------------------------------------------------------- answer normalisation


@pytest.mark.parametrize("answer", [18, 18.0, "18", "18.00", "$18", "18.", " 18", Fraction(18),
                                    Fraction(36, 2)])
def test_answer_normalisation(answer: Any) -> None:
    g = grade(EIGHTEEN, answer)
    assert (g.status, g.reward) == ("correct", 1.0)


@pytest.mark.parametrize("answer", [1000, "1,000", "1000", "$1,000.00", 1000.0])
def test_thousands_separator(answer: Any) -> None:
    assert grade(mul_trace(10, 100), answer).status == "correct"


def test_thousands_separator_in_a_block_style_init_value() -> None:
    text = "expert: arithmetic\ntrace:\n- op: init\n  var: a\n  value: 80,000\n" \
           "- {op: init, var: b, value: 1}\n" \
           "- {op: compute, compute_op: add, args: [a, b], var: result}\n" \
           "- {op: query, var: result}\n"
    assert grade(text, "80,001").status == "correct"


@pytest.mark.parametrize("answer", [0.3, "0.3", "0.30", Fraction(3, 10), "3/10"])
def test_exact_decimal_arithmetic(answer: Any) -> None:
    text = single("arithmetic", "{op: init, var: a, value: 0.1}", "{op: init, var: b, value: 0.2}",
                  "{op: compute, compute_op: add, args: [a, b], var: result}",
                  "{op: query, var: result}")
    g = grade(text, answer)
    assert g.status == "correct" and g.value == Fraction(3, 10)
    assert g.to_json()["value"] == "0.3"


def test_close_is_not_equal() -> None:
    text = single("arithmetic", "{op: init, var: a, value: 1}", "{op: init, var: b, value: 3}",
                  "{op: compute, compute_op: div, args: [a, b], var: result}",
                  "{op: query, var: result}")
    assert grade(text, "0.3333333333").status == "wrong_answer"
    assert grade(text, "1/3").status == "correct"
    assert grade(text).to_json()["value"] == "1/3"


@pytest.mark.parametrize("answer", ["eighteen", "", "18 eggs", True, float("nan"), "1/0", [18]])
def test_non_numeric_reference_answer_is_a_usage_error(answer: Any) -> None:
    with pytest.raises(UsageError):
        grade(EIGHTEEN, answer)


def test_usage_error_comes_first_even_for_unparsable_text() -> None:
    with pytest.raises(UsageError):
        grade("not a trace", "eighteen")


# ---------------------------------------------------------------- expected experts


@pytest.mark.parametrize(
    ("expert", "status"),
    [(None, "correct"), ("percentage+arithmetic", "correct"),
     ("arithmetic+percentage", "wrong_expert"), ("percentage", "wrong_expert"),
     ("arithmetic", "wrong_expert"), ("percentage+arithmetic+comparison", "wrong_expert")],
)
def test_expected_expert_of_a_composed_trace(expert: str | None, status: str) -> None:
    g = grade(HOUSE, 70000, expert=expert)
    assert g.status == status
    assert g.reward == {"correct": 1.0, "wrong_expert": 0.3}[status]
    assert g.experts == ("percentage", "arithmetic")


def test_bare_composition_accepts_no_sequence() -> None:
    """The label `composition` once matched any composed trace; now the caller names one."""
    for text in (JANET, HOUSE):
        with pytest.raises(UsageError, match="names no sequence"):
            grade(text, 26, expert=COMPOSITION)


def test_expected_expert_of_a_record() -> None:
    from runtime.grade import expected_expert

    assert expected_expert(COMPOSITION, ["percentage", "arithmetic"]) == "percentage+arithmetic"
    assert expected_expert("arithmetic", ["arithmetic"]) == "arithmetic"
    assert expected_expert(None, []) is None


def test_composed_wrong_answer_and_error() -> None:
    seq = "percentage+arithmetic"
    assert grade(HOUSE, 70001, expert=seq).status == "wrong_answer"
    dead = HOUSE.replace("{op: init, var: increased, source: prev.result}",
                         "{op: init, var: increased, value: 200000}")
    g = grade(dead, 70000, expert=seq)
    assert (g.status, g.reward) == ("exec_error:dead_subtrace", 0.5)


# ---------------------------------------------------------------- weights


def test_default_weights_are_the_notes_ladder() -> None:
    w = RewardWeights()
    assert (w.correct, w.wrong_answer, w.exec_error, w.wrong_expert, w.parse_failure) == (
        1.0, 0.7, 0.5, 0.3, 0.0)
    assert w == DEFAULT_WEIGHTS
    assert w.possible() == frozenset({1.0, 0.7, 0.5, 0.3, 0.0})


def test_custom_weights() -> None:
    w = RewardWeights(correct=2.0, wrong_answer=0.25, exec_error=-0.5, wrong_expert=-1.0,
                      parse_failure=-2.0)
    assert grade(EIGHTEEN, 18, weights=w).reward == 2.0
    assert grade(EIGHTEEN, 17, weights=w).reward == 0.25
    assert grade(SHORT_CIRCUIT, 18, weights=w).reward == -0.5
    assert grade(EIGHTEEN, 18, expert="comparison", weights=w).reward == -1.0
    assert grade("nothing", 18, weights=w).reward == -2.0
    assert w.possible() == frozenset({2.0, 0.25, -0.5, -1.0, -2.0})


def test_per_kind_override() -> None:
    w = RewardWeights(per_kind={"short_circuit": 0.4, ErrorKind.OVERWRITE: 0.1})
    g = grade(SHORT_CIRCUIT, 18, weights=w)
    assert (g.status, g.reward) == ("exec_error:short_circuit", 0.4)
    overwrite = single("arithmetic", "{op: init, var: a, value: 1}",
                       "{op: init, var: a, value: 2}", "{op: query, var: a}")
    assert grade(overwrite, 2, weights=w).reward == 0.1
    undefined = single("arithmetic", "{op: compute, compute_op: add, args: [x, y], var: result}",
                       "{op: query, var: result}")
    assert grade(undefined, 18, weights=w).reward == 0.5  # not overridden: exec_error
    assert w.for_error(ErrorKind.SHORT_CIRCUIT) == 0.4
    assert w.for_error(ErrorKind.UNDEFINED_VAR) == 0.5
    assert w.possible() == frozenset({1.0, 0.7, 0.5, 0.3, 0.0, 0.4, 0.1})


def test_per_kind_is_copied() -> None:
    overrides = {"short_circuit": 0.4}
    w = RewardWeights(per_kind=overrides)
    overrides["short_circuit"] = 0.9
    assert w.for_error(ErrorKind.SHORT_CIRCUIT) == 0.4


@pytest.mark.parametrize(
    "kwargs",
    [{"correct": float("nan")}, {"wrong_answer": float("inf")}, {"exec_error": "0.5"},
     {"parse_failure": None}, {"wrong_expert": True}, {"per_kind": {"short_circut": 0.4}},
     {"per_kind": {"short_circuit": float("nan")}}, {"per_kind": {"overwrite": "low"}}],
)
def test_bad_weights_are_a_usage_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        RewardWeights(**kwargs)


# ---------------------------------------------------------------- grade_trace, loaders, JSON


def test_grade_trace_on_a_typed_trace() -> None:
    trace = parse(JANET)
    assert isinstance(trace, Trace)
    g = grade_trace(trace, Fraction(26))
    assert (g.status, g.reward, g.value, g.trace) == ("correct", 1.0, Fraction(26), trace)
    assert grade_trace(trace, None).status == "valid"
    assert grade_trace(trace, Fraction(27)).status == "wrong_answer"


@pytest.mark.parametrize("text", [JANET, HOUSE, SHORT_CIRCUIT, "a: &x 1", "[" * 40, "foo"])
def test_loaders_grade_alike(text: str) -> None:
    if not HAS_C_LOADER:
        pytest.fail("libyaml (the C loader) is expected in the test environment")
    assert grade(text, 26, loader="c") == grade(text, 26, loader="python")


@pytest.mark.parametrize(
    ("text", "answer", "expected"),
    [
        (EIGHTEEN, 18, {"status": "correct", "reward": 1.0, "value": "18", "error": None}),
        (EIGHTEEN, 17, {"status": "wrong_answer", "reward": 0.7, "value": "18", "error": None}),
        (SHORT_CIRCUIT, 18, {"status": "exec_error:short_circuit", "reward": 0.5,
                             "value": None, "error": "short_circuit"}),
        ("just prose", 18, {"status": "parse_failure", "reward": 0.0, "value": None,
                            "error": "parse_failure:no_yaml"}),
        (EIGHTEEN, None, {"status": "valid", "reward": None, "value": "18", "error": None}),
    ],
)
def test_to_json_shape(text: str, answer: Any, expected: dict[str, Any]) -> None:
    out = grade(text, answer).to_json()
    assert {k: out[k] for k in expected} == expected
    assert isinstance(out["status"], str)
    assert out["value"] is None or isinstance(out["value"], str)
    assert out["error"] is None or isinstance(out["error"], str)
    assert out["reward"] is None or isinstance(out["reward"], float)
    assert isinstance(out["experts"], list)
    assert (out["message"] is None) == (out["error"] is None)


def test_to_json_wrong_expert() -> None:
    out = grade(EIGHTEEN, 18, expert="comparison").to_json()
    assert (out["status"], out["reward"], out["value"], out["error"]) == (
        "wrong_expert", 0.3, None, None)
    assert out["experts"] == ["arithmetic"]


def test_to_json_decimal_value() -> None:
    assert grade(mul_trace("2.5", "-0.5")).to_json()["value"] == "-1.25"


def test_grade_is_a_frozen_value() -> None:
    g = grade(EIGHTEEN, 18)
    assert isinstance(g, Grade) and g == grade(EIGHTEEN, 18)
    with pytest.raises(AttributeError):
        g.reward = 0.0  # type: ignore[misc]


def test_long_exact_answers_compare_exactly() -> None:
    # 0.5 ** 60 = 1 / 2**60: 60 decimals, far longer than any literal a model may write
    text = single("arithmetic", "{op: init, var: half, value: 0.5}",
                  "{op: init, var: n, value: 60}",
                  "{op: compute, compute_op: pow, args: [half, n], var: result}",
                  "{op: query, var: result}")
    value = Fraction(1, 2**60)
    g = grade(text)
    assert g.value == value
    decimal = g.to_json()["value"]
    assert decimal == "0." + str(5**60).rjust(60, "0") and len(decimal) == 62
    for answer in (decimal, value, f"1/{2**60}"):
        assert grade(text, answer).status == "correct", answer
    assert grade(text, decimal[:-1]).status == "wrong_answer"
