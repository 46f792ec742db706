"""`tasklang solve` and `tasklang grade`: exit codes, JSON shapes, order and summaries."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tasklang.cli import main
from tests.runtime.helpers import JANET

RUNNER = CliRunner()


def run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return RUNNER.invoke(main, list(args), input=stdin)


def test_solve_json_has_the_documented_shape(tmp_path: Path) -> None:
    f = tmp_path / "out.txt"
    f.write_text("Sure:\n```yaml\n" + JANET + "```\n")
    got = run("solve", str(f), "--answer", "26", "--expert", "entity_track", "--format", "json")
    assert got.exit_code == 0
    data = json.loads(got.stdout)
    assert {"status", "reward", "value", "error"} <= set(data)
    assert (data["status"], data["reward"], data["value"], data["error"]) == \
        ("correct", 1.0, "26", None)


def test_solve_exits_zero_whatever_the_grade() -> None:
    for text, status in (("no trace here", "parse_failure"),
                         (JANET.replace("query, var: result", "query, var: price"),
                          "exec_error:short_circuit"),
                         (JANET, "wrong_answer")):
        got = run("solve", "-", "--answer", "19", "--format", "json", stdin=text)
        assert got.exit_code == 0, got.output
        assert json.loads(got.stdout)["status"] == status


def test_solve_text_output_shows_status_and_trace() -> None:
    got = run("solve", "-", "--answer", "26", stdin=JANET)
    assert got.exit_code == 0
    assert "status: correct" in got.stdout and "{op: query, var: result}" in got.stdout


def test_solve_usage_errors_are_clear_and_non_zero(tmp_path: Path) -> None:
    got = run("solve", str(tmp_path / "missing.txt"))
    assert got.exit_code == 1 and "cannot read" in got.output and "Traceback" not in got.output
    got = run("solve", "-", "--answer", "eighteen", stdin=JANET)
    assert got.exit_code == 2 and "--answer" in got.output
    got = run("solve", "-", "--format", "xml", stdin=JANET)
    assert got.exit_code == 2


def test_grade_one_result_per_line_in_order_and_a_summary(tmp_path: Path) -> None:
    rows = [
        {"id": "a", "text": JANET, "answer": "26", "expert": "entity_track"},
        {"id": "b", "text": "the answer is 26", "answer": 26},
        {"id": "c", "text": JANET, "answer": "26", "expert": "arithmetic"},
        {"id": "d", "text": JANET, "answer": 20},
    ]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = RUNNER.invoke(main, ["grade", str(f), "--format", "json"])
    assert got.exit_code == 0
    lines = [json.loads(line) for line in got.stdout.splitlines()]
    assert [r["id"] for r in lines] == ["a", "b", "c", "d"]
    assert [r["status"] for r in lines] == ["correct", "parse_failure", "wrong_expert",
                                             "wrong_answer"]
    summary = json.loads(got.stderr.strip().splitlines()[-1])
    assert summary["n"] == 4
    assert summary["statuses"] == {"correct": 1, "parse_failure": 1, "wrong_answer": 1,
                                   "wrong_expert": 1}
    assert abs(summary["mean_reward"] - (1.0 + 0.0 + 0.3 + 0.7) / 4) < 1e-12


def test_grade_reports_bad_lines_in_place_and_exits_one(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"text": JANET, "answer": 26}) + "\n{not json\n"
                 + json.dumps({"answer": 26}) + "\n"
                 + json.dumps({"text": JANET, "answer": "many"}) + "\n")
    got = RUNNER.invoke(main, ["grade", str(f)])
    assert got.exit_code == 1
    lines = [json.loads(line) for line in got.stdout.splitlines()]
    assert [r["status"] for r in lines] == ["correct", "input_error", "input_error",
                                             "input_error"]
    assert [r["line"] for r in lines] == [1, 2, 3, 4]
    assert "Traceback" not in got.output


def test_grade_agrees_with_the_training_reward_on_every_record_kind(tmp_path: Path) -> None:
    """Regression: `tasklang grade` once returned input_error on an exact-text record
    (`"expert": null`) that the training reward graded correct. Both now go through
    runtime.records, so the verdicts are the same line for line."""
    from runtime.records import grade_record

    exact = {"id": "wrap/0", "answer": "[nebula]", "expert": None, "experts": []}
    rows = [
        {**exact, "text": "[nebula]"},
        {**exact, "text": "```\n[nebula]\n```"},
        {**exact, "text": "nebula"},
        {"id": "t", "text": JANET, "answer": "26", "expert": "entity_track"},
    ]
    f = tmp_path / "in.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    got = RUNNER.invoke(main, ["grade", str(f), "--format", "json"])
    assert got.exit_code == 0, got.output
    lines = [json.loads(line) for line in got.stdout.splitlines()]
    assert [r["status"] for r in lines] == ["correct", "correct", "wrong_answer", "correct"]
    assert [r["status"] for r in lines] == [grade_record(r["text"], r).status for r in rows]


def test_grade_names_the_bad_field_of_an_exact_record(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"text": "14", "answer": 14, "expert": None}) + "\n")
    got = RUNNER.invoke(main, ["grade", str(f), "--format", "json"])
    assert got.exit_code == 1
    line = json.loads(got.stdout)
    assert line["status"] == "input_error"
    assert line["error"].startswith('"answer": an exact-text record needs a string answer')
