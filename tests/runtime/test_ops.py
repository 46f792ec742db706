"""runtime.ops: every step op and every compute op, with values worked out by hand."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from runtime import COMPUTE_OPS, STEP_TYPES, ErrorKind, Outcome, execute
from runtime.ops import (
    PREV_RESULT,
    ComputeStep,
    ConsumeStep,
    InitStep,
    PercentIncreaseStep,
    PercentOffStep,
    PercentOfStep,
    QueryStep,
    TransferStep,
)
from runtime.trace import build_step

from .helpers import typed

# ---------------------------------------------------------------- helpers


def run(steps: list[dict[str, Any]], expert: str = "arithmetic") -> Outcome:
    return execute(typed({"expert": expert, "trace": steps}))


def init(var: str, value: Any) -> dict[str, Any]:
    return {"op": "init", "var": var, "value": value}


def compute_with(op: str, values: list[str]) -> Outcome:
    """x0..xn computed as (v + 1) - 1 from decimal strings, result = op(x0..xn), query result.

    The inputs are computed, not inits: min/max of inits only select (copy) a stated
    number, which the anti-short-circuit rule refuses; here the op's value is under test.
    """
    names = [f"x{i}" for i in range(len(values))]
    steps = [init("one", 1)]
    for n, v in zip(names, values, strict=True):
        steps.append(init(f"{n}p", str(Fraction(v) + 1)))
        steps.append({"op": "compute", "compute_op": "sub", "args": [f"{n}p", "one"], "var": n})
    steps.append({"op": "compute", "compute_op": op, "args": names, "var": "result"})
    steps.append({"op": "query", "var": "result"})
    return run(steps)


def value_of(outcome: Outcome) -> Fraction:
    assert outcome.error is None, outcome.error
    assert outcome.value is not None
    return outcome.value


# ---------------------------------------------------------------- compute ops

# (compute_op, argument literals, expected value worked out by hand)
COMPUTE_CASES: list[tuple[str, list[str], Fraction]] = [
    ("add", ["3", "4.5"], Fraction(15, 2)),
    ("add", ["1", "2", "3", "4"], Fraction(10)),  # n-ary
    ("add", ["0.1", "0.2"], Fraction(3, 10)),  # exact, not 0.30000000000000004
    ("add", ["-5", "2.25", "0.75"], Fraction(-2)),
    ("sub", ["10", "2.5"], Fraction(15, 2)),
    ("sub", ["3", "5"], Fraction(-2)),  # first minus second, not |difference|
    ("mul", ["4", "2.5"], Fraction(10)),
    ("mul", ["2", "3", "0.5", "4"], Fraction(12)),  # n-ary
    ("mul", ["-3", "0.2"], Fraction(-3, 5)),
    ("div", ["7", "2"], Fraction(7, 2)),
    ("div", ["1", "3"], Fraction(1, 3)),  # exact third
    ("div", ["48", "-2"], Fraction(-24)),
    ("floordiv", ["7", "2"], Fraction(3)),
    ("floordiv", ["7.5", "2.5"], Fraction(3)),
    ("floordiv", ["9.9", "1"], Fraction(9)),
    ("mod", ["7", "3"], Fraction(1)),
    ("mod", ["7.5", "2"], Fraction(3, 2)),
    ("mod", ["12", "4"], Fraction(0)),
    ("pow", ["2", "10"], Fraction(1024)),
    ("pow", ["1.5", "2"], Fraction(9, 4)),
    ("pow", ["2", "-2"], Fraction(1, 4)),
    ("pow", ["-3", "3"], Fraction(-27)),
    ("pow", ["5", "0"], Fraction(1)),
    ("min", ["3", "-1", "2.5"], Fraction(-1)),
    ("min", ["0.5", "0.25"], Fraction(1, 4)),
    ("max", ["3", "-1", "2.5"], Fraction(3)),
    ("max", ["-0.5", "-0.25"], Fraction(-1, 4)),
    ("floor", ["7.5"], Fraction(7)),
    ("floor", ["-7.5"], Fraction(-8)),
    ("floor", ["4"], Fraction(4)),
    ("ceil", ["7.25"], Fraction(8)),
    ("ceil", ["-7.5"], Fraction(-7)),
    ("round", ["2.5"], Fraction(3)),  # halves away from zero (GSM money), not to even
    ("round", ["3.5"], Fraction(4)),
    ("round", ["-2.5"], Fraction(-3)),
    ("round", ["2.49"], Fraction(2)),
    ("round", ["1.125", "2"], Fraction(113, 100)),
    ("round", ["1.124", "2"], Fraction(112, 100)),
    ("round", ["1234", "-2"], Fraction(1200)),
    ("round", ["1250", "-2"], Fraction(1300)),
]


@pytest.mark.parametrize(("op", "args", "expected"), COMPUTE_CASES,
                         ids=[f"{c[0]}-{'-'.join(c[1])}" for c in COMPUTE_CASES])
def test_compute_op_value(op: str, args: list[str], expected: Fraction) -> None:
    assert value_of(compute_with(op, args)) == expected


@pytest.mark.parametrize("op", sorted(COMPUTE_OPS))
def test_every_compute_op_has_a_value_case(op: str) -> None:
    assert op in {case[0] for case in COMPUTE_CASES}, f"no hand-computed case for {op}"


@pytest.mark.parametrize(("a", "b"), [("-7", "2"), ("7", "-2"), ("-7.5", "2"), ("13", "4")])
def test_floordiv_and_mod_agree(a: str, b: str) -> None:
    """a == b * (a floordiv b) + (a mod b), and the quotient is a whole number."""
    q = value_of(compute_with("floordiv", [a, b]))
    r = value_of(compute_with("mod", [a, b]))
    assert q.denominator == 1
    assert Fraction(b) * q + r == Fraction(a)
    assert abs(r) < abs(Fraction(b))


def test_floordiv_rounds_down_for_negatives() -> None:
    assert value_of(compute_with("floordiv", ["-7", "2"])) == -4  # floor(-3.5)


def test_div_is_exact_through_a_chain() -> None:
    steps = [init("one", 1), init("three", 3),
             {"op": "compute", "compute_op": "div", "args": ["one", "three"], "var": "third"},
             {"op": "compute", "compute_op": "mul", "args": ["third", "three"], "var": "result"},
             {"op": "query", "var": "result"}]
    assert value_of(run(steps)) == 1


@pytest.mark.parametrize("op", ["div", "floordiv", "mod"])
def test_division_by_zero(op: str) -> None:
    outcome = compute_with(op, ["5", "0"])
    assert outcome.error is not None and outcome.error.kind == ErrorKind.DIVISION_BY_ZERO
    assert outcome.value is None


def test_zero_to_a_negative_power_is_division_by_zero() -> None:
    outcome = compute_with("pow", ["0", "-1"])
    assert outcome.error is not None and outcome.error.kind == ErrorKind.DIVISION_BY_ZERO


@pytest.mark.parametrize("exponent", ["0.5", "65", "-65"])
def test_pow_needs_a_small_integer_exponent(exponent: str) -> None:
    outcome = compute_with("pow", ["2", exponent])
    assert outcome.error is not None and outcome.error.kind == ErrorKind.LIMITS_EXCEEDED


def test_pow_at_the_exponent_bound() -> None:
    assert value_of(compute_with("pow", ["2", "64"])) == 2**64


def _compute_step(op: str, n: int) -> Any:
    return build_step({"op": "compute", "compute_op": op,
                       "args": [f"x{i}" for i in range(n)], "var": "r"})


@pytest.mark.parametrize("op", sorted(COMPUTE_OPS))
def test_compute_arity(op: str) -> None:
    spec = COMPUTE_OPS[op]
    too_few = _compute_step(op, spec.min_args - 1)
    assert getattr(too_few, "kind", None) == ErrorKind.BAD_ARITY
    assert isinstance(_compute_step(op, spec.min_args), ComputeStep)
    if spec.max_args is None:
        assert isinstance(_compute_step(op, 6), ComputeStep)
    else:
        too_many = _compute_step(op, spec.max_args + 1)
        assert getattr(too_many, "kind", None) == ErrorKind.BAD_ARITY


def test_binary_and_variadic_ops() -> None:
    assert {op for op, spec in COMPUTE_OPS.items() if spec.max_args is None} >= {"add", "mul"}
    for op in ("sub", "div"):
        assert (COMPUTE_OPS[op].min_args, COMPUTE_OPS[op].max_args) == (2, 2)


def test_unknown_compute_op() -> None:
    step = build_step({"op": "compute", "compute_op": "plus", "args": ["a", "b"], "var": "r"})
    assert getattr(step, "kind", None) == ErrorKind.UNKNOWN_OP


# ---------------------------------------------------------------- init


@pytest.mark.parametrize(
    ("value", "expected"),
    [(16, Fraction(16)), ("2.5", Fraction(5, 2)), ("80,000", Fraction(80000)),
     (Fraction(1, 3), Fraction(1, 3)), ("-4", Fraction(-4)), ("1/4", Fraction(1, 4))],
)
def test_init_value(value: Any, expected: Fraction) -> None:
    step = build_step(init("x", value))
    assert isinstance(step, InitStep)
    assert step.value == expected and step.source is None
    assert step.defines() == "x" and step.reads() == () and step.updates() == ()


def test_init_value_reaches_the_answer_through_a_compute() -> None:
    steps = [init("a", "2.5"), init("b", 4),
             {"op": "compute", "compute_op": "mul", "args": ["a", "b"], "var": "result"},
             {"op": "query", "var": "result"}]
    assert value_of(run(steps)) == 10


def test_init_source_prev_result() -> None:
    # part 1: 6 * 7 = 42; part 2: prev (42) - 2 = 40
    trace = typed([
        {"expert": "arithmetic", "trace": [
            init("a", 6), init("b", 7),
            {"op": "compute", "compute_op": "mul", "args": ["a", "b"], "var": "result"},
            {"op": "query", "var": "result"}]},
        {"expert": "arithmetic", "trace": [
            {"op": "init", "var": "prev", "source": PREV_RESULT}, init("two", 2),
            {"op": "compute", "compute_op": "sub", "args": ["prev", "two"], "var": "result"},
            {"op": "query", "var": "result"}]},
    ])
    outcome = execute(trace)
    assert outcome.value == 40
    assert outcome.results == (Fraction(42), Fraction(40))
    step = trace.parts[1].steps[0]  # type: ignore[union-attr]
    assert isinstance(step, InitStep) and step.source == PREV_RESULT and step.value is None


@pytest.mark.parametrize(
    "data",
    [{"op": "init", "var": "x"},  # neither value nor source
     {"op": "init", "var": "x", "value": 1, "source": PREV_RESULT},  # both
     {"op": "init", "var": "x", "source": "prev.answer"},  # only prev.result is a source
     {"op": "init", "var": "x", "value": 1, "unit": "eggs"},  # unknown key
     {"op": "init", "value": 1}],  # no var
)
def test_init_invalid(data: dict[str, Any]) -> None:
    step = build_step(data)
    assert getattr(step, "kind", None) == ErrorKind.INVALID_STEP


@pytest.mark.parametrize("value", ["step1", "4 * 18", "two", "0x10", "1e31", True, [1], {"a": 1}])
def test_init_value_must_be_a_number(value: Any) -> None:
    assert getattr(build_step(init("x", value)), "kind", None) == ErrorKind.NOT_A_NUMBER


def test_init_value_null_is_no_value() -> None:
    # `value: null` leaves init with neither a value nor a source
    assert getattr(build_step(init("x", None)), "kind", None) == ErrorKind.INVALID_STEP


@pytest.mark.parametrize(
    "name", ["1abc", "a-b", "a b", "prev.result", "yes", "No", "TRUE", "null", "x" * 65, "", "a."]
)
def test_bad_variable_names(name: str) -> None:
    assert getattr(build_step(init(name, 1)), "kind", None) == ErrorKind.INVALID_STEP


@pytest.mark.parametrize("name", ["bob.cards", "_x", "Step1", "x" * 64, "a.b.c", "yes_no"])
def test_good_variable_names(name: str) -> None:
    step = build_step(init(name, 1))
    assert isinstance(step, InitStep) and step.var == name


# ---------------------------------------------------------------- query


def test_query_returns_the_queried_variable_not_the_last_computed() -> None:
    steps = [init("a", 5), init("b", 3),
             {"op": "compute", "compute_op": "add", "args": ["a", "b"], "var": "total"},
             {"op": "compute", "compute_op": "sub", "args": ["a", "b"], "var": "diff"},
             {"op": "query", "var": "total"}]
    assert value_of(run(steps)) == 8
    q = build_step({"op": "query", "var": "total"})
    assert isinstance(q, QueryStep) and q.reads() == ("total",) and q.defines() is None


# ---------------------------------------------------------------- entity_track


def test_consume() -> None:
    # 16 eggs, 3 eaten for breakfast, 4 baked: 9 left
    steps = [init("eggs", 16), init("breakfast", 3), init("baking", 4),
             {"op": "consume", "entity": "eggs", "amount": "breakfast"},
             {"op": "consume", "entity": "eggs", "amount": "baking"},
             {"op": "query", "var": "eggs"}]
    assert value_of(run(steps, "entity_track")) == 9
    step = build_step(steps[3])
    assert isinstance(step, ConsumeStep)
    assert step.reads() == ("eggs", "breakfast") and step.updates() == ("eggs",)
    assert step.defines() is None


def test_consume_below_zero_is_arithmetic_not_an_error() -> None:
    steps = [init("cards", 2), init("given", 2.5),
             {"op": "consume", "entity": "cards", "amount": "given"},
             {"op": "query", "var": "cards"}]
    assert value_of(run(steps, "entity_track")) == Fraction(-1, 2)


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_transfer(who: str) -> None:
    # alice 10, bob 4; alice gives bob 3 -> alice 7, bob 7; then bob eats 2 -> bob 5
    steps = [init("alice", 10), init("bob", 4), init("gift", 3),
             {"op": "transfer", "from": "alice", "to": "bob", "amount": "gift"},
             init("eaten", 2) if who == "bob" else init("unused", 0),
             {"op": "query", "var": who}]
    if who == "bob":
        steps.insert(5, {"op": "consume", "entity": "bob", "amount": "eaten"})
    expected = {"alice": Fraction(7), "bob": Fraction(5)}[who]
    assert value_of(run(steps, "entity_track")) == expected


def test_transfer_fields() -> None:
    step = build_step({"op": "transfer", "from": "a", "to": "b", "amount": "n"})
    assert isinstance(step, TransferStep)
    assert step.source_entity == "a" and step.to == "b"
    assert step.reads() == ("a", "b", "n") and step.updates() == ("a", "b")
    assert step.defines() is None


def test_transfer_to_itself_is_invalid() -> None:
    step = build_step({"op": "transfer", "from": "a", "to": "a", "amount": "n"})
    assert getattr(step, "kind", None) == ErrorKind.INVALID_STEP


def test_transfer_of_an_undefined_amount() -> None:
    steps = [init("alice", 10), init("bob", 4),
             {"op": "transfer", "from": "alice", "to": "bob", "amount": "gift"},
             {"op": "query", "var": "bob"}]
    outcome = run(steps, "entity_track")
    assert outcome.error is not None and outcome.error.kind == ErrorKind.UNDEFINED_VAR
    assert outcome.error.step == 2


def test_consume_of_an_undefined_entity() -> None:
    steps = [init("n", 1), {"op": "consume", "entity": "eggs", "amount": "n"},
             {"op": "query", "var": "eggs"}]
    outcome = run(steps, "entity_track")
    assert outcome.error is not None and outcome.error.kind == ErrorKind.UNDEFINED_VAR


# ---------------------------------------------------------------- percentage

PERCENT_CASES = [
    ("percent_of", "200", "40", Fraction(80)),  # 40% of 200
    ("percent_of", "19.99", "15", Fraction(29985, 10000)),  # 2.9985, exactly
    ("percent_of", "60", "12.5", Fraction(15, 2)),
    ("percent_increase", "80000", "150", Fraction(200000)),  # the house flip
    ("percent_increase", "50", "12.5", Fraction(225, 4)),  # 56.25
    ("percent_increase", "10", "0.5", Fraction(201, 20)),
    ("percent_off", "50", "20", Fraction(40)),
    ("percent_off", "80", "12.5", Fraction(70)),
    ("percent_off", "15", "100", Fraction(0)),
]


@pytest.mark.parametrize(("op", "base", "rate", "expected"), PERCENT_CASES)
def test_percent_ops(op: str, base: str, rate: str, expected: Fraction) -> None:
    steps = [init("base", base), init("rate", rate),
             {"op": op, "base": "base", "rate": "rate", "var": "result"},
             {"op": "query", "var": "result"}]
    assert value_of(run(steps, "percentage")) == expected


@pytest.mark.parametrize(("op", "base", "rate"), [
    ("percent_increase", "10", "0"), ("percent_off", "10", "0"), ("percent_of", "10", "100"),
    ("percent_of", "100", "10")])
def test_percent_identities_copy_their_input(op: str, base: str, rate: str) -> None:
    """An identity rate (0% more, 100% of) only copies an init: the query short circuits."""
    steps = [init("base", base), init("rate", rate),
             {"op": op, "base": "base", "rate": "rate", "var": "result"},
             {"op": "query", "var": "result"}]
    outcome = run(steps, "percentage")
    assert outcome.error is not None and outcome.error.kind == ErrorKind.SHORT_CIRCUIT


@pytest.mark.parametrize(
    ("op", "cls"),
    [("percent_of", PercentOfStep), ("percent_increase", PercentIncreaseStep),
     ("percent_off", PercentOffStep)],
)
def test_percent_step_fields(op: str, cls: type) -> None:
    step = build_step({"op": op, "base": "p", "rate": "r", "var": "out"})
    assert isinstance(step, cls)
    assert step.reads() == ("p", "r") and step.defines() == "out" and step.updates() == ()


def test_percent_rate_must_be_a_name_not_a_literal() -> None:
    # the notes' contaminated step wrote `rate: 60`: a number where a variable belongs
    step = build_step({"op": "percent_of", "base": "distance", "rate": 60, "var": "step1"})
    assert getattr(step, "kind", None) == ErrorKind.INVALID_STEP


# ---------------------------------------------------------------- the closed union

OP_TESTS = {
    "init": test_init_value,
    "compute": test_compute_op_value,
    "query": test_query_returns_the_queried_variable_not_the_last_computed,
    "consume": test_consume,
    "transfer": test_transfer,
    "percent_of": test_percent_ops,
    "percent_increase": test_percent_ops,
    "percent_off": test_percent_ops,
}


@pytest.mark.parametrize("op", sorted(STEP_TYPES))
def test_every_registered_op_has_unit_tests(op: str) -> None:
    assert op in OP_TESTS, f"op {op} is registered but has no unit test"
    if op.startswith("percent_"):
        assert op in {case[0] for case in PERCENT_CASES}


def test_step_has_no_op_or_an_unknown_op() -> None:
    assert getattr(build_step({"var": "x", "value": 1}), "kind", None) == ErrorKind.INVALID_STEP
    assert getattr(build_step({"op": "add", "args": ["a", "b"]}), "kind", None) == (
        ErrorKind.UNKNOWN_OP)
    assert getattr(build_step({"op": 5}), "kind", None) == ErrorKind.UNKNOWN_OP
    assert getattr(build_step("init x 5"), "kind", None) == ErrorKind.INVALID_STEP


def test_args_must_be_a_list_of_names() -> None:
    for args in ("a", ["a", 5], ["a", "b c"], [["a"], "b"]):
        step = build_step({"op": "compute", "compute_op": "add", "args": args, "var": "r"})
        assert getattr(step, "kind", None) == ErrorKind.INVALID_STEP, args


def test_steps_are_frozen() -> None:
    step = build_step(init("x", 1))
    assert isinstance(step, InitStep)
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        step.var = "y"  # type: ignore[misc]


# ---------------------------------------------------------------- floor, ceil, round


def test_round_matches_the_expression_language() -> None:
    """One implementation: the `.task` expression `round` is the trace op's."""
    from tasklang.expr import FUNCTIONS

    fn = FUNCTIONS["round"][2]
    for x, places in [("2.5", 0), ("-0.125", 2), ("7.777", 1), ("1250", -2)]:
        assert fn(Fraction(x), places) == value_of(compute_with("round", [x, str(places)]))


@pytest.mark.parametrize("places", ["0.5", "65", "-65"])
def test_round_needs_a_small_whole_number_of_places(places: str) -> None:
    outcome = compute_with("round", ["2.5", places])
    assert outcome.error is not None and outcome.error.kind == ErrorKind.LIMITS_EXCEEDED


@pytest.mark.parametrize(("op", "args", "copies"), [
    ("floor", [Fraction(4)], (0,)),  # a whole x comes back: a copy
    ("ceil", [Fraction(4)], (0,)),
    ("round", [Fraction(5, 2), 1], (0,)),  # already at 1 place
    ("round", [Fraction(5, 2), 0], ()),  # 3 is a result, not a copy
    ("round", [Fraction(2), 2], (0, 1)),  # every input is 2
])
def test_floor_ceil_round_copy_facts(op: str, args: list[Fraction], copies: tuple[int, ...]
                                     ) -> None:
    spec = COMPUTE_OPS[op]
    out = spec.fn(args)
    assert spec.facts.copied(args, out) == copies if out in args else copies == ()


def test_floor_of_a_whole_init_short_circuits() -> None:
    """`floor(x)` of a stated whole x computes nothing: the anti-short-circuit rule holds."""
    steps = [init("x", 18), {"op": "compute", "compute_op": "floor", "args": ["x"], "var": "r"},
             {"op": "query", "var": "r"}]
    assert run(steps).error.kind == ErrorKind.SHORT_CIRCUIT  # type: ignore[union-attr]
    steps[0] = init("x", "18.5")
    assert value_of(run(steps)) == 18


# ---------------------------------------------------------------- the registry


def test_registering_an_op_after_load_is_refused() -> None:
    """The Trace union, the schema and the experts are built from the registry once: an op
    registered later would be half known, so registration after load is refused."""
    from typing import Literal

    from runtime import UsageError
    from runtime.ops import Step, register_compute, register_op

    with pytest.raises(UsageError, match="after runtime.ops has loaded"):
        register_compute("avg", 2, None, "mean of the args")

    class AvgStep(Step):
        op: Literal["avg"] = "avg"

    with pytest.raises(UsageError, match="after runtime.ops has loaded"):
        register_op(AvgStep)
    assert "avg" not in COMPUTE_OPS and "avg" not in STEP_TYPES
    with pytest.raises(TypeError):  # the registries are read-only views
        COMPUTE_OPS["avg"] = COMPUTE_OPS["add"]  # type: ignore[index]


def test_every_op_carries_its_facts_on_its_registration() -> None:
    """Commutativity (the audit's shapes) and copy behaviour (the short-circuit rule) are read
    from the registration: the ops that commute are exactly the declared ones."""
    from runtime.analysis import commutative

    assert {n for n in COMPUTE_OPS if commutative(n)} == {"add", "mul", "min", "max"}
    assert {n for n, spec in COMPUTE_OPS.items() if spec.facts.selects} == {"min", "max"}
    assert STEP_TYPES["percent_of"].FACTS.commutative
