"""`tasklang solve --question` / `--question-file` and the `question` field of `tasklang grade`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tasklang.cli import main
from tests.runtime.helpers import HOUSE, JANET

RUNNER = CliRunner()
QUESTION = "Janet's hens lay 16 eggs. She eats 3 and sells the rest for $2 each. Dollars?"


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(main, list(args), input=stdin)


def status(got) -> str:  # type: ignore[no-untyped-def]
    assert got.exit_code == 0, got.output
    return json.loads(got.stdout)["status"]  # type: ignore[no-any-return]


def test_solve_grounds_inits_in_the_question(tmp_path: Path) -> None:
    assert status(run("solve", "-", "-a", "26", "--format", "json", "--question", QUESTION,
                      stdin=JANET)) == "correct"
    assert status(run("solve", "-", "-a", "26", "--format", "json", "-q", "She has 16 eggs.",
                      stdin=JANET)) == "exec_error:ungrounded_init"
    q = tmp_path / "q.txt"
    q.write_text(QUESTION)
    assert status(run("solve", "-", "-a", "26", "--format", "json", "--question-file", str(q),
                      stdin=JANET)) == "correct"
    assert status(run("solve", "-", "-a", "26", "--format", "json", "-q", "16 eggs, 2 dollars.",
                      "--constant", "3", stdin=JANET)) == "correct"


def test_solve_question_usage_errors(tmp_path: Path) -> None:
    got = run("solve", "-", "-q", "x", "--question-file", str(tmp_path / "q"), stdin=JANET)
    assert got.exit_code == 2 and "not both" in got.output
    got = run("solve", "-", "--question-file", str(tmp_path / "missing"), stdin=JANET)
    assert got.exit_code != 0 and "Traceback" not in got.output
    got = run("solve", "-", "--constant", "three", stdin=JANET)
    assert got.exit_code == 2 and "--constant" in got.output
    got = run("solve", "-", "--expert", "composition", stdin=HOUSE)
    assert got.exit_code == 2 and "--expert" in got.output and "sequence" in got.output


def test_grade_lines_take_a_question_or_the_records_prompt(tmp_path: Path) -> None:
    prompt = [{"role": "system", "content": "Experts: ..."}, {"role": "user", "content": QUESTION}]
    rows = [
        {"id": "q", "text": JANET, "answer": "26", "question": QUESTION},
        {"id": "bare", "text": JANET, "answer": "26", "question": "16 eggs"},
        {"id": "prompt", "text": JANET, "answer": "26", "prompt": prompt},
        {"id": "none", "text": JANET, "answer": "26"},
        {"id": "bad", "text": JANET, "answer": "26", "question": 16},
        {"id": "seq", "text": HOUSE, "answer": "70000", "expert": "composition",
         "experts": ["percentage", "arithmetic"]},
    ]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = run("grade", str(f))
    out = {r["id"]: r["status"] for r in map(json.loads, got.stdout.splitlines())}
    assert out == {"q": "correct", "bare": "exec_error:ungrounded_init", "prompt": "correct",
                   "none": "correct", "bad": "input_error", "seq": "correct"}
