"""Code answers (`function`, `tests`, `reference`): parsing, records, splits, sandbox grading,
the compile-time reference check, the CLI, and the shipped tasks/procedural/procedural_code."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from runtime.sandbox import SandboxLimits, grade_code, grade_record, record_cases
from tasklang import api, ast
from tasklang.cli import main
from tasklang.code_answers import expected_value
from tasklang.generators import GENERATORS
from tasklang.parser import parse_text
from tasklang.record import payload_of

from .helpers import REPO, read_jsonl, tree_bytes, write

PROCEDURAL = REPO / "tasks" / "procedural"
CODE = PROCEDURAL / "code"
LIMITS = SandboxLimits(case_timeout_s=2.0, timeout_s=20.0)

RPN = """
pattern rpn_code {
    let d = int 2..3
    let e = generate rpn(difficulty = d)
    template for train "Write `evaluate_rpn(expression: str) -> int`. Example: {e} gives {e.answer}."
    template for val "Define evaluate_rpn(expression: str) -> int; {e} gives {e.answer}."
    template for test "Code evaluate_rpn(expression: str) -> int for postfix {e} ({e.answer})."
    function evaluate_rpn(expression: str) -> int
    tests 6 from generate rpn(difficulty = 1..3)
    tests 2 from generate rpn(difficulty = d)
    reference "code/evaluate_rpn.py"
}

dataset small_code {
    patterns rpn_code
    split train 40
    split val 12 held_out
    split test 12 held_out
    seed 9
    min_template_repeats 1
}
"""


def _project(tmp: Path, text: str = RPN) -> Path:
    shutil.copytree(CODE, tmp / "code")
    return write(tmp, text, "code.task")


def _compile(path: Path, out: Path) -> dict[str, list[dict[str, Any]]]:
    checked, results = api.compile_paths([str(path)], out)
    assert checked.ok, [d.headline() for d in checked.diagnostics]
    (result,) = results
    assert result.ok and result.out_dir is not None, [d.headline() for d in result.diagnostics]
    return {s: read_jsonl(result.out_dir / f"{s}.jsonl") for s in result.counts}


def _operators(expression: str) -> int:
    return sum(1 for t in expression.split() if t in "+-*")


# ---------------------------------------------------------------- the construct


def test_statements_parse_into_typed_nodes() -> None:
    module, diags = parse_text(RPN, "code.task")
    assert not diags and module is not None
    pattern = module.items[0]
    assert isinstance(pattern, ast.Pattern)
    (fn,) = pattern.functions
    assert fn.signature == "evaluate_rpn(expression: str) -> int"
    first, second = pattern.tests
    assert (first.count, first.generator, first.kwargs[0].name) == (6, "rpn", "difficulty")
    assert isinstance(first.kwargs[0].hi, ast.Num) and second.kwargs[0].hi is None
    assert pattern.references[0].path == "code/evaluate_rpn.py"


def test_keywords_stay_usable_as_let_names(tmp_path: Path) -> None:
    checked = api.check([str(write(tmp_path, """
        pattern p {
            let function = int 1..3
            let tests = function + 1
            let reference = tests * 2
            template "{reference}"
            answer "{reference}"
        }
    """))])
    assert checked.ok, [d.headline() for d in checked.diagnostics]


def test_records_carry_function_cases_and_the_fenced_reference(tmp_path: Path) -> None:
    splits = _compile(_project(tmp_path), tmp_path / "out")
    reference = (CODE / "evaluate_rpn.py").read_text(encoding="utf-8")
    for records in splits.values():
        for r in records:
            assert r["function"] == "evaluate_rpn" and r["expert"] is None and r["experts"] == []
            assert r["answer"] == reference
            assert r["completion"] == [{"role": "assistant",
                                        "content": f"```python\n{reference}```"}]
            assert "evaluate_rpn" in r["prompt"][1]["content"]
            cases = record_cases(r)
            assert len(cases) == 8 and all(isinstance(t["args"], str) for t in r["tests"])
            # Ranges are spread over the cases in order; a single value serves every case.
            ops = [_operators(args[0]) for args, _ in cases]
            assert ops == [1, 2, 3, 1, 2, 3, int(payload_of(r)["d"]), int(payload_of(r)["d"])]
            for (expression,), expected in cases:
                assert type(expected) is int
                assert str(expected) == _rpn(expression)


def _rpn(text: str) -> str:
    stack: list[int] = []
    for t in text.split():
        if t in "+-*":
            b, a = stack.pop(), stack.pop()
            stack.append(a + b if t == "+" else a - b if t == "-" else a * b)
        else:
            stack.append(int(t))
    return str(stack[0])


def test_no_test_case_is_shared_by_two_splits(tmp_path: Path) -> None:
    splits = _compile(_project(tmp_path), tmp_path / "out")
    owned = {s: {t["args"] for r in records for t in r["tests"]} for s, records in splits.items()}
    assert all(owned.values())
    names = sorted(owned)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not owned[a] & owned[b], (a, b)
    # Difficulty 1 has only 243 RPN expressions: every split still found its own.
    assert all(any(_operators(json.loads(a)[0]) == 1 for a in args) for args in owned.values())


def test_expected_values_follow_the_declared_return_type() -> None:
    from tasklang.rng import StreamRandom

    rng = StreamRandom.of(3)
    rpn = GENERATORS["rpn"].fn(rng, difficulty=2)
    brackets = GENERATORS["brackets"].fn(rng, difficulty=2)
    assert expected_value(rpn, "int") == int(rpn.answer)
    assert expected_value(rpn, "str") == rpn.answer
    assert expected_value(brackets, "bool") is (brackets.answer == "True")
    assert {g.returns for g in GENERATORS.values()} <= {"int", "bool", "str"}


def test_compiling_twice_gives_the_same_bytes(tmp_path: Path) -> None:
    path = _project(tmp_path)
    _compile(path, tmp_path / "one")
    _compile(path, tmp_path / "two")
    assert tree_bytes(tmp_path / "one") == tree_bytes(tmp_path / "two")


def test_another_seed_gives_other_cases(tmp_path: Path) -> None:
    one = _compile(_project(tmp_path / "a"), tmp_path / "a" / "out")
    two = _compile(_project(tmp_path / "b", RPN.replace("seed 9", "seed 10")), tmp_path / "b" / "out")
    assert one["train"][0]["tests"] != two["train"][0]["tests"]


def test_manifest_hashes_the_reference_file(tmp_path: Path) -> None:
    _compile(_project(tmp_path), tmp_path / "out")
    manifest = json.loads((tmp_path / "out" / "small_code" / "manifest.json").read_text())
    assert "code/evaluate_rpn.py" in manifest["files"]


# ---------------------------------------------------------------- the reference is run


def test_a_reference_that_fails_a_case_stops_the_build(tmp_path: Path) -> None:
    path = _project(tmp_path)
    wrong = (tmp_path / "code" / "evaluate_rpn.py")
    wrong.write_text(wrong.read_text().replace("left * right", "left * right + (right == 7)"))
    checked, (result,) = api.compile_paths([str(path)], tmp_path / "out")
    assert checked.ok and not result.ok
    (d,) = result.diagnostics
    assert d.code == "reference-fails" and d.span.line == 10
    assert re.match(r"evaluate_rpn\('[\d +*-]+'\) returned -?\d+, expected -?\d+", d.message)
    assert not (tmp_path / "out" / "small_code").exists()
    assert not any(p.name.startswith(".") for p in (tmp_path / "out").iterdir())


@pytest.mark.parametrize(("body", "status"), [
    ("    while True:\n        pass\n", "exec_error:timeout"),
    ("    import os\n    os.system('touch escaped')\n    return 0\n", "exec_error:refused"),
    ("    open('escaped', 'w').write('x')\n    return 0\n", "exec_error:refused"),
])
def test_a_hostile_reference_is_refused_and_touches_nothing(tmp_path: Path, body: str,
                                                            status: str) -> None:
    path = _project(tmp_path)
    (tmp_path / "code" / "evaluate_rpn.py").write_text(f"def evaluate_rpn(expression):\n{body}")
    _, (result,) = api.compile_paths([str(path)], tmp_path / "out")
    (d,) = result.diagnostics
    assert d.code == "reference-fails" and status in " ".join(d.notes)
    assert not (tmp_path / "escaped").exists() and not (REPO / "escaped").exists()


# ---------------------------------------------------------------- the shipped dataset


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("procedural_code")
    return _compile(PROCEDURAL / "procedural_code.task", out)


def test_shipped_dataset_sizes_patterns_and_held_out_phrasings(
        shipped: dict[str, list[dict[str, Any]]]) -> None:
    assert {s: len(r) for s, r in shipped.items()} == {"train": 240, "val": 30, "test": 30}
    functions = {"rpn_code": "evaluate_rpn", "arithmetic_code": "evaluate_expression",
                 "brackets_code": "is_balanced"}
    templates = {s: {r["template_id"] for r in records} for s, records in shipped.items()}
    assert not templates["train"] & templates["val"] and not templates["val"] & templates["test"]
    for records in shipped.values():
        assert {r["pattern"] for r in records} == set(functions)
        for r in records:
            assert r["function"] == functions[r["pattern"]]
            ops = [_operators(a[0].replace("(", " ").replace(")", " ")) if r["pattern"] != "brackets_code"
                   else len(a[0]) // 2 for a, _ in record_cases(r)]
            assert ops == list(range(1, 9))  # difficulty 1..8, one case each


def test_every_shipped_reference_completion_grades_one(shipped: dict[str, list[dict[str, Any]]]) -> None:
    """A sample of records, each graded alone on its own cases (the build checked them all
    at once)."""
    sample = [r for records in shipped.values() for r in records[:: max(1, len(records) // 8)]]
    assert {r["pattern"] for r in sample} == {"rpn_code", "arithmetic_code", "brackets_code"}
    for r in sample:
        result = grade_record(r["completion"][0]["content"], r, limits=LIMITS)
        assert (result.grade.status, result.grade.reward) == ("correct", 1.0), (r["id"], result.message)
        assert result.passed == result.total == 8


WRONG = {
    "evaluate_rpn": "def evaluate_rpn(expression: str) -> int:\n    return len(expression)\n",
    "evaluate_expression": ("def evaluate_expression(expression: str) -> int:\n"
                            "    return eval(expression) + 1\n"),
    "is_balanced": "def is_balanced(brackets: str) -> bool:\n    return len(brackets) % 2 == 0\n",
}
HOSTILE = [
    ("while True:\n        pass", "exec_error:timeout"),
    ("import os\n    os.system('touch /tmp/tasklang-escaped')", "exec_error:refused"),
    ("import socket\n    socket.create_connection(('1.1.1.1', 80))", "exec_error:refused"),
    ("open('/tmp/tasklang-escaped', 'w').write('x')", "exec_error:refused"),
    ("import os\n    os.fork()", "exec_error:refused"),
    ("x = bytearray(2 ** 34)", "wrong_answer"),  # MemoryError inside the case: it failed
]


def test_wrong_and_hostile_solutions_get_zero(shipped: dict[str, list[dict[str, Any]]]) -> None:
    r = next(r for r in shipped["val"] if r["pattern"] == "rpn_code")
    wrong = grade_record(WRONG["evaluate_rpn"], r, limits=LIMITS).grade
    assert (wrong.status, wrong.reward) == ("wrong_answer", 0.0)
    for body, status in HOSTILE:
        text = f"```python\ndef evaluate_rpn(expression: str) -> int:\n    {body}\n    return 0\n```"
        got = grade_record(text, r, limits=LIMITS).grade
        assert (got.status, got.reward) == (status, 0.0), body
    assert not Path("/tmp/tasklang-escaped").exists()
    for records in shipped.values():
        for pattern, text in (("arithmetic_code", WRONG["evaluate_expression"]),
                              ("brackets_code", WRONG["is_balanced"])):
            r = next(r for r in records if r["pattern"] == pattern)
            assert grade_code(text, r["function"], record_cases(r), limits=LIMITS).reward == 0.0


def test_shipped_dataset_is_deterministic(tmp_path: Path,
                                          shipped: dict[str, list[dict[str, Any]]]) -> None:
    again = _compile(PROCEDURAL / "procedural_code.task", tmp_path)
    assert again == shipped


# ---------------------------------------------------------------- the CLI


def test_grade_runs_code_records_in_the_sandbox(tmp_path: Path,
                                                shipped: dict[str, list[dict[str, Any]]]) -> None:
    records = [r for r in shipped["test"] if r["pattern"] == "brackets_code"][:2]
    rows = [{**records[0], "text": records[0]["completion"][0]["content"]},
            {**records[1], "text": WRONG["is_balanced"]},
            {"id": "bad", "text": "x", "function": "is_balanced", "tests": [{"args": "[1"}]}]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = CliRunner().invoke(main, ["grade", str(f), "--format", "json"])
    lines = [json.loads(line) for line in got.stdout.splitlines()]
    assert [(x["status"], x.get("reward")) for x in lines] == [
        ("correct", 1.0), ("wrong_answer", 0.0), ("input_error", None)]
    assert (lines[0]["cases_passed"], lines[0]["cases"]) == (8, 8)
    assert got.exit_code == 1  # the malformed line


def test_preview_lists_the_cases() -> None:
    got = CliRunner().invoke(main, ["preview", str(PROCEDURAL / "procedural_code.task"),
                                    "-p", "rpn_code", "-n", "1"])
    assert got.exit_code == 0, got.output
    assert "tests (8):" in got.stdout and "  evaluate_rpn('" in got.stdout
    got = CliRunner().invoke(main, ["preview", str(PROCEDURAL / "procedural_code.task"),
                                    "-p", "brackets_code", "-n", "1", "--format", "json"])
    (item,) = json.loads(got.stdout)
    assert item["function"] == "is_balanced" and len(item["tests"]) == 8
