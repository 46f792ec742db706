"""runtime.render: the canonical flow-style text of DESIGN.md, stable and re-readable."""

from __future__ import annotations

from fractions import Fraction

import pytest

from runtime import ErrorKind, ExecError, parse, render, render_step
from runtime.extract import fast_load
from runtime.ops import ComputeStep, InitStep, PercentOffStep, QueryStep, TransferStep
from runtime.trace import ComposedTrace, Trace

from .helpers import HOUSE, JANET, JANET_BLOCK, single


def typed_text(text: str) -> Trace | ComposedTrace:
    trace = parse(text)
    assert isinstance(trace, Trace | ComposedTrace), trace
    return trace


@pytest.mark.parametrize("text", [JANET, HOUSE])
def test_render_reproduces_the_design_examples(text: str) -> None:
    assert render(typed_text(text)) == text


def test_render_of_block_style_is_canonical() -> None:
    assert render(typed_text(JANET_BLOCK)) == JANET


def test_canonical_key_order() -> None:
    text = single("entity_track",
                  "{var: a, value: 10, op: init}", "{value: 4, op: init, var: b}",
                  "{amount: b, to: c, op: transfer, from: a}",
                  "{var: c, op: init, value: 0}",
                  "{var: result, args: [a, c], compute_op: add, op: compute}",
                  "{var: result, op: query}")
    # c is defined after the transfer that reads it: rendering does not execute
    assert render(typed_text(text)).splitlines()[2:] == [
        "- {op: init, var: a, value: 10}",
        "- {op: init, var: b, value: 4}",
        "- {op: transfer, from: a, to: c, amount: b}",
        "- {op: init, var: c, value: 0}",
        "- {op: compute, compute_op: add, args: [a, c], var: result}",
        "- {op: query, var: result}",
    ]


def test_render_step_each_op() -> None:
    assert render_step(InitStep(var="x", source="prev.result")) == (
        "{op: init, var: x, source: prev.result}")
    assert render_step(ComputeStep(compute_op="mul", args=("a", "b", "c"), var="r")) == (
        "{op: compute, compute_op: mul, args: [a, b, c], var: r}")
    assert render_step(QueryStep(var="bob.cards")) == "{op: query, var: bob.cards}"
    assert render_step(TransferStep.model_validate(
        {"op": "transfer", "from": "a", "to": "b", "amount": "n"})) == (
        "{op: transfer, from: a, to: b, amount: n}")
    assert render_step(PercentOffStep(base="price", rate="rate", var="sale")) == (
        "{op: percent_off, base: price, rate: rate, var: sale}")


@pytest.mark.parametrize(
    ("value", "text"),
    [(Fraction(16), "16"), (Fraction(-3), "-3"), (Fraction(5, 2), "2.5"),
     (Fraction(-1, 4), "-0.25"), (Fraction(2469, 2), "1234.5"), (Fraction(1, 3), "1/3")],
)
def test_init_values_render_as_format_number_does(value: Fraction, text: str) -> None:
    """Decimals as the question writes them (2.5), fractions only when not terminating."""
    assert render_step(InitStep(var="x", value=value)) == f"{{op: init, var: x, value: {text}}}"


def test_decimal_init_values_round_trip_textually() -> None:
    text = single("arithmetic", "{op: init, var: price, value: 0.5}",
                  "{op: init, var: qty, value: 12.25}",
                  "{op: compute, compute_op: mul, args: [price, qty], var: result}",
                  "{op: query, var: result}")
    assert render(typed_text(text)) == text
    assert fast_load(render(typed_text(text))) is not None  # canonical means fast-path readable


def test_render_ends_with_one_newline_and_indents_composed_parts() -> None:
    out = render(typed_text(HOUSE))
    assert out.endswith("}\n") and not out.endswith("\n\n")
    lines = out.splitlines()
    assert lines[0] == "- expert: percentage" and lines[1] == "  trace:"
    assert all(line.startswith(("- expert: ", "  ")) for line in lines)


@pytest.mark.parametrize("text", [JANET, HOUSE, JANET_BLOCK])
def test_parse_render_round_trip(text: str) -> None:
    trace = typed_text(text)
    assert parse(render(trace)) == trace
    assert render(typed_text(render(trace))) == render(trace)


def test_non_terminating_value_round_trips() -> None:
    text = single("arithmetic", "{op: init, var: a, value: 1/3}", "{op: init, var: b, value: 3}",
                  "{op: compute, compute_op: mul, args: [a, b], var: result}",
                  "{op: query, var: result}")
    trace = typed_text(text)
    assert render(trace) == text
    assert parse(render(trace)) == trace


def _literal_trace(literal: str) -> str:
    return single("arithmetic", f"{{op: init, var: a, value: {literal}}}",
                  "{op: init, var: b, value: 2}",
                  "{op: compute, compute_op: mul, args: [a, b], var: result}",
                  "{op: query, var: result}")


@pytest.mark.parametrize(
    "literal",
    ["0.123456789e-30",  # 15 characters; as a plain decimal it needs 41
     "1/1099511627776",  # 1 / 2**40: forty decimals
     "0.00000000001e-28"],
)
def test_a_value_is_accepted_only_if_it_renders_re_readably(literal: str) -> None:
    """Whatever value the parser accepts, its rendering must parse back to the same trace.

    `render` is what gold traces are trained on and what `tasklang solve` prints: a value
    the runtime accepted must never render as a literal the runtime then refuses. Refusing
    such a value up front, as a typed error, is the other consistent answer.
    """
    trace = parse(_literal_trace(literal))
    if isinstance(trace, ExecError):
        assert trace.kind in (ErrorKind.LIMITS_EXCEEDED, ErrorKind.NOT_A_NUMBER)
        return
    assert isinstance(trace, Trace)
    assert parse(render(trace)) == trace, render(trace)


@pytest.mark.parametrize(
    "literal",
    ["1.5e-30", "1e30", "9" * 40, "-0.000000000000000000000000000000000001", "1/3", "-22/7",
     "1/1024", "123456789012345678901234567890.5e-5"],
)
def test_long_but_writable_values_round_trip(literal: str) -> None:
    trace = typed_text(_literal_trace(literal))
    assert parse(render(trace)) == trace, render(trace)
