"""The operating system's conditions at the CLI boundary: one line and exit 1, never an
internal error; a closed pipe is quiet; missing inputs exit 1 in every command; `grade`
reports a bad line, whatever it holds, and grades the next one."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tasklang import exits
from tasklang.cli import main
from tests.runtime.helpers import JANET

from .helpers import REPO, tree_bytes, write

SMALL = """
    pattern p {
        let a = int 1..99
        template "{a} is the number, write it back."
        answer "{a}"
    }
    dataset small {
        patterns p
        split train 30
        min_template_repeats 1
    }
    """
GOOD_LINE = json.dumps({"id": "good", "text": JANET, "answer": 26, "expert": "entity_track"})


def run(*args: str, stdin: str | bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=stdin)


def _one_clear_line(r: Result, code: int = exits.FAILED) -> str:
    assert r.exit_code == code, r.output
    assert "internal error" not in r.output and "Traceback" not in r.output
    (line,) = r.stderr.strip().splitlines()
    assert line.startswith("tasklang: error: ")
    return line


def _ref(tmp: Path) -> Path:
    from .test_import import PROBLEMS

    ref = tmp / "ref.jsonl"
    ref.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS), encoding="utf-8")
    return ref


# ---------------------------------------------------------------- outputs


def test_an_output_below_a_file_is_one_line(tmp_path: Path) -> None:
    src, afile = write(tmp_path, SMALL), tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    line = _one_clear_line(run("compile", str(src), "-o", str(afile / "sub")))
    assert line == f"tasklang: error: cannot write {afile / 'sub'}: Not a directory"
    line = _one_clear_line(run("import", "gsm8k", str(_ref(tmp_path)), "-o", str(afile / "sub")))
    assert line == f"tasklang: error: cannot write {afile / 'sub'}: Not a directory"
    line = _one_clear_line(run("audit", str(src), "-q", "-o", str(afile / "r.txt")))
    assert line.startswith(f"tasklang: error: cannot write {afile / 'r.txt'}")


def test_an_output_that_is_a_file_or_a_folder_is_one_line(tmp_path: Path) -> None:
    src, afile = write(tmp_path, SMALL), tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    line = _one_clear_line(run("compile", str(src), "-o", str(afile)))
    assert line == f"tasklang: error: cannot write {afile}: Not a directory"
    line = _one_clear_line(run("import", "gsm8k", str(_ref(tmp_path)), "-o", str(afile)))
    assert line == f"tasklang: error: cannot write {afile}: Not a directory"
    line = _one_clear_line(run("audit", str(src), "-q", "-o", str(tmp_path)))
    assert line == f"tasklang: error: cannot write {tmp_path}: Is a directory"


def test_a_name_too_long_is_one_line(tmp_path: Path) -> None:
    src, out = write(tmp_path, SMALL), tmp_path / ("x" * 300)
    line = _one_clear_line(run("compile", str(src), "-o", str(out)))
    assert line == f"tasklang: error: cannot write {out}: File name too long"
    line = _one_clear_line(run("import", "gsm8k", str(_ref(tmp_path)), "-o", str(out)))
    assert line.endswith(": File name too long")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_output_folder_is_one_line(tmp_path: Path) -> None:
    src, out = write(tmp_path, SMALL), tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        line = _one_clear_line(run("compile", str(src), "-o", str(out)))
        assert line == f"tasklang: error: cannot write {out}: Permission denied"
        line = _one_clear_line(run("import", "gsm8k", str(_ref(tmp_path)), "-o",
                                   str(out / "gsm")))
        assert line == f"tasklang: error: cannot write {out / 'gsm'}: Permission denied"
    finally:
        out.chmod(0o755)


def _small_files() -> None:
    """In the child: files may not grow past 1000 bytes (as on a full disk), and the write
    fails with EFBIG instead of the process being killed by SIGXFSZ."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))


def test_a_full_disk_is_one_line_and_keeps_the_old_build(tmp_path: Path) -> None:
    src, out = write(tmp_path, SMALL), tmp_path / "out"
    assert run("compile", str(src), "-o", str(out)).exit_code == 0
    before = tree_bytes(out)
    bigger = write(tmp_path, SMALL.replace("split train 30", "split train 40"), "big.task")
    done = subprocess.run([sys.executable, "-m", "tasklang.cli", "compile", str(bigger), "-o",
                           str(out)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=120, preexec_fn=_small_files)
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == f"tasklang: error: cannot write {out}: File too large"
    assert tree_bytes(out) == before  # nothing half-written, nothing left behind


# ---------------------------------------------------------------- inputs and exit codes


def test_a_missing_input_exits_1_in_every_command(tmp_path: Path) -> None:
    missing = str(tmp_path / "missing")
    for args in (["check", missing], ["compile", missing, "-o", str(tmp_path / "o")],
                 ["preview", missing], ["audit", "-q", missing], ["solve", missing],
                 ["grade", missing], ["import", "gsm8k", missing, "-o", str(tmp_path / "o")]):
        r = run(*args)
        assert r.exit_code == exits.FAILED, (args, r.output)
        assert missing in r.stderr and "internal error" not in r.output, args


def test_bad_options_exit_2(tmp_path: Path) -> None:
    src = write(tmp_path, SMALL)
    for args in (["preview", str(src), "-n", "0"], ["compile", str(src)],
                 ["solve", "-", "--answer", "eighteen"], ["grade", "-", "--format", "xml"],
                 ["import", "gsm8k", str(_ref(tmp_path)), "-o", str(tmp_path / "g"),
                  "--split-val", "9"]):
        assert run(*args, stdin=JANET).exit_code == exits.USAGE, args


def test_grade_of_a_folder_is_one_line(tmp_path: Path) -> None:
    line = _one_clear_line(run("grade", str(tmp_path)))
    assert line == f"tasklang: error: cannot read {tmp_path}: Is a directory"


# ---------------------------------------------------------------- a closed pipe


@pytest.mark.parametrize("command", ["preview", "grade"])
def test_a_closed_pipe_exits_quietly(tmp_path: Path, command: str) -> None:
    if command == "preview":
        args = ["preview", str(write(tmp_path, SMALL)), "-n", "1000"]
    else:
        infile = tmp_path / "in.jsonl"
        infile.write_text((GOOD_LINE + "\n") * 400, encoding="utf-8")
        args = ["grade", str(infile)]
    proc = subprocess.Popen([sys.executable, "-m", "tasklang.cli", *args], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()  # like `| head -1`
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == exits.BROKEN_PIPE
    assert "Error" not in err and "internal" not in err, err


# ---------------------------------------------------------------- grade, line by line

BAD_LINES: list[tuple[str, bytes, str]] = [
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    ("deep object", b'{"a": ' * 50_000 + b"1" + b"}" * 50_000, "nested too deeply"),
    ("huge float", b'{"text": "x", "answer": 1e999999}', "number out of range"),
    ("huge id", b'{"text": "x", "answer": 1, "id": -1e999999}', "number out of range"),
    ("NaN", b'{"text": "x", "answer": NaN}', "NaN is not a JSON number"),
    ("long integer", b'{"text": "x", "answer": ' + b"7" * 100_000 + b"}", "over 4300 digits"),
    ("not UTF-8", b'{"text": "caf\xe9", "answer": 1}', "not UTF-8: byte 0xe9 at column 14"),
    ("a number", b"42", "must be an object"),
    ("a list", b"[1, 2]", "must be an object"),
    ("not JSON", b"{oops", "not JSON"),
]


def test_grade_reports_each_bad_line_and_grades_the_next(tmp_path: Path) -> None:
    infile = tmp_path / "in.jsonl"
    infile.write_bytes(b"".join(bad + b"\n" + GOOD_LINE.encode() + b"\n" for _, bad, _ in BAD_LINES))
    r = run("grade", str(infile), "--format", "json")
    assert r.exit_code == exits.FAILED and "internal error" not in r.output
    results = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(results) == 2 * len(BAD_LINES)
    for (what, _, words), bad, good in zip(BAD_LINES, results[::2], results[1::2], strict=True):
        assert bad["status"] == "input_error" and words in bad["error"], (what, bad)
        assert (good["id"], good["status"], good["reward"]) == ("good", "correct", 1.0), what
    assert [x["line"] for x in results] == list(range(1, 2 * len(BAD_LINES) + 1))
    summary = json.loads(r.stderr.strip().splitlines()[-1])
    assert (summary["n"], summary["input_errors"]) == (len(BAD_LINES), len(BAD_LINES))
    assert summary["statuses"] == {"correct": len(BAD_LINES)} and summary["mean_reward"] == 1.0


def test_grade_text_summary_counts_input_errors_apart(tmp_path: Path) -> None:
    r = run("grade", "-", stdin=b"\xff\n" + GOOD_LINE.encode() + b"\n\n")
    assert r.exit_code == exits.FAILED
    assert r.stderr.splitlines() == ["graded 1 outputs, mean reward 1.0000",
                                     "  correct                          1",
                                     "1 input line(s) not graded (input_error)"]


def test_grade_lines_are_bytes_lines(tmp_path: Path) -> None:
    """A U+2028 inside a JSON string is not a line break (str.splitlines would split it)."""
    record = {"id": "sep", "text": "the answer\u2028is 26", "answer": 26}
    r = run("grade", "-", stdin=(json.dumps(record, ensure_ascii=False) + "\n").encode())
    assert r.exit_code == 0, r.output
    assert [json.loads(x)["id"] for x in r.stdout.splitlines()] == ["sep"]
