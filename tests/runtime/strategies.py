"""Hypothesis strategies for the runtime: random valid traces with independently computed values.

A generated trace is plain data (what YAML loading gives) plus what the test oracle
knows about it: the value each sub-trace queries and which variables only an init
ever set. The oracle below re-implements every op's arithmetic on its own, so the
properties compare the runtime against a second implementation, not against itself.

Traces are valid by construction: inits take decimal values; computes read defined
names with the right number of arguments; no divisor is zero; every pow exponent is a
small integer; the last defining step is `result`, which is queried. A later sub-trace
starts with `{op: init, var: ..., source: prev.result}` and its first op reads it.
Every step is in the vocabulary of the sub-trace's expert (one of DEFAULT_EXPERTS).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import reduce
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from runtime import COMPUTE_OPS, DEFAULT_EXPERTS, STEP_TYPES, ErrorKind, Expert, RewardWeights
from runtime.numbers import magnitude_ok
from runtime.ops import PREV_RESULT, Facts, copies_init_only

# ---------------------------------------------------------------- the oracle


def _floor_div(xs: Sequence[Fraction]) -> Fraction:
    return Fraction(math.floor(xs[0] / xs[1]))


def _round_half_up(x: Fraction, places: int) -> Fraction:
    """Worked out apart from runtime.ops: the scaled value's floor, plus one from a half up
    (mirrored for negatives: halves go away from zero)."""
    y = abs(x) * Fraction(10) ** places
    whole = math.floor(y) + (y - math.floor(y) >= Fraction(1, 2))
    return (1 if x >= 0 else -1) * Fraction(whole) / Fraction(10) ** places


ORACLE: dict[str, Callable[[Sequence[Fraction]], Fraction]] = {
    "add": lambda xs: sum(xs, Fraction(0)),
    "sub": lambda xs: xs[0] - xs[1],
    "mul": lambda xs: reduce(operator.mul, xs, Fraction(1)),
    "div": lambda xs: xs[0] / xs[1],
    "floordiv": _floor_div,
    "mod": lambda xs: xs[0] - xs[1] * _floor_div(xs),
    "pow": lambda xs: xs[0] ** int(xs[1]),
    "min": min,
    "max": max,
    "floor": lambda xs: Fraction(math.floor(xs[0])),
    "ceil": lambda xs: -Fraction(math.floor(-xs[0])),
    "round": lambda xs: _round_half_up(xs[0], int(xs[1]) if len(xs) > 1 else 0),
}
MAX_VARIADIC = 4  # args drawn for a variadic op


def arity(op: str) -> tuple[int, int]:
    """The op's registered arity (variadic ops draw up to MAX_VARIADIC args)."""
    spec = COMPUTE_OPS[op]
    return spec.min_args, spec.max_args or MAX_VARIADIC


def _mark(s: _State, facts: Facts, var: str, names_: Sequence[str], out: Fraction,
          old: Sequence[Fraction] | None = None) -> bool:
    """Whether `var` stays init-only: the op's registered facts say the step only copied an
    init-only input (`add(x, 0)`, `max(a, b)` of inits). The values are the oracle's."""
    values = [s.env[n] for n in names_] if old is None else list(old)
    return copies_init_only(facts, list(names_), values, out, s.init_only)
DIVIDES = frozenset({"div", "floordiv", "mod"})

PERCENT: dict[str, Callable[[Fraction, Fraction], Fraction]] = {
    "percent_of": lambda base, rate: base * rate / 100,
    "percent_increase": lambda base, rate: base + base * rate / 100,
    "percent_off": lambda base, rate: base - base * rate / 100,
}
UPDATES = frozenset({"consume", "transfer"})

MAX_DIGITS = 40  # keep generated values well inside the runtime's 60-digit bound

# ---------------------------------------------------------------- building blocks

NAME_POOL = (
    # semantic names, entity-anchored names, scaffolding look-alikes, and names that are
    # words YAML or number parsers might misread (inf, nan, E, y, Null_, on1, e5x)
    "eggs", "price", "rate", "time", "cost", "total", "per_day", "distance", "factor",
    "bob.cards", "alice.coins", "janet.eggs", "a.b.c", "x", "y", "z", "n", "_tmp", "Total",
    "Qty", "E", "e5x", "inf", "nan", "Null_", "on1", "yes_no", "step", "results", "prev",
    "result2", "prev.results", "x" * 64,
)
"""Variable names (valid, never YAML words, never step<N> or result: those are scaffolding)."""

names = st.permutations(NAME_POOL).map(lambda p: list(p[:12]))
"""Twelve distinct variable names for one sub-trace."""

decimals = st.one_of(
    st.integers(-20, 120).map(Fraction),
    st.builds(lambda n, k: Fraction(n, 10**k), st.integers(-(10**6), 10**6), st.integers(0, 3)),
)
"""Init values: small integers mostly, and decimals with up to three places."""


def _defining_kinds(expert: Expert) -> list[str]:
    kinds = ["compute"] if expert.allows("compute") and _compute_ops(expert) else []
    return kinds + sorted(op for op in PERCENT if expert.allows(op))


def _compute_ops(expert: Expert) -> list[str]:
    return sorted(op for op in expert.compute_ops if op in ORACLE)


def _kinds(expert: Expert) -> list[str]:
    return _defining_kinds(expert) + sorted(op for op in UPDATES if expert.allows(op))


GENERATIVE_EXPERTS = sorted(name for name, e in DEFAULT_EXPERTS.items() if _defining_kinds(e))


@dataclass(frozen=True)
class Part:
    """One generated sub-trace, with what the oracle knows about it."""

    expert: str
    steps: tuple[dict[str, Any], ...]
    value: Fraction  # the value its query reads
    init_only: frozenset[str]  # variables only an init ever set (query them: short-circuit)
    sources: tuple[Fraction, ...] = ()  # the init values its answer depends on, all parts

    def data(self) -> dict[str, Any]:
        return {"expert": self.expert, "trace": [dict(s) for s in self.steps]}


@dataclass(frozen=True)
class GenTrace:
    parts: tuple[Part, ...]

    @property
    def composed(self) -> bool:
        return len(self.parts) > 1

    @property
    def value(self) -> Fraction:
        return self.parts[-1].value

    def data(self) -> Any:
        if self.composed:
            return [p.data() for p in self.parts]
        return self.parts[0].data()

    def expected_experts(self) -> list[str]:
        """Every expected-expert name that grading must accept for this trace (a composed
        one: its sequence only, never the bare label `composition`)."""
        if self.composed:
            return ["+".join(p.expert for p in self.parts)]
        return [self.parts[0].expert]

    def with_query(self, part: int, var: str) -> Any:
        """The plain data with sub-trace `part` querying `var` instead of `result`."""
        parts = [p.data() for p in self.parts]
        parts[part]["trace"][-1] = {"op": "query", "var": var}
        return parts if self.composed else parts[0]


class _State:
    """Variables of the sub-trace being generated, and their oracle values."""

    def __init__(self, pool: list[str]) -> None:
        self.pool = pool
        self.env: dict[str, Fraction] = {}
        self.init_only: set[str] = set()
        self.steps: list[dict[str, Any]] = []
        self.counter = 0

    def fresh(self) -> str:
        return self.pool.pop()

    def set(self, name: str, value: Fraction) -> None:
        assume(magnitude_ok(value, MAX_DIGITS))
        self.env[name] = value


def _pick(draw: st.DrawFn, options: Sequence[str]) -> str:
    return draw(st.sampled_from(sorted(options)))


def _compute(draw: st.DrawFn, expert: Expert, s: _State, must: str | None, var: str) -> None:
    op = _pick(draw, _compute_ops(expert))
    names_ = sorted(s.env)
    args: list[str] | None = None
    if op in DIVIDES:
        divisors = [n for n in names_ if s.env[n] != 0 and n != must]
        if divisors:
            args = [must or _pick(draw, names_), _pick(draw, divisors)]
    elif op == "round":  # round(x), or round(x, places) with a small whole places
        places = [n for n in names_ if s.env[n].denominator == 1 and abs(s.env[n]) <= 3
                  and n != must] if draw(st.booleans()) else []
        args = [must or _pick(draw, names_), *([_pick(draw, places)] if places else [])]
    elif op == "pow":
        base = must or _pick(draw, names_)
        exponents = [n for n in names_ if s.env[n].denominator == 1 and abs(s.env[n]) <= 3
                     and (s.env[base] != 0 or s.env[n] >= 0) and n != must]
        if exponents:
            args = [base, _pick(draw, exponents)]
    else:
        low, high = arity(op)
        n = draw(st.integers(low, high))
        args = draw(st.lists(st.sampled_from(names_), min_size=n, max_size=n))
        if must is not None:
            args[draw(st.integers(0, n - 1))] = must
    if args is None:  # no legal divisor or exponent: an op without preconditions instead
        op = "mul" if "mul" in expert.compute_ops else "add"
        args = [must or _pick(draw, names_), _pick(draw, names_)]
    out = ORACLE[op]([s.env[a] for a in args])
    copy = _mark(s, COMPUTE_OPS[op].facts, var, args, out)
    s.set(var, out)
    if copy:
        s.init_only.add(var)
    s.steps.append({"op": "compute", "compute_op": op, "args": args, "var": var})


def _percent(draw: st.DrawFn, op: str, s: _State, must: str | None, var: str) -> None:
    names_ = sorted(s.env)
    base, rate = _pick(draw, names_), _pick(draw, names_)
    if must is not None:
        if draw(st.booleans()):
            base = must
        else:
            rate = must
    out = PERCENT[op](s.env[base], s.env[rate])
    copy = _mark(s, STEP_TYPES[op].FACTS, var, [base, rate], out)
    s.set(var, out)
    if copy:
        s.init_only.add(var)
    s.steps.append({"op": op, "base": base, "rate": rate, "var": var})


def _update(draw: st.DrawFn, op: str, s: _State, must: str | None) -> None:
    names_ = sorted(s.env)
    if op == "consume":
        entity, amount = _pick(draw, names_), _pick(draw, names_)
        if must is not None:
            entity, amount = (must, amount) if draw(st.booleans()) else (entity, must)
        out = s.env[entity] - s.env[amount]
        if not _mark(s, STEP_TYPES["consume"].FACTS, entity, [entity, amount], out):
            s.init_only.discard(entity)
        s.set(entity, out)
        s.steps.append({"op": "consume", "entity": entity, "amount": amount})
        return
    source = must if must is not None and draw(st.booleans()) else _pick(draw, names_)
    to = _pick(draw, [n for n in names_ if n != source])
    amount = must if must is not None and must not in (source, to) else _pick(draw, names_)
    moved = s.env[amount]  # read before either side changes
    facts = STEP_TYPES["transfer"].FACTS
    old = s.env[source], s.env[to]
    new = old[0] - moved, old[1] + moved
    copies = [_mark(s, facts, n, [n, amount], v, [o, moved])
              for n, o, v in zip((source, to), old, new, strict=True)]
    s.set(source, new[0])
    s.set(to, new[1])
    s.init_only.difference_update(n for n, c in zip((source, to), copies, strict=True) if not c)
    s.steps.append({"op": "transfer", "from": source, "to": to, "amount": amount})


def _op_step(draw: st.DrawFn, expert: Expert, s: _State, kind: str, must: str | None,
             var: str) -> None:
    if kind == "compute":
        _compute(draw, expert, s, must, var)
    elif kind in PERCENT:
        _percent(draw, kind, s, must, var)
    else:
        _update(draw, kind, s, must)


def _init(draw: st.DrawFn, s: _State) -> None:
    name = s.fresh()
    value = draw(decimals)
    s.set(name, value)
    s.init_only.add(name)
    s.steps.append({"op": "init", "var": name, "value": value})


def _step_io(step: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(names a step writes, names it reads), from the plain data."""
    op = step["op"]
    if op == "init":
        return [step["var"]], []
    if op == "compute":
        return [step["var"]], list(step["args"])
    if op in PERCENT:
        return [step["var"]], [step["base"], step["rate"]]
    if op == "consume":
        return [step["entity"]], [step["entity"], step["amount"]]
    return [step["from"], step["to"]], [step["from"], step["to"], step["amount"]]


def sources_of(steps: Sequence[dict[str, Any]], prev_sources: Sequence[Fraction]
               ) -> list[Fraction]:
    """The init values `result` depends on; a `prev.result` init stands for the previous
    sub-trace's sources. When they all hold the answer's value, the runtime refuses the
    trace as a short circuit: its inputs are copies of the answer."""
    needed: set[str] = {"result"}
    sources: list[Fraction] = []
    for step in reversed(steps):
        writes, reads = _step_io(step)
        if needed.intersection(writes):
            if step["op"] == "init":
                sources.extend(prev_sources if "source" in step else [step["value"]])
                needed.discard(step["var"])
            else:
                needed.difference_update(w for w in writes if w not in reads)
                needed.update(reads)
    return sources


@st.composite
def parts(draw: st.DrawFn, expert_name: str, prev: Fraction | None = None,
          prev_sources: tuple[Fraction, ...] = ()) -> Part:
    """One valid sub-trace under `expert_name`; `prev` is the previous sub-trace's result,
    `prev_sources` the init values it was computed from."""
    expert = DEFAULT_EXPERTS[expert_name]
    s = _State(draw(names))
    must: str | None = None
    if prev is not None:
        must = s.fresh()
        s.set(must, prev)
        s.init_only.add(must)
        s.steps.append({"op": "init", "var": must, "source": PREV_RESULT})
    for _ in range(draw(st.integers(1 if prev is not None else 2, 3))):
        _init(draw, s)
    for _ in range(draw(st.integers(0, 4))):  # interleaved: (init | op)*
        if draw(st.booleans()):
            _init(draw, s)
        kind = _pick(draw, _kinds(expert))
        s.counter += 1
        _op_step(draw, expert, s, kind, must, f"step{s.counter}")
        must = None
    _op_step(draw, expert, s, _pick(draw, _defining_kinds(expert)), must, "result")
    # An identity last step (add(x, 0), max of inits) copies an init: not a valid trace;
    # nor is an answer made only from inits that all hold it ((a + a) - a).
    assume("result" not in s.init_only)
    sources = sources_of(s.steps, prev_sources)
    assume(not all(v == s.env["result"] for v in sources))
    s.steps.append({"op": "query", "var": "result"})
    return Part(expert_name, tuple(s.steps), s.env["result"], frozenset(s.init_only),
                tuple(sources))


experts = st.sampled_from(GENERATIVE_EXPERTS)


# ---------------------------------------------------------------- dependence on the inputs
#
# The runtime refuses an answer that does not move when the inits do (`x + (k - k)`): it
# reruns the trace with each init not holding the answer shifted by its own whole offset
# from a fixed table (runtime.execute._SHIFTS, reused here so both sides shift alike), and
# a later sub-trace with its previous result shifted. The oracle replays the plain data on
# its own arithmetic; a rerun that fails (a zero divisor, a value past twice the runtime's
# digit bound, a pow or round out of range) proves nothing, on both sides.

RERUN_DIGITS = 120  # the runtime reruns with twice its 60-digit bound


class _Fails(Exception):
    pass


def _checked(value: Fraction) -> Fraction:
    if not magnitude_ok(value, RERUN_DIGITS):
        raise _Fails
    return value


def _oracle_compute(op: str, xs: list[Fraction]) -> Fraction:
    if op in DIVIDES and xs[1] == 0:
        raise _Fails
    if op == "pow" and (xs[1].denominator != 1 or abs(xs[1]) > 64 or (xs[0] == 0 and xs[1] < 0)):
        raise _Fails
    if op == "round" and len(xs) > 1 and (xs[1].denominator != 1 or abs(xs[1]) > 64):
        raise _Fails
    if op in ("add", "mul") and not all(magnitude_ok(x, RERUN_DIGITS) for x in xs):
        raise _Fails
    return ORACLE[op](xs)


def replay(steps_of: Sequence[Sequence[dict[str, Any]]], inits: Callable[[int, Fraction], Fraction],
           prev: Fraction | None = None) -> Fraction | None:
    """The answer of the sub-traces `steps_of` with the n-th written init (counted over
    all of them) given the value `inits(n, value)`; None when the run fails."""
    n = 0
    try:
        for steps in steps_of:
            env: dict[str, Fraction] = {}
            for step in steps:
                op = step["op"]
                if op == "init":
                    if "source" in step:
                        assert prev is not None
                        env[step["var"]] = prev
                    else:
                        env[step["var"]] = _checked(inits(n, step["value"]))
                        n += 1
                elif op == "compute":
                    env[step["var"]] = _checked(_oracle_compute(
                        step["compute_op"], [env[a] for a in step["args"]]))
                elif op in PERCENT:
                    env[step["var"]] = _checked(PERCENT[op](env[step["base"]], env[step["rate"]]))
                elif op == "consume":
                    env[step["entity"]] = _checked(env[step["entity"]] - env[step["amount"]])
                elif op == "transfer":
                    moved = env[step["amount"]]
                    env[step["from"]] = _checked(env[step["from"]] - moved)
                    env[step["to"]] = _checked(env[step["to"]] + moved)
                else:
                    prev = env[step["var"]]
    except _Fails:
        return None
    return prev


def _unmoved(answer: Fraction, runs: list[Fraction | None]) -> bool:
    done = [r for r in runs if r is not None]
    return bool(done) and all(r == answer for r in done)


def ignores_its_inputs(gt: GenTrace) -> ErrorKind | None:
    """SHORT_CIRCUIT when a sub-trace's answer (its previous result held), or the whole
    answer, stays put with every other init shifted; DEAD_SUBTRACE when a later sub-trace's
    answer stays put with its previous result shifted."""
    from runtime.execute import _SHIFTS

    steps_of = [p.steps for p in gt.parts]
    for p, part in enumerate(gt.parts):  # each sub-trace alone, its previous result held
        own = [step["value"] for step in part.steps if step["op"] == "init" and "value" in step]
        mine = {i: k for k, i in enumerate(i for i, v in enumerate(own) if v != part.value)}
        prev = gt.parts[p - 1].value if p else None
        runs = [replay([part.steps], lambda n, v, t=t, mine=mine: v + _SHIFTS[t][mine[n] % 256]
                       if n in mine else v, prev) for t in range(len(_SHIFTS))]
        if mine and _unmoved(part.value, runs):
            return ErrorKind.SHORT_CIRCUIT
    answer = gt.value
    values = [step["value"] for steps in steps_of for step in steps
              if step["op"] == "init" and "source" not in step]
    moved = [i for i, v in enumerate(values) if v != answer]
    if gt.composed and moved:
        slot = {i: k for k, i in enumerate(moved)}
        runs = [replay(steps_of, lambda n, v, t=t: v + _SHIFTS[t][slot[n] % 256] if n in slot
                       else v) for t in range(len(_SHIFTS))]
        if _unmoved(answer, runs):
            return ErrorKind.SHORT_CIRCUIT
    for p in range(1, len(gt.parts)):
        prev = gt.parts[p - 1].value
        runs = [replay([steps_of[p]], lambda n, v: v, prev + table[0]) for table in _SHIFTS]
        if _unmoved(gt.parts[p].value, runs):
            return ErrorKind.DEAD_SUBTRACE
    return None


def _dependent(gt: GenTrace) -> GenTrace:
    assume(ignores_its_inputs(gt) is None)
    return gt


@st.composite
def single_traces(draw: st.DrawFn) -> GenTrace:
    return _dependent(GenTrace((draw(parts(draw(experts))),)))


@st.composite
def composed_traces(draw: st.DrawFn, min_parts: int = 2, max_parts: int = 4) -> GenTrace:
    out: list[Part] = []
    prev: Fraction | None = None
    for _ in range(draw(st.integers(min_parts, max_parts))):
        part = draw(parts(draw(experts), prev, out[-1].sources if out else ()))
        out.append(part)
        prev = part.value
    return _dependent(GenTrace(tuple(out)))


traces = st.one_of(single_traces(), composed_traces())
"""Any valid trace, single or composed of 2-4 sub-traces."""

# ---------------------------------------------------------------- model text around a trace

PROSE_BEFORE = ["", "Here is the trace:\n", "Let me work it out.\n\n", "Sure!\n"]
PROSE_AFTER = ["", "So that is the answer.\n", "\nThe trace computes it.\n", "Done"]
FENCES = [("", ""), ("```yaml\n", "```\n"), ("```\n", "```\n"), ("~~~\n", "~~~\n"),
          ("```yaml\n", "")]


@st.composite
def wrapped(draw: st.DrawFn, text: str) -> str:
    """`text` as a chatty model might write it: prose and code fences around it."""
    before, after = draw(st.sampled_from(PROSE_BEFORE)), draw(st.sampled_from(PROSE_AFTER))
    opening, closing = draw(st.sampled_from(FENCES))
    if not closing and opening:  # unterminated fence: nothing may follow
        after = ""
    return before + opening + text + closing + after


# ---------------------------------------------------------------- junk

TOKENS = [
    "expert: ", "trace:", "\n", "- ", "  ", "{", "}", "[", "]", ", ", ": ", "op: ", "init",
    "compute", "query", "consume", "transfer", "percent_of", "var: ", "value: ", "source: ",
    "prev.result", "compute_op: ", "add", "mul", "div", "args: ", "result", "step1", "a", "b",
    "arithmetic", "percentage", "18", "-3", "0.5", "1/3", "1e30", "80,000", "yes", "null",
    "&a ", "*a", "!!python/object/apply:os.system ", "!!str ", "```yaml\n", "```", "~~~",
    "'", '"', "#", "|", ">", "%", "?", "---", "...", "\t", "\r\n", "—", "é", "\x00",
]

yamlish = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)
"""Random text built from trace tokens: near-YAML, near-traces, hostile bits."""

latin1_junk = st.binary(max_size=2000).map(lambda b: b.decode("latin-1"))


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """`text` with a few random character edits, line drops and line duplications."""
    for _ in range(draw(st.integers(1, 4))):
        lines = text.split("\n")
        how = draw(st.sampled_from(["char", "drop", "dup", "swap"]))
        i = draw(st.integers(0, max(len(lines) - 1, 0)))
        if how == "drop" and len(lines) > 1:
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "swap" and len(lines) > 1:
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            line = lines[i]
            k = draw(st.integers(0, len(line)))
            piece = draw(st.sampled_from(TOKENS + list(" ,:{}[]-0123456789abc")))
            cut = draw(st.integers(0, 2))
            lines[i] = line[:k] + piece + line[k + cut:]
        text = "\n".join(lines)
    return text


finite = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)


@st.composite
def weights(draw: st.DrawFn) -> RewardWeights:
    """Random finite reward weights, with per-kind overrides for some error kinds."""
    per_kind = draw(st.dictionaries(st.sampled_from([k.value for k in ErrorKind]), finite,
                                    max_size=4))
    return RewardWeights(draw(finite), draw(finite), draw(finite), draw(finite), draw(finite),
                         per_kind=per_kind)
