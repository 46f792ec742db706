"""Small builders shared by the runtime tests: canonical trace text from step lines."""

from __future__ import annotations

from fractions import Fraction

from runtime import ComposedTrace, Trace, from_data

# The DESIGN.md example (Janet's eggs, shortened): (16 - 3) * 2 = 26.
JANET = """expert: entity_track
trace:
- {op: init, var: produced, value: 16}
- {op: init, var: use1, value: 3}
- {op: compute, compute_op: sub, args: [produced, use1], var: step1}
- {op: init, var: price, value: 2}
- {op: compute, compute_op: mul, args: [step1, price], var: result}
- {op: query, var: result}
"""

# The same trace in block style, keys in another order in one step.
JANET_BLOCK = """expert: entity_track
trace:
  - op: init
    var: produced
    value: 16
  - op: init
    var: use1
    value: 3
  - op: compute
    compute_op: sub
    args:
      - produced
      - use1
    var: step1
  - {var: price, op: init, value: 2}
  - op: compute
    compute_op: mul
    args: [step1, price]
    var: result
  - op: query
    var: result
"""

# The notes' house-flipping composition: 80,000 increased by 150% is 200,000; minus 130,000.
HOUSE = """- expert: percentage
  trace:
  - {op: init, var: price, value: 80000}
  - {op: init, var: rate, value: 150}
  - {op: percent_increase, base: price, rate: rate, var: result}
  - {op: query, var: result}
- expert: arithmetic
  trace:
  - {op: init, var: increased, source: prev.result}
  - {op: init, var: cost, value: 130000}
  - {op: compute, compute_op: sub, args: [increased, cost], var: result}
  - {op: query, var: result}
"""


def single(expert: str, *steps: str) -> str:
    """Canonical single-trace text from flow-style step strings."""
    return f"expert: {expert}\ntrace:\n" + "".join(f"- {s}\n" for s in steps)


def composed(*parts: tuple[str, list[str]]) -> str:
    """Canonical composed-trace text from (expert, [step strings]) parts."""
    out = []
    for expert, steps in parts:
        out.append(f"- expert: {expert}\n  trace:\n" + "".join(f"  - {s}\n" for s in steps))
    return "".join(out)


def mul_trace(a: str | int, b: str | int, expert: str = "arithmetic") -> str:
    """`a * b` as a valid trace (result computed, then queried)."""
    return single(
        expert,
        f"{{op: init, var: a, value: {a}}}",
        f"{{op: init, var: b, value: {b}}}",
        "{op: compute, compute_op: mul, args: [a, b], var: result}",
        "{op: query, var: result}",
    )


def typed(data: object) -> Trace | ComposedTrace:
    """A typed trace from plain data; fails the test if the data is not a valid trace."""
    trace = from_data(data)
    assert isinstance(trace, Trace | ComposedTrace), trace
    return trace


def F(text: str | int) -> Fraction:  # noqa: N802 - reads like a literal in expectations
    return Fraction(text)
