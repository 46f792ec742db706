"""Canonical rendering: trace -> the flow-style YAML of DESIGN.md, one `{...}` step per line."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .numbers import format_number
from .ops import Step
from .trace import AnyTrace, ComposedTrace


def _scalar(value: Any) -> str:
    if isinstance(value, Fraction):
        return format_number(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    # Names are validated identifiers that YAML reads back as the same string.
    return str(value)


def _item(key: str, value: Any) -> str:
    kind = type(value)  # the common types first: this runs for every gold trace
    if kind is str or kind is int:
        return f"{key}: {value}"
    if kind is tuple and all(type(v) is str for v in value):
        return f"{key}: [{', '.join(value)}]"
    return f"{key}: {_scalar(value)}"


def render_step(step: Step) -> str:
    """`{op: compute, compute_op: sub, args: [produced, use1], var: step1}`: stable key order."""
    return "{" + ", ".join([_item(k, v) for k, v in step.yaml_items()]) + "}"


def render_step_around(step: Step, key: str) -> tuple[str, str]:
    """`render_step(step)` cut where the value of `key` is written: (text before, text after).

    Before + the value's own rendering + after is the whole line; skeletons use it to
    render steps whose value changes from one gold trace to the next.
    """
    items = step.yaml_items()
    at = [k for k, _ in items].index(key)
    before = [_item(k, v) for k, v in items[:at]] + [f"{key}: "]
    after = [_item(k, v) for k, v in items[at + 1:]]
    return "{" + ", ".join(before), "".join(f", {a}" for a in after) + "}"


def assemble(parts: list[tuple[str, list[str]]], composed: bool) -> str:
    """The document from (expert, rendered step lines) per sub-trace.

    `render` uses it; so does the compiler, which renders steps that never change
    between samples only once.
    """
    lines: list[str] = []
    for expert, steps in parts:
        if composed:
            lines += [f"- expert: {expert}", "  trace:"] + [f"  - {s}" for s in steps]
        else:
            lines += [f"expert: {expert}", "trace:"] + [f"- {s}" for s in steps]
    return "\n".join(lines) + "\n"


def render(trace: AnyTrace) -> str:
    """The canonical text a model is trained to write; ends with a newline."""
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    return assemble([(p.expert, [render_step(s) for s in p.steps]) for p in parts],
                    isinstance(trace, ComposedTrace))
