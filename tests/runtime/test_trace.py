"""runtime.trace: typed single and composed traces from plain data, shapes, limits, locations."""

from __future__ import annotations

from typing import Any

import pytest

from runtime import (
    ComposedTrace,
    ErrorKind,
    ExecError,
    Limits,
    ParseFailure,
    ParseReason,
    Trace,
    from_data,
)
from runtime.ops import ComputeStep, InitStep, QueryStep
from runtime.trace import shape


def steps_6x3() -> list[dict[str, Any]]:
    return [{"op": "init", "var": "a", "value": 6}, {"op": "init", "var": "b", "value": 3},
            {"op": "compute", "compute_op": "mul", "args": ["a", "b"], "var": "result"},
            {"op": "query", "var": "result"}]


def later_part(expert: str = "arithmetic") -> dict[str, Any]:
    return {"expert": expert, "trace": [
        {"op": "init", "var": "prev", "source": "prev.result"},
        {"op": "init", "var": "k", "value": 2},
        {"op": "compute", "compute_op": "add", "args": ["prev", "k"], "var": "result"},
        {"op": "query", "var": "result"}]}


def test_single_trace_is_typed() -> None:
    trace = from_data({"expert": "arithmetic", "trace": steps_6x3()})
    assert isinstance(trace, Trace)
    assert trace.expert == "arithmetic" and trace.experts == ("arithmetic",)
    assert [type(s) for s in trace.steps] == [InitStep, InitStep, ComputeStep, QueryStep]


def test_composed_trace_is_typed() -> None:
    trace = from_data([{"expert": "arithmetic", "trace": steps_6x3()}, later_part("comparison")])
    assert isinstance(trace, ComposedTrace)
    assert trace.experts == ("arithmetic", "comparison")
    assert len(trace.parts) == 2 and all(isinstance(p, Trace) for p in trace.parts)


def test_one_element_list_is_a_single_trace() -> None:
    assert from_data([{"expert": "arithmetic", "trace": steps_6x3()}]) == from_data(
        {"expert": "arithmetic", "trace": steps_6x3()})


@pytest.mark.parametrize(
    "data",
    [
        {"foo": 1},
        {"expert": "arithmetic"},  # no trace
        {"trace": []},  # no expert
        [],
        [1, 2],
        "expert: arithmetic",
        5,
        None,
        {"expert": 5, "trace": [{"op": "query", "var": "x"}]},  # expert must be a name
        {"expert": "two words", "trace": [{"op": "query", "var": "x"}]},
        [{"expert": "arithmetic", "trace": steps_6x3()}, "and then some prose"],
    ],
)
def test_not_a_trace(data: Any) -> None:
    got = from_data(data)
    assert isinstance(got, ParseFailure) and got.reason == ParseReason.NOT_A_TRACE


@pytest.mark.parametrize(
    "data",
    [
        {"expert": "arithmetic", "trace": steps_6x3(), "answer": 18},  # key beside expert/trace
        {"expert": "arithmetic", "trace": []},
        {"expert": "arithmetic", "trace": "init a 6"},
        {"expert": "arithmetic", "trace": None},
    ],
)
def test_bad_trace_body_is_invalid_step(data: Any) -> None:
    got = from_data(data)
    assert isinstance(got, ExecError) and got.kind == ErrorKind.INVALID_STEP


def test_error_locations_are_zero_based() -> None:
    bad = later_part()
    bad["trace"][2] = {"op": "compute", "compute_op": "add", "args": ["prev"], "var": "result"}
    got = from_data([{"expert": "arithmetic", "trace": steps_6x3()}, bad])
    assert isinstance(got, ExecError) and got.kind == ErrorKind.BAD_ARITY
    assert (got.part, got.step) == (1, 2)
    assert got.where() == "sub-trace 2, step 3"  # people count from one
    assert str(got).startswith("bad_arity: ") and str(got).endswith("(sub-trace 2, step 3)")


def test_single_trace_errors_have_no_part() -> None:
    steps = steps_6x3()
    steps[1] = {"op": "init", "var": "b", "value": "three"}
    got = from_data({"expert": "arithmetic", "trace": steps})
    assert isinstance(got, ExecError) and got.kind == ErrorKind.NOT_A_NUMBER
    assert (got.part, got.step) == (None, 1)
    assert got.where() == "step 2"


def test_exec_error_without_location() -> None:
    err = ExecError(ErrorKind.MISSING_QUERY, "no query")
    assert err.where() == "" and str(err) == "missing_query: no query"


def test_parse_failure_str() -> None:
    failure = ParseFailure(ParseReason.TAGS, "no tags")
    assert str(failure) == "parse_failure[tags]: no tags"


def test_step_limit() -> None:
    steps = [{"op": "init", "var": f"v{i}", "value": i} for i in range(9)]
    steps.append({"op": "query", "var": "v0"})
    data = {"expert": "arithmetic", "trace": steps}
    assert isinstance(from_data(data, Limits(max_steps=10)), Trace)
    got = from_data(data, Limits(max_steps=9))
    assert isinstance(got, ExecError) and got.kind == ErrorKind.LIMITS_EXCEEDED


def test_part_limit() -> None:
    parts = [{"expert": "arithmetic", "trace": steps_6x3()}] + [later_part()] * 3
    assert isinstance(from_data(parts, Limits(max_parts=4)), ComposedTrace)
    got = from_data(parts, Limits(max_parts=3))
    assert isinstance(got, ExecError) and got.kind == ErrorKind.LIMITS_EXCEEDED


def test_a_long_list_of_non_traces_is_not_a_trace() -> None:
    """More list items than max_parts does not make prose bullets an (over-long) trace.

    A YAML list of eleven strings is not a composed trace at all: it must be a parse
    failure (reward 0.0), not `limits_exceeded` (an execution error, reward 0.5).
    """
    got = from_data([f"step {i}: think harder" for i in range(11)])
    assert isinstance(got, ParseFailure) and got.reason == ParseReason.NOT_A_TRACE


def test_shape_sees_experts_before_steps() -> None:
    raw = shape([{"expert": "percentage", "trace": [{"op": "nonsense"}]},
                 {"expert": "arithmetic", "trace": [1, 2, 3]}])
    assert not isinstance(raw, ParseFailure)
    assert raw.experts == ("percentage", "arithmetic") and raw.composed
    assert raw.problem is None  # the steps are only checked when the trace is built


def test_traces_are_frozen_values() -> None:
    a = from_data({"expert": "arithmetic", "trace": steps_6x3()})
    b = from_data({"expert": "arithmetic", "trace": steps_6x3()})
    assert a == b
    other = steps_6x3()
    other[0]["value"] = 7
    assert a != from_data({"expert": "arithmetic", "trace": other})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        a.expert = "comparison"  # type: ignore[union-attr,misc]
