"""The API the CLI calls: load -> check -> compile/preview, chaining the pipeline stages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import ast
from .budget import ByteUpperBound
from .build import BuildResult, Progress, build_dataset, make_context, sampled_checks
from .checked import Checked, datasets_of
from .checks import check_program, pattern_constants, pattern_limits
from .compiler import Example, Rejected, compile_pattern
from .confine import LoadOptions
from .decontaminate import DEFAULT_NGRAM, Benchmark, BenchmarkSource, load_all
from .diagnostics import Diagnostic, Span, apply_allows, did_you_mean, error
from .files import staged_output
from .limits import DEFAULT_LIMITS, LimitError
from .overrides import Overrides
from .overrides import apply as apply_overrides
from .program import Program, load_program
from .rng import StreamRandom

if TYPE_CHECKING:
    from .audit import AuditReport
    from .importer import ImportResult


def check(paths: list[str], options: LoadOptions | None = None, sample: bool = False
          ) -> Checked:
    """Parse and check; every diagnostic of every file (syntax errors stop only their file).
    `options`: the confinement of what the files name (root, allowed paths, network).
    `sample`: once the static checks pass, also run compile's sampled checks on each dataset
    (build.sampled_checks: unsatisfiable, near-unsatisfiable, domain, token budget, raw
    floats), so that `check` passes no file that `compile` would reject for those."""
    program, diags = load_program(paths, options)
    if any(d.code in ("missing-file", "no-task-files") for d in diags):
        return Checked(program, None, diags)
    result = check_program(program)
    found = _after_unread_imports(program, diags, result.diagnostics)
    if sample and not any(d.is_error for d in found):
        seen: set[tuple[Span, str, str]] = set()
        for ds in [ds for ds in program.datasets.values() if ds.span.file in set(program.roots)]:
            for d in sampled_checks(program, result, ds):
                if (d.span, d.code, d.message) not in seen:  # a pattern two datasets list
                    seen.add((d.span, d.code, d.message))
                    found.append(d)
    kept, allowed = apply_allows(found, program.sources)
    return Checked(program, result, kept, allowed)


# Names an import declares: undefined after an import that could not be read, they are no news.
_IMPORTED_NAMES = ("undefined-vocab", "undefined-expert", "undefined-pattern")


def _after_unread_imports(program: Program, loaded: list[Diagnostic], checked: list[Diagnostic]
                          ) -> list[Diagnostic]:
    """The loader's and the checker's diagnostics, without the cascade of an unread import: one
    refused `import "../gsm/experts.task"` made seven "no vocab named people" errors that
    buried the one saying how to fix it. The loader's error stands (so the check still fails)
    and says, in a note, what it hid."""
    hidden = [d for d in checked if d.code in _IMPORTED_NAMES] if program.unread_imports else []
    first = next((i for i, d in enumerate(loaded) if d.is_error), None)
    if not hidden or first is None:
        return loaded + checked
    names = sorted({d.message.rsplit(" ", 1)[-1] for d in hidden})
    shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
    note = (f"{len(hidden)} later error(s) about undefined names ({shown}) are not shown: "
            "the file this import names may declare them")
    loaded = list(loaded)
    loaded[first] = dataclasses.replace(loaded[first], notes=(*loaded[first].notes, note))
    return loaded + [d for d in checked if d.code not in _IMPORTED_NAMES]


def compile_paths(paths: list[str], out: Path, workers: int = 1,
                  progress: Callable[[str, int], Progress] | None = None,
                  only: list[str] | None = None, decontaminate: Sequence[str] = (),
                  ngram: int = DEFAULT_NGRAM, options: LoadOptions | None = None,
                  overrides: Overrides | None = None) -> tuple[Checked, list[BuildResult]]:
    """Check, then build every dataset into `out/<dataset>/`. Nothing is built if checks fail.

    `out` is locked for the whole build (OutputBusy when another run holds it); datasets are
    built into one staging folder and each passing one is switched into place atomically
    (files.staged_output): after any kill, every dataset is its complete old or new build.
    `decontaminate` names benchmark files (relative to the working directory) that every
    dataset is checked against, besides its own `decontaminate` statements. `overrides`:
    --seed/--size, applied to every dataset built and recorded in its manifest."""
    checked = check(paths, options)
    if not checked.ok or checked.result is None:
        return checked, []
    benchmarks, diags = _command_line_benchmarks(decontaminate, ngram)
    checked.diagnostics += diags
    if not checked.ok:
        return checked, []
    datasets = datasets_of(checked)
    if only:
        unknown = sorted(set(only) - {d.name for d in datasets})
        if unknown:
            checked.diagnostics.append(error(
                "undefined-dataset", f"no dataset named {', '.join(unknown)}",
                Span.point(paths[0]), help=did_you_mean(unknown[0], [d.name for d in datasets])))
            return checked, []
        datasets = [d for d in datasets if d.name in only]
    if not datasets:
        checked.diagnostics.append(error("no-datasets", "no dataset declared in "
                                         + ", ".join(paths), Span.point(paths[0])))
        return checked, []
    if overrides:
        applied = [apply_overrides(ds, overrides) for ds in datasets]
        checked.diagnostics += [d for d in applied if isinstance(d, Diagnostic)]
        if not checked.ok:
            return checked, []
        datasets = [d for d in applied if isinstance(d, ast.Dataset)]
    recorded = overrides.to_json() if overrides else None
    with staged_output(out) as staging:
        results = [build_dataset(checked.program, checked.result, ds, staging.dir, workers,
                                 progress, benchmarks=benchmarks, overrides=recorded)
                   for ds in datasets]
        staging.commit([r.dataset for r in results if r.ok])
    for r in results:
        if r.ok:
            r.out_dir = out / r.dataset
    for r in results:
        r.diagnostics, allowed = apply_allows(r.diagnostics, checked.program.sources)
        checked.allowed += allowed
    return checked, results


def _command_line_benchmarks(paths: Sequence[str], ngram: int
                             ) -> tuple[list[Benchmark], list[Diagnostic]]:
    """`--decontaminate` files, read once for every dataset. The user named them, relative to
    the working directory, so they are not confined like the paths a .task file names."""
    return load_all(BenchmarkSource(Path(p), p, ngram, Span.point(p), "command line")
                    for p in paths)


@dataclass(frozen=True)
class PreviewItem:
    pattern: str
    example: Example | None
    rejected: str | None


def preview(paths: list[str], pattern: str | None, n: int, seed: int = 0,
            options: LoadOptions | None = None) -> tuple[Checked, list[PreviewItem]]:
    """Rendered samples (question, trace, answer) of one or every pattern in the files."""
    checked = check(paths, options)
    if not checked.ok or checked.result is None:
        return checked, []
    program = checked.program
    roots = set(program.roots)
    names = [p.name for p in program.patterns.values() if p.span.file in roots]
    if pattern is not None and pattern in program.families:  # a family: each instance
        names = list(program.families[pattern])
    elif pattern is not None:
        if pattern not in program.patterns:
            checked.diagnostics.append(error("undefined-pattern", f"no pattern named {pattern}",
                                             Span.point(paths[0]),
                                             help=did_you_mean(pattern, names)))
            return checked, []
        names = [pattern]
    items = []
    limits = pattern_limits(program)  # those of the datasets listing it, as `check` used
    constants = pattern_constants(program)
    for name in names:
        p = program.patterns[name]
        loaded = program.references.get(name)
        compiled = compile_pattern(p, program.vocabs, checked.result.table,
                                   program.sources.get(p.span.file),
                                   reference=None if loaded is None else loaded.text,
                                   limits=limits.get(name, DEFAULT_LIMITS),
                                   constants=constants.get(name, frozenset()))
        rng = StreamRandom.of(seed, "preview", name)
        try:
            for _ in range(n):
                items.append(_preview_one(compiled, rng))
        except LimitError as err:
            checked.diagnostics.append(err.diagnostic(name))
    return checked, items


def _preview_one(compiled, rng: StreamRandom) -> PreviewItem:  # type: ignore[no-untyped-def]
    reason = None
    for _ in range(1000):
        try:
            env = compiled.sample_payload(rng)
            template = compiled.templates[rng.below(len(compiled.templates))]
            return PreviewItem(compiled.name, compiled.realize(env, template), None)
        except Rejected as r:
            reason = r.reason
    return PreviewItem(compiled.name, None, reason)


def audit(paths: list[str], against: str | None = None, n: int = 50, seed: int = 0,
          top: int = 50, progress: Callable[[str], None] | None = None,
          options: LoadOptions | None = None) -> AuditReport:
    """Generator audit, lint statistics and reference coverage (see tasklang.audit) of the
    checked files."""
    from .audit import run_audit

    return run_audit(check(paths, options), paths, against, n, seed, top, progress)


def import_gsm8k(ref: str, out: Path, split_val: int = 0, seed: int = 0,
                 system: str | None = None) -> ImportResult:
    """A GSM8K-format file -> a dataset in the compiler's record format (see tasklang.importer)."""
    from .importer import import_gsm8k as run_import

    return run_import(ref, out, split_val, seed, system)


__all__ = ["ByteUpperBound", "Checked", "LoadOptions", "PreviewItem", "audit", "check", "compile_paths",
           "datasets_of", "import_gsm8k", "make_context", "preview"]
