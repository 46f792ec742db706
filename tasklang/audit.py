"""Auditing: every pattern samples and solves, lint statistics per dataset, coverage of a reference set.

Three questions the research notes answered by hand, asked of a whole task library:

1. Does every generator work? (The notes' audit found 2 of 41 schemas broken: unresolved
   template variables, `None` vocabulary values, "coinss" and "sandwichs".) Each pattern
   samples N examples; each must grade 1.0 with the runtime and render cleanly.
2. Does each dataset respect the lessons? (template repetitions, one query target and one
   step count per expert, disjoint op vocabularies, token lengths within budget.)
3. How much of a reference set (GSM8K) can the library express? Reference answers are
   converted to traces (`runtime.gsm8k.convert`); a problem is covered when some pattern
   produces a gold trace of the same computation-graph shape (`runtime.analysis.shape_of`).
   The uncovered shapes, ranked by frequency, are the patterns to write next.

Everything is deterministic for a given seed; rendering lives in `audit_report`.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from runtime import expected_expert
from runtime import grade as runtime_grade
from runtime.analysis import op_multiset, shape_of
from runtime.experts import ExpertTable
from runtime.sandbox import run_code

from . import ast, lints
from .budget import (
    ByteUpperBound,
    TokenCounter,
    TokenizerLoadError,
    allowed_picks,
    length_stats,
    make_counter,
)
from .build import Context, Failure, candidate, make_context
from .checked import Checked, datasets_of
from .checks import PatternInfo, pattern_constants, template_shares
from .compiler import CompiledPattern, DomainFn, Example, Rejected, compile_pattern, let_values
from .coverage import Coverage, coverage, mset_text
from .diagnostics import Diagnostic, apply_allows
from .expr import EvalError
from .importer import InputError, RefProblem, read_reference
from .limits import DEFAULT_LIMITS, LimitError
from .preflight import DOMAIN_CAP, PREFLIGHT, Measured, measure, measure_in, preflight_rng
from .program import Program
from .rng import StreamRandom
from .settings import MAX_REJECT_RATE, MIN_TEMPLATE_REPEATS, setting
from .version import __version__
from .vocab import Entry, Vocab

MEASURE = 1000  # draws per pattern for the rejection rate, distinct payloads and shapes
MAX_TRIES = 1000  # rejected draws tolerated for one checked sample
ENUM_LIMIT = 20_000  # assignments enumerated for an exact domain size
TOKEN_SAMPLE = 500  # examples per split drawn for the token statistics
REJECT_FAIL = float(MAX_REJECT_RATE)  # the compiler's default max_reject_rate
REJECT_WARN = 0.9
ERROR, WARNING = "error", "warning"
Progress = Callable[[str], None]


class AuditUsageError(Exception):
    """The audit cannot run: a missing path or a bad reference line (message says where)."""


# ================================================================ records


@dataclass
class Issue:
    """One kind of problem seen in a pattern's samples (counted; the first example kept)."""

    kind: str
    severity: str
    message: str
    count: int = 1
    example: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "message": self.message,
                "count": self.count, "example": self.example}


@dataclass
class DomainSize:
    """How many distinct payloads a pattern can produce, and how that was established."""

    value: int | None
    # exact (enumerated) | estimate:bound*acceptance | estimate:chao1 |
    # lower_bound:all_distinct (every sampled payload was new: far larger than the sample) | unknown
    method: str
    upper_bound: int | None = None

    @property
    def exact(self) -> bool:
        return self.method == "exact"

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "method": self.method, "exact": self.exact,
                "upper_bound": self.upper_bound}


@dataclass
class PatternAudit:
    name: str
    file: str
    line: int
    experts: tuple[str, ...]
    kind: str  # trace | text
    templates: int
    datasets: list[str] = field(default_factory=list)
    attempts: int = 0
    accepted: int = 0
    checked: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    distinct_seen: int = 0
    domain: DomainSize = field(default_factory=lambda: DomainSize(None, "unknown"))
    shapes: Counter[str] = field(default_factory=Counter)
    multisets: Counter[tuple[tuple[str, int], ...]] = field(default_factory=Counter)
    issues: dict[str, Issue] = field(default_factory=dict)
    lints: list[Diagnostic] = field(default_factory=list)  # the registry's, as check reports them

    @property
    def expert(self) -> str | None:
        return "+".join(self.experts) if self.experts else None

    @property
    def ok(self) -> bool:
        return not any(i.severity == ERROR for i in self.issues.values())

    @property
    def rejection_rate(self) -> float | None:
        return None if not self.attempts else 1 - self.accepted / self.attempts

    def add(self, kind: str, severity: str, message: str, example: str | None = None) -> None:
        issue = self.issues.get(kind)
        if issue is None:
            self.issues[kind] = Issue(kind, severity, message, 1, example)
        else:
            issue.count += 1

    def to_json(self) -> dict[str, Any]:
        rate = self.rejection_rate
        return {
            "name": self.name, "file": self.file, "line": self.line, "kind": self.kind,
            "expert": self.expert, "experts": list(self.experts), "templates": self.templates,
            "datasets": self.datasets, "ok": self.ok, "samples_checked": self.checked,
            "attempts": self.attempts, "accepted": self.accepted,
            "rejection_rate": None if rate is None else round(rate, 6),
            "rejection_reasons": dict(self.reasons.most_common(5)),
            "distinct_payloads_seen": self.distinct_seen, "domain": self.domain.to_json(),
            "shapes": dict(sorted(self.shapes.items())),
            "op_multisets": sorted(mset_text(m) for m in self.multisets),
            "issues": [i.to_json() for i in self.issues.values()],
            "lints": [d.to_json() for d in self.lints],
        }


# ================================================================ render checks


_PLACEHOLDER_LEFT = re.compile(r"\{[A-Za-z_][\w.]*(?:@\w+)?(?::\w+)*\}|\$\{\w*\}?")
_WORD = re.compile(r"[A-Za-z]+")
# Plural endings English never writes: sandwichs, dishs, boxs, quizs, glasss, candys.
_BAD_ENDING = re.compile(r"(?:sh|x|z|ss|[^aeiou]y)s$|chs$")
_CH_OK = frozenset({"stomachs", "monarchs", "epochs", "techs", "lochs", "eunuchs", "matriarchs",
                    "patriarchs", "czechs", "months"})
_IRREGULAR = frozenset({"childs", "childrens", "mens", "womens", "womans", "sheeps", "deers",
                        "feets", "teeths", "mices", "geeses", "oxes"})


class PluralChecker:
    """Broken plurals, judged against the declared inflections and simple English rules.

    A known plural followed by another s ("appless", "sacks of flours" is not caught: its head
    noun is not last), a regular ending where the vocabulary declares another plural
    ("sandwichs", "knifes", "cherrys"), "1 apples", and endings English never writes.
    """

    def __init__(self, vocabs: Iterable[Vocab]) -> None:
        doubled: set[str] = set()
        wrong: set[str] = set()
        plurals_of_one: set[str] = set()
        legit: set[str] = set()
        for vocab in vocabs:
            for entry in vocab.entries:
                values = dict(entry.fields)
                legit.update(v.lower() for v in values.values())
                singular, plural = values.get("singular"), values.get("plural")
                for key, value in values.items():
                    # Other fields ending in a single "s" are plurals too ("pages"); "glass"
                    # and "class" are singular nouns, so "glasses" is not a doubled plural.
                    if key == "plural" or (key != "singular" and value.endswith("s")
                                           and not value.endswith("ss")):
                        doubled.add(value.lower())
                if singular and plural and singular.lower() != plural.lower():
                    plurals_of_one.add(plural.lower())
                    for form in (singular + "s", singular + "es"):
                        if form.lower() != plural.lower():
                            wrong.add(form.lower())
        wrong -= legit
        self._doubled = _alternation(doubled, r"e?s")
        self._wrong = _alternation(wrong, "")
        self._one = (re.compile(r"(?<![\d.,$])\b(?:1|one)\s+(" + "|".join(
            re.escape(p) for p in sorted(plurals_of_one, key=lambda s: (-len(s), s))) + r")\b",
            re.IGNORECASE) if plurals_of_one else None)

    def problems(self, text: str) -> list[str]:
        found = []
        for regex, what in ((self._doubled, "doubled plural"), (self._wrong, "wrong plural")):
            if regex is not None:
                found += [f"{what} {m.group(0)!r}" for m in regex.finditer(text)]
        if self._one is not None:
            found += [f"plural after one: {m.group(0)!r}" for m in self._one.finditer(text)]
        for word in _WORD.findall(text):
            if not word.islower() or len(word) < 4:
                continue
            if word in _IRREGULAR or (_BAD_ENDING.search(word) and word not in _CH_OK):
                found.append(f"broken plural {word!r}")
        return list(dict.fromkeys(found))


def _alternation(words: set[str], suffix: str) -> re.Pattern[str] | None:
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=lambda s: (-len(s), s)))
    return re.compile(rf"\b(?:{body}){suffix}\b", re.IGNORECASE)


def leftover_placeholders(question: str, template_text: str) -> list[str]:
    """`{name}`-like text in a question, beyond the literal braces its template wrote (`{{x}}`)."""
    found = _PLACEHOLDER_LEFT.findall(question)
    allowed = template_text.count("{{")
    return found[allowed:] if len(found) > allowed else []


# ================================================================ one pattern


@dataclass(frozen=True)
class _Templates:
    """Per template id: its source text (for literal braces) and its language."""

    raw_text: dict[str, str]
    lang: dict[str, str | None]


def _templates(p: ast.Pattern, compiled: CompiledPattern) -> _Templates:
    pairs = list(zip(p.templates, compiled.templates, strict=True))
    return _Templates({ct.id: t.text for t, ct in pairs}, {ct.id: t.lang for t, ct in pairs})


def _check_example(pa: PatternAudit, ex: Example, texts: _Templates, table: ExpertTable,
                   plurals: PluralChecker, constants: frozenset[Fraction] = frozenset()) -> None:
    """What only a rendered, graded example shows: the gold grades 1.0, nothing is left
    unrendered, plurals are English. Numbers (negative, fractional, raw) are the lints'."""
    q = ex.question
    if ex.trace is not None:
        graded = runtime_grade(ex.completion, ex.answer, experts=table, question=ex.question,
                               expert=expected_expert(ex.expert, ex.experts),
                               constants=constants)
        if graded.reward != 1.0:
            pa.add("grade", ERROR, f"the gold completion grades {graded.status} "
                   f"(reward {graded.reward}) against its own answer {ex.answer}", q)
    elif ex.function is not None:
        ran = run_code(ex.completion, ex.function, ex.tests)
        if not ran.grade.correct:
            pa.add("grade", ERROR, f"the reference solution fails its own test cases in the "
                   f"sandbox: {ran.grade.status}, {ran.message}", q)
    elif ex.completion != ex.answer:
        pa.add("grade", ERROR, "the completion is not exactly the answer", q)
    left = leftover_placeholders(q, texts.raw_text[ex.template_id])
    if left:
        pa.add("placeholder", ERROR, f"unrendered placeholder {left[0]} ({ex.template_id})", q)
    if texts.lang[ex.template_id] is None:
        bad = plurals.problems(q)
        if bad:
            pa.add("plural", ERROR, f"{bad[0]} ({ex.template_id})", q)


def _draw(compiled: CompiledPattern, rng: StreamRandom, template_index: int | None,
          reasons: Counter[str]) -> tuple[Example | None, int]:
    """One accepted example (or None after MAX_TRIES rejections), and the draws it took."""
    templates = compiled.templates
    for tries in range(1, MAX_TRIES + 1):
        try:
            env = compiled.sample_payload(rng)
            index = rng.below(len(templates)) if template_index is None else template_index
            return compiled.realize(env, templates[index]), tries
        except Rejected as rejected:
            reasons[rejected.reason] += 1
    return None, MAX_TRIES


def _observe(pa: PatternAudit, ex: Example, payloads: Counter[tuple[tuple[str, str], ...]]) -> None:
    payloads[ex.payload] += 1
    if ex.trace is not None:
        shape = shape_of(ex.trace)
        if shape is not None:
            pa.shapes[shape] += 1
        pa.multisets[op_multiset(ex.trace)] += 1


def audit_pattern(pa: PatternAudit, p: ast.Pattern, compiled: CompiledPattern,
                  vocabs: Mapping[str, Vocab], allowed: Mapping[str, list[Entry]],
                  table: ExpertTable, plurals: PluralChecker, n: int, seed: int,
                  measured: tuple[Measured, list[Example]] | None = None) -> None:
    """Measure (MEASURE draws, or the preflight's `measured` draws and the examples they
    accepted: the lints' samples, not drawn twice), then check n samples cycling through
    every template."""
    texts = _templates(p, compiled)
    rng = StreamRandom.of(seed, "audit", p.name)
    payloads: Counter[tuple[tuple[str, str], ...]] = Counter()
    if measured is not None:
        first, kept = measured
        pa.attempts, pa.accepted = PREFLIGHT, first.accepted
        pa.reasons.update(first.reasons)
        for seen in kept:
            _observe(pa, seen, payloads)
    while pa.attempts < MEASURE:
        ex, tries = _draw(compiled, rng, None, pa.reasons)
        pa.attempts += tries
        if ex is not None:
            pa.accepted += 1
            _observe(pa, ex, payloads)
    if pa.accepted == 0:
        top = pa.reasons.most_common(1)[0][0] if pa.reasons else "?"
        pa.add("unsatisfiable", ERROR, f"every one of {pa.attempts} draws was rejected; most by "
               f"`{top}`")
        return
    for i in range(n):
        ex, tries = _draw(compiled, rng, i % len(compiled.templates), pa.reasons)
        pa.attempts += tries
        if ex is None:
            pa.add("unsatisfiable", ERROR, f"template {compiled.templates[i % len(compiled.templates)].id}: "
                   f"{MAX_TRIES} draws in a row were rejected")
            continue
        pa.accepted += 1
        pa.checked += 1
        _observe(pa, ex, payloads)
        _check_example(pa, ex, texts, table, plurals, compiled.constants)
    rate = pa.rejection_rate or 0.0
    if rate > REJECT_FAIL:
        pa.add("near-unsatisfiable", ERROR, f"{rate:.1%} of draws rejected (the compiler's limit "
               f"is {REJECT_FAIL:.0%})")
    elif rate > REJECT_WARN:
        pa.add("high-rejection", WARNING, f"{rate:.1%} of draws rejected")
    pa.distinct_seen = len(payloads)
    pa.domain = domain_size(p, compiled, vocabs, allowed, payloads, 1 - rate)


# ================================================================ domain size


class _TooBig(Exception):
    pass


def _bound(p: ast.Pattern, fns: list[DomainFn]) -> int | None:
    """Product of the constant let domains (before constraints), None if some depend on others."""
    size = 1
    for let, fn in zip(p.lets, fns, strict=True):
        if isinstance(let.sampler, ast.Derived):
            continue
        try:
            size = min(size * len(fn({})), DOMAIN_CAP)  # thirty lets of 10**12: no 10**360
        except (EvalError, LimitError, KeyError, TypeError, ZeroDivisionError):
            return None
    return size


def _producible(compiled: CompiledPattern, env: dict[str, Any]) -> bool:
    """Whether a payload passes its constraints and realises with at least one template."""
    for _, test, uses_answer in compiled.requires:
        if uses_answer:
            continue
        try:
            if not test(env):
                return False
        except (EvalError, LimitError):
            return False
    for template in compiled.templates:
        try:
            compiled.realize(dict(env), template)
            return True
        except Rejected as rejected:
            if not rejected.reason.startswith("template"):
                return False
    return False


def _enumerate(p: ast.Pattern, compiled: CompiledPattern, fns: list[DomainFn], limit: int) -> int:
    """Exact count of producible payloads; raises _TooBig past `limit` assignments."""
    count = leaves = 0
    names = [let.name for let in p.lets]

    def walk(i: int, env: dict[str, Any]) -> None:
        nonlocal count, leaves
        if i == len(names):
            leaves += 1
            if leaves > limit:
                raise _TooBig
            count += _producible(compiled, env)
            return
        try:
            values = fns[i](env)
        except (EvalError, LimitError, KeyError, TypeError, ZeroDivisionError):
            return  # the sampler rejects here as well
        for value in values:
            env[names[i]] = value
            walk(i + 1, env)
        env.pop(names[i], None)

    walk(0, {})
    return count


def _chao1(payloads: Counter[Any]) -> int:
    """Species-richness estimate from sample frequencies (bias-corrected Chao1)."""
    f1 = sum(1 for c in payloads.values() if c == 1)
    f2 = sum(1 for c in payloads.values() if c == 2)
    return len(payloads) + math.ceil(f1 * (f1 - 1) / (2 * (f2 + 1)))


def domain_size(p: ast.Pattern, compiled: CompiledPattern, vocabs: Mapping[str, Vocab],
                allowed: Mapping[str, list[Entry]], payloads: Counter[Any],
                acceptance: float) -> DomainSize:
    # A let with a `where` or a hidden one is not enumerated: the count would be of
    # assignments, not of the distinct visible payloads that pass (sampling estimates them).
    fns = [None if let.where is not None or let.hidden else let_values(let, vocabs, allowed)
           for let in p.lets]
    if all(fn is not None for fn in fns):
        known = [fn for fn in fns if fn is not None]
        bound = _bound(p, known)
        if bound is None or bound <= ENUM_LIMIT:
            try:
                return DomainSize(_enumerate(p, compiled, known, ENUM_LIMIT), "exact", bound)
            except _TooBig:
                pass
        if bound is not None:
            return DomainSize(round(bound * Fraction(acceptance)), "estimate:bound*acceptance",
                              bound)
    if payloads and all(c == 1 for c in payloads.values()):
        return DomainSize(len(payloads), "lower_bound:all_distinct")
    return DomainSize(_chao1(payloads), "estimate:chao1")


# ================================================================ datasets


@dataclass
class DatasetAudit:
    name: str
    file: str
    line: int
    skipped: str | None = None
    token_method: str = ""
    token_exact: bool = False
    token_sample: int = 0
    sizes: dict[str, int] = field(default_factory=dict)
    prompt_tokens: list[int] = field(default_factory=list)
    completion_tokens: list[int] = field(default_factory=list)
    template_repeats: list[dict[str, Any]] = field(default_factory=list)
    min_repeats: int = MIN_TEMPLATE_REPEATS
    query_targets: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    step_counts: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    overlaps: list[dict[str, Any]] = field(default_factory=list)
    max_length: int = 0
    max_new_tokens: int = 0

    @property
    def warnings(self) -> list[str]:
        out = [f"{r['template']} in {r['split']}: about {r['per_template']:.1f} examples"
               for r in self.template_repeats if r["few"]]
        out += [f"expert {e} queries {', '.join(sorted(t))}"
                for e, t in self.query_targets.items() if len(t) > 1]
        out += [f"expert {e} has patterns of {', '.join(sorted(c, key=int))} steps"
                for e, c in self.step_counts.items() if len(c) > 1]
        out += [f"experts {' and '.join(o['experts'])} share ops {', '.join(o['ops'])}"
                for o in self.overlaps]
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "file": self.file, "line": self.line, "skipped": self.skipped,
            "splits": self.sizes,
            "tokens": {"method": self.token_method, "exact": self.token_exact,
                       "sampled_examples": self.token_sample,
                       "max_length": self.max_length, "max_new_tokens": self.max_new_tokens,
                       "prompt": length_stats(self.prompt_tokens),
                       "completion": length_stats(self.completion_tokens)},
            "min_template_repeats": self.min_repeats, "template_repeats": self.template_repeats,
            "query_targets": self.query_targets, "step_counts": self.step_counts,
            "op_overlaps": self.overlaps, "warnings": self.warnings,
        }


def _counter_for(ds: ast.Dataset, program: Program) -> tuple[TokenCounter, str | None]:
    spec = setting(ds, "tokenizer")
    try:
        return make_counter(spec.value if spec else None, Path(ds.span.file).parent,  # type: ignore[arg-type]
                            program.confinement), None
    except TokenizerLoadError as err:
        return ByteUpperBound(), f"{err}; counted UTF-8 bytes instead"


def _template_repeats(da: DatasetAudit, checked: Checked, ds: ast.Dataset) -> None:
    """One row per template, from the rule check warns by (checks.template_shares)."""
    assert checked.result is not None
    facts = template_shares(ds, checked.result.patterns)
    da.min_repeats = facts.min_repeats
    for share in facts.shares:
        for tid in share.templates:
            da.template_repeats.append({
                "pattern": share.pattern, "template": tid, "split": share.split,
                "language": share.language or "en",
                "per_template": round(float(share.per_template), 2),
                "few": share.per_template < facts.min_repeats})


def _per_expert(ds: ast.Dataset, infos: Mapping[str, PatternInfo]
                ) -> tuple[dict[str, dict[str, list[str]]], dict[str, dict[str, list[str]]]]:
    targets: dict[str, dict[str, list[str]]] = {}
    steps: dict[str, dict[str, list[str]]] = {}
    for w in ds.patterns:
        info = infos[w.pattern]
        for expert, target, count in zip(info.experts, info.query_targets, info.step_counts,
                                         strict=True):
            targets.setdefault(expert, {}).setdefault(target, []).append(w.pattern)
            steps.setdefault(expert, {}).setdefault(str(count), []).append(w.pattern)
    return targets, steps


def _token_lengths(da: DatasetAudit, ctx: Context) -> None:
    prompts: list[tuple[str, str]] = []
    completions: list[str] = []
    for split in ctx.splits:
        for index in range(min(int(split.size), TOKEN_SAMPLE)):
            got = candidate(ctx, split.name, index, 0)
            if isinstance(got, Failure):
                continue
            prompts.append((ctx.settings.system, got.question))
            completions.append(got.completion)
    da.prompt_tokens = ctx.counter.prompt_lengths(prompts)
    da.completion_tokens = ctx.counter.text_lengths(completions)
    da.token_sample = len(prompts)


def audit_dataset(ds: ast.Dataset, checked: Checked, errors: list[Diagnostic]) -> DatasetAudit:
    da = DatasetAudit(ds.name, ds.span.file, ds.span.line)
    assert checked.result is not None
    infos = checked.result.patterns
    broken = [w.pattern for w in ds.patterns if w.pattern not in infos or not infos[w.pattern].ok]
    inside = [d for d in errors if d.span.file == ds.span.file
              and ds.span.line <= d.span.line <= ds.span.end_line]
    if broken or inside:
        da.skipped = ("patterns with errors: " + ", ".join(broken)) if broken else \
            f"the dataset has errors ({inside[0].headline()})"
        return da
    counter, note = _counter_for(ds, checked.program)
    ctx = make_context(checked.program, checked.result, ds, counter)
    da.token_method = counter.description + (f" ({note})" if note else "")
    da.token_exact = counter.exact
    da.max_length, da.max_new_tokens = ctx.settings.max_length, ctx.settings.max_new_tokens
    da.sizes = {s.name: int(s.size) for s in ds.splits}
    _template_repeats(da, checked, ds)
    da.query_targets, da.step_counts = _per_expert(ds, infos)
    used = {e for p in ctx.patterns for e in p.experts}
    da.overlaps = [{"experts": [a, b], "ops": sorted(ops)}
                   for (a, b), ops in checked.result.table.overlaps().items()
                   if a in used and b in used]
    _token_lengths(da, ctx)
    return da


# ================================================================ the whole audit


@dataclass
class AuditReport:
    paths: list[str]
    n: int
    seed: int
    patterns: list[PatternAudit]
    datasets: list[DatasetAudit]
    diagnostics: list[Diagnostic]
    sources: dict[str, str]
    coverage: Coverage | None = None

    @property
    def failing(self) -> list[str]:
        return [p.name for p in self.patterns if not p.ok]

    @property
    def ok(self) -> bool:
        return not self.failing and not any(d.is_error for d in self.diagnostics)

    def to_json(self) -> dict[str, Any]:
        cov = self.coverage
        out: dict[str, Any] = {
            "tool": "tasklang", "version": __version__, "paths": self.paths,
            "samples_per_pattern": self.n, "seed": self.seed, "ok": self.ok,
            "patterns": [p.to_json() for p in self.patterns],
            "failing_patterns": self.failing,
            "datasets": [d.to_json() for d in self.datasets],
            "diagnostics": [d.to_json() for d in self.diagnostics if d.is_error],
            "reference": None, "expressible_fraction": None, "coverage_fraction": None,
            "loose_coverage_fraction": None, "uncovered_shapes": [],
            "uncovered_shape_count": 0, "coverage_by_expert": {}, "coverage_by_pattern": {},
        }
        if cov is not None:
            out.update(cov.to_json(self.patterns))
        return out


def _selected_patterns(checked: Checked) -> list[ast.Pattern]:
    """Patterns of the files named, and those the named files' datasets list."""
    program = checked.program
    roots = set(program.roots)
    names = {p.name for p in program.patterns.values() if p.span.file in roots}
    for ds in datasets_of(checked):
        names |= {w.pattern for w in ds.patterns if w.pattern in program.patterns}
    chosen = [program.patterns[n] for n in names]
    return sorted(chosen, key=lambda p: (p.span.file, p.span.line, p.name))


def run_audit(checked: Checked, paths: list[str], against: str | None = None, n: int = 50,
              seed: int = 0, top: int = 50, progress: Progress | None = None) -> AuditReport:
    """The whole audit of a checked program (`paths`: what was named, for the report).
    Raises AuditUsageError for missing paths or a bad reference file."""
    say = progress or (lambda msg: None)
    problems: list[RefProblem] | None = None
    if against is not None:
        try:
            problems = read_reference(against)
        except InputError as err:
            raise AuditUsageError(str(err)) from None
    missing = [d for d in checked.diagnostics if d.code in ("missing-file", "no-task-files")]
    if missing:
        raise AuditUsageError("; ".join(d.message for d in missing))
    errors = [d for d in checked.diagnostics if d.is_error]
    report = AuditReport(list(paths), n, seed, [], [], errors, checked.sources)
    if checked.result is None:
        return report
    program = checked.program
    datasets = datasets_of(checked)
    listed: dict[str, list[str]] = {}
    for ds in datasets:
        for w in ds.patterns:
            listed.setdefault(w.pattern, []).append(ds.name)
    plurals = PluralChecker(program.vocabs.values())
    chosen = _selected_patterns(checked)
    contexts = _Contexts(checked)
    say(f"auditing {len(chosen)} pattern(s), {n} checked samples each")
    for i, p in enumerate(chosen, start=1):
        say(f"[{i}/{len(chosen)}] {p.name}")
        report.patterns.append(_audit_one(p, checked, listed.get(p.name, []), datasets,
                                          contexts, plurals, n, seed))
    for ds in datasets:
        say(f"dataset {ds.name}: lint statistics and token lengths")
        try:
            report.datasets.append(audit_dataset(ds, checked, errors))
        except Exception as err:  # noqa: BLE001 - one dataset must not stop the audit
            report.datasets.append(DatasetAudit(ds.name, ds.span.file, ds.span.line,
                                                skipped=f"internal error: {type(err).__name__}: "
                                                        f"{err}"))
    if problems is not None and against is not None:
        say(f"coverage of {against}: converting {len(problems)} reference answers")
        report.coverage = coverage(against, problems, report.patterns, top)
    return report


class _Contexts:
    """Each dataset's generation context, made once: a listed pattern is audited as the
    dataset compiles it (its picks filtered by the dataset's tokenizer, its limits and
    constants), and its lints measured on the preflight's own stream."""

    def __init__(self, checked: Checked) -> None:
        self.checked = checked
        self.made: dict[str, Context] = {}

    def of(self, ds: ast.Dataset) -> Context:
        ctx = self.made.get(ds.name)
        if ctx is None:
            assert self.checked.result is not None
            counter = _counter_for(ds, self.checked.program)[0]
            ctx = self.made[ds.name] = make_context(self.checked.program, self.checked.result,
                                                    ds, counter, ordered=False)
        return ctx


def _audit_one(p: ast.Pattern, checked: Checked, in_datasets: list[str],
               datasets: list[ast.Dataset], contexts: _Contexts, plurals: PluralChecker,
               n: int, seed: int) -> PatternAudit:
    assert checked.result is not None
    info = checked.result.patterns.get(p.name)
    experts = tuple(b.expert for b in p.traces)
    pa = PatternAudit(p.name, p.span.file, p.span.line, experts,
                      "trace" if p.traces else "text", len(p.templates), in_datasets)
    if info is None or not info.ok:
        pa.add("check", ERROR, "the pattern has check errors (run `tasklang check`)")
        return pa
    ds = next((d for d in datasets if d.name in in_datasets), None)
    program = checked.program
    kept: list[Example] = []
    try:
        if ds is None:
            counter: TokenCounter = ByteUpperBound()
            loaded = program.references.get(p.name)
            compiled = compile_pattern(p, program.vocabs, checked.result.table,
                                       program.sources.get(p.span.file),
                                       allowed_picks(p, program, counter),
                                       None if loaded is None else loaded.text,
                                       constants=pattern_constants(program).get(p.name,
                                                                                frozenset()))
            measured = measure(compiled, p, program.vocabs, preflight_rng(seed, "audit", p.name),
                               DEFAULT_LIMITS.max_preflight_seconds, p.span, kept)
        else:
            ctx = contexts.of(ds)
            compiled = next(c for c in ctx.patterns if c.name == p.name)
            counter = ctx.counter
            w = next(w for w in ds.patterns if w.pattern == p.name)
            measured = measure_in(ctx, compiled, program, w.span, kept)
        _add_lints(pa, measured, checked)
        audit_pattern(pa, p, compiled, program.vocabs, allowed_picks(p, program, counter),
                      checked.result.table, plurals, n, seed,
                      None if isinstance(measured, Diagnostic) else (measured, kept))
    except Exception as err:  # noqa: BLE001 - a generator that crashes fails its audit
        pa.add("crash", ERROR, f"sampling raised {type(err).__name__}: {err}")
    return pa


def _add_lints(pa: PatternAudit, measured: Measured | Diagnostic, checked: Checked) -> None:
    """The registry's lints (lints.LINTS) as issues, measured as check and compile measure
    them; `# allow: CODE` on the line drops a warning here as it does there."""
    if isinstance(measured, Diagnostic):
        diags = [measured]
    elif measured.accepted == 0:
        return  # the audit's own draws report it unsatisfiable
    else:
        diags = lints.run(measured.facts)
    kept, _ = apply_allows(diags, checked.sources)
    for d in kept:
        pa.lints.append(d)
        pa.add(d.code, str(d.severity), d.message, d.notes[0].removeprefix("e.g. ")
               if d.notes and d.notes[0].startswith("e.g. ") else None)
