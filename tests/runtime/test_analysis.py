"""Static analysis: def-use issues, dead steps, and computation-graph shapes."""

from __future__ import annotations

from runtime import parse
from runtime.analysis import check_static_all, op_multiset, shape_of
from runtime.experts import DEFAULT_EXPERTS
from runtime.trace import Trace

from .helpers import single


def shape(*steps: str) -> str | None:
    trace = parse(single("arithmetic", *steps))
    assert isinstance(trace, Trace), trace
    return shape_of(trace)


def test_names_values_and_commutative_order_do_not_matter() -> None:
    a = shape("{op: init, var: a, value: 3}", "{op: init, var: b, value: 4}",
              "{op: compute, compute_op: mul, args: [a, b], var: s}",
              "{op: compute, compute_op: add, args: [s, a], var: result}",
              "{op: query, var: result}")
    b = shape("{op: init, var: x, value: 9}", "{op: init, var: y, value: 1}",
              "{op: compute, compute_op: mul, args: [y, x], var: t}",
              "{op: compute, compute_op: add, args: [x, t], var: result}",
              "{op: query, var: result}")
    assert a == b


def test_sharing_is_part_of_the_shape() -> None:
    square = shape("{op: init, var: a, value: 3}",
                   "{op: compute, compute_op: mul, args: [a, a], var: result}",
                   "{op: query, var: result}")
    product = shape("{op: init, var: a, value: 3}", "{op: init, var: b, value: 3}",
                    "{op: compute, compute_op: mul, args: [a, b], var: result}",
                    "{op: query, var: result}")
    assert square != product


def test_argument_order_of_sub_matters() -> None:
    ab = shape("{op: init, var: a, value: 3}", "{op: init, var: b, value: 4}",
               "{op: init, var: c, value: 5}",
               "{op: compute, compute_op: mul, args: [a, b], var: s}",
               "{op: compute, compute_op: sub, args: [s, c], var: result}",
               "{op: query, var: result}")
    ba = shape("{op: init, var: a, value: 3}", "{op: init, var: b, value: 4}",
               "{op: init, var: c, value: 5}",
               "{op: compute, compute_op: mul, args: [a, b], var: s}",
               "{op: compute, compute_op: sub, args: [c, s], var: result}",
               "{op: query, var: result}")
    assert ab != ba


def test_chained_adds_equal_one_n_ary_add() -> None:
    """GSM8K writes 20+80+160 in one line; a trace may take two steps."""
    chained = shape("{op: init, var: a, value: 1}", "{op: init, var: b, value: 2}",
                    "{op: init, var: c, value: 3}",
                    "{op: compute, compute_op: add, args: [a, b], var: s}",
                    "{op: compute, compute_op: add, args: [s, c], var: result}",
                    "{op: query, var: result}")
    flat = shape("{op: init, var: a, value: 1}", "{op: init, var: b, value: 2}",
                 "{op: init, var: c, value: 3}",
                 "{op: compute, compute_op: add, args: [a, b, c], var: result}",
                 "{op: query, var: result}")
    assert chained == flat == "add(L,L,L)"


def test_a_shared_partial_sum_is_not_flattened() -> None:
    shared = shape("{op: init, var: a, value: 1}", "{op: init, var: b, value: 2}",
                   "{op: compute, compute_op: add, args: [a, b], var: s}",
                   "{op: compute, compute_op: add, args: [s, s], var: result}",
                   "{op: query, var: result}")
    assert shared == "add(add(L,L),@1)"


def test_dead_steps_and_use_before_definition_are_reported() -> None:
    trace = parse(single("arithmetic", "{op: init, var: a, value: 1}",
                         "{op: init, var: junk, value: 2}",
                         "{op: compute, compute_op: add, args: [a, ghost], var: result}",
                         "{op: query, var: result}"))
    codes = {i.code for i in check_static_all(trace, DEFAULT_EXPERTS)}  # type: ignore[arg-type]
    assert codes == {"dead_step", "undefined_var"}


def test_domain_ops_are_lowered_for_the_loose_shape() -> None:
    trace = parse(single("percentage", "{op: init, var: p, value: 80}",
                         "{op: init, var: r, value: 25}",
                         "{op: percent_off, base: p, rate: r, var: result}",
                         "{op: query, var: result}"))
    assert op_multiset(trace) == (("div", 1), ("mul", 1), ("sub", 1))  # type: ignore[arg-type]


def test_a_shared_leaf_sorts_the_same_wherever_it_is_written() -> None:
    """3*3=9 then 9*60 and 3*3=9 then 60*9 are one computation (GSM8K writes both)."""
    first = shape("{op: init, var: a, value: 3}", "{op: init, var: b, value: 60}",
                  "{op: compute, compute_op: mul, args: [a, a], var: s}",
                  "{op: compute, compute_op: mul, args: [s, b], var: result}",
                  "{op: query, var: result}")
    second = shape("{op: init, var: a, value: 3}", "{op: init, var: b, value: 60}",
                   "{op: compute, compute_op: mul, args: [a, a], var: s}",
                   "{op: compute, compute_op: mul, args: [b, s], var: result}",
                   "{op: query, var: result}")
    assert first == second
