"""The solver: static checks against the expert table, then exact execution of a typed trace."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from .errors import ErrorKind, ExecError, TraceError
from .experts import DEFAULT_EXPERTS, Expert
from .numbers import magnitude_ok
from .ops import ComputeStep, InitStep, QueryStep, Value
from .trace import DEFAULT_LIMITS, AnyTrace, ComposedTrace, Limits, Trace


@dataclass(frozen=True, slots=True)
class Outcome:
    """What executing a trace gave: the answer (the last query) or the first error.

    `results` holds each sub-trace's queried value, in order, up to the error.
    """

    value: Fraction | None
    error: ExecError | None
    results: tuple[Fraction, ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None


class TraceEnv:
    """Variables of one sub-trace. Tracks which values only an init ever set. (The skeleton
    fast path, runtime.skeleton, runs parts of a trace in one too.)"""

    __slots__ = ("values", "init_only", "prev", "max_digits", "_int_limit")

    def __init__(self, prev: Value | None, max_digits: int) -> None:
        self.values: dict[str, Value] = {}
        self.init_only: set[str] = set()
        self.prev = prev
        self.max_digits = max_digits
        self._int_limit = 10**max_digits

    def read(self, name: str) -> Value:
        try:
            return self.values[name]
        except KeyError:
            raise TraceError(ErrorKind.UNDEFINED_VAR, f"{name} is not defined") from None

    def bounded(self, name: str, value: Value) -> Value:
        if type(value) is not int:
            if value.denominator == 1:
                value = value.numerator
            elif not magnitude_ok(value, self.max_digits):
                raise TraceError(ErrorKind.LIMITS_EXCEEDED, f"{name}: value too large")
        if type(value) is int and abs(value) >= self._int_limit:
            raise TraceError(ErrorKind.LIMITS_EXCEEDED, f"{name}: value too large")
        return value

    def define(self, name: str, value: Value, *, init_only: bool) -> None:
        if name in self.values:
            raise TraceError(ErrorKind.OVERWRITE, f"{name} is already defined")
        self.values[name] = self.bounded(name, value)
        if init_only:
            self.init_only.add(name)

    def update(self, name: str, value: Value, *, copy: bool = False) -> None:
        if name not in self.values:
            raise TraceError(ErrorKind.UNDEFINED_VAR, f"{name} is not defined")
        self.values[name] = self.bounded(name, value)
        # A domain op changed it: it is now a computed state, not a copied input, unless
        # the step was an identity for it (consume 0), whose facts say `copy`.
        if not copy:
            self.init_only.discard(name)


def _check_vocabulary(trace: Trace, expert: Expert, part: int | None) -> ExecError | None:
    for i, step in enumerate(trace.steps):
        refusal = expert.refusal(step.op, step.compute_op if isinstance(step, ComputeStep) else None)
        if refusal is not None:
            return ExecError(ErrorKind.OP_NOT_IN_EXPERT, refusal, part, i)
    return None


def _check_query(trace: Trace, part: int | None) -> ExecError | None:
    queries = [i for i, s in enumerate(trace.steps) if isinstance(s, QueryStep)]
    if not queries:
        return ExecError(ErrorKind.MISSING_QUERY, "the trace never queries its answer", part)
    if len(queries) > 1:
        return ExecError(ErrorKind.MULTIPLE_QUERIES,
                         f"{len(queries)} queries; exactly one is allowed", part, queries[1])
    if queries[0] != len(trace.steps) - 1:
        return ExecError(ErrorKind.QUERY_NOT_LAST, "steps after the query are never used",
                         part, queries[0] + 1)
    return None


def _check_reads_prev(trace: Trace, part: int) -> ExecError | None:
    """A later sub-trace must use the previous result, else the previous one is dead."""
    sourced = {s.var for s in trace.steps if isinstance(s, InitStep) and s.source}
    if any(name in sourced for step in trace.steps for name in step.reads()):
        return None
    return ExecError(ErrorKind.DEAD_SUBTRACE,
                     f"sub-trace {part} computes a result that sub-trace {part + 1} never reads",
                     part - 1)


def _static_checks(
    parts: tuple[Trace, ...], experts: Mapping[str, Expert], composed: bool, limits: Limits
) -> ExecError | None:
    if len(parts) > limits.max_parts:
        return ExecError(ErrorKind.LIMITS_EXCEEDED, f"{len(parts)} sub-traces, limit {limits.max_parts}")
    for p, trace in enumerate(parts):
        where = p if composed else None
        if len(trace.steps) > limits.max_steps:
            return ExecError(ErrorKind.LIMITS_EXCEEDED,
                             f"{len(trace.steps)} steps, limit {limits.max_steps}", where)
        expert = experts.get(trace.expert)
        if expert is None:
            return ExecError(ErrorKind.UNKNOWN_EXPERT, f"no expert named {trace.expert}", where)
        error = _check_vocabulary(trace, expert, where) or _check_query(trace, where)
        if error is None and composed and p > 0:
            error = _check_reads_prev(trace, p)
        if error is not None:
            return error
    return None


def _run(trace: Trace, prev: Value | None, prev_sources: tuple[Value, ...] | None,
         max_digits: int, part: int | None) -> tuple[Value, tuple[Value, ...] | None]:
    """The sub-trace's answer and, when `prev_sources` is given (composed traces), the init
    values it was computed from (through earlier sub-traces too), for the next one."""
    env = TraceEnv(prev, max_digits)
    for i, step in enumerate(trace.steps):
        try:
            step.apply(env)
        except TraceError as err:
            raise _Located(ExecError(err.kind, err.message, part, i)) from None
    query = trace.steps[-1]
    assert isinstance(query, QueryStep)
    if query.var in env.init_only:
        raise _Located(ExecError(
            ErrorKind.SHORT_CIRCUIT,
            f"query reads {query.var}, which only an init set (or a step that copied one, "
            "like add(x, 0)): the answer must be computed",
            part, len(trace.steps) - 1))
    value = env.values[query.var]
    sources = None
    if prev_sources is not None:
        sources = _sources(trace, prev_sources)
    elif _answer_is_an_init(trace, prev, value):
        sources = _sources(trace, (prev,) if prev is not None else ())
    if sources and all(v == value for v in sources):
        raise _Located(ExecError(
            ErrorKind.SHORT_CIRCUIT,
            f"query reads {query.var}, computed only from inits that all hold the answer "
            "itself (like (a + a) - a): the answer must be computed from the question's "
            "numbers", part, len(trace.steps) - 1))
    return value, sources


def _answer_is_an_init(trace: Trace, prev: Value | None, value: Value) -> bool:
    for s in trace.steps:  # the common case: the answer equals no init (one pass, no sets)
        if type(s) is InitStep and (prev if s.source is not None else s.value) == value:
            return True
    return False


def _sources(trace: Trace, prev_sources: tuple[Value, ...]) -> tuple[Value, ...]:
    """The init values the answer depends on (`source: prev.result` stands for the
    previous sub-trace's own sources). When they all hold the answer's value, the trace's
    inputs were replaced by its answer (`(a + a) - a`, `(a * a) / a`): no single step is
    an identity there, so the op facts cannot see it; the values can."""
    steps = trace.steps
    needed = {steps[-1].var}  # type: ignore[attr-defined]
    sources: list[Value] = []
    for step in reversed(steps[:-1]):
        defined = step.defines()
        if defined in needed or needed.intersection(step.updates()):
            if isinstance(step, InitStep):
                if step.source is not None:
                    sources.extend(prev_sources)
                else:
                    sources.append(step.value)  # type: ignore[arg-type]
            needed.discard(defined)  # type: ignore[arg-type]
            needed.update(step.reads())
    return tuple(sources)


class _Located(Exception):
    def __init__(self, error: ExecError) -> None:
        self.error = error


def execute(
    trace: AnyTrace,
    experts: Mapping[str, Expert] = DEFAULT_EXPERTS,
    limits: Limits = DEFAULT_LIMITS,
    *,
    checked: bool = False,
) -> Outcome:
    """Run a typed trace. Never raises: every failure is an Outcome with a typed error.

    `checked=True` skips the structural checks (vocabulary, query position, composition
    wiring) for traces whose structure was already checked once, like the compiler's gold
    traces, whose shape is fixed per pattern; everything that depends on values is still
    checked while running (undefined names, overwrites, short circuits, limits).
    """
    composed = isinstance(trace, ComposedTrace)
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    error = None if checked else _static_checks(parts, experts, composed, limits)
    if error is not None:
        return Outcome(None, error)
    results: list[Fraction] = []
    prev: Value | None = None
    sources: tuple[Value, ...] | None = () if composed else None
    for p, part in enumerate(parts):
        try:
            prev, sources = _run(part, prev, sources, limits.max_digits, p if composed else None)
        except _Located as located:
            return Outcome(None, located.error, tuple(results))
        except (ArithmeticError, ValueError, OverflowError) as exc:  # defensive: never escape
            return Outcome(None, ExecError(ErrorKind.LIMITS_EXCEEDED, str(exc)[:200],
                                           p if composed else None), tuple(results))
        results.append(Fraction(prev))
    return Outcome(results[-1], None, tuple(results))


# ---------------------------------------------------------------- dependence on the inputs
#
# The identity facts and the value check above see one step, or inputs that all hold the
# answer. A chain can build an identity operand from any stated number: `x + (k - k)`,
# `x * (k / k)`, `((k + j) - k) - j`. On a grounded answer (one the question states, or a
# unit constant like 12) that is full reward for copying it. What every such chain shares:
# the answer does not move when the question's numbers do. So the trace is run again with
# every init shifted, except those holding the answer's value, and an answer that stays
# put in every run is a short circuit. Each init is shifted on its own: a question may
# state one number twice for two things (raised $118, each student gave $6, the trip costs
# $6 a student: 118 + 6*20 - 6*20 is honest), so two inits of one value are two inputs.

_TRIALS = 3
# Shifts per (trial, init): whole numbers, so whole inputs stay whole (pow's
# exponent, round's places), irregular, so no honest sum of shifts cancels out.
_SHIFTS = tuple(tuple(random.Random(f"tasklang-shift-{t}").sample(range(2, 2000), 256))
                for t in range(_TRIALS))


Shift = Callable[[InitStep], Value]


def _shifter(steps: list[InitStep], trial: int) -> Shift:
    """Trial `trial`'s value for each init: its own shift for those in `steps`, else its value."""
    offsets = {id(step): _SHIFTS[trial][i % 256] for i, step in enumerate(steps)}

    def shift(step: InitStep) -> Value:
        assert step.value is not None
        return step.value + offsets.get(id(step), 0)

    return shift


def _same(step: InitStep) -> Value:
    assert step.value is not None
    return step.value


def _rerun(parts: tuple[Trace, ...], shift: Shift, max_digits: int,
           prev: Value | None = None) -> Value | None:
    """The answer of `parts` with every written init value given by `shift`; None when
    that run fails (a shifted divisor hit 0, a value grew past the bound)."""
    try:
        for part in parts:
            env = TraceEnv(prev, max_digits)
            for step in part.steps:
                if type(step) is InitStep and step.value is not None:
                    env.define(step.var, shift(step), init_only=True)
                else:
                    step.apply(env)
            prev = env.values[part.steps[-1].var]  # type: ignore[attr-defined]
    except (TraceError, ArithmeticError, ValueError, OverflowError):
        return None
    return prev


def _unmoved(answer: Value, runs: Iterable[Value | None]) -> bool:
    """Whether the runs that finished all gave `answer` (and at least one finished). `runs`
    is lazy and read only until one moves: an honest trace, the common case, costs one rerun
    per check instead of _TRIALS."""
    finished = False
    for r in runs:
        if r is None:
            continue
        if r != answer:
            return False
        finished = True
    return finished


def ignored_inputs(trace: AnyTrace, outcome: Outcome, limits: Limits = DEFAULT_LIMITS,
                   stated: Callable[[Value], bool] | None = None) -> ExecError | None:
    """For a trace that executed to `outcome`: SHORT_CIRCUIT when its answer ignores every
    init that does not hold it, or (with `stated`, the question's test for the numbers it
    states) ignores every init of a stated number (unit constants alone); for a composed
    trace, DEAD_SUBTRACE when a later sub-trace's answer ignores the previous
    result it reads (`prev - prev + ...`: the requested
    expert's work is unused). Grading asks this of model traces (runtime.grade); `execute`
    does not, so gold traces, their skeletons and converted GSM8K references keep their
    meaning (the GSM8K converter gives one variable to a number stated twice, and `10 / 3 *
    3` of one 3 gives back 10 whatever 3 is)."""
    if outcome.error is not None or not outcome.results:
        return None
    composed = isinstance(trace, ComposedTrace)
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    results, max_digits = outcome.results, limits.max_digits
    answer = results[-1]
    inits = [step for part in parts for step in part.steps
             if type(step) is InitStep and step.value is not None]
    where = (len(parts) - 1 if composed else None), len(parts[-1].steps) - 1
    copied = ("the answer stays the same when the question's numbers change (like x + (k - k) "
              "or x * (k / k)): it must be computed from them")
    # Each sub-trace on its own first (its previous result held): a requested expert that
    # only copies a stated number through `x * (k / k)` leaves its work to the next one.
    for p, part in enumerate(parts):
        own = [step for step in part.steps if type(step) is InitStep
               and step.value is not None and step.value != results[p]]
        prev = results[p - 1] if p else None
        if own and _unmoved(results[p], (_rerun((part,), _shifter(own, t), max_digits * 2,
                                                prev) for t in range(_TRIALS))):
            return ExecError(ErrorKind.SHORT_CIRCUIT, copied, p if composed else None,
                             len(part.steps) - 1)
    others = [step for step in inits if step.value != answer]
    if composed and others and _unmoved(answer, (
            _rerun(parts, _shifter(others, t), max_digits * 2) for t in range(_TRIALS))):
        return ExecError(ErrorKind.SHORT_CIRCUIT, copied, *where)
    if stated is not None:
        said = [step for step in inits if stated(step.value)]  # type: ignore[arg-type]
        if not said or _unmoved(answer, (_rerun(parts, _shifter(said, t), max_digits * 2)
                                         for t in range(_TRIALS))):
            return ExecError(
                ErrorKind.SHORT_CIRCUIT, "the answer depends on no number the question states "
                "(it is made of unit constants, like 12 + 7 - 1)", *where)
    for p in range(1, len(parts)):
        runs = (_rerun(parts[p:p + 1], _same, max_digits * 2, results[p - 1] + _SHIFTS[t][0])
                for t in range(_TRIALS))
        if _unmoved(results[p], runs):
            return ExecError(
                ErrorKind.DEAD_SUBTRACE,
                f"sub-trace {p + 1} reads the previous result but its answer does not depend "
                f"on it: the work of sub-trace {p} is unused", p - 1)
    return None
