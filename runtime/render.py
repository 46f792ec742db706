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


def render_step(step: Step) -> str:
    """`{op: compute, compute_op: sub, args: [produced, use1], var: step1}`: stable key order."""
    items = []
    for key, value in step.yaml_items():
        kind = type(value)  # the common types first: this runs for every gold trace
        if kind is str or kind is int:
            items.append(f"{key}: {value}")
        elif kind is tuple and all(type(v) is str for v in value):
            items.append(f"{key}: [{', '.join(value)}]")
        else:
            items.append(f"{key}: {_scalar(value)}")
    return "{" + ", ".join(items) + "}"


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
