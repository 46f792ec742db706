"""The compiler's own preflight and lints, run by `import gsm8k --as-task` on each pattern it writes.

It says what `tasklang check` will say of a pattern: the same compile, the same preflight
stream (it depends only on the seed, the dataset's name and the pattern's name, so one pattern
measured alone under its file's dataset name draws what it draws in the file) and the same
lints. The importer narrows or rejects a pattern from what it reports, so its output is
lint-clean without `# allow:`.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import lints
from .build import dataset_counter, make_context
from .checks import check_program
from .diagnostics import Diagnostic
from .preflight import measure_in
from .program import load_program


@dataclass(frozen=True, slots=True)
class Preflight:
    """What check reports of one pattern: its diagnostics (errors and the lints) and, when it
    compiled, the facts the lints read (each let's accepted values)."""

    diagnostics: tuple[Diagnostic, ...]
    facts: lints.PatternFacts | None
    accepted: int  # of preflight.PREFLIGHT draws
    distinct: int  # distinct visible payloads among them

    def codes(self) -> set[str]:
        return {d.code for d in self.diagnostics}


def preflight_pattern(text: str, dataset: str, pattern: str) -> Preflight:
    """Check `text` (one pattern and the dataset `dataset` that lists it), then measure the
    pattern as the dataset's preflight does and run the lints on what it drew."""
    with tempfile.TemporaryDirectory(prefix="astask-") as tmp:
        path = Path(tmp) / "pattern.task"
        path.write_text(text, encoding="utf-8")
        program, diags = load_program([str(path)])
        result = check_program(program)
        errors = [d for d in diags + result.diagnostics if d.is_error]
        if errors:
            return Preflight(tuple(errors), None, 0, 0)
        ds = program.datasets[dataset]
        counter = dataset_counter(program, ds)
        if isinstance(counter, Diagnostic):
            return Preflight((counter,), None, 0, 0)
        ctx = make_context(program, result, ds, counter, ordered=False)
        compiled = next(c for c in ctx.patterns if c.name == pattern)
        sampled = measure_in(ctx, compiled, program, ds.span)
        if isinstance(sampled, Diagnostic):
            return Preflight((sampled,), None, 0, 0)
        return Preflight(tuple(lints.run(sampled.facts)), sampled.facts, sampled.accepted,
                         sampled.distinct)
