"""Building a dataset: sample every split, refuse leaks and truncation, stream JSONL, write the manifest.

Output goes to a folder inside the compile's staging folder (files.staged_output), which
api.compile_paths switches into place only when everything passed: a failed compile leaves
nothing behind, and a killed one leaves every dataset as it was (old or new, complete).
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import shutil
from array import array
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import cached_property
from pathlib import Path
from typing import Any, TextIO

from runtime.experts import COMPOSITION
from runtime.numbers import format_number

from . import ast, lints
from .budget import EOS_TOKENS, TokenCounter, TokenizerLoadError, allowed_picks, length_stats, make_counter
from .card import dataset_card
from .checks import CheckResult, dataset_constants, dataset_limits
from .code_answers import bind_splits
from .code_verify import verify_references
from .compiler import CompiledPattern, CompiledTemplate, Example, Rejected, compile_pattern
from .confine import Confinement, resolve_named_file
from .decontaminate import DEFAULT_NGRAM, Benchmark, BenchmarkSource, Index, Overlap, Scan, load_all
from .diagnostics import Diagnostic, Span, error
from .difficulty import difficulty_json
from .files import sha256_file as _sha256
from .limits import DEFAULT_LIMITS, LimitError, Limits
from .preflight import preflight
from .program import Program
from .record import MAIN_LANGUAGE, Record, record_id, record_of
from .rng import StreamRandom
from .settings import Settings, setting, settings_of
from .splits import (
    LeakRegistry,
    SeedDeriver,
    derive_seed,
    pattern_order,
    payload_key,
    question_key,
)
from .version import __version__

MAX_TRIES = 1000  # rejected samples tolerated for one example before giving up
MAX_ATTEMPTS = 200  # leak-avoiding redraws for one example
Progress = Callable[[int], None]


# ---------------------------------------------------------------- the generation context


@dataclass
class Context:
    """Everything needed to generate any example of one dataset (forked into workers)."""

    name: str
    settings: Settings
    patterns: list[CompiledPattern]
    weights: list[tuple[str, Fraction]]
    splits: list[ast.SplitDecl]
    counter: TokenCounter
    spans: dict[str, Span] = field(default_factory=dict)  # pattern -> its line in the dataset
    orders: dict[str, list[int]] = field(default_factory=dict)
    usable: dict[tuple[int, str, str | None], list[CompiledTemplate]] = field(default_factory=dict)
    derivers: dict[str, SeedDeriver] = field(default_factory=dict)
    decontam: Index | None = None  # the benchmarks no question may share an n-gram with
    limits: Limits = DEFAULT_LIMITS
    constants: tuple[str, ...] = ()  # the dataset's `constants`, written into every record
    # pattern -> its `difficulty` [lo, hi] (tasklang.difficulty), written into its records
    difficulty: dict[str, tuple[int | float, int | float]] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)  # --seed/--size (the manifest's)

    @cached_property
    def language_thresholds(self) -> list[tuple[str, float]]:
        """Cumulative shares as floats: language i when the draw falls below its threshold."""
        out, total = [], Fraction(0)
        for lang, share in self.settings.languages:
            total += share
            out.append((lang, float(total)))
        return out

    def seeds(self, split: str) -> SeedDeriver:
        """Per-example random streams of a split, keyed by (seed, dataset, split, index, attempt)."""
        deriver = self.derivers.get(split)
        if deriver is None:
            deriver = self.derivers[split] = SeedDeriver(self.settings.seed, self.name, split)
        return deriver

    def order_all(self) -> None:
        for split in self.splits:
            self.order(split)

    def order(self, split: ast.SplitDecl) -> list[int]:
        if split.name not in self.orders:
            seed = derive_seed(self.settings.seed, self.name, split.name, "order")
            self.orders[split.name] = pattern_order(int(split.size), self.weights, seed)
        return self.orders[split.name]


@dataclass
class Failure:
    pattern: str
    reasons: Counter[str]
    limit: Diagnostic | None = None  # a value past a limit: reported as it is, not as rejections


def _language(ctx: Context, rng: StreamRandom) -> str | None:
    roll = rng.random()  # one draw whether or not languages are mixed: seeds stay comparable
    for lang, threshold in ctx.language_thresholds:
        if roll < threshold:
            return lang
    return None


def candidate(ctx: Context, split: str, index: int, attempt: int) -> Example | Failure:
    """The example at (split, index) on its `attempt`-th draw: a pure function of its seed."""
    p = ctx.orders[split][index]
    pattern = ctx.patterns[p]
    rng = ctx.seeds(split).rng(index, attempt)
    lang = _language(ctx, rng)
    key = (p, split, lang)
    templates = ctx.usable.get(key)
    if templates is None:
        templates = ctx.usable[key] = [t for t in pattern.templates if t.usable(split, lang)]
    reasons: Counter[str] | None = None  # most examples need none: made on the first rejection
    for _ in range(MAX_TRIES):
        try:
            env = pattern.sample_payload(rng)
            template = templates[rng.below(len(templates))]
            return pattern.realize(env, template, split, rng)
        except Rejected as rejected:
            reasons = reasons if reasons is not None else Counter()
            reasons[rejected.reason] += 1
        except LimitError as err:
            return Failure(pattern.name, Counter(), err.diagnostic(pattern.name))
    return Failure(pattern.name, reasons or Counter())


def record(ex: Example, ctx: Context, split: str, index: int) -> Record:
    """The record of the example at (split, index) (tasklang.record)."""
    return record_of(ex, record_id(ctx.name, split, index), split, ctx.settings.system, ctx.constants,
                     ctx.difficulty.get(ex.pattern))


def record_line(ex: Example, ctx: Context, split: str, index: int) -> str:
    """Its JSON line: `record(...).to_line()`."""
    return record(ex, ctx, split, index).to_line()


@dataclass(frozen=True, slots=True)
class Prepared:
    """A drawn example reduced to what the writer needs: its JSON line, leak keys and
    token lengths. Workers send these back (cheap to pickle), never whole traces."""

    pattern: str
    expert: str
    template_id: str
    lang: str
    line: str
    pkey: bytes
    qkey: bytes
    prompt_tokens: int
    completion_tokens: int
    raw_floats: tuple[str, ...]
    overlap: Overlap | None = None  # the first n-gram shared with a benchmark


def prepare(ctx: Context, split: str, drawn: list[tuple[int, Example]]) -> list[Prepared]:
    """JSON lines, keys and token counts for a batch (tokenizers count fastest in batches)."""
    prompts = ctx.counter.prompt_lengths([(ctx.settings.system, ex.question) for _, ex in drawn])
    targets = ctx.counter.text_lengths([ex.completion for _, ex in drawn])
    out = []
    scan = ctx.decontam.first_overlap if ctx.decontam is not None else None
    for (index, ex), p_len, c_len in zip(drawn, prompts, targets, strict=True):
        line = record_line(ex, ctx, split, index)
        out.append(Prepared(ex.pattern, ex.expert or "none", ex.template_id,
                            ex.lang or MAIN_LANGUAGE, line, payload_key(ex.pattern, ex.payload),
                            question_key(ex.question), p_len, c_len, ex.raw_floats,
                            None if scan is None else scan(ex.question)))
    return out


def _work(ctx: Context, split: str, start: int, end: int) -> list[Prepared | Failure]:
    drawn: list[tuple[int, Example]] = []
    slots: list[Prepared | Failure | None] = []
    for i in range(start, end):
        got = candidate(ctx, split, i, 0)
        if isinstance(got, Failure):
            slots.append(got)
        else:
            drawn.append((i, got))
            slots.append(None)
    prepared = iter(prepare(ctx, split, drawn))
    return [s if s is not None else next(prepared) for s in slots]


_WORKER_CTX: Context | None = None


def _chunk(args: tuple[str, int, int]) -> list[Prepared | Failure]:
    assert _WORKER_CTX is not None
    return _work(_WORKER_CTX, *args)


def first_draws(ctx: Context, split: ast.SplitDecl, workers: int, chunk: int = 256,
                stop: int | None = None) -> Iterator[Prepared | Failure]:
    """Attempt-0 draws of a split in index order, from `workers` processes (same bytes);
    `stop`: only the first `stop` (the order is still the whole split's)."""
    n = int(split.size) if stop is None else min(stop, int(split.size))
    ranges = [(split.name, s, min(n, s + chunk)) for s in range(0, n, chunk)]
    if workers <= 1 or n <= chunk:
        for r in ranges:
            yield from _work(ctx, *r)
        return
    global _WORKER_CTX
    _WORKER_CTX = ctx
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no threads across fork
    mp = multiprocessing.get_context("fork")
    try:
        with mp.Pool(workers) as pool:
            for batch in pool.imap(_chunk, ranges, chunksize=1):
                yield from batch
    finally:
        _WORKER_CTX = None


# ---------------------------------------------------------------- statistics


@dataclass
class SplitStats:
    experts: Counter[str] = field(default_factory=Counter)
    patterns: Counter[str] = field(default_factory=Counter)
    templates: Counter[str] = field(default_factory=Counter)
    languages: Counter[str] = field(default_factory=Counter)
    prompt_tokens: array = field(default_factory=lambda: array("I"))  # type: ignore[type-arg]
    completion_tokens: array = field(default_factory=lambda: array("I"))  # type: ignore[type-arg]
    redraws: int = 0

    def add(self, p: Prepared) -> None:
        self.experts[p.expert] += 1
        self.patterns[p.pattern] += 1
        self.templates[p.template_id] += 1
        self.languages[p.lang] += 1
        self.prompt_tokens.append(p.prompt_tokens)
        self.completion_tokens.append(p.completion_tokens)


@dataclass
class BudgetCheck:
    settings: Settings
    description: str
    offenders: list[tuple[int, str, str]] = field(default_factory=list)  # (excess, id, what)
    violations: int = 0  # examples that would be truncated (each counted once)

    def check(self, p: Prepared, rid: str) -> None:
        total = p.prompt_tokens + p.completion_tokens + EOS_TOKENS
        over = []
        if total > self.settings.max_length:
            over.append((total - self.settings.max_length,
                         f"prompt {p.prompt_tokens} + target {p.completion_tokens} + eos "
                         f"> max_length {self.settings.max_length}"))
        if p.completion_tokens + EOS_TOKENS > self.settings.max_new_tokens:
            over.append((p.completion_tokens + EOS_TOKENS - self.settings.max_new_tokens,
                         f"target {p.completion_tokens} + eos > max_new_tokens "
                         f"{self.settings.max_new_tokens}"))
        if over:
            self.violations += 1
            excess = max(e for e, _ in over)
            self._offend(excess, rid, "; ".join(w for _, w in over))

    def _offend(self, excess: int, rid: str, what: str) -> None:
        self.offenders.append((excess, rid, what))
        self.offenders.sort(key=lambda o: -o[0])
        del self.offenders[5:]


# ---------------------------------------------------------------- the build


@dataclass
class BuildResult:
    dataset: str
    out_dir: Path | None
    diagnostics: list[Diagnostic]
    counts: dict[str, int] = field(default_factory=dict)
    manifest: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.out_dir is not None


def make_context(program: Program, checked: CheckResult, ds: ast.Dataset,
                 counter: TokenCounter, ordered: bool = True) -> Context:
    """The generation context of a dataset; `ordered=False` leaves the splits unordered
    (an order is as large as its split: build_dataset orders them after the preflight)."""
    names = [w.pattern for w in ds.patterns]
    experts: list[str] = []
    for name in names:
        for e in checked.patterns[name].experts:
            if e not in experts:
                experts.append(e)
    settings = settings_of(ds, experts)
    limits = dataset_limits(ds)
    constants = dataset_constants(ds)
    patterns = [
        compile_pattern(program.patterns[n], program.vocabs, checked.table,
                        program.sources.get(program.patterns[n].span.file),
                        allowed_picks(program.patterns[n], program, counter),
                        program.references[n].text if n in program.references else None,
                        limits, frozenset(constants))
        for n in names
    ]
    # Smallest splits first: evaluation sets take their payloads before train can use them up.
    splits = sorted(ds.splits, key=lambda s: (s.size, [x.name for x in ds.splits].index(s.name)))
    ctx = Context(ds.name, settings, patterns, [(w.pattern, w.weight) for w in ds.patterns], splits,
                  counter, {w.pattern: w.span for w in ds.patterns}, limits=limits,
                  constants=tuple(format_number(c) for c in constants))
    for n in names:
        stated = difficulty_json(program.patterns[n])
        if stated is not None:
            ctx.difficulty[n] = stated
    if ordered:
        ctx.order_all()
    bind_splits((p.code for p in patterns if p.code is not None), (s.name for s in splits),
                settings.seed, ds.name)
    return ctx


def build_dataset(program: Program, checked: CheckResult, ds: ast.Dataset, staging: Path,
                  workers: int = 1, progress: Callable[[str, int], Progress] | None = None,
                  benchmarks: Sequence[Benchmark] = (), overrides: dict[str, Any] | None = None
                  ) -> BuildResult:
    """Build `ds` into `staging/<name>/` (out_dir of the result when it passed; the caller
    switches it into place). A failed build removes its folder. `overrides` (the command
    line's --seed/--size, already applied to `ds`) are recorded in the manifest."""
    ready = _ready(program, checked, ds, benchmarks)
    if isinstance(ready, list):
        return BuildResult(ds.name, None, ready)
    ctx, counter, diags = ready
    ctx.overrides = dict(overrides or {})
    tmp = staging / ds.name
    tmp.mkdir()
    try:
        result = _generate(ctx, ds, program, counter, tmp, workers, progress, diags)
        names = [s.name for s in ctx.splits]
        failed = verify_references(ctx.patterns, names, program, tmp) if result.ok else []
        if failed:
            result = BuildResult(ds.name, None, result.diagnostics + failed)
        if not result.ok:
            shutil.rmtree(tmp, ignore_errors=True)
        return result
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _ready(program: Program, checked: CheckResult, ds: ast.Dataset, benchmarks: Sequence[Benchmark]
           ) -> tuple[Context, TokenCounter, list[Diagnostic]] | list[Diagnostic]:
    """The ordered context of a dataset whose preflight passed, or what stopped it."""
    index, bench_diags = _benchmark_index(ds, benchmarks, program.confinement)
    if any(d.is_error for d in bench_diags):
        return bench_diags
    counter = dataset_counter(program, ds)
    if isinstance(counter, Diagnostic):
        return [counter]
    ctx = make_context(program, checked, ds, counter, ordered=False)
    ctx.decontam = index
    diags = bench_diags + preflight(ctx, program, ds)
    if any(d.is_error for d in diags):
        return diags
    ctx.order_all()  # only now, once the preflight found the constraints satisfiable
    return ctx, counter, diags


class _Discard:
    """A split generated only for the payloads it takes (a later split's redraws need them)."""

    def write(self, text: str) -> int:
        return len(text)


@dataclass
class Generated:
    """Splits generated in memory: their JSON lines, and the leak registry after them."""

    ctx: Context
    lines: dict[str, list[str]]
    registry: LeakRegistry
    diagnostics: list[Diagnostic]


def generate(program: Program, checked: CheckResult, ds: ast.Dataset, wanted: dict[str, int | None],
             benchmarks: Sequence[Benchmark] = ()) -> Generated | list[Diagnostic]:
    """The lines compile writes for the `wanted` splits (name -> the first n, None: all),
    without writing anything. Splits are generated in build order up to the last one wanted,
    because an earlier split's payloads decide a later one's redraws; the preflight, leak,
    token-budget and decontamination rules are compile's, over the splits generated."""
    ready = _ready(program, checked, ds, benchmarks)
    if isinstance(ready, list):
        return ready
    ctx, counter, diags = ready
    registry = LeakRegistry(ctx.settings.unique)
    budget = BudgetCheck(ctx.settings, counter.description)
    scan = None if ctx.decontam is None else Scan(ctx.decontam, ds.name)
    names = [s.name for s in ctx.splits]
    last = max((names.index(w) for w in wanted), default=-1)
    lines: dict[str, list[str]] = {}
    for split in ctx.splits[:last + 1]:
        sink: Any = io.StringIO() if split.name in wanted else _Discard()
        failure = _write_split(ctx, split, registry, budget, sink, 1, None, SplitStats(), Counter(),
                               scan, stop=wanted.get(split.name))
        if failure is not None:
            return diags + [failure]
        if isinstance(sink, io.StringIO):
            lines[split.name] = sink.getvalue().splitlines()
    failures = [_budget_error(budget, ds)] if budget.violations else []
    if scan is not None and not scan.clean:
        system = setting(ds, "system")
        failures += scan.diagnostics(_template_spans(ctx, program),
                                     ds.span if system is None else system.span)
    if failures:
        return diags + failures
    return Generated(ctx, lines, registry, diags)


def dataset_counter(program: Program, ds: ast.Dataset) -> TokenCounter | Diagnostic:
    """The dataset's token counter, or the missing-tokenizer error."""
    probe = setting(ds, "tokenizer")
    try:
        return make_counter(probe.value if probe else None, Path(ds.span.file).parent,  # type: ignore[arg-type]
                            program.confinement)
    except TokenizerLoadError as err:
        return error("missing-tokenizer", str(err), probe.span if probe else ds.span)


def sampled_checks(program: Program, checked: CheckResult, ds: ast.Dataset) -> list[Diagnostic]:
    """What `tasklang check` adds to the static checks, for one dataset: the preflight
    compile runs (unsatisfiable, near-unsatisfiable, domain size), then the token budget
    and raw floats over the preflight's accepted samples, by the same rules compile applies
    to every example it writes. Nothing is ordered or written."""
    counter = dataset_counter(program, ds)
    if isinstance(counter, Diagnostic):
        return [counter]
    ctx = make_context(program, checked, ds, counter, ordered=False)
    kept: list[Example] = []
    diags = preflight(ctx, program, ds, kept)
    if not kept or not ctx.splits:
        return diags
    budget = BudgetCheck(ctx.settings, counter.description)
    split = ctx.splits[0].name
    for start in range(0, len(kept), 256):
        batch = list(enumerate(kept[start:start + 256], start))
        for p in prepare(ctx, split, batch):
            budget.check(p, p.template_id)  # a template names the culprit; an index would not
    sampled = f"measured on {len(kept)} preflight samples; compile measures every example"
    if budget.violations:
        d = _budget_error(budget, ds)  # offenders are templates here: each named once
        diags.append(replace(d, notes=(*dict.fromkeys(d.notes), sampled)))
    return diags


def _benchmark_index(ds: ast.Dataset, given: Sequence[Benchmark], confinement: Confinement | None
                     ) -> tuple[Index | None, list[Diagnostic]]:
    """The dataset's `decontaminate` files, read, with those given on the command line."""
    base = Path(ds.span.file).parent
    if confinement is None:  # a Program assembled by hand: confined to the dataset's folder
        confinement = Confinement.for_files([Path(ds.span.file)], None)
    sources = []
    for d in ds.decontaminate:
        # The loader resolved (and reported) each path the same way: a refused one is skipped.
        found = resolve_named_file(d.path, base, "decontaminate", d.span, confinement)
        if isinstance(found, Path):
            sources.append(BenchmarkSource(found, d.path, DEFAULT_NGRAM if d.ngram is None
                                           else int(d.ngram), d.span, "statement"))
    loaded, diags = load_all(sources)
    benchmarks = [*given, *loaded]
    return (Index(benchmarks) if benchmarks else None), diags


def _template_spans(ctx: Context, program: Program) -> dict[str, Span]:
    """Template id -> its statement (compiled templates keep the source order)."""
    return {ct.id: t.span for p in ctx.patterns
            for ct, t in zip(p.templates, program.patterns[p.name].templates, strict=True)}


def _generate(ctx: Context, ds: ast.Dataset, program: Program, counter: TokenCounter, tmp: Path,
              workers: int, progress: Callable[[str, int], Progress] | None,
              diags: list[Diagnostic]) -> BuildResult:
    registry = LeakRegistry(ctx.settings.unique)
    budget = BudgetCheck(ctx.settings, counter.description)
    stats: dict[str, SplitStats] = {}
    raw_floats: Counter[tuple[str, str]] = Counter()  # (template id, the raw text)
    scan = None if ctx.decontam is None else Scan(ctx.decontam, ds.name)
    if scan is not None:
        scan.check_system(ctx.settings.system)
    for split in ctx.splits:
        tick = progress(split.name, int(split.size)) if progress else None
        path = tmp / f"{split.name}.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            failure = _write_split(ctx, split, registry, budget, fh, workers, tick,
                                   stats.setdefault(split.name, SplitStats()), raw_floats, scan)
        if failure is not None:
            return BuildResult(ds.name, None, diags + [failure])
    failures = [_budget_error(budget, ds)] if budget.violations else []
    if scan is not None and not scan.clean:  # a hard error: nothing is written
        system = setting(ds, "system")
        failures += scan.diagnostics(_template_spans(ctx, program),
                                     ds.span if system is None else system.span)
    if failures:
        return BuildResult(ds.name, None, diags + failures)
    diags += _raw_float_warnings(raw_floats, _template_spans(ctx, program), diags)
    manifest = _manifest(ctx, ds, program, counter, stats, tmp)
    if scan is not None:
        base = Path(ds.span.file).resolve().parent
        manifest["decontamination"] = scan.to_json(lambda p: _relative(str(p), base))
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n",
                                       encoding="utf-8")
    (tmp / "README.md").write_text(dataset_card(manifest), encoding="utf-8")
    counts = {s: sum(st.patterns.values()) for s, st in stats.items()}
    return BuildResult(ds.name, tmp, diags, counts, manifest)


def _write_split(ctx: Context, split: ast.SplitDecl, registry: LeakRegistry, budget: BudgetCheck,
                 fh: TextIO, workers: int, tick: Progress | None, stats: SplitStats,
                 raw_floats: Counter[tuple[str, str]], scan: Scan | None = None,
                 stop: int | None = None) -> Diagnostic | None:
    for index, first in enumerate(first_draws(ctx, split, workers, stop=stop)):
        got = _accept(ctx, split.name, index, first, registry)
        if isinstance(got, Diagnostic):
            return got
        prepared, redraws = got
        stats.redraws += redraws
        stats.add(prepared)
        for r in prepared.raw_floats:
            raw_floats[prepared.template_id, r] += 1
        budget.check(prepared, record_id(ctx.name, split.name, index))
        if prepared.overlap is not None and scan is not None:
            scan.add(prepared.overlap, split.name, prepared.pattern, prepared.template_id,
                     record_id(ctx.name, split.name, index))
        fh.write(prepared.line)
        fh.write("\n")
        if tick is not None:
            tick(1)
    return None


def _accept(ctx: Context, split: str, index: int, first: Prepared | Failure,
            registry: LeakRegistry) -> tuple[Prepared, int] | Diagnostic:
    """The first draw that leaks nowhere; redraws are deterministic (attempt 1, 2, ...)."""
    current = first
    clashes: Counter[str] = Counter()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if isinstance(current, Failure):
            if current.limit is not None:
                return current.limit
            top = current.reasons.most_common(1)[0]
            compiled = next(p for p in ctx.patterns if p.name == current.pattern)
            return error("unsatisfiable", f"{current.pattern}: {MAX_TRIES} samples in a row "
                         f"were rejected while building {split} #{index}; most by `{top[0]}`",
                         compiled.reason_span(top[0]) or _pattern_span(ctx, current.pattern))
        clash = registry.clash(split, current.pkey, current.qkey)
        if clash is None:
            registry.add(split, current.pkey, current.qkey)
            return current, attempt - 1
        clashes[clash] += 1
        drawn = candidate(ctx, split, index, attempt)
        current = drawn if isinstance(drawn, Failure) else prepare(ctx, split, [(index, drawn)])[0]
    pattern = current.pattern
    return error("domain-exhausted", f"{pattern}: no fresh payload for {split} #{index} after "
                 f"{MAX_ATTEMPTS} draws ({', '.join(f'{k}: {v}' for k, v in clashes.items())})",
                 _pattern_span(ctx, pattern),
                 "the pattern's domain is too small for the split sizes asked")


def _pattern_span(ctx: Context, pattern: str) -> Span:
    return ctx.spans.get(pattern, Span.point(ctx.name))


def _budget_error(budget: BudgetCheck, ds: ast.Dataset) -> Diagnostic:
    s = setting(ds, "max_length") or setting(ds, "max_new_tokens")
    span = s.span if s is not None else ds.span
    return error("token-budget", f"{budget.violations} examples would be truncated "
                 f"({budget.description})", span,
                 *[f"{rid}: {what}" for _, rid, what in budget.offenders],
                 "tasklang never truncates: raise max_length/max_new_tokens or shorten the "
                 "system prompt and templates")


def _raw_float_warnings(raw: Counter[tuple[str, str]], spans: dict[str, Span],
                        found: list[Diagnostic]) -> list[Diagnostic]:
    """The raw-float lint over every example written, for the templates whose preflight
    samples showed none (those the preflight flagged are reported once, by the lint)."""
    flagged = {d.message.partition(":")[0] for d in found if d.code == "raw-float"}
    by_template: dict[str, Counter[str]] = {}
    for (tid, text), n in raw.items():
        if tid not in flagged:
            by_template.setdefault(tid, Counter())[text] += n
    return [lints.diagnostic("raw-float", f"{tid}: raw floats or bare fractions in "
                             f"{sum(texts.values())} examples: "
                             f"{', '.join(t for t, _ in texts.most_common(5))}",
                             spans.get(tid, Span.point(tid)),
                             helps=("format them ({x:money}, {x:comma}) or constrain them to "
                                    "short decimals",))
            for tid, texts in by_template.items()]


def _manifest(ctx: Context, ds: ast.Dataset, program: Program, counter: TokenCounter,
              stats: dict[str, SplitStats], tmp: Path) -> dict[str, Any]:
    splits, counts, tokens = {}, {}, {}
    for split in ds.splits:
        st = stats[split.name]
        splits[split.name] = {
            "size": int(split.size), "file": f"{split.name}.jsonl",
            "sha256": _sha256(tmp / f"{split.name}.jsonl"),
            "templates": "held-out" if split.held_out else "shared",
            "leak_redraws": st.redraws,
        }
        counts[split.name] = {"experts": dict(sorted(st.experts.items())),
                              "patterns": dict(sorted(st.patterns.items())),
                              "templates": dict(sorted(st.templates.items())),
                              "languages": dict(sorted(st.languages.items()))}
        totals = array("I", (p + c + EOS_TOKENS for p, c in
                             zip(st.prompt_tokens, st.completion_tokens, strict=True)))
        tokens[split.name] = {"prompt": length_stats(st.prompt_tokens),
                              "completion": length_stats(st.completion_tokens),
                              "total": length_stats(totals)}
    base = Path(ds.span.file).resolve().parent
    return {
        "tool": "tasklang", "version": __version__, "dataset": ds.name,
        "source": f"{_relative(ds.span.file, base)}:{ds.span.line}",
        "settings": ctx.settings.to_json(),
        "patterns": {name: float(w) for name, w in ctx.weights},
        **({"difficulty": {n: list(d) for n, d in ctx.difficulty.items()}} if ctx.difficulty else {}),
        "experts": sorted({e for p in ctx.patterns for e in p.experts}
                          | ({COMPOSITION} if any(len(p.experts) > 1 for p in ctx.patterns)
                             else set())),
        "token_counting": {"method": counter.description, "exact": counter.exact},
        **({"overrides": ctx.overrides} if ctx.overrides else {}),
        "splits": splits, "counts": counts, "tokens": tokens,
        # Only what this dataset depends on, relative to its own file, so the manifest does
        # not depend on the other files compiled with it or on the working directory.
        "files": dict(sorted((_relative(f, base), h)
                             for f, h in _dependencies(ds, program, counter).items())),
    }


def _dependencies(ds: ast.Dataset, program: Program, counter: TokenCounter) -> dict[str, str]:
    """Hashes of the files the dataset's bytes depend on: its file, the files declaring its
    patterns, their experts and vocabularies, the vocabulary files and the tokenizer."""
    from .program import display_path

    files = {ds.span.file}
    vocab_paths = set()
    for w in ds.patterns:
        p = program.patterns.get(w.pattern)
        if p is None:
            continue
        files.add(p.span.file)
        if w.pattern in program.references:
            files.add(program.references[w.pattern].path)
        for let in p.lets:
            if isinstance(let.sampler, ast.Pick) and let.sampler.vocab in program.vocab_decls:
                files.add(program.vocab_decls[let.sampler.vocab].span.file)
                if let.sampler.vocab in program.vocabs:
                    vocab_paths.add(display_path(Path(program.vocabs[let.sampler.vocab].path)))
        for block in p.traces:
            if block.expert in program.experts:
                files.add(program.experts[block.expert].span.file)
    out = {f: program.file_hashes[f] for f in files | vocab_paths if f in program.file_hashes}
    tokenizer = getattr(counter, "path", None)
    if isinstance(tokenizer, Path):
        out[display_path(tokenizer)] = _sha256(tokenizer)
    return out


def _relative(path: str, base: Path) -> str:
    return Path(os.path.relpath(Path(path).resolve(), base)).as_posix()
