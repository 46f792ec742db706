"""Code answers, verify stage: the compile-time proof that each code pattern's reference
passes every case of every record written (called by `build` once the splits are on disk;
the construct's other stages are `code_checks` and `code_answers`)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from runtime.sandbox import Case, CodeResult, SandboxLimits, run_code

from . import ast
from .code_answers import CodeAnswer
from .diagnostics import Diagnostic, error
from .record import Record

if TYPE_CHECKING:
    from .compiler import CompiledPattern
    from .program import Program

VERIFY_BATCH = 5000  # cases per sandbox run when verifying a reference
VERIFY_LIMITS = SandboxLimits(case_timeout_s=2.0, timeout_s=120.0, cpu_s=120,
                              result_bytes=16 * 2**20)


def verify_references(patterns: Iterable[CompiledPattern], splits: Iterable[str],
                      program: Program, out_dir: Path) -> list[Diagnostic]:
    """Run each code pattern's reference, in the sandbox, on every distinct case of every
    record written to `out_dir`: one process per pattern (and per VERIFY_BATCH cases), not
    one per record. Every record's completion is its pattern's reference, so this proves
    each record's completion passes its own cases."""
    code = {p.name: p.code for p in patterns if p.code is not None}
    if not code:
        return []
    cases: dict[str, dict[str, Case]] = {name: {} for name in code}
    for split in splits:
        with (out_dir / f"{split}.jsonl").open(encoding="utf-8") as fh:
            for line in fh:
                record = Record.from_json(json.loads(line))
                if record.pattern in code:
                    for args, expected in record.tests:
                        cases[record.pattern].setdefault(args + expected, _case(args, expected))
    diags = []
    for name, answer in code.items():
        found = list(cases[name].values())
        for start in range(0, len(found), VERIFY_BATCH):
            batch = found[start:start + VERIFY_BATCH]
            result = run_code(answer.completion, answer.function, batch, limits=VERIFY_LIMITS)
            if not result.grade.correct:
                diags.append(_failure(program.patterns[name], answer, batch, result, len(found)))
                break
    return diags


def _failure(p: ast.Pattern, answer: CodeAnswer, batch: list[Case], result: CodeResult,
             total: int) -> Diagnostic:
    span = p.references[0].span if p.references else p.span
    failed = next((c for c in result.cases if not c.passed), None)
    sandbox = f"sandbox: {result.grade.status}: {result.message}"
    if failed is None or failed.status == "not_run":
        return error("reference-fails", f"the reference of {p.name} does not run", span, sandbox)
    args, expected = batch[failed.index]
    call = f"{answer.function}({', '.join(repr(a) for a in args)})"
    got = f"returned {failed.got}" if failed.status == "wrong" else f"failed ({failed.status})"
    notes = [f"{p.name}: {result.passed} of {total} distinct cases passed before this one"]
    if failed.status != "wrong":
        notes.append(sandbox)
    return error("reference-fails", f"{call} {got}, expected {expected!r}", span, *notes)


def _case(args: str, expected: str) -> Case:
    """A record's test case, decoded (the writer made both JSON texts)."""
    return tuple(json.loads(args)), json.loads(expected)
