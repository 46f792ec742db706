"""lints: one registry (tasklang/lints.py), the same findings from check, compile and audit.

The broken fixtures are corpus files (broken/compile_lints.task and friends: their inline
expectations are asserted by test_corpus); here: the registry's own contract, the three
commands agreeing code for code and line for line, `# allow:` acting on all three, the
advice of skewed-let working, and no import cycle among the modules the lints live in.
"""

from __future__ import annotations

import ast as pyast
import re
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime.numbers import format_number
from tasklang import api, lints
from tasklang.diagnostics import Severity, Span, allowed_codes

from ..conftest import LibraryBuild
from .helpers import BROKEN, REPO, write

# The corpus files whose diagnostics include registry lints.
FIXTURES = [BROKEN / "compile_lints.task", BROKEN / "compile_raw_float.task",
            BROKEN / "lints.task"]
REGISTRY = {**lints.LINTS, **lints.DATASET_LINTS}
Seen = set[tuple[int, str, str]]


def _here(diags: list, path: Path) -> Seen:  # type: ignore[type-arg]
    return {(d.span.line, str(d.severity), d.code) for d in diags
            if d.code in REGISTRY and Path(d.span.file).resolve() == path.resolve()}


def by_check(path: Path) -> Seen:
    return _here(api.check([str(path)], sample=True).diagnostics, path)


def by_compile(path: Path, out: Path) -> Seen:
    checked, results = api.compile_paths([str(path)], out)
    return _here(checked.diagnostics + [d for r in results for d in r.diagnostics], path)


def by_audit(path: Path) -> Seen:
    report = api.audit([str(path)], None, n=2)
    diags = [d for pa in report.patterns for d in pa.lints]
    seen = _here(diags, path)
    # Dataset lints: the audit's table flags the same rule (checks.template_shares).
    checked = api.check([str(path)])
    for da in report.datasets:
        few = {r["pattern"] for r in da.template_repeats if r["few"]}
        ds = checked.program.datasets[da.name]
        seen |= {(w.span.line, "warning", "few-template-repeats") for w in ds.patterns
                 if w.pattern in few}
    return seen


# ---------------------------------------------------------------- the registry


def test_registry_codes_are_stable_kebab_case_with_one_severity() -> None:
    assert set(lints.LINTS).isdisjoint(lints.DATASET_LINTS)
    for code, lint in REGISTRY.items():
        assert re.fullmatch(r"[a-z]+(-[a-z]+)+", code), code
        assert lint.code == code and lint.severity in (Severity.ERROR, Severity.WARNING)
        assert lint.summary and not lint.summary.endswith(".")


def test_a_code_is_registered_once() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        lints.lint("raw-float", Severity.WARNING, "again")(lints.raw_float)


def test_every_registered_lint_fires_on_a_fixture() -> None:
    """Each code of the registry is expected somewhere in FIXTURES (test_corpus asserts the
    expectations themselves)."""
    expected = set()
    for path in FIXTURES:
        expected |= set(re.findall(r"[EW]: ([a-z-]+)", path.read_text(encoding="utf-8")))
    assert set(REGISTRY) <= expected, set(REGISTRY) - expected


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_check_compile_and_audit_agree(path: Path, tmp_path: Path) -> None:
    """The same registry codes, severities and lines, whichever command measures them."""
    checked = by_check(path)
    assert checked, path.name
    assert by_compile(path, tmp_path / "out") == checked
    assert by_audit(path) == checked


NURSES = """
    pattern nurses {
        let staff = int 10..99
        let share = choice 1/2, 1/4
        let on_duty = staff * share ALLOW
        template "A ward has {staff} nurses and {on_duty} nurses are on duty. "
                 "How many nurses are on the ward?"
        trace arithmetic {
            init staff
            init on_duty
            result = add(staff, on_duty)
            query result
        }
    }
    dataset d {
        patterns nurses
        split train 20
        min_template_repeats 1
    }
    """


def test_allow_acts_on_every_command_alike(tmp_path: Path) -> None:
    """`# allow: CODE` drops a warning in check, compile and audit; an error stays."""
    skewed = (BROKEN / "compile_lints.task").read_text(encoding="utf-8").replace(
        "# W: skewed-let", "# allow: skewed-let")
    path = write(tmp_path, skewed, "allowed.task")
    for seen in (by_check(path), by_compile(path, tmp_path / "out"), by_audit(path)):
        assert "skewed-let" not in {c for _, _, c in seen}
        assert "never-passes" in {c for _, _, c in seen}
    erring = write(tmp_path, NURSES.replace("ALLOW", "# allow: non-integer-count"), "e.task")
    assert "non-integer-count" in {c for _, _, c in by_check(erring)}


def test_skewed_let_advice_makes_it_uniform(tmp_path: Path) -> None:
    """What skewed-let suggests (draw den first, `where` on total) leaves den uniform."""
    fixed = """
        pattern shares {
            let den = choice 2, 9, 10, 11
            let total = int 10..40 where is_int(total / den)
            template "Ann shares {total} stickers equally among {den} friends. "
                     "How many stickers does each friend get?"
            trace arithmetic {
                init total
                init den
                result = div(total, den)
                query result
            }
        }
        dataset d {
            patterns shares
            split train 40
            min_template_repeats 1
        }
        """
    path = write(tmp_path, fixed)
    assert by_check(path) == set()
    assert by_check(BROKEN / "compile_lints.task") >= {(76, "warning", "skewed-let")}


# ---------------------------------------------------------------- the shipped library

# The shipped library once had 35 skewed lets (each checked with others in a `require`,
# up to 12 times more often one value than another). Each was fixed by drawing the lets in
# order with the condition as a `where` on the let that decides it, never by `# allow:`:
# every lint, skewed-let included, stays quiet on tasks/, and none is acknowledged there.
def test_the_shipped_library_is_quiet(compiled_library: LibraryBuild) -> None:
    registry = [d.headline() for d in compiled_library.diagnostics if d.code in REGISTRY]
    assert not registry, registry


def test_no_lint_is_acknowledged_in_the_library() -> None:
    """`# allow:` names a lint nowhere in tasks/: quiet means fixed, not silenced."""
    allowed = [(p.name, n, sorted(allowed_codes(line) & REGISTRY.keys()))
               for p in sorted((REPO / "tasks").rglob("*.task"))
               for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
               if allowed_codes(line) & REGISTRY.keys()]
    assert not allowed, allowed
    # Not vacuous: the library's one `# allow:` (step-count-mismatch, a check outside the
    # registry) is read by the same scan.
    assert allowed_codes((REPO / "tasks/gsm/library.task").read_text(encoding="utf-8")) == {
        "step-count-mismatch"}


# ---------------------------------------------------------------- properties


def _facts(accepted: dict[int, int], declared: tuple[int, ...]) -> lints.PatternFacts:
    span = Span.point("p.task")
    let = lints.LetFacts("x", span, declared, (Fraction(min(declared)), Fraction(max(declared))),
                         tuple(accepted.items()), tuple(accepted.items()), False, False)
    return lints.PatternFacts("p", span, (let,), (), (), (), sum(accepted.values()),
                              False, False, True)


@given(st.sets(st.integers(1, 20), min_size=2, max_size=20), st.integers(10, 200))
def test_uniform_acceptance_is_never_skewed(values: set[int], each: int) -> None:
    declared = tuple(range(1, 21))
    facts = _facts({v: each for v in values}, declared)
    assert not list(lints.skewed_let(facts))


@given(st.integers(2, 20), st.integers(200, 2000))
def test_one_value_taking_most_is_skewed(n: int, total: int) -> None:
    """One value taking 80% of n >= 2 passing values is at distance >= 0.3."""
    big = total * 4 // 5
    rest = (total - big) // (n - 1) or 1
    counts = {1: big, **{v: rest for v in range(2, n + 1)}}
    if sum(counts.values()) >= lints.SKEW_MIN_ACCEPTED:
        assert [f.span for f in lints.skewed_let(_facts(counts, tuple(range(1, n + 1))))]


@given(st.fractions(min_value=0, max_value=10**6).filter(
    lambda x: x.denominator in (1, 2, 4, 5, 10, 20, 25, 50, 100)))
def test_question_numbers_read_back_what_format_number_wrote(x: Fraction) -> None:
    text = format_number(x)
    with_commas = f"{x.numerator // x.denominator:,}" + text[len(str(x.numerator // x.denominator)):]
    for shown in (text, with_commas, f"${text}"):
        assert text in lints.question_numbers(f"Ann pays {shown}. How much?")


# ---------------------------------------------------------------- structure


MODULES = ["api", "audit", "audit_report", "build", "checked", "checks", "coverage", "lints",
           "preflight"]


def _imports(module: str) -> set[str]:
    """The tasklang modules `module` imports at run time (type-only imports excluded)."""
    tree = pyast.parse((REPO / "tasklang" / f"{module}.py").read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in pyast.walk(tree):
        if isinstance(node, pyast.If) and "TYPE_CHECKING" in pyast.unparse(node.test):
            typing_only |= {id(n) for n in pyast.walk(node)}
    out = set()
    for node in pyast.walk(tree):
        if isinstance(node, pyast.ImportFrom) and id(node) not in typing_only:
            if node.level == 1 and node.module:
                out.add(node.module.split(".")[0])
            elif node.level == 1:
                out |= {a.name for a in node.names}
            elif node.module and node.module.startswith("tasklang."):
                out.add(node.module.split(".")[1])
    return out


def test_no_import_cycle_among_the_lint_modules() -> None:
    """api -> audit -> coverage had a cycle (audit imported api, coverage audit): audit now
    takes a checked program (tasklang/checked.py) and coverage a protocol."""
    graph = {m: _imports(m) & set(MODULES) for m in MODULES}

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += graph[m]
        return seen

    cycles = [m for m in MODULES if m in reach(m)]
    assert not cycles, {m: sorted(graph[m]) for m in cycles}
    assert "api" not in _imports("audit") and "audit" not in _imports("coverage")
    assert "preflight" in _imports("build") and "build" not in _imports("preflight")


_LOSS = """pattern penalty {{
    let score = int 20..40
    let wrong = int 2..6
    template "Sam scored {{score}} points, then lost 3 for each of {{wrong}} wrong answers. Score now?"
    trace arithmetic {{
        init score
        init wrong
        {step}
        result = add(score, lost)
        query result
    }}
}}

dataset penalties {{
    patterns penalty
    split train 8
    min_template_repeats 1
}}
"""


def test_a_negative_constant_the_trace_writes_is_meant(tmp_path: Path) -> None:
    """`mul(wrong, -3)` (or `init c = -3`) says the author means a negative value: no
    negative-intermediate. The same loss computed by mistake from a subtraction still fires."""
    meant = write(tmp_path, _LOSS.format(step="lost = mul(wrong, -3)"), "meant.task")
    assert "negative-intermediate" not in {c for _, _, c in by_check(meant)}
    wrong = write(tmp_path, _LOSS.format(step="lost = sub(wrong, score)"), "wrong.task")
    assert "negative-intermediate" in {c for _, _, c in by_check(wrong)}
