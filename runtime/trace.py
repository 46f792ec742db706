"""Trace records (single and composed) and their validation from untrusted plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Annotated, Any, TypeAlias, Union

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .errors import ErrorKind, ExecError, ParseFailure, ParseReason
from .ops import STEP_TYPES, Name, Step, check_name, construct_unvalidated


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on untrusted model output. Every one turns into a parse failure or a
    `limits_exceeded` error, never a hang or an exception."""

    max_chars: int = 100_000  # whole model text
    max_yaml_chars: int = 32_768  # the YAML region handed to the parser
    max_depth: int = 10  # collection nesting (a composed trace needs 5)
    max_nodes: int = 10_000  # YAML nodes in the document
    max_steps: int = 128  # steps in one sub-trace
    max_parts: int = 10  # sub-traces in a composed trace
    max_digits: int = 60  # numerator/denominator digits of any computed value


DEFAULT_LIMITS = Limits()


class Trace(BaseModel):
    """One expert's trace: `{expert: NAME, trace: [steps]}`."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    expert: Name
    steps: tuple[Annotated[Union[tuple(STEP_TYPES.values())], Field(discriminator="op")], ...] = (  # type: ignore[valid-type]  # noqa: UP007
        Field(alias="trace", min_length=1)
    )

    @property
    def experts(self) -> tuple[str, ...]:
        return (self.expert,)

    @classmethod
    def trusted(cls, expert: str, steps: tuple[Step, ...]) -> Trace:
        """Build without validation (see Step.trusted): the compiler's gold traces."""
        return construct_unvalidated(  # type: ignore[no-any-return]
            cls, {"expert": expert, "steps": steps}, {"expert", "steps"})


class ComposedTrace(BaseModel):
    """Several sub-traces in order; each later one reads the previous result."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    parts: tuple[Trace, ...] = Field(min_length=2)

    @property
    def experts(self) -> tuple[str, ...]:
        return tuple(p.expert for p in self.parts)


AnyTrace: TypeAlias = Trace | ComposedTrace


@cache
def trace_adapter() -> TypeAdapter[Any]:
    """The JSON-facing type of the trace format: a mapping, or a list of them."""
    return TypeAdapter(Union[Trace, Annotated[list[Trace], Field(min_length=2)]])  # noqa: UP007


@dataclass(frozen=True, slots=True)
class RawTrace:
    """The shape of a parsed document: experts and unvalidated step lists.

    Grading looks at the experts before it validates the steps, so that a
    trace under the wrong expert is `wrong_expert`, whatever its steps hold.
    """

    experts: tuple[str, ...]
    parts: tuple[Sequence[Any], ...]
    composed: bool
    problem: ExecError | None = None  # a shape defect found beside valid experts


def _not_a_trace(message: str) -> ParseFailure:
    return ParseFailure(ParseReason.NOT_A_TRACE, message)


def _shape_part(item: Any, index: int | None) -> tuple[str, Any, ExecError | None] | ParseFailure:
    where = "" if index is None else f" (sub-trace {index + 1})"
    if not isinstance(item, dict):
        return _not_a_trace(f"expected a mapping with expert and trace{where}")
    expert, steps = item.get("expert"), item.get("trace")
    if "expert" not in item or "trace" not in item:
        return _not_a_trace(f"expected keys expert and trace{where}")
    try:
        check_name(expert)
    except Exception:
        return _not_a_trace(f"expert must be a name, got {str(expert)[:40]!r}{where}")
    problem = None
    extra = sorted(str(k) for k in item if k not in ("expert", "trace"))
    if extra:
        problem = ExecError(ErrorKind.INVALID_STEP, f"unknown keys beside expert/trace: {extra}",
                            part=index)
    elif not isinstance(steps, list) or not steps:
        problem = ExecError(ErrorKind.INVALID_STEP, "trace must be a non-empty list of steps",
                            part=index)
    return str(expert), steps, problem


def shape(data: Any, limits: Limits = DEFAULT_LIMITS) -> RawTrace | ParseFailure:
    """Recognise `{expert, trace}` (single) or a list of them (composed)."""
    composed = isinstance(data, list)
    items = data if composed else [data]
    experts, parts, problem = [], [], None
    for i, item in enumerate(items):
        got = _shape_part(item, i if composed else None)
        if isinstance(got, ParseFailure):
            return got
        experts.append(got[0])
        parts.append(got[1] if got[2] is None else [])
        problem = problem or got[2]
    if composed and len(items) == 1 and problem is None:
        # A one-element list is just a single trace written as a list.
        composed = False
    if not experts:
        return _not_a_trace("empty list")
    if len(items) > limits.max_parts:  # a trace, but too many sub-traces to run
        problem = ExecError(ErrorKind.LIMITS_EXCEEDED,
                            f"{len(items)} sub-traces, limit {limits.max_parts}")
    return RawTrace(tuple(experts), tuple(parts), composed, problem)


def _first_error(err: ValidationError) -> tuple[ErrorKind, str]:
    first = err.errors(include_url=False)[0]
    kind = first["type"]
    loc = ".".join(str(x) for x in first["loc"] if not isinstance(x, int))
    message = first["msg"] if not loc else f"{loc}: {first['msg']}"
    try:
        return ErrorKind(kind), message
    except ValueError:
        return ErrorKind.INVALID_STEP, message


def build_step(data: Any) -> Step | ExecError:
    """Validate one step mapping into its typed Step, or say exactly why not."""
    if not isinstance(data, dict):
        return ExecError(ErrorKind.INVALID_STEP, f"a step must be a mapping, got {str(data)[:40]!r}")
    op = data.get("op")
    cls = STEP_TYPES.get(op) if isinstance(op, str) else None
    if cls is None:
        if "op" not in data:
            return ExecError(ErrorKind.INVALID_STEP, "step has no op")
        return ExecError(ErrorKind.UNKNOWN_OP, f"unknown op {str(op)[:40]!r}")
    try:
        return cls.__pydantic_validator__.validate_python(data)  # type: ignore[no-any-return]
    except ValidationError as err:
        kind, message = _first_error(err)
        return ExecError(kind, message)


def build(raw: RawTrace, limits: Limits = DEFAULT_LIMITS) -> AnyTrace | ExecError:
    """Typed trace from a shaped document; the first defect as an ExecError."""
    if raw.problem is not None:
        return raw.problem
    parts = []
    for p, (expert, steps) in enumerate(zip(raw.experts, raw.parts, strict=True)):
        part = p if raw.composed else None
        if len(steps) > limits.max_steps:
            return ExecError(ErrorKind.LIMITS_EXCEEDED,
                             f"{len(steps)} steps, limit {limits.max_steps}", part=part)
        typed = []
        for s, data in enumerate(steps):
            step = build_step(data)
            if isinstance(step, ExecError):
                return ExecError(step.kind, step.message, part=part, step=s)
            typed.append(step)
        parts.append(Trace.trusted(expert, tuple(typed)))
    if raw.composed:
        return ComposedTrace.model_construct(parts=tuple(parts))
    return parts[0]


def from_data(data: Any, limits: Limits = DEFAULT_LIMITS) -> AnyTrace | ExecError | ParseFailure:
    """Plain data (as loaded from YAML or JSON) -> a typed trace, or why not."""
    raw = shape(data, limits)
    if isinstance(raw, ParseFailure):
        return raw
    return build(raw, limits)
