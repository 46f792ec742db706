"""Mutation fuzzing: valid .task files (shipped tasks and golden inputs) with random tokens or
characters deleted, inserted or swapped. check() must return diagnostics and never raise;
when a mutant still checks clean it must compile (small splits) without raising; and the CLI
must exit 0 or 1 with no traceback."""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tasklang import api
from tasklang.cli import main
from tasklang.confine import LoadOptions
from tasklang.diagnostics import Diagnostic

from .helpers import GOLDEN, SHIPPED, TASKS, shrink_splits, support_files

SEEDS: dict[str, str] = {}
for _path in SHIPPED:
    SEEDS[str(_path.relative_to(TASKS))] = shrink_splits(_path.read_text(encoding="utf-8"), 8)
for _path in sorted(GOLDEN.glob("*.task")):
    SEEDS["golden/" + _path.name] = shrink_splits(_path.read_text(encoding="utf-8"), 8)

TOKEN = re.compile(r'"(?:[^"\\\n]|\\.)*"|\{[^{}\s]*\}|[A-Za-z_]\w*|\d+(?:\.\d+)?|\.\.|\*\*|//|'
                   r"[<>=!]=|\S")
INSERTS = ["let", "int", "decimal", "choice", "pick", "generate", "require", "template", "trace",
           "init", "query", "answer", "for", "lang", "step", "prev", "=", "..", ",", "(", ")",
           "{", "}", '"x"', '"{a}"', '"{{"', "0", "-1", "1.5", "99999999999", "**", "/", "//",
           "%", "and", "not", "held_out", "split", "seed", "patterns", "max_length", "1/0",
           "result", "answer", "distinct from", "max_tokens", ".", "{who}", "@", ":", "unique",
           "payloads", "language", "consume", "percent_of", "add", "div", "expert", "vocab",
           "import", "'", "\\", "#", "\n", "round(", "min(", "is_int(", "words", "money"]
CHARS = '{}"@:.=,()x1\n\\#-'


@st.composite
def mutants(draw: st.DrawFn) -> tuple[str, str]:
    """(seed file name, mutated text): one to four token or character edits."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    text = SEEDS[name]
    for _ in range(draw(st.integers(1, 4))):
        spans = [m.span() for m in TOKEN.finditer(text)]
        kind = draw(st.sampled_from(["delete", "insert", "swap", "duplicate", "char-delete",
                                     "char-insert"]))
        s, e = spans[draw(st.integers(0, len(spans) - 1))]
        if kind == "delete":
            text = text[:s] + text[e:]
        elif kind == "insert":
            text = text[:s] + draw(st.sampled_from(INSERTS)) + " " + text[s:]
        elif kind == "duplicate":
            text = text[:e] + " " + text[s:e] + text[e:]
        elif kind == "swap":
            s2, e2 = spans[draw(st.integers(0, len(spans) - 1))]
            if s2 >= e:
                text = text[:s] + text[s2:e2] + text[e:s2] + text[s:e] + text[e2:]
        else:
            i = draw(st.integers(0, max(0, len(text) - 1)))
            text = text[:i] + text[i + 1:] if kind == "char-delete" else (
                text[:i] + draw(st.sampled_from(CHARS)) + text[i:])
    return name, text


def materialise(tmp: Path, name: str, text: str) -> Path:
    """All seed files in a fresh directory (imports keep working), the mutant in place of one."""
    supports = [(s, tmp / s.relative_to(TASKS)) for s in support_files(TASKS)]  # tokenizer.json
    supports += [(s, tmp / "golden" / s.relative_to(GOLDEN)) for s in support_files(GOLDEN)]
    for support, target in supports:  # ... and reference solutions, beside their .task files
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(support.read_bytes())
    for other, body in SEEDS.items():
        target = tmp / other
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def assert_spans_inside(checked: api.Checked) -> None:
    """Every diagnostic points at a real position of its file (carets can be drawn)."""
    for d in checked.diagnostics:
        text = checked.sources.get(d.span.file)
        if text is None:
            continue
        lines = text.splitlines() or [""]
        assert 1 <= d.span.line <= len(lines) + 1, d.headline()
        if d.span.line <= len(lines):
            assert 1 <= d.span.col <= len(lines[d.span.line - 1]) + 1, d.headline()
        assert (d.span.end_line, d.span.end_col) >= (d.span.line, d.span.col), d.headline()


FUZZ = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                      HealthCheck.data_too_large])


@settings(FUZZ, max_examples=120)
@given(mutants())
def test_check_and_compile_never_raise(mutant: tuple[str, str]) -> None:
    name, text = mutant
    with tempfile.TemporaryDirectory() as tmp:
        path = materialise(Path(tmp), name, text)
        root = LoadOptions(root=Path(tmp))  # the seeds import each other across folders
        checked = api.check([str(path)], root)
        assert isinstance(checked.diagnostics, list)
        assert all(isinstance(d, Diagnostic) for d in checked.diagnostics)
        assert_spans_inside(checked)
        if checked.ok:
            out = Path(tmp) / "out"
            checked, results = api.compile_paths([str(path)], out, options=root)
            for r in results:
                assert isinstance(r.diagnostics, list)
                assert r.ok == (r.out_dir is not None)
            if out.exists():
                assert not [p for p in out.iterdir() if p.name.startswith(".")]


@settings(FUZZ, max_examples=40)
@given(mutants())
def test_cli_exits_cleanly_on_mutants(mutant: tuple[str, str]) -> None:
    name, text = mutant
    runner = CliRunner()
    with tempfile.TemporaryDirectory() as tmp:
        path = materialise(Path(tmp), name, text)
        for args in (["check", "--root", tmp, str(path)],
                     ["compile", "--root", tmp, str(path), "-o", str(Path(tmp) / "o")],
                     ["check", "--root", tmp, "--format", "json", str(path)]):
            result = runner.invoke(main, args)
            output = result.output + (result.stderr if result.stderr_bytes is not None else "")
            assert result.exit_code in (0, 1), (args, result.exit_code, output[-2000:])
            assert "Traceback" not in output and "internal error" not in output, output[-2000:]
            assert result.exception is None or isinstance(result.exception, SystemExit)
        shutil.rmtree(Path(tmp) / "o", ignore_errors=True)


def test_seeds_are_valid() -> None:
    """The fuzzer starts from files that check clean: its mutants are near misses."""
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in SEEDS.items():
            checked = api.check([str(materialise(Path(tmp), name, text))],
                                LoadOptions(root=Path(tmp)))
            assert checked.ok, (name, [d.headline() for d in checked.diagnostics])


def test_known_crasher_generate_with_derived_difficulty() -> None:
    """Found by this fuzzer's family: a derived generator parameter out of its range."""
    text = ('pattern p {\n  let n = int 1..3\n  let e = generate rpn(difficulty = n - 5)\n'
            '  template "{e}"\n  answer "{e.answer}"\n}\n'
            'dataset d { patterns p split train 3 min_template_repeats 1 }\n')
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.task"
        path.write_text(text, encoding="utf-8")
        result = CliRunner().invoke(main, ["compile", str(path), "-o", str(Path(tmp) / "o")])
        assert result.exit_code in (0, 1), result.output
