"""`pip install .` (not only editable) gives a working tasklang with its grammar, vocab and schema."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow  # builds a wheel and a virtual environment (seconds)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out),
                    str(ROOT)], check=True, capture_output=True, text=True)
    (found,) = out.glob("tasklang-*.whl")
    return found


def test_wheel_carries_grammar_vocab_and_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "tasklang/_data/grammar/tasklang.lark" in names
    for vocab in (ROOT / "vocab").glob("*.yaml"):
        assert f"tasklang/_data/vocab/{vocab.name}" in names
    assert "runtime/trace.schema.json" in names
    assert any(n.startswith("runtime/") and n.endswith("ops.py") for n in names)
    (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    assert "tasklang = tasklang.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_installed_wheel_runs_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    target = Path(subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()"
                                  "['purelib'])"], check=True, capture_output=True,
                                 text=True).stdout.strip())
    # The dependencies come from this test's environment (no network), appended after the
    # fresh site-packages; .pth files there (our editable install) are not processed.
    (target / "deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
                    str(target), str(wheel)], check=True, capture_output=True, text=True)
    # The console script (checked in the wheel's entry points above), bound to this env.
    (env_dir / "bin" / "tasklang").write_text(
        f"#!{python}\nimport sys\nfrom tasklang.cli import main\nsys.exit(main())\n")
    (env_dir / "bin" / "tasklang").chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    (work / "t.task").write_text(
        'vocab people from "people"\n'
        "pattern p {\n  let who = pick people\n  let a = int 2..9\n  let b = int 2..9\n"
        '  template "{who} has {a} bags of {b} apples. How many apples?"\n'
        "  trace arithmetic {\n    init a\n    init b\n    result = mul(a, b)\n"
        "    query result\n  }\n}\n"
        "dataset d {\n  patterns p\n  split train 5\n}\n")
    # Without PYTHONPATH: a checkout put on the path (`PYTHONPATH=$PWD pytest`) would be
    # imported instead of the installed copy under test.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    probe = subprocess.run(
        [python, "-c", "import tasklang, runtime.schema as s; from tasklang.resources import "
         "grammar_path, vocab_dir; print(tasklang.__file__); print(grammar_path()); "
         "print(vocab_dir()); print(s.shipped_schema()['title'])"],
        cwd=work, env=env, check=True, capture_output=True, text=True).stdout.splitlines()
    assert str(env_dir) in probe[0], probe  # the installed copy, not the checkout
    assert str(env_dir) in probe[1] and str(env_dir) in probe[2]
    assert probe[3] == "tasklang trace"
    tasklang = env_dir / "bin" / "tasklang"
    compiled = subprocess.run([tasklang, "compile", "t.task", "-o", "out"], cwd=work, env=env,
                              capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    assert len((work / "out" / "d" / "train.jsonl").read_text().splitlines()) == 5
