"""Canonical rendering: trace -> the flow-style YAML of DESIGN.md, one `{...}` step per line."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .numbers import format_number
from .ops import Step
from .trace import AnyTrace, ComposedTrace, Trace


def _scalar(value: Any) -> str:
    if isinstance(value, Fraction):
        return format_number(value)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_scalar(v) for v in value) + "]"
    # Names are validated identifiers that YAML reads back as the same string.
    return str(value)


def render_step(step: Step) -> str:
    """`{op: compute, compute_op: sub, args: [produced, use1], var: step1}`: stable key order."""
    return "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in step.yaml_items()) + "}"


def _render_part(trace: Trace, indent: str) -> list[str]:
    lines = [f"expert: {trace.expert}", f"{indent}trace:"]
    lines += [f"{indent}- {render_step(s)}" for s in trace.steps]
    return lines


def render(trace: AnyTrace) -> str:
    """The canonical text a model is trained to write; ends with a newline."""
    if isinstance(trace, ComposedTrace):
        lines: list[str] = []
        for part in trace.parts:
            body = _render_part(part, "  ")
            lines.append("- " + body[0])
            lines += body[1:]
    else:
        lines = _render_part(trace, "")
    return "\n".join(lines) + "\n"
