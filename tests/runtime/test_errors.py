"""runtime.errors: one graded YAML trace per ErrorKind, and a check that none is left untested."""

from __future__ import annotations

import pytest

from runtime import DEFAULT_WEIGHTS, ErrorKind, ExecError, ParseReason, UsageError, grade
from runtime.errors import TraceError

from .helpers import composed, single

A = "{op: init, var: a, value: 6}"
B = "{op: init, var: b, value: 3}"
MUL = "{op: compute, compute_op: mul, args: [a, b], var: result}"
Q = "{op: query, var: result}"
FIRST = ("arithmetic", [A, B, MUL, Q])  # 18

# Each case: a trace whose only defect is the named kind (reward 0.5 by default).
ERROR_CASES: dict[str, str] = {
    "undefined_var": single(
        "arithmetic", A, "{op: compute, compute_op: mul, args: [a, count2], var: result}", Q),
    "short_circuit": single("rate_equation", A, B, MUL, "{op: query, var: a}"),
    "overwrite": single(  # the notes' beanstalk: init step1 after compute step1
        "arithmetic", A, B, "{op: compute, compute_op: mul, args: [a, b], var: step1}",
        "{op: init, var: step1, value: 3}",
        "{op: compute, compute_op: add, args: [step1, a], var: result}", Q),
    "op_not_in_expert": single(
        "arithmetic", A, B, "{op: percent_of, base: a, rate: b, var: result}", Q),
    "unknown_op": single("arithmetic", A, B, "{op: multiply, args: [a, b], var: result}", Q),
    "unknown_expert": single("astrology", A, B, MUL, Q),
    "bad_arity": single(
        "arithmetic", A, B, "{op: compute, compute_op: sub, args: [a, b, a], var: result}", Q),
    "not_a_number": single("arithmetic", "{op: init, var: a, value: six}", B, MUL, Q),
    "invalid_step": single("arithmetic", A, B, MUL, "{op: query, var: result, unit: eggs}"),
    "division_by_zero": single(
        "arithmetic", A, "{op: init, var: b, value: 0}",
        "{op: compute, compute_op: div, args: [a, b], var: result}", Q),
    "missing_query": single("arithmetic", A, B, MUL),
    "multiple_queries": single("arithmetic", A, B, MUL, Q, Q),
    "query_not_last": single(
        "arithmetic", A, B, MUL, Q, "{op: compute, compute_op: add, args: [a, b], var: step2}"),
    "no_prev_result": single(
        "arithmetic", "{op: init, var: a, source: prev.result}", B, MUL, Q),
    "dead_subtrace": composed(
        FIRST, ("arithmetic", ["{op: init, var: c, value: 2}", "{op: init, var: d, value: 5}",
                               "{op: compute, compute_op: add, args: [c, d], var: result}", Q])),
    "limits_exceeded": single(  # (10**30)**2 has 61 digits; the default bound is 60
        "arithmetic", "{op: init, var: a, value: 1000000000000000000000000000000}",
        "{op: compute, compute_op: mul, args: [a, a], var: result}", Q),
    "ungrounded_init": single("arithmetic", A, B, MUL, Q),  # graded with QUESTIONS below
}
# The question a case is graded with (grounding needs one): 3 is not in this one.
QUESTIONS = {"ungrounded_init": "A crate holds 6 boxes. How many boxes do 3 crates hold?"
             .replace("3 crates", "some crates")}


@pytest.mark.parametrize("kind", sorted(ERROR_CASES))
def test_error_kind_via_grade(kind: str) -> None:
    g = grade(ERROR_CASES[kind], 18, question=QUESTIONS.get(kind))
    assert g.status == f"exec_error:{kind}", g.error
    assert g.reward == 0.5 == DEFAULT_WEIGHTS.exec_error
    assert isinstance(g.error, ExecError) and g.error.kind == ErrorKind(kind)
    assert g.error_kind == kind
    assert g.to_json()["error"] == kind
    assert g.value is None
    assert g.parsed and not g.valid and not g.correct


@pytest.mark.parametrize("kind", list(ErrorKind), ids=[k.value for k in ErrorKind])
def test_every_error_kind_has_a_case(kind: ErrorKind) -> None:
    assert kind.value in ERROR_CASES, f"ErrorKind.{kind.name} has no grading test case"


def test_error_kind_values_are_their_wire_names() -> None:
    for kind in ErrorKind:
        assert kind.value == kind.name.lower()
        assert ErrorKind(kind.value) is kind
        assert f"exec_error:{kind}" == f"exec_error:{kind.value}"  # StrEnum formats as value


def test_parse_reason_values_are_their_wire_names() -> None:
    for reason in ParseReason:
        assert reason.value == reason.name.lower()


@pytest.mark.parametrize(
    ("kind", "where"),
    [("undefined_var", (None, 1)), ("overwrite", (None, 3)), ("unknown_op", (None, 2)),
     ("multiple_queries", (None, 4)), ("query_not_last", (None, 4)),
     ("no_prev_result", (None, 0)), ("dead_subtrace", (0, None)), ("short_circuit", (None, 3)),
     ("limits_exceeded", (None, 1))],
)
def test_error_location(kind: str, where: tuple[int | None, int | None]) -> None:
    """`part`/`step` are 0-based indexes of the offending sub-trace and step."""
    error = grade(ERROR_CASES[kind]).error
    assert isinstance(error, ExecError)
    assert (error.part, error.step) == where


def test_trace_error_and_usage_error() -> None:
    err = TraceError(ErrorKind.OVERWRITE, "x is already defined")
    assert err.kind == ErrorKind.OVERWRITE and err.message == "x is already defined"
    assert issubclass(UsageError, ValueError)
