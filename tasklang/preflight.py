"""Preflight: sample each pattern of a dataset before anything is ordered or written.

It measures what `check` and `compile` need before a build: the rejection rate (an
unsatisfiable pattern is reported at the statement that rejects most), the domain size
against the request, and the facts the lints read (lints.PatternFacts: the values each let
took, accepted or not, and what the accepted samples rendered and computed). The audit
measures a pattern with the same function and the same seed, so all three report the same
lint codes.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

from runtime.ops import Value
from runtime.trace import ComposedTrace, Trace

from . import ast, lints
from .compiler import CompiledPattern, Example, Rejected, let_values
from .diagnostics import Diagnostic, Span, error
from .expr import EvalError, constant_number
from .formats import Labelled, Placeholder, parse_template
from .limits import LimitError, Limits, exceeded
from .program import Program
from .rng import StreamRandom
from .settings import Settings
from .splits import allocate
from .vocab import Vocab


class Plan(Protocol):
    """What the preflight reads of a dataset's generation context (build.Context is one;
    a protocol, so this module does not import build, which imports it)."""

    name: str
    settings: Settings
    patterns: list[CompiledPattern]
    weights: list[tuple[str, Fraction]]
    splits: list[ast.SplitDecl]
    limits: Limits

PREFLIGHT = 1000  # samples per pattern to measure rejection rates
DOMAIN_CAP = 10**30  # domain sizes count up to here: more than any dataset could ask
INTERMEDIATES = 100  # accepted samples whose gold traces are replayed for their values
MAX_LISTED = 1000  # a let's declared values are listed (for the lints) up to this many


def preflight_rng(seed: int, dataset: str, pattern: str) -> StreamRandom:
    """The preflight's stream for a pattern of a dataset (the audit draws the same)."""
    return StreamRandom.of(seed, dataset, pattern, "preflight")


# ---------------------------------------------------------------- measuring


@dataclass
class Measured:
    """What PREFLIGHT samples of a pattern showed."""

    accepted: int
    reasons: Counter[str]
    distinct: int  # distinct visible payloads
    facts: lints.PatternFacts


def measure(pattern: CompiledPattern, p: ast.Pattern, vocabs: Mapping[str, Vocab],
            rng: StreamRandom, seconds: float,
            span: Span, keep: list[Example] | None = None) -> Measured | Diagnostic:
    """PREFLIGHT draws of a pattern, or the diagnostic of a limit: a value too large, or
    more than `seconds` of sampling (reported at `span`, the dataset's line for it)."""
    reasons: Counter[str] = Counter()
    seen: set[tuple[tuple[str, str], ...]] = set()
    tally = _Tally(p, pattern, vocabs)
    accepted = 0
    deadline = time.monotonic() + seconds
    for i in range(PREFLIGHT):
        if time.monotonic() > deadline:
            return exceeded("max_preflight_seconds", f"{pattern.name}: preflight sampling took "
                            f"more than {seconds} s ({i} of {PREFLIGHT} samples)", span,
                            "a sample this slow makes a dataset take hours: fewer test cases, "
                            "smaller values or simpler constraints")
        env: dict[str, Any] = {}
        try:
            pattern.sample_payload(rng, env)
            example = pattern.realize(env, pattern.templates[rng.below(len(pattern.templates))])
        except Rejected as r:
            reasons[r.reason] += 1
            tally.draw(env, None)
            continue
        except LimitError as err:
            return err.diagnostic(pattern.name)
        accepted += 1
        if keep is not None:
            keep.append(example)
        seen.add(tuple(sorted(pattern.payload(env))))  # the visible payload
        tally.draw(env, example)
    return Measured(accepted, reasons, len(seen), tally.facts(PREFLIGHT))


_HOW_MANY = re.compile(r"\bhow many\s+([a-z]+)", re.IGNORECASE)
# "How many hours ..." asks for a measure, which may well be 2.5: not a count of things.
_MEASURES = frozenset({
    "seconds", "minutes", "hours", "days", "weeks", "months", "years", "dollars", "cents", "euros",
    "pounds", "ounces", "grams", "kilograms", "kg", "miles", "kilometers", "km", "meters", "feet",
    "inches", "yards", "liters", "litres", "gallons", "quarts", "pints", "cups", "tablespoons",
    "teaspoons", "percent", "degrees", "calories", "times", "more", "fewer", "less"
})
# Nouns a number before which is a count (`{n} people`): whole, whatever the arithmetic.
_COUNT_NOUNS = frozenset({
    "people", "persons", "children", "kids", "students", "pupils", "nurses", "doctors", "workers",
    "employees", "friends", "guests", "players", "members", "visitors", "passengers", "boys", "girls",
    "men", "women", "adults", "teachers", "customers", "attendees", "volunteers", "dogs", "cats",
    "animals", "birds", "cows", "sheep", "chickens", "horses", "pets", "cars", "trucks", "houses",
    "rooms", "books", "pages", "items", "toys", "eggs"
})
_WORD_AFTER = re.compile(r"\s+([A-Za-z]+)")


def _discrete_names(p: ast.Pattern) -> set[str]:
    """Lets shown as counts: `{thing@n}` counts n; `{n} people` or `{n} {fruit.plural}`."""
    out: set[str] = set()
    for t in p.templates:
        parts = parse_template(t.text).parts
        for i, part in enumerate(parts):
            if not isinstance(part, Placeholder):
                continue
            if part.count is not None:
                out.add(part.count)
            if len(part.path) != 1 or part.formats or i + 1 >= len(parts):
                continue
            after = parts[i + 1]
            if isinstance(after, str):
                m = _WORD_AFTER.match(after)
                if m and m.group(1).lower() in _COUNT_NOUNS:
                    out.add(part.path[0])
            elif after.path[-1:] == ("plural",):
                out.add(part.path[0])
    return out


def _declared(let: ast.Let, vocabs: Mapping[str, Vocab]
              ) -> tuple[tuple[Any, ...] | None, tuple[Fraction, Fraction] | None]:
    """(the values a let can take, listed; its numeric bounds), when they are fixed."""
    s = let.sampler
    if let.where is not None or not isinstance(s, ast.IntRange | ast.DecimalRange | ast.Choice):
        return None, None
    size = _let_domain(s, None)
    fn = let_values(let, vocabs, {})  # ranges and choices: no entries
    if fn is None:
        return None, None
    try:
        values = fn({}) if size is None or size <= MAX_LISTED * 100 else None
    except (EvalError, LimitError, KeyError, TypeError, ZeroDivisionError):
        return None, None  # bounds read other lets: not fixed
    if values is None or not len(values):
        return None, None
    bounds = None
    if isinstance(s, ast.IntRange | ast.DecimalRange):
        bounds = (Fraction(values[0]), Fraction(values[-1]))
    listed = tuple(values) if len(values) <= MAX_LISTED else None
    return listed, bounds


# The value types the lints count (numbers and text; entries and structures are not).
_KEPT = frozenset({int, Fraction, str, Labelled})


class _Recorder:
    """A trace execution state that remembers every value a step computes (runtime.ops.Env)."""

    def __init__(self, prev: Value | None) -> None:
        self.prev = prev
        self.init_only: set[str] = set()
        self.values: dict[str, Value] = {}
        self.computed: list[tuple[str, Fraction]] = []

    def read(self, name: str) -> Value:
        return self.values[name]

    def define(self, name: str, value: Value, *, init_only: bool) -> None:
        self.values[name] = value
        if init_only:
            self.init_only.add(name)
        else:
            self.computed.append((name, Fraction(value)))

    def update(self, name: str, value: Value, *, copy: bool = False) -> None:
        self.values[name] = value
        self.computed.append((name, Fraction(value)))


def _writes_negative(node: object) -> bool:
    """Whether a trace block holds a negative constant (`init c = -3`, or `mul(x, -3)`,
    lowered to such an init)."""
    if isinstance(node, ast.TConst | ast.Num):
        return node.value < 0
    if isinstance(node, tuple | list):
        return any(_writes_negative(x) for x in node)
    fields = getattr(node, "__dataclass_fields__", None)
    return fields is not None and any(
        _writes_negative(getattr(node, f)) for f in fields if f != "span")


def intermediates(trace: Trace | ComposedTrace) -> tuple[tuple[str, Fraction], ...]:
    """Every value the gold trace's steps compute, in order, but the answer (a gold trace
    executes; the answer has its own lints)."""
    out: list[tuple[str, Fraction]] = []
    prev: Value | None = None
    parts = trace.parts if isinstance(trace, ComposedTrace) else (trace,)
    for i, part in enumerate(parts):
        rec = _Recorder(prev)
        try:
            for step in part.steps:
                step.apply(rec)  # type: ignore[arg-type]
        except Exception:  # noqa: BLE001 - a value the runtime refuses: execute reports it
            break
        query = getattr(part.steps[-1], "var", "")
        last = i == len(parts) - 1
        out += [(n, v) for n, v in rec.computed if not (last and n == query)]
        prev = rec.values.get(query)
    return tuple(out)


class _Tally:
    """The counts behind lints.PatternFacts, kept while sampling."""

    def __init__(self, p: ast.Pattern, compiled: CompiledPattern, vocabs: Mapping[str, Vocab]
                 ) -> None:
        self.p, self.compiled = p, compiled
        # (the lets drawn, their values) -> draws; accepted ones in `kept` as well
        self.draws: Counter[tuple[tuple[str, ...], tuple[Any, ...]]] = Counter()
        self.kept: Counter[tuple[tuple[str, ...], tuple[Any, ...]]] = Counter()
        self.declared = {let.name: _declared(let, vocabs) for let in p.lets}
        self.samples: list[lints.Sample] = []

    def draw(self, env: Mapping[str, Any], example: Example | None) -> None:
        # This runs for every preflight draw: counting a tuple of the kept values per draw
        # is cheaper than two counters per let; facts() splits them per let.
        values = tuple(v if type(v) in _KEPT else None for v in env.values())
        self.draws[tuple(env), values] += 1
        if example is not None:
            self.kept[tuple(env), values] += 1
            self.samples.append(self._sample(example))

    def _per_let(self, joint: Counter[tuple[tuple[str, ...], tuple[Any, ...]]]
                 ) -> dict[str, Counter[Any]]:
        out: dict[str, Counter[Any]] = {let.name: Counter() for let in self.p.lets}
        for (names, values), n in joint.items():
            for name, value in zip(names, values, strict=True):
                if value is not None and name in out:
                    out[name][value] += n
        return out

    def _sample(self, ex: Example) -> lints.Sample:
        answer: Fraction | None = None
        inter: tuple[tuple[str, Fraction], ...] = ()
        text = ex.answer.replace(",", "")
        if ex.function is None:
            try:  # most answers are whole: int() is ten times faster than Fraction(text)
                answer = Fraction(int(text)) if text.lstrip("-").isdigit() else Fraction(text)
            except (ValueError, ZeroDivisionError):
                answer = None
        replayed = False
        if ex.gold is not None and len(self.samples) < INTERMEDIATES:
            inter, replayed = intermediates(ex.gold()), True
        m = _HOW_MANY.search(ex.question)
        asks = m is not None and m.group(1).lower() not in _MEASURES
        return lints.Sample(ex.template_id, ex.question, answer, text, inter, replayed,
                            ex.raw_floats, asks)

    def facts(self, draws: int) -> lints.PatternFacts:
        p, compiled = self.p, self.compiled
        discrete = _discrete_names(p)
        drawn, accepted = self._per_let(self.draws), self._per_let(self.kept)
        order = {let.name: i for i, let in enumerate(p.lets)}
        lets = []
        negatives = decimals = False
        for let in p.lets:
            listed, bounds = self.declared[let.name]
            # numbers only: a choice may also list text, records (`{name: .., price: ..}`)
            nums = [v for v in listed or () if type(v) is int or type(v) is Fraction]
            negatives = negatives or isinstance(let.sampler, ast.Generate) or any(
                v < 0 for v in (*nums, *(bounds or ())))
            decimals = decimals or isinstance(let.sampler, ast.DecimalRange) or any(
                type(v) is not int and v.denominator != 1 for v in nums)
            lets.append(lints.LetFacts(
                let.name, let.span, listed, bounds,
                tuple(drawn[let.name].items()), tuple(accepted[let.name].items()),
                let.name in discrete, let.where is not None))
        # A trace that writes a negative constant (`mul(wrong, -3)`) means its negatives.
        negatives = negatives or _writes_negative(p.traces)
        formats = {f for t in p.templates for ph in parse_template(t.text).placeholders
                   for f in ph.formats}
        decimals = decimals or "money" in formats
        requires = []
        names = compiled.requires_names or [frozenset()] * len(compiled.requires)
        for (text, _, _), reads in zip(compiled.requires, names, strict=True):
            ordered = tuple(sorted((n for n in reads if n in order), key=order.__getitem__))
            requires.append(lints.RequireFacts(text, compiled.reason_span(f"require {text}")
                                               or p.span, ordered))
        templates = tuple((ct.id, t.span) for ct, t in zip(compiled.templates, p.templates,
                                                           strict=True))
        return lints.PatternFacts(p.name, p.span, tuple(lets), tuple(requires), templates,
                                  tuple(self.samples), draws, negatives, decimals,
                                  bool(p.traces))



def _domain_size(p: ast.Pattern, program: Program, pick_sizes: dict[str, int]) -> int | None:
    """Distinct payloads before constraints, when every sampled let has a fixed finite domain.

    Picks count the entries left after `max_tokens` filtering, not the whole vocabulary.
    """
    size = 1
    for let in p.lets:
        s = let.sampler
        if isinstance(s, ast.Derived):
            continue
        if let.where is not None:  # fewer values than the sampler's: unknown in advance
            return None
        n = pick_sizes.get(let.name) if isinstance(s, ast.Pick) else _let_domain(s, program)
        if n is None:
            return None
        size = min(size * n, DOMAIN_CAP)  # thirty lets of 10**12 values: no 10**360
    return size


def _let_domain(s: ast.Sampler, program: Program | None) -> int | None:
    if isinstance(s, ast.IntRange | ast.DecimalRange):
        lo, hi = constant_number(s.lo), constant_number(s.hi)
        step = Fraction(1) if s.step is None else constant_number(s.step)
        if lo is None or hi is None or step is None or step <= 0:
            return None
        return max(0, int((hi - lo) / step) + 1)
    if isinstance(s, ast.Choice):
        return len(s.items)
    if isinstance(s, ast.Pick) and program is not None:
        vocab = program.vocabs.get(s.vocab)
        return None if vocab is None else len(vocab.entries)
    return None


def preflight(ctx: Plan, program: Program, ds: ast.Dataset,
              keep: list[Example] | None = None) -> list[Diagnostic]:
    """Measure each pattern's rejection rate and check its domain against the request;
    then the lints (lints.LINTS) over what the samples showed.

    Runs before any split is ordered: it needs only the counts per pattern, so an
    unsatisfiable pattern is reported before anything the size of a split is allocated.
    A pattern rejected by one statement more than any other is reported at that statement
    (the `require`, let or template), with the dataset line as a note. `keep` collects the
    accepted samples (sampled_checks measures them)."""
    diags = []
    by_name = {w.pattern: w for w in ds.patterns}
    totals = {name: 0 for name, _ in ctx.weights}
    for split in ctx.splits:
        for (name, _), n in zip(ctx.weights, allocate(int(split.size), ctx.weights), strict=True):
            totals[name] += n
    for pattern in ctx.patterns:
        w = by_name[pattern.name]
        sampled = measure_in(ctx, pattern, program, w.span, keep)
        if isinstance(sampled, Diagnostic):
            diags.append(sampled)
            continue
        never = [s for s in pattern.where_stats.values() if s.draws and not s.hits]
        if never:  # the let named, at its condition, rather than "every sample was rejected"
            diags += [error("unsatisfiable", f"{pattern.name}: no value of let {s.let} meets "
                            f"`where {s.text}` (in {s.draws} draws)", s.span,
                            "widen the let's range, or loosen the condition") for s in never]
            continue
        found = rejection_diagnostics(pattern, sampled, ds, w, ctx.settings.max_reject_rate)
        diags += found
        if any(d.code == "unsatisfiable" for d in found):
            continue
        diags += _domain_check(pattern, program, ds, totals[pattern.name],
                               sampled.accepted / PREFLIGHT, sampled.distinct, w)
        diags += lints.run(sampled.facts)
    return diags


def measure_in(ctx: Plan, pattern: CompiledPattern, program: Program, span: Span,
               keep: list[Example] | None = None) -> Measured | Diagnostic:
    """`measure` with the dataset's stream, picks and time limit (the audit calls it too)."""
    p = program.patterns[pattern.name]
    rng = preflight_rng(ctx.settings.seed, ctx.name, pattern.name)
    return measure(pattern, p, program.vocabs, rng, ctx.limits.max_preflight_seconds, span,
                   keep)


def rejection_diagnostics(pattern: CompiledPattern, sampled: Measured, ds: ast.Dataset,
                          w: ast.Weighted, max_rate: Fraction) -> list[Diagnostic]:
    """`unsatisfiable` when no sample passed, `near-unsatisfiable` past max_reject_rate."""
    reasons = sampled.reasons
    rate = 1 - sampled.accepted / PREFLIGHT
    top = reasons.most_common(1)[0] if reasons else ("", 0)
    span, listed = _rejection_span(pattern, top[0], ds, w)
    if sampled.accepted == 0:
        return [error("unsatisfiable", f"{pattern.name}: every one of {PREFLIGHT} samples "
                      f"was rejected; most by `{top[0]}` ({top[1]} times)", span,
                      *[f"{r}: {n}" for r, n in reasons.most_common(4)], *listed)]
    if rate > max_rate:
        return [error("near-unsatisfiable", f"{pattern.name}: {rate:.1%} of samples "
                      f"rejected (limit {float(max_rate):.0%}); most by `{top[0]}`", span,
                      *[f"{r}: {n}" for r, n in reasons.most_common(4)], *listed,
                      help=f"derive values that meet `{top[0]}` instead of drawing "
                      "and rejecting them, or raise max_reject_rate")]
    return []


def _rejection_span(pattern: CompiledPattern, reason: str, ds: ast.Dataset, w: ast.Weighted
                    ) -> tuple[Span, tuple[str, ...]]:
    """Where a rejection is reported: the statement that rejects most, with a note on the
    dataset line listing the pattern; the dataset line itself when no statement is named."""
    at = pattern.reason_span(reason) if reason else None
    if at is None:
        return w.span, ()
    return at, (f"dataset {ds.name} lists {pattern.name} at {w.span.file}:{w.span.line}",)


def _domain_check(pattern: CompiledPattern, program: Program, ds: ast.Dataset, asked: int,
                  acceptance: float, seen: int, w: ast.Weighted) -> list[Diagnostic]:
    p = program.patterns[pattern.name]
    size = _domain_size(p, program, pattern.pick_sizes)
    largest = max((int(s.size) for s in ds.splits), default=0)
    need = asked if ds.unique_payloads else max(1, asked - largest + 1)
    if size is not None:
        estimate = int(size * Fraction(acceptance))  # exact: a domain can pass any float
        if need > size or need > max(estimate, 1):
            return [error("domain-too-small", f"{pattern.name} can produce "
                          f"{'at most ' + str(size) if need > size else 'about ' + str(estimate)} "
                          f"distinct payloads; the dataset needs {need} distinct ones", w.span,
                          "widen ranges or vocabularies, or lower the split sizes")]
    elif seen < PREFLIGHT * acceptance * 0.5 and need > seen * 2:
        return [error("domain-too-small", f"{pattern.name}: only {seen} distinct payloads in "
                      f"{PREFLIGHT} samples; the dataset needs {need}", w.span)]
    return []


