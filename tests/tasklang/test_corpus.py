"""The broken-file corpus: each tests/tasklang/broken/*.task states its diagnostics inline.

A comment on the offending line names what must be reported there, mypy-style:

    let x = int 1..y   # E: undefined-name
    let y = 3          # E: bad-range; W: unused-var

(E = error, W = warning). The test asserts the set of (line, severity, code) that
tasklang reports for the file equals the inline expectations exactly, so a new
false positive fails as surely as a missed diagnostic. Files that expect a
compile-time code are compiled (into a temporary directory) as well as checked.
A last test greps the diagnostic codes out of the source, so that a new code
without a corpus file fails here.
"""

from __future__ import annotations

import ast as pyast
import re
from pathlib import Path

import pytest

from tasklang import api
from tasklang.limits import LIMITS
from tasklang.lints import DATASET_LINTS, LINTS

from .helpers import BROKEN, REPO

# Codes only `compile` can report (they need samples, a tokenizer, or the dataset list).
COMPILE_CODES = frozenset({
    "unsatisfiable", "near-unsatisfiable", "domain-too-small", "domain-exhausted",
    "token-budget", "raw-float", "missing-tokenizer", "no-datasets", "reference-fails",
    "bad-benchmark", "benchmark-overlap", "benchmark-too-short",
}) | frozenset(LINTS)  # the sampled lints (tasklang/lints.py) run in the preflight
_EXPECT = re.compile(r"#\s*((?:[EW]:\s*[a-z][a-z0-9-]*\s*;?\s*)+)$")
_ONE = re.compile(r"([EW]):\s*([a-z][a-z0-9-]*)")
_SEVERITY = {"E": "error", "W": "warning"}

Expectation = set[tuple[int, str, str]]


def expectations(path: Path) -> Expectation:
    text = path.read_bytes().decode("utf-8", errors="replace")
    out: Expectation = set()
    for number, line in enumerate(text.splitlines(), start=1):
        m = _EXPECT.search(line)
        if m:
            out |= {(number, _SEVERITY[sev], code) for sev, code in _ONE.findall(m.group(1))}
    return out


def reported(path: Path, out: Path) -> tuple[Expectation, list[str]]:
    """(line, severity, code) of every diagnostic in `path`; headlines of those elsewhere."""
    expected = expectations(path)
    if {code for _, _, code in expected} & COMPILE_CODES:
        checked, results = api.compile_paths([str(path)], out)
        diags = list(checked.diagnostics) + [d for r in results for d in r.diagnostics]
    else:
        diags = api.check([str(path)]).diagnostics
    here, elsewhere = set(), []
    for d in diags:
        if Path(d.span.file).resolve() == path.resolve():
            here.add((d.span.line, str(d.severity), d.code))
        else:
            elsewhere.append(d.headline())
    return here, elsewhere


CORPUS = sorted(BROKEN.glob("*.task"))


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) >= 20
    for path in CORPUS:
        assert expectations(path), f"{path.name} states no expected diagnostic"


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
def test_broken_file(path: Path, tmp_path: Path) -> None:
    got, elsewhere = reported(path, tmp_path / "out")
    want = expectations(path)
    missing = sorted(want - got)
    unexpected = sorted(got - want)
    assert not missing and not unexpected, (
        f"{path.name}:\n  missing:    {missing}\n  unexpected: {unexpected}")
    assert not elsewhere, f"diagnostics outside {path.name}: {elsewhere}"
    assert not (tmp_path / "out").exists() or not any(
        p.name.startswith(".") for p in (tmp_path / "out").iterdir()), "temporary output left behind"


# What `check` finds by sampling (build.sampled_checks): the rest needs the whole build.
SAMPLED_CODES = frozenset({"unsatisfiable", "near-unsatisfiable", "domain-too-small",
                           "token-budget", "missing-tokenizer"}) | frozenset(LINTS)
COMPILED = [p for p in CORPUS if {c for _, _, c in expectations(p)} & COMPILE_CODES]


@pytest.mark.parametrize("path", COMPILED, ids=[p.stem for p in COMPILED])
def test_check_samples_what_compile_rejects(path: Path) -> None:
    """`check` reports compile's sampled diagnostics at the same lines (no file passes
    `check` that `compile` rejects for them), and `sample=False` none of them."""
    build_only = COMPILE_CODES - SAMPLED_CODES
    want = {e for e in expectations(path) if e[2] not in build_only}

    def here(sample: bool) -> Expectation:
        diags = api.check([str(path)], sample=sample).diagnostics
        return {(d.span.line, str(d.severity), d.code) for d in diags
                if Path(d.span.file).resolve() == path.resolve()}

    static = here(False)
    assert here(True) == want, path.name
    assert static <= want and not {c for _, _, c in static} & (SAMPLED_CODES - {"missing-tokenizer"})


def test_no_diagnostic_is_reported_twice() -> None:
    """A diagnostic repeated at the same place is noise (e.g. a pattern listed twice)."""
    for path in CORPUS:
        if {c for _, _, c in expectations(path)} & COMPILE_CODES:
            continue
        diags = api.check([str(path)]).diagnostics
        keys = [(d.span, d.code, d.message) for d in diags]
        dupes = {k for k in keys if keys.count(k) > 1}
        assert not dupes, f"{path.name}: reported twice: {dupes}"


# ---------------------------------------------------------------- every code has a corpus file

SOURCES = ["tasklang/checks.py", "tasklang/parser.py", "tasklang/program.py", "tasklang/build.py",
           "tasklang/confine.py", "tasklang/api.py", "tasklang/code_checks.py",
           "tasklang/code_verify.py", "tasklang/decontaminate.py", "tasklang/constructs.py",
           "tasklang/difficulty.py", "tasklang/preflight.py"]

# Codes a corpus file cannot carry, with the test that covers each instead.
ELSEWHERE = {
    "missing-file": "test_program.py::test_missing_path",
    "no-task-files": "test_program.py::test_directory_without_task_files",
    "undefined-dataset": "test_api.py::test_compile_unknown_dataset",
    "limit-templates": "test_limits.py::test_templates_per_pattern",
    "limit-preflight-time": "test_limits.py::test_slow_preflight_names_the_pattern",
}
# Codes the source can emit in principle but no input reaches (reported as dead code).
UNREACHABLE = {
    "bad-expert": "every invalid expert already has an unknown-op/bad-step/reserved-name error",
}


def emitted_codes() -> set[str]:
    """Every code string in error(...)/warning(...) calls and the trace-issue code table."""
    found = set()
    for rel in SOURCES:
        tree = pyast.parse((REPO / rel).read_text(encoding="utf-8"))
        for node in pyast.walk(tree):
            if (isinstance(node, pyast.Call) and isinstance(node.func, pyast.Name)
                    and node.func.id in ("error", "warning") and node.args
                    and isinstance(node.args[0], pyast.Constant)
                    and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
            if (isinstance(node, pyast.Assign) and any(
                    isinstance(t, pyast.Name) and t.id == "_ISSUE_CODES" for t in node.targets)
                    and isinstance(node.value, pyast.Dict)):
                found |= {v.value for v in node.value.values if isinstance(v, pyast.Constant)}
    # Emitted through limits.exceeded() and through the lint registry.
    return found | {limit.code for limit in LIMITS} | set(LINTS) | set(DATASET_LINTS)


def test_code_scan_finds_the_known_codes() -> None:
    codes = emitted_codes()
    assert {"syntax", "undefined-name", "init-only-query", "dead-step", "token-budget",
            "raw-float", "unused-var"} <= codes


def test_every_code_has_a_corpus_file() -> None:
    covered = {code for path in CORPUS for _, _, code in expectations(path)}
    missing = sorted(emitted_codes() - covered - set(ELSEWHERE) - set(UNREACHABLE))
    assert not missing, f"codes without a broken/*.task file: {missing}"


def test_corpus_names_only_real_codes() -> None:
    real = emitted_codes()
    for path in CORPUS:
        bogus = {code for _, _, code in expectations(path)} - real
        assert not bogus, f"{path.name} expects codes nobody emits: {bogus}"


def test_codes_covered_elsewhere_name_real_tests() -> None:
    here = Path(__file__).parent
    for code, ref in ELSEWHERE.items():
        module, name = ref.split("::")
        assert f"def {name}(" in (here / module).read_text(encoding="utf-8"), (code, ref)
        assert code in emitted_codes(), f"{code} is no longer emitted: drop it from ELSEWHERE"
