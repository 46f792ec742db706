"""Static analysis of traces: def-use problems, dead steps, and the computation-graph shape.

The compiler uses `check_static` on trace schemas (before any value exists) to
report use-before-definition, init-only queries and dead steps; the audit uses
`shape_of` to compare the computation graph of a generated gold trace with that
of a reference solution (names and values ignored, domain ops lowered to
compute steps, commutative arguments unordered).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from .errors import ErrorKind
from .experts import Expert
from .ops import (
    COMPUTE_OPS,
    ComputeStep,
    ConsumeStep,
    InitStep,
    PercentIncreaseStep,
    PercentOffStep,
    PercentOfStep,
    QueryStep,
    Step,
    TransferStep,
)
from .trace import AnyTrace, ComposedTrace, Trace


@dataclass(frozen=True, slots=True)
class StaticIssue:
    """A problem found without executing: `code` is an ErrorKind value or `dead_step`."""

    code: str
    message: str
    part: int | None
    step: int


DEAD_STEP = "dead_step"


def _live_steps(trace: Trace) -> set[int]:
    """Indices of steps that contribute to the queried value (backwards from the query)."""
    needed: set[str] = set()
    live: set[int] = set()
    for i in range(len(trace.steps) - 1, -1, -1):
        step = trace.steps[i]
        writes = {step.defines(), *step.updates()} - {None}
        if isinstance(step, QueryStep) or writes & needed:
            live.add(i)
            needed -= {step.defines()}
            needed |= set(step.reads())
    return live


def check_static(trace: Trace, expert: Expert | None = None, part: int | None = None
                 ) -> list[StaticIssue]:
    """Every def-use problem of one sub-trace, in step order (not just the first)."""
    issues: list[StaticIssue] = []
    defined: set[str] = set()
    init_only: set[str] = set()
    for i, step in enumerate(trace.steps):
        issues += _check_step(step, i, part, expert, defined, init_only)
    queries = [i for i, s in enumerate(trace.steps) if isinstance(s, QueryStep)]
    if not queries:
        issues.append(StaticIssue(ErrorKind.MISSING_QUERY.value, "no query step", part,
                                  len(trace.steps) - 1))
    elif len(queries) > 1:
        issues.append(StaticIssue(ErrorKind.MULTIPLE_QUERIES.value, "more than one query",
                                  part, queries[1]))
    elif queries[0] == len(trace.steps) - 1:
        for i in sorted(set(range(len(trace.steps))) - _live_steps(trace)):
            what = trace.steps[i].defines() or ", ".join(trace.steps[i].updates())
            issues.append(StaticIssue(DEAD_STEP, f"step does not feed the query ({what})", part, i))
    return issues


def _check_step(step: Step, i: int, part: int | None, expert: Expert | None,
                defined: set[str], init_only: set[str]) -> list[StaticIssue]:
    issues = []
    if expert is not None:
        refusal = expert.refusal(step.op, step.compute_op if isinstance(step, ComputeStep) else None)
        if refusal is not None:
            issues.append(StaticIssue(ErrorKind.OP_NOT_IN_EXPERT.value, refusal, part, i))
    for name in step.reads():
        if name not in defined:
            issues.append(StaticIssue(ErrorKind.UNDEFINED_VAR.value,
                                      f"{name} is used before it is defined", part, i))
    if isinstance(step, QueryStep) and step.var in init_only:
        issues.append(StaticIssue(ErrorKind.SHORT_CIRCUIT.value,
                                  f"query {step.var} only copies an init", part, i))
    new = step.defines()
    if new is not None:
        if new in defined:
            issues.append(StaticIssue(ErrorKind.OVERWRITE.value, f"{new} is defined twice", part, i))
        defined.add(new)
        if isinstance(step, InitStep) or _selects_init_only(step, init_only):
            init_only.add(new)
    init_only.difference_update(step.updates())
    return issues


def _selects_init_only(step: Step, init_only: set[str]) -> bool:
    """A selection (min, max: ops.Facts.selects) of init-only values copies one of them,
    whatever the values; other identities (add(x, 0)) depend on values: execute finds them."""
    return (isinstance(step, ComputeStep) and step.facts.selects
            and all(a in init_only for a in step.args))


def check_static_all(trace: AnyTrace, experts: Mapping[str, Expert] | None = None
                     ) -> list[StaticIssue]:
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    composed = isinstance(trace, ComposedTrace)
    issues = []
    for p, part in enumerate(parts):
        expert = experts.get(part.expert) if experts is not None else None
        issues += check_static(part, expert, p if composed else None)
    return issues


# ---------------------------------------------------------------- graph shape

def commutative(op: str) -> bool:
    """Read from the op's registration (ops.Facts), so that a new op is ordered right."""
    spec = COMPUTE_OPS.get(op)
    return spec is not None and spec.facts.commutative


_HUNDRED = Fraction(100)


def _lower(step: Step) -> list[tuple[str, str, tuple[str, ...]]]:
    """Domain ops as compute ops: (output, compute_op, inputs). `#100` is a constant leaf."""
    if isinstance(step, ComputeStep):
        return [(step.var, step.compute_op, step.args)]
    if isinstance(step, PercentOfStep):
        return [("#t", "mul", (step.base, step.rate)), (step.var, "div", ("#t", "#100"))]
    if isinstance(step, PercentIncreaseStep | PercentOffStep):
        combine = "add" if isinstance(step, PercentIncreaseStep) else "sub"
        return [("#t", "mul", (step.base, step.rate)), ("#u", "div", ("#t", "#100")),
                (step.var, combine, (step.base, "#u"))]
    if isinstance(step, ConsumeStep):
        return [(step.entity, "sub", (step.entity, step.amount))]
    if isinstance(step, TransferStep):
        return [(step.source_entity, "sub", (step.source_entity, step.amount)),
                (step.to, "add", (step.to, step.amount))]
    return []


class _Graph:
    """SSA nodes: ('leaf',) or (compute_op, child node ids)."""

    def __init__(self) -> None:
        self.nodes: list[tuple[str, tuple[int, ...]]] = []

    def add(self, op: str, children: tuple[int, ...] = ()) -> int:
        self.nodes.append((op, children))
        return len(self.nodes) - 1


def _build_graph(parts: tuple[Trace, ...]) -> tuple[_Graph, int] | None:
    graph = _Graph()
    prev: int | None = None
    for part in parts:
        env: dict[str, int] = {}
        temps: dict[str, int] = {}
        for step in part.steps:
            if isinstance(step, InitStep):
                env[step.var] = prev if (step.source and prev is not None) else graph.add("leaf")
            elif isinstance(step, QueryStep):
                if step.var not in env:
                    return None
                prev = env[step.var]
            for out, op, args in _lower(step):
                ids = []
                for a in args:
                    if a == "#100":
                        ids.append(graph.add("leaf"))
                    elif a in temps:
                        ids.append(temps[a])
                    elif a in env:
                        ids.append(env[a])
                    else:
                        return None
                node = graph.add(op, tuple(ids))
                (temps if out.startswith("#") else env)[out] = node
    return (graph, prev) if prev is not None else None


def shape_of(trace: AnyTrace) -> str | None:
    """A canonical string of the computation graph reaching the answer, or None if the
    trace is not well formed. Two traces have equal shapes iff their graphs are
    isomorphic up to argument order of commutative ops (shared nodes are numbered in
    a canonical traversal, so `x*x` and `x*y` differ)."""
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    built = _build_graph(parts)
    if built is None:
        return None
    graph, root = built
    try:
        return _canonical(graph, root)
    except RecursionError:  # pathological depth: no shape rather than a crash
        return None


ASSOCIATIVE = frozenset({"add", "mul"})


def _flatten(graph: _Graph, root: int) -> _Graph:
    """`add(add(a, b), c)` and `add(a, b, c)` are one computation: merge a nested add/mul
    into its parent when nothing else uses it (GSM8K writes `a+b+c` in one line; a trace
    may take two steps)."""
    uses: dict[int, int] = {}
    stack, seen = [root], set()
    while stack:
        n = stack.pop()
        if n in seen:
            continue
        seen.add(n)
        for k in graph.nodes[n][1]:
            uses[k] = uses.get(k, 0) + 1
            stack.append(k)
    flat = _Graph()
    flat.nodes = list(graph.nodes)

    def kids_of(n: int) -> tuple[int, ...]:
        op, kids = graph.nodes[n]
        if op not in ASSOCIATIVE:
            return kids
        out: list[int] = []
        for k in kids:
            if graph.nodes[k][0] == op and uses.get(k, 0) == 1:
                out.extend(kids_of(k))
            else:
                out.append(k)
        return tuple(out)

    for n in seen:
        flat.nodes[n] = (graph.nodes[n][0], kids_of(n))
    return flat


def _canonical(graph: _Graph, root: int) -> str:
    # First a name-free signature per node (to order commutative children), then a
    # rendering that numbers every node reached twice, so sharing is part of the shape.
    graph = _flatten(graph, root)
    sig: dict[int, str] = {}

    def signature(n: int) -> str:
        if n not in sig:
            op, kids = graph.nodes[n]
            parts = [signature(k) for k in kids]
            if commutative(op):
                parts.sort()
            sig[n] = op if not kids else f"{op}({','.join(parts)})"
        return sig[n]

    signature(root)
    # How often each node is used: a shared leaf must sort the same way wherever it appears.
    indegree: dict[int, int] = {}
    for n in sig:
        for k in graph.nodes[n][1]:
            indegree[k] = indegree.get(k, 0) + 1
    order: dict[int, int] = {}

    def render(n: int) -> str:
        if n in order:
            return f"@{order[n]}"
        order[n] = len(order)
        op, kids = graph.nodes[n]
        if commutative(op):
            # Ties between equal signatures: nodes already numbered first, by number.
            kid_ids = sorted(kids, key=lambda k: (sig[k], -indegree.get(k, 0), k not in order,
                                                  order.get(k, 0)))
        else:
            kid_ids = list(kids)
        inner = ",".join(render(k) for k in kid_ids)
        return "L" if not kids else f"{op}({inner})"

    return render(root)


def op_multiset(trace: AnyTrace) -> tuple[tuple[str, int], ...]:
    """The loose shape: how many of each lowered compute op the trace uses."""
    counts: dict[str, int] = {}
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    for part in parts:
        for step in part.steps:
            for _, op, _ in _lower(step):
                counts[op] = counts.get(op, 0) + 1
    return tuple(sorted(counts.items()))
