"""cli: `tasklang check`, `preview` and `compile` — exit codes, text and JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tasklang import api
from tasklang.cli import main

from ..conftest import LibraryBuild
from .helpers import BROKEN as BROKEN_DIR
from .helpers import SHIPPED, TASKS, write

BROKEN = """
    pattern p {
        let a = int 1..zz
        template "{a}"
        answer "{a}"
    }
    """


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def test_check_ok(checked_library: api.Checked) -> None:
    r = run("check", "--no-sample", str(TASKS))  # sampling the library: compile's tests
    assert r.exit_code == 0
    checked = checked_library
    program = checked.program
    assert (f"ok: {len(SHIPPED)} file(s), {len(program.patterns)} pattern(s), "
            f"{len(api.datasets_of(checked))} dataset(s)") in r.stderr


def test_check_reports_rendered_diagnostics(tmp_path: Path) -> None:
    src = write(tmp_path, BROKEN)
    r = run("check", str(src))
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0].endswith(":2:20: error[undefined-name]: zz is not defined (yet)")
    assert lines[1] == "   2 |     let a = int 1..zz"
    assert lines[2] == " " * 26 + "^~"
    assert lines[-1] == "1 error(s), 0 warning(s)"
    assert r.stdout == ""


def test_check_samples_unless_told_not_to() -> None:
    """`check` runs compile's sampled checks: an unsatisfiable require fails it, at the
    require; `--no-sample` keeps the static part (which this file passes)."""
    path = str(BROKEN_DIR / "compile_unsatisfiable.task")
    r = run("check", path)
    assert r.exit_code == 1
    assert "compile_unsatisfiable.task:4:13: error[unsatisfiable]: never: every one of" in r.stderr
    assert "= note: dataset d lists never at " in r.stderr
    r = run("check", "--no-sample", path)
    assert r.exit_code == 0 and "ok: 1 file(s)" in r.stderr


def test_check_json(tmp_path: Path) -> None:
    r = run("check", "--format", "json", str(write(tmp_path, BROKEN)))
    assert r.exit_code == 1
    (d,) = json.loads(r.stdout)
    assert (d["code"], d["severity"], d["line"], d["col"]) == ("undefined-name", "error", 2, 20)


def test_check_missing_path(tmp_path: Path) -> None:
    r = run("check", str(tmp_path / "nope.task"))
    assert r.exit_code == 1 and "missing-file" in r.stderr


def test_warnings_alone_do_not_fail(tmp_path: Path) -> None:
    src = write(tmp_path, """
        pattern p {
            let a = int 1..9
            let unused = 3
            template "{a}"
            answer "{a}"
        }
        """)
    r = run("check", str(src))
    assert r.exit_code == 0 and "warning[unused-var]" in r.stderr


def test_preview_text_and_json() -> None:
    core = str(TASKS / "gsm" / "core.task")
    r = run("preview", core, "-p", "rate_time_quantity", "-n", "2")
    assert r.exit_code == 0
    assert r.stdout.count("── rate_time_quantity") == 2 and "expert: rate_equation" in r.stdout
    r = run("preview", core, "-p", "times_more", "-n", "1", "--format", "json", "--seed", "3")
    (item,) = json.loads(r.stdout)
    assert {"pattern", "template_id", "question", "completion", "answer", "payload"} <= set(item)


def test_preview_of_a_broken_file_fails(tmp_path: Path) -> None:
    r = run("preview", str(write(tmp_path, BROKEN)))
    assert r.exit_code == 1 and "undefined-name" in r.stderr


def test_compile_text(tmp_path: Path) -> None:
    """One line per dataset on stderr (tasks/gsm/core.task: one small dataset)."""
    r = run("compile", str(TASKS / "gsm" / "core.task"), "-o", str(tmp_path / "a"))
    assert r.exit_code == 0
    assert "gsm_core: " in r.stderr and (tmp_path / "a" / "gsm_core" / "manifest.json").is_file()


@pytest.mark.slow
def test_compile_json(compiled_library_again: LibraryBuild) -> None:
    """The session's CLI build of all of tasks/ (`--format json`)."""
    data = json.loads(compiled_library_again.output)
    assert data["ok"] is True
    ds = next(d for d in data["datasets"] if d["name"] == "gsm_core")
    assert ds["counts"] == {"val": 100, "train": 400}


def test_compile_failure_exit_code(tmp_path: Path) -> None:
    src = write(tmp_path, """
        pattern p {
            let a = int 1..9
            require a > 9
            template "{a}"
            answer "{a}"
        }
        dataset d {
            patterns p
            split train 3
            min_template_repeats 1
        }
        """)
    r = run("compile", str(src), "-o", str(tmp_path / "out"), "--format", "json")
    assert r.exit_code == 1
    data = json.loads(r.stdout)
    assert data["ok"] is False and data["datasets"][0]["dir"] is None
    assert [d["code"] for d in data["diagnostics"]] == ["unsatisfiable"]
    r = run("compile", str(src), "-o", str(tmp_path / "out"))
    assert r.exit_code == 1 and "d: not written" in r.stderr


def test_compile_needs_an_output_directory() -> None:
    r = run("compile", str(TASKS))
    assert r.exit_code == 2


@pytest.mark.parametrize(("args", "words"), [
    (["--bogus"], ["No such option '--bogus'", "`tasklang --help`"]),
    (["nosuch"], ["No such command 'nosuch'", "`tasklang --help`"]),
    (["preview", "--bogus", "x.task"], ["No such option '--bogus'", "`tasklang preview --help`"]),
    (["compile"], ["Missing argument 'PATHS...'", "`tasklang compile --help`"]),
    (["preview", "x.task", "-n", "zero"], ["Invalid value for '-n'", "`tasklang preview --help`"]),
    (["import", "gsm8k", "ref.jsonl"], ["Missing option '-o'", "`tasklang import gsm8k --help`"]),
])
def test_a_bad_option_is_one_line_and_exit_2(args: list[str], words: list[str]) -> None:
    # click's own form is three lines ("Usage: ...", "Try ...", "Error: ..."); ours is one
    r = run(*args)
    assert r.exit_code == 2
    assert r.output.startswith("tasklang: error: ") and r.output.count("\n") == 1, r.output
    assert all(w in r.output for w in words), r.output


def test_a_group_without_a_command_still_shows_its_help() -> None:
    r = run("import")
    assert r.output.startswith("Usage: ") and "gsm8k" in r.output
