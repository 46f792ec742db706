"""Skeletons: one trace structure, checked once, then run and rendered for many init values.

A dataset compiler makes thousands of gold traces that differ only in the values of
their inits. Building step objects, checking the structure and rendering the steps
that never change costs more than the arithmetic, so a skeleton does that once.

Why a skeleton answers what `execute` answers: every execution error is either about
names and their order (undefined, overwritten, short circuit, composition wiring,
vocabulary), which is the same for every trace of one structure and was ruled out
when the skeleton was made from a trace that executed, or about values (division by
zero, limits), which `run` meets with the same op functions and the same bounding as
`execute`, and then raises. Short circuits that depend on values (an identity step,
`add(x, 0)`, see ops.Facts; an answer made only from inits holding it) need an answer
equal to an init so far or to the previous result, so `run` raises whenever it is. A caller
that sees `run` raise executes the full trace to learn which error it was; `run` never
reports one itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .execute import TraceEnv, execute
from .experts import DEFAULT_EXPERTS, Expert
from .numbers import format_number
from .ops import (
    COMPUTE_OPS,
    ComputeStep,
    Facts,
    InitStep,
    PercentStep,
    QueryStep,
    Step,
    Value,
    copies_init_only,
)
from .render import assemble, render_step, render_step_around
from .trace import DEFAULT_LIMITS, AnyTrace, ComposedTrace, Limits

# One step of a skeleton: set a hole's variable, compute from variables, copy the previous
# sub-trace's answer (`init x = prev`), or any other step.
_HOLE, _COMPUTE, _PREV, _OTHER = 0, 1, 2, 3
# The last field: the step itself for _OTHER, the op's Facts for _COMPUTE (see _copies_nothing).
Instr = tuple[int, str, Callable[[Sequence[Value]], Value] | None, tuple[str, ...],
              Step | Facts | None]


@dataclass(frozen=True, slots=True)
class Skeleton:
    """A trace with its value inits left open ("holes", in trace order)."""

    # (instructions, queried variable, whether every instruction is a hole or a compute,
    #  whether an answer equal to an init can be judged here: see _copies_nothing)
    parts: tuple[tuple[tuple[Instr, ...], str, bool, bool], ...]
    holes: int
    text_format: str  # the canonical text for `%`, `%s` where each hole's value goes
    max_digits: int
    int_limit: int  # 10**max_digits: ints strictly inside +-int_limit are within bounds

    def run(self, values: Sequence[Value]) -> Value:
        """The answer `execute` gives for these hole values (`Fraction(run(v)) ==
        execute(trace).value`); raises where `execute` would report an error.

        Holes, computes, percentages and `init x = prev` are what their apply does, less the
        checks on names (see the module docstring); other steps run their own apply.
        """
        h = 0
        prev: Value | None = None
        limit = self.int_limit
        for instrs, query, plain, judged in self.parts:
            prev_in = prev
            first = h
            # Parts of holes and computes only need no TraceEnv, just its variables.
            env = None if plain else TraceEnv(prev, self.max_digits)
            known: dict[str, Value] = {} if env is None else env.values
            for kind, var, fn, args, step in instrs:
                if kind is _HOLE:
                    value = values[h]
                    h += 1
                elif kind is _COMPUTE:
                    value = fn([known[a] for a in args])  # type: ignore[misc]
                elif kind is _PREV:
                    if prev is None:  # never, once a trace of this structure executed
                        raise ValueError("init from prev in the first sub-trace")
                    value = prev
                else:
                    step.apply(env)  # type: ignore[union-attr,arg-type]
                    continue
                # TraceEnv.bounded, with the common case (a small int) inline.
                if type(value) is int and -limit < value < limit:
                    known[var] = value
                else:
                    known[var] = _bounded(var, value, self.max_digits)
            prev = known[query]
            # Necessary for a copied init (see the module docstring): execute decides.
            if (prev == prev_in or prev in values[:h]) and not (
                    judged and _copies_nothing(instrs, query, known, values[first:h], prev)):
                raise ValueError("the answer equals an init: it may be a copy of one")
        if h != self.holes:
            raise ValueError(f"{len(values)} values for {self.holes} holes")
        return prev  # type: ignore[return-value]

    def text(self, values: Sequence[Value]) -> str:
        """`render` of the trace with these hole values."""
        # %-formatting, several times faster than str.format here; `%s` of an int is str().
        for v in values:
            if type(v) is not int:
                return self.text_format % tuple([v if type(v) is int else format_number(v)
                                                 for v in values])
        return self.text_format % tuple(values)


def _copies_nothing(instrs: tuple[Instr, ...], query: str, known: Mapping[str, Value],
                    holes: Sequence[Value], answer: Value) -> bool:
    """For a part of holes, computes and `init x = prev` whose every hole feeds its answer
    (`judged`), whether an answer equal to an init is still computed, as `execute` decides
    it: the copies are tracked with the ops' own rule (ops.copies_init_only; an init of the
    previous result is an init), and "made only from inits holding it" needs every source,
    so every hole, to hold the answer (then `execute` is left to say so)."""
    if all(v == answer for v in holes):
        return False
    init_only: set[str] = set()
    for kind, var, _, args, facts in instrs:
        if kind is not _COMPUTE or copies_init_only(  # a hole or `init x = prev`: an init
                facts, args, [known[a] for a in args], known[var], init_only):  # type: ignore[arg-type]
            init_only.add(var)
    return query not in init_only


def _judged(instrs: tuple[Instr, ...], query: str) -> bool:
    """Whether `_copies_nothing` is exact for this part: only holes, computes and
    `init x = prev`, and every hole an ancestor of the query (then the answer's sources
    include every hole of the part)."""
    if any(kind is _OTHER for kind, *_ in instrs):
        return False
    needed = {query}
    for kind, var, _, args, _ in reversed(instrs):
        if var in needed and kind is _COMPUTE:
            needed.update(args)
    return all(var in needed for kind, var, *_ in instrs if kind is _HOLE)


def _bounded(name: str, value: Value, max_digits: int) -> Value:
    return TraceEnv(None, max_digits).bounded(name, value)


def _is_hole(step: Step) -> bool:
    return isinstance(step, InitStep) and step.source is None


def _instr(step: Step) -> Instr:
    if _is_hole(step):
        return (_HOLE, step.var, None, (), None)  # type: ignore[attr-defined]
    if isinstance(step, InitStep):  # not a hole: `init x = prev`
        return (_PREV, step.var, None, (), None)
    if isinstance(step, ComputeStep):
        spec = COMPUTE_OPS[step.compute_op]
        return (_COMPUTE, step.var, spec.fn, step.args, spec.facts)
    if isinstance(step, PercentStep):
        # PercentStep.apply defines var from two reads, like a compute; define's check that
        # var is new is structural (ruled out), its bounding is the one `run` applies.
        return (_COMPUTE, step.var, _two(step.formula), (step.base, step.rate), step.FACTS)
    return (_OTHER, "", None, (), step)


def _two(formula: Callable[[Value, Value], Value]) -> Callable[[Sequence[Value]], Value]:
    return lambda args: formula(args[0], args[1])


def _escaped(text: str) -> str:
    return text.replace("%", "%%")


def _line(step: Step) -> str:
    if not _is_hole(step):
        return _escaped(render_step(step))
    before, after = render_step_around(step, "value")
    return _escaped(before) + "%s" + _escaped(after)


def skeleton_of(trace: AnyTrace, experts: Mapping[str, Expert] = DEFAULT_EXPERTS,
                limits: Limits = DEFAULT_LIMITS) -> Skeleton | None:
    """The skeleton of `trace`'s structure, or None when `trace` itself does not execute."""
    if execute(trace, experts, limits).error is not None:
        return None
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    built = []
    for part in parts:
        query = part.steps[-1]
        assert isinstance(query, QueryStep)  # execute checked it
        instrs = tuple(_instr(s) for s in part.steps if not isinstance(s, QueryStep))
        built.append((instrs, query.var, all(i[0] is not _OTHER for i in instrs),
                      _judged(instrs, query.var)))
    # Escaped lines stay escaped through `assemble`: what it adds (expert names, dashes,
    # indentation) never holds a `%`.
    text_format = assemble([(p.expert, [_line(s) for s in p.steps]) for p in parts],
                           isinstance(trace, ComposedTrace))
    holes = sum(1 for p in parts for s in p.steps if _is_hole(s))
    return Skeleton(tuple(built), holes, text_format, limits.max_digits, 10**limits.max_digits)
