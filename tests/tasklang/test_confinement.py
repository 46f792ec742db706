"""confine: what a .task file names (imports, vocabularies, references, tokenizers) is read only
inside the project root, tasklang's own data and --allow-path; nothing is fetched without
--allow-network; a file that is not a .task file is never excerpted (issue 11, items 1-2).

Every reproducer plants a unique secret outside the root and asserts that it reaches neither
the output nor a dataset, and that the same file is read once it is allowed (so the test would
see a leak).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tasklang import api
from tasklang.cli import main
from tasklang.confine import Confinement, LoadOptions, resolve_named_file
from tasklang.diagnostics import Diagnostic, Span, error, render

from .helpers import REPO, TASKS, write

SECRET = f"SECRET-{uuid.uuid4().hex}"
LONG = "a" * 300

PATTERN = """
pattern p {
    let a = int 1..9
    template "{a} apples"
    answer "{a}"
}
"""
DATASET = """
dataset d {
    patterns p
    split train 6
    seed 1
}
"""


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(project root, a directory outside it holding secrets in every kind of file)."""
    proj, outside = tmp_path / "proj", tmp_path / "outside"
    proj.mkdir()
    outside.mkdir()
    (outside / "creds.yaml").write_text(f"fields: [word]\nentries:\n  - {{word: {SECRET}}}\n")
    (outside / "secret.task").write_text(f"pattern {SECRET} ( broken\n")  # a syntax error
    (outside / "environ").write_text(f"AWS_SECRET={SECRET}\n")
    (outside / "any.py").write_text(f"def f(x: int) -> int:\n    return x  # {SECRET}\n")
    return proj, outside


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def error_codes(args: list[str]) -> tuple[list[str], Result]:
    r = run("check", "--format", "json", *args)
    assert "internal error" not in r.output + r.stderr
    return sorted(d["code"] for d in json.loads(r.stdout) if d["severity"] == "error"), r


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert SECRET not in text


def test_import_of_a_system_file_is_not_read_in_a_subprocess(layout: tuple[Path, Path]) -> None:
    """The reproducer as reported: /proc/self/environ was printed as a syntax-error excerpt."""
    proj, _ = layout
    src = write(proj, 'import "/proc/self/environ"\nimport "/etc/passwd"\n' + PATTERN)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PLANTED": SECRET}
    r = subprocess.run([sys.executable, "-m", "tasklang.cli", "check", str(src)], env=env,
                       capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 1
    assert r.stderr.count("error[not-a-task-file]") == 2
    assert_no_secret(r.stdout, r.stderr)
    assert "root:" not in r.stderr  # nothing of /etc/passwd either


def test_import_outside_the_root_is_refused_and_never_shown(layout: tuple[Path, Path]) -> None:
    proj, outside = layout
    for spelled in (str(outside / "secret.task"), "../outside/secret.task",
                    "sub/../../outside/secret.task"):
        src = write(proj, f'import "{spelled}"\n' + PATTERN)
        r = run("check", str(src))
        assert r.exit_code == 1
        assert "error[path-not-allowed]" in r.stderr and spelled in r.stderr
        assert "--allow-path" in r.stderr and "--root" in r.stderr
        assert_no_secret(r.stdout, r.stderr)
    # Allowed, the same file is read: its syntax error quotes it (the test would see a leak).
    r = run("check", "--allow-path", str(outside), str(src))
    assert r.exit_code == 1 and "error[syntax]" in r.stderr and SECRET in r.stderr
    r = run("check", "--root", str(outside.parent), str(src))
    assert "path-not-allowed" not in r.stderr and SECRET in r.stderr


def test_import_of_a_file_that_is_not_a_task_file(layout: tuple[Path, Path]) -> None:
    proj, _ = layout
    (proj / "notes.txt").write_text(f"token {SECRET}\n")
    (proj / "notes.task").symlink_to(proj / "notes.txt")  # a .task name over another file
    for name in ("notes.txt", "notes.task"):
        src = write(proj, f'import "{name}"\n' + PATTERN)
        codes, r = error_codes([str(src)])
        assert codes == ["not-a-task-file"]
        assert_no_secret(r.stdout, r.stderr)
        checked = api.check([str(src)])
        assert all(path.endswith(".task") for path in checked.sources)
        assert not any(SECRET in text for text in checked.sources.values())


def test_the_renderer_quotes_only_task_files() -> None:
    d = error("syntax", "unexpected token", Span.point("notes.txt"))
    assert SECRET not in render(d, {"notes.txt": f"{SECRET}\n"})
    assert SECRET in render(error("syntax", "x", Span.point("a.task")), {"a.task": SECRET})


def test_symlink_escapes_are_refused(layout: tuple[Path, Path]) -> None:
    proj, outside = layout
    (proj / "inner.task").symlink_to(outside / "secret.task")
    (proj / "lib").symlink_to(outside, target_is_directory=True)
    (proj / "people.yaml").symlink_to(outside / "creds.yaml")
    cases = ['import "inner.task"\n', 'import "lib/secret.task"\n',
             'vocab people from "people"\n', 'vocab w from "lib/creds"\n']
    for line in cases:
        src = write(proj, line + PATTERN)
        codes, r = error_codes([str(src)])
        assert codes == ["path-not-allowed"], line
        assert str(outside) in r.stdout  # the message names where the link leads
        assert_no_secret(r.stdout, r.stderr)


def test_a_named_directory_holding_a_link_out(layout: tuple[Path, Path]) -> None:
    """`tasklang check cloned_repo/`: a `.task` symlink inside it to a file outside."""
    proj, outside = layout
    write(proj, PATTERN, "ok.task")
    (proj / "evil.task").symlink_to(outside / "secret.task")
    codes, r = error_codes([str(proj)])
    assert codes == ["path-not-allowed"]
    assert_no_secret(r.stdout, r.stderr)


def test_vocab_outside_never_reaches_the_dataset(layout: tuple[Path, Path], tmp_path: Path
                                                 ) -> None:
    proj, outside = layout
    text = (f'vocab w from "{outside / "creds.yaml"}"\n'
            + PATTERN.replace('let a = int 1..9', 'let a = int 1..9\n    let x = pick w')
            .replace('"{a} apples"', '"{a} {x}"') + DATASET)
    src = write(proj, text)
    out = tmp_path / "out"
    r = run("compile", str(src), "-o", str(out))
    assert r.exit_code == 1 and "error[path-not-allowed]" in r.stderr
    assert_no_secret(r.stdout, r.stderr)
    assert not (out / "d").exists()
    # Allowed, the vocabulary is read and lands in the dataset: what was kept out above.
    r = run("compile", str(src), "-o", str(out), "--allow-path", str(outside))
    assert r.exit_code == 0, r.stderr
    assert SECRET in (out / "d" / "train.jsonl").read_text()


def test_reference_outside_is_refused(layout: tuple[Path, Path]) -> None:
    proj, outside = layout
    (proj / "code").mkdir()
    (proj / "code" / "f.py").write_text("def f(x: int) -> int:\n    return x\n")
    code = """
pattern c {{
    let n = int 1..9
    template "Write `f(x: int) -> int` returning x, e.g. f({{n}}) == {{n}}."
    function f(x: int) -> int
    tests 3 from generate arithmetic(difficulty = 1..3)
    reference "{ref}"
}}
"""
    for ref in (str(outside / "any.py"), "../outside/any.py"):
        codes, r = error_codes([str(write(proj, code.format(ref=ref)))])
        assert "path-not-allowed" in codes
        assert_no_secret(r.stdout, r.stderr)
    checked = api.check([str(write(proj, code.format(ref="code/f.py")))])
    assert "path-not-allowed" not in [d.code for d in checked.diagnostics]
    assert "c" in checked.program.references


def test_over_long_names_are_a_diagnostic(layout: tuple[Path, Path]) -> None:
    """ENAMETOOLONG in import, vocab, reference, tokenizer and on the command line."""
    proj, _ = layout
    lines = {f'import "{LONG}.task"\n': "bad-path", f'vocab w from "{LONG}"\n': "bad-path",
             f'import "{"/".join([LONG] * 20)}.task"\n': "bad-path"}
    for line, code in lines.items():
        codes, _ = error_codes([str(write(proj, line + PATTERN))])
        assert codes == [code], line
    ref = PATTERN.replace('answer "{a}"', f'answer "{{a}}"\n    reference "{LONG}.py"')
    codes, _ = error_codes([str(write(proj, ref))])
    assert "bad-path" in codes
    tok = PATTERN + DATASET.replace("seed 1", f'tokenizer "{LONG}.json"')
    codes, _ = error_codes([str(write(proj, tok))])
    assert codes == ["bad-path"]
    r = run("check", str(proj / f"{LONG}.task"))
    assert r.exit_code == 1 and "bad-path" in r.stderr and "internal error" not in r.stderr


def test_symlink_loop_is_a_diagnostic(layout: tuple[Path, Path]) -> None:
    proj, _ = layout
    (proj / "a.task").symlink_to(proj / "b.task")
    (proj / "b.task").symlink_to(proj / "a.task")
    codes, r = error_codes([str(write(proj, 'import "a.task"\n' + PATTERN, "main.task"))])
    assert codes == ["bad-path"] and "symbolic links" in r.stdout


def test_root_is_the_common_directory_and_root_widens_it(tmp_path: Path) -> None:
    write(tmp_path, PATTERN.replace("pattern p", "pattern shared"), "lib/shared.task")
    main_task = write(tmp_path, 'import "../lib/shared.task"\n' + PATTERN, "app/main.task")
    codes, _ = error_codes([str(main_task)])
    assert codes == ["path-not-allowed"]
    assert error_codes([str(main_task), str(tmp_path / "lib/shared.task")])[0] == []
    assert error_codes(["--root", str(tmp_path), str(main_task)])[0] == []
    assert error_codes(["--allow-path", str(tmp_path / "lib"), str(main_task)])[0] == []
    options = LoadOptions(allow_paths=(tmp_path / "lib",))
    assert api.check([str(main_task)], options).ok
    r = run("check", "--root", str(tmp_path / "nope"), str(main_task))
    assert r.exit_code == 2  # a usage error: the directory must exist


def test_default_vocabularies_are_tasklang_data(tmp_path: Path) -> None:
    src = write(tmp_path, 'vocab people from "people"\n', "deep/t.task")
    checked = api.check([str(src)])
    assert checked.ok and len(checked.program.vocabs["people"].entries) >= 40


TOKENIZER_PROBE = """
import json, sys, time
from tasklang import api
from tasklang.confine import LoadOptions
started = time.perf_counter()
checked = api.check([sys.argv[1]], LoadOptions(allow_network={network}))
print(json.dumps({{"codes": [d.code for d in checked.diagnostics if d.is_error],
                  "seconds": time.perf_counter() - started,
                  "transformers": "transformers" in sys.modules}}))
"""


def _probe(src: Path, network: bool | None, env_network: str | None = None) -> dict:
    """api.check in a fresh interpreter: the codes, its time, whether transformers was imported."""
    env = {k: v for k, v in os.environ.items() if k != "TASKLANG_ALLOW_NETWORK"}
    env.update(PYTHONPATH=str(REPO), HF_HUB_OFFLINE="1")
    if env_network is not None:
        env["TASKLANG_ALLOW_NETWORK"] = env_network
    r = subprocess.run([sys.executable, "-c", TOKENIZER_PROBE.format(network=network), str(src)],
                       env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_hub_tokenizer_needs_allow_network_and_imports_nothing(tmp_path: Path) -> None:
    src = write(tmp_path, PATTERN + DATASET.replace("seed 1", 'tokenizer "someorg/some-model"'))
    offline = _probe(src, network=False)
    assert offline["codes"] == ["network-required"]
    assert not offline["transformers"]  # never imported for the check
    assert offline["seconds"] < 1.0  # no retries against an unreachable hub
    allowed = _probe(src, network=True)
    assert "network-required" not in allowed["codes"] and not allowed["transformers"]
    assert "network-required" not in _probe(src, network=None, env_network="1")["codes"]
    assert _probe(src, network=None, env_network="0")["codes"] == ["network-required"]


def test_hub_tokenizer_on_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:
    monkeypatch.delenv("TASKLANG_ALLOW_NETWORK", raising=False)
    src = write(tmp_path, PATTERN + DATASET.replace("seed 1", 'tokenizer "someorg/some-model"'))
    codes, r = error_codes([str(src)])
    assert codes == ["network-required"] and "--allow-network" in r.stdout
    assert "network-required" not in error_codes(["--allow-network", str(src)])[0]
    monkeypatch.setenv("TASKLANG_ALLOW_NETWORK", "1")
    assert "network-required" not in error_codes([str(src)])[0]


def test_compile_without_network_fails_fast_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                    ) -> None:
    monkeypatch.delenv("TASKLANG_ALLOW_NETWORK", raising=False)
    src = write(tmp_path, PATTERN + DATASET.replace("seed 1", 'tokenizer "someorg/some-model"'))
    r = run("compile", str(src), "-o", str(tmp_path / "out"))
    assert r.exit_code == 1 and "error[network-required]" in r.stderr
    assert not (tmp_path / "out" / "d").exists()


def test_tokenizer_files_are_confined(layout: tuple[Path, Path]) -> None:
    proj, outside = layout
    shipped = TASKS / "operators" / "tokenizer.json"
    (outside / "tok.json").write_bytes(shipped.read_bytes())
    (proj / "tok.json").write_bytes(shipped.read_bytes())
    for spec in (str(outside / "tok.json"), "../outside/tok.json"):
        src = write(proj, PATTERN + DATASET.replace("seed 1", f'tokenizer "{spec}"'))
        assert error_codes([str(src)])[0] == ["path-not-allowed"]
    src = write(proj, PATTERN + DATASET.replace("seed 1", 'tokenizer "tok.json"'))
    assert error_codes([str(src)])[0] == []
    src = write(proj, PATTERN + DATASET.replace("seed 1", 'tokenizer "missing.json"'))
    assert error_codes([str(src)])[0] == ["missing-tokenizer"]  # a file name, never a hub id


def test_resolve_named_file_for_other_statements(layout: tuple[Path, Path]) -> None:
    """The entry point for statements that name a file (e.g. `decontaminate "FILE"`)."""
    proj, outside = layout
    (proj / "bench.jsonl").write_text("{}\n")
    conf = Confinement.for_files([proj / "t.task"])
    span = Span.point("t.task")
    assert resolve_named_file("bench.jsonl", proj, "decontaminate", span, conf) == \
        (proj / "bench.jsonl").resolve()
    refused = resolve_named_file(str(outside / "environ"), proj, "decontaminate", span, conf)
    assert isinstance(refused, Diagnostic) and refused.code == "path-not-allowed"
    missing = resolve_named_file("nope.jsonl", proj, "decontaminate", span, conf)
    assert isinstance(missing, Diagnostic) and missing.code == "missing-decontaminate"
    widened = Confinement.for_files([proj / "t.task"], LoadOptions(allow_paths=(outside,)))
    assert resolve_named_file(str(outside / "environ"), proj, "decontaminate", span,
                              widened) == (outside / "environ").resolve()


SHARED = """
vocab people from "people"
"""
USES = """
import "../shared.task"

pattern p {
    let who = pick people
    let other = pick people distinct from who
    let a = int 1..9
    template "{who} and {other} have {a} apples"
    answer "{a}"
}

dataset d {
    patterns p
    split train 20
    seed 1
}
"""


@pytest.mark.parametrize("broken", [False, True])
def test_an_unread_import_is_one_error_not_a_cascade(tmp_path: Path, broken: bool) -> None:
    """A file compiled alone whose import lies above it (or does not parse): the import's own
    error, with a note counting the undefined names it hid, not one error per use of them."""
    write(tmp_path, "vocab people from {" if broken else SHARED, "shared.task")
    write(tmp_path, USES, "sub/uses.task")
    root = LoadOptions(root=tmp_path) if broken else None
    checked = api.check([str(tmp_path / "sub")], root)
    errors = [d for d in checked.diagnostics if d.is_error]
    assert len(errors) == 1 and not checked.ok
    assert "undefined-vocab" not in {d.code for d in checked.diagnostics}
    assert errors[0].notes[-1] == ("2 later error(s) about undefined names (people) are not shown: "
                                   "the file this import names may declare them")
    if not broken:  # the fix the error suggests works, and then nothing was hidden
        widened = api.check([str(tmp_path / "sub")], LoadOptions(root=tmp_path))
        assert widened.ok, [d.message for d in widened.diagnostics]


def test_undefined_names_without_an_unread_import_are_still_reported(tmp_path: Path) -> None:
    write(tmp_path, USES.replace('import "../shared.task"\n', ""), "uses.task")
    codes = [d.code for d in api.check([str(tmp_path)]).diagnostics if d.is_error]
    assert codes == ["undefined-vocab", "undefined-vocab"]
