"""tasklang's typed trace runtime: extract -> validate -> execute -> grade.

Ops are registered in runtime/ops.py only (the registry is sealed once it has loaded).

This package never imports `tasklang` or `train`, and never torch.
"""

from .errors import ErrorKind, ExecError, ParseFailure, ParseReason, UsageError
from .exact import grade_exact
from .execute import Outcome, execute
from .experts import COMPOSITION, DEFAULT_EXPERTS, Expert, ExpertTable
from .extract import extract, load
from .grade import (
    DEFAULT_WEIGHTS,
    Grade,
    RewardWeights,
    expected_expert,
    grade,
    grade_trace,
    question_of,
)
from .grounding import UNIT_CONSTANTS, Grounding
from .numbers import format_number, parse_answer
from .ops import COMPUTE_OPS, STEP_TYPES, Step
from .render import render, render_step
from .trace import DEFAULT_LIMITS, AnyTrace, ComposedTrace, Limits, Trace, from_data


def parse(text: str, limits: Limits = DEFAULT_LIMITS) -> AnyTrace | ExecError | ParseFailure:
    """Model text -> typed trace (not executed), or the reason it is not one."""
    from .trace import build

    raw = extract(text, limits)
    if isinstance(raw, ParseFailure):
        return raw
    return build(raw, limits)


__all__ = [
    "COMPOSITION", "COMPUTE_OPS", "DEFAULT_EXPERTS", "DEFAULT_LIMITS", "DEFAULT_WEIGHTS",
    "STEP_TYPES", "UNIT_CONSTANTS", "AnyTrace", "ComposedTrace", "ErrorKind", "ExecError", "Expert",
    "ExpertTable", "Grade", "Grounding", "Limits", "Outcome", "ParseFailure", "ParseReason",
    "RewardWeights", "Step", "Trace", "UsageError", "execute", "expected_expert", "extract",
    "format_number", "from_data", "grade", "grade_exact", "grade_trace", "load", "parse",
    "parse_answer", "question_of", "render", "render_step",
]
