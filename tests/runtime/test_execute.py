"""runtime.execute: static checks against the expert table, exact execution, typed outcomes."""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any

import pytest

from runtime import DEFAULT_EXPERTS, ErrorKind, Expert, Limits, Outcome, execute, parse
from runtime.trace import ComposedTrace, Trace

from .helpers import HOUSE, JANET, composed, single, typed


def run_text(text: str, **kw: Any) -> Outcome:
    trace = parse(text)
    assert isinstance(trace, Trace | ComposedTrace), trace
    return execute(trace, **kw)


def test_janet() -> None:
    outcome = run_text(JANET)
    assert outcome.ok and outcome.error is None
    assert outcome.value == 26 and outcome.results == (Fraction(26),)


def test_house_composition_pipes_prev_result() -> None:
    outcome = run_text(HOUSE)
    assert outcome.value == 70000
    assert outcome.results == (Fraction(200000), Fraction(70000))


def test_three_part_composition() -> None:
    # 10% of 250 = 25; 25 * 4 = 100; 100 - 1 = 99
    text = composed(
        ("percentage", ["{op: init, var: total, value: 250}", "{op: init, var: rate, value: 10}",
                        "{op: percent_of, base: total, rate: rate, var: result}",
                        "{op: query, var: result}"]),
        ("rate_equation", ["{op: init, var: per_day, source: prev.result}",
                           "{op: init, var: days, value: 4}",
                           "{op: compute, compute_op: mul, args: [per_day, days], var: result}",
                           "{op: query, var: result}"]),
        ("entity_track", ["{op: init, var: stock, source: prev.result}",
                          "{op: init, var: sold, value: 1}",
                          "{op: consume, entity: stock, amount: sold}",
                          "{op: query, var: stock}"]),
    )
    outcome = run_text(text)
    assert outcome.results == (Fraction(25), Fraction(100), Fraction(99))
    assert outcome.value == 99


def test_execution_is_deterministic_and_pure() -> None:
    trace = parse(HOUSE)
    assert isinstance(trace, ComposedTrace)
    assert execute(trace) == execute(trace) == run_text(HOUSE)


def test_short_circuit_is_located_at_the_query() -> None:
    text = single("rate_equation",
                  "{op: init, var: rate, value: 49}", "{op: init, var: time, value: 5}",
                  "{op: compute, compute_op: mul, args: [rate, time], var: quantity}",
                  "{op: query, var: rate}")
    outcome = run_text(text)
    assert outcome.value is None
    assert outcome.error is not None and outcome.error.kind == ErrorKind.SHORT_CIRCUIT
    assert outcome.error.step == 3 and outcome.error.part is None


def test_querying_prev_result_directly_is_a_short_circuit() -> None:
    # the later part only copies the previous answer: nothing is computed in it
    text = composed(
        ("arithmetic", ["{op: init, var: a, value: 2}", "{op: init, var: b, value: 3}",
                        "{op: compute, compute_op: add, args: [a, b], var: result}",
                        "{op: query, var: result}"]),
        ("arithmetic", ["{op: init, var: prev, source: prev.result}",
                        "{op: query, var: prev}"]),
    )
    outcome = run_text(text)
    assert outcome.error is not None and outcome.error.kind == ErrorKind.SHORT_CIRCUIT
    assert outcome.error.part == 1
    assert outcome.results == (Fraction(5),)  # the first part did run


def test_domain_update_makes_an_init_a_computed_state() -> None:
    text = single("entity_track",
                  "{op: init, var: cards, value: 20}", "{op: init, var: lost, value: 5}",
                  "{op: consume, entity: cards, amount: lost}", "{op: query, var: cards}")
    assert run_text(text).value == 15
    # Consuming 0 is an identity: the entity stays a copy of its init (no laundering).
    zero = run_text(text.replace("value: 5", "value: 0"))
    assert zero.error is not None and zero.error.kind == "short_circuit"


def test_first_static_error_wins_in_part_order() -> None:
    text = composed(
        ("arithmetic", ["{op: init, var: a, value: 2}", "{op: init, var: b, value: 3}",
                        "{op: compute, compute_op: add, args: [a, b], var: result}",
                        "{op: query, var: result}"]),
        ("astrology", ["{op: init, var: prev, source: prev.result}",
                       "{op: init, var: k, value: 2}",
                       "{op: compute, compute_op: add, args: [prev, k], var: result}",
                       "{op: query, var: result}"]),
        ("percentage", ["{op: init, var: prev, source: prev.result}",
                        "{op: compute, compute_op: add, args: [prev, prev], var: result}",
                        "{op: query, var: result}"]),
    )
    outcome = run_text(text)
    assert outcome.error is not None and outcome.error.kind == ErrorKind.UNKNOWN_EXPERT
    assert outcome.error.part == 1
    assert outcome.results == ()  # static checks run before anything executes


def test_static_checks_run_before_execution() -> None:
    # a division by zero early and a missing query: the missing query is reported,
    # because the trace is checked as a whole before any step runs
    text = single("arithmetic", "{op: init, var: a, value: 2}", "{op: init, var: z, value: 0}",
                  "{op: compute, compute_op: div, args: [a, z], var: result}")
    outcome = run_text(text)
    assert outcome.error is not None and outcome.error.kind == ErrorKind.MISSING_QUERY


def test_runtime_error_stops_at_its_step() -> None:
    text = single("arithmetic", "{op: init, var: a, value: 2}", "{op: init, var: z, value: 0}",
                  "{op: compute, compute_op: div, args: [a, z], var: step1}",
                  "{op: compute, compute_op: add, args: [a, nowhere], var: result}",
                  "{op: query, var: result}")
    outcome = run_text(text)
    assert outcome.error is not None and outcome.error.kind == ErrorKind.DIVISION_BY_ZERO
    assert outcome.error.step == 2


def test_magnitude_limit() -> None:
    text = single("arithmetic", "{op: init, var: a, value: 1000}",
                  "{op: compute, compute_op: mul, args: [a, a], var: result}",
                  "{op: query, var: result}")
    assert run_text(text).value == 10**6
    outcome = run_text(text, limits=Limits(max_digits=6))  # 10**6 has seven digits
    assert outcome.error is not None and outcome.error.kind == ErrorKind.LIMITS_EXCEEDED
    assert outcome.error.step == 1


def test_repeated_squaring_is_bounded_not_slow() -> None:
    steps = ["{op: init, var: v0, value: 99}"]
    steps += [f"{{op: compute, compute_op: mul, args: [v{i}, v{i}], var: v{i + 1}}}"
              for i in range(40)]
    steps.append("{op: query, var: v40}")
    outcome = run_text(single("arithmetic", *steps))  # 99**(2**40) would never finish
    assert outcome.error is not None and outcome.error.kind == ErrorKind.LIMITS_EXCEEDED


def test_custom_expert_mapping() -> None:
    experts = {"calc": Expert("calc", frozenset({"compute"}), frozenset({"add"}))}
    text = single("calc", "{op: init, var: a, value: 2}", "{op: init, var: b, value: 3}",
                  "{op: compute, compute_op: add, args: [a, b], var: result}",
                  "{op: query, var: result}")
    assert run_text(text, experts=experts).value == 5
    outcome = run_text(text)  # calc is not a default expert
    assert outcome.error is not None and outcome.error.kind == ErrorKind.UNKNOWN_EXPERT


@pytest.mark.parametrize("expert", sorted(DEFAULT_EXPERTS))
def test_query_of_an_init_is_rejected_under_every_expert(expert: str) -> None:
    trace = typed({"expert": expert, "trace": [
        {"op": "init", "var": "x", "value": 3}, {"op": "query", "var": "x"}]})
    outcome = execute(trace)
    assert outcome.error is not None and outcome.error.kind == ErrorKind.SHORT_CIRCUIT


@pytest.mark.parametrize("value", ["0." + "3" * 38, "9" * 38])
def test_a_long_product_is_refused_in_bounded_time(value: str) -> None:
    """The magnitude bound must stop an n-ary op early, not after the whole product.

    6,000 arguments fit in an 18 KB trace (well under every size limit); multiplying
    6,000 38-digit numbers in full is a 228,000-digit computation with gcd reductions.
    """
    args = ", ".join(["a"] * 6000)
    text = single("arithmetic", f"{{op: init, var: a, value: {value}}}",
                  f"{{op: compute, compute_op: mul, args: [{args}], var: result}}",
                  "{op: query, var: result}")
    start = time.perf_counter()
    outcome = run_text(text)
    elapsed = time.perf_counter() - start
    assert outcome.error is not None and outcome.error.kind == ErrorKind.LIMITS_EXCEEDED
    assert elapsed < 0.5, f"{elapsed:.2f}s to refuse an 18 KB trace"
