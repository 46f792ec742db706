"""compile and import gsm8k are atomic per dataset and locked: a real compile in a subprocess
is stopped at each dangerous point (TASKLANG_TEST_PAUSE_AT, tasklang/files.py), killed with
SIGKILL there, and OUT must hold every dataset complete (its old build or its new one); the
next run removes what the killed one left; a second run while one holds OUT is refused."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tasklang import api
from tasklang.cli import main
from tasklang.exits import OutputBusy
from tasklang.files import LOCK_NAME, STAGING_PREFIX, OutputLock, exchange, sha256_file

from .helpers import REPO, tree_bytes, write

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="SIGSTOP/SIGKILL and renameat2 are tested on Linux")

TWO = """
    pattern p {
        let a = int 1..99
        template "{a} is the number, write it back."
        answer "{a}"
    }
    dataset alpha {
        patterns p
        seed SEED
        split train 6
        split val 2
        min_template_repeats 1
    }
    dataset beta {
        patterns p
        seed SEED
        split train 5
        min_template_repeats 1
    }
    """
NAMES = ("alpha", "beta")


def _source(tmp: Path, seed: int) -> Path:
    return write(tmp, TWO.replace("SEED", str(seed)), f"two_{seed}.task")


def _builds(tmp: Path, seed: int) -> dict[str, dict[str, bytes]]:
    """The bytes of every dataset compiled with `seed`, into a folder of their own."""
    out = tmp / f"ref_{seed}"
    _, results = api.compile_paths([str(_source(tmp, seed))], out)
    assert all(r.ok for r in results)
    return {name: tree_bytes(out / name) for name in NAMES}


@pytest.fixture()
def world(tmp_path: Path) -> dict[str, object]:
    """OUT holding the old build (seed 1), and the bytes of the old and the new (seed 2)."""
    old, new = _builds(tmp_path, 1), _builds(tmp_path, 2)
    assert old != new
    out = tmp_path / "out"
    api.compile_paths([str(_source(tmp_path, 1))], out)
    return {"out": out, "old": old, "new": new, "src": _source(tmp_path, 2)}


def _hidden(out: Path) -> list[str]:
    return sorted(p.name for p in out.iterdir() if p.name.startswith("."))


def _complete(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for split in manifest["splits"].values():
        assert sha256_file(folder / split["file"]) == split["sha256"]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKLANG_TEST_")}
    return {**env, "PYTHONPATH": str(REPO), **extra}


def _start_paused(args: list[str], point: str, **extra: str) -> subprocess.Popen[bytes]:
    """`tasklang ARGS` in a subprocess, returned once it stopped itself at `point`."""
    proc = subprocess.Popen([sys.executable, "-m", "tasklang.cli", *args], cwd=REPO,
                            env=_env(TASKLANG_TEST_PAUSE_AT=point, **extra),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        pid, status = os.waitpid(proc.pid, os.WNOHANG | os.WUNTRACED)
        if pid and os.WIFSTOPPED(status):
            return proc
        if pid:  # it ended without reaching the point
            proc.returncode = os.waitstatus_to_exitcode(status)
            raise AssertionError(f"exited {proc.returncode} before {point}: "
                                 f"{proc.stderr.read().decode() if proc.stderr else ''}")
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"never reached {point}")


def _kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


# (pause point, which datasets are new in OUT after a kill there); "staged" and
# "before-exchange:2" leave the same states as "before-exchange:1" and "after-exchange:1".
POINTS = [
    ("locked", ()),
    ("before-exchange:1", ()),
    ("after-exchange:1", ("alpha",)),
    ("after-exchange:2", ("alpha", "beta")),
    ("before-cleanup", ("alpha", "beta")),
]


@pytest.mark.parametrize(("point", "fresh"), POINTS, ids=[p for p, _ in POINTS])
def test_a_kill_at_any_point_leaves_every_dataset_complete(world: dict, point: str,
                                                           fresh: tuple[str, ...]) -> None:
    out: Path = world["out"]
    _kill(_start_paused(["compile", str(world["src"]), "-o", str(out)], point))
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == list(NAMES)
    for name in NAMES:
        _complete(out / name)
        assert tree_bytes(out / name) == world["new" if name in fresh else "old"][name], name
    assert _hidden(out), "the killed run leaves its lock file or staging folder"
    # The next compile removes what the killed one left and writes the new build.
    _, results = api.compile_paths([str(world["src"])], out)
    assert all(r.ok for r in results)
    assert _hidden(out) == []
    assert {name: tree_bytes(out / name) for name in NAMES} == world["new"]


def test_the_fallback_without_exchange_is_recovered_by_the_next_run(world: dict) -> None:
    """Without renameat2 a kill between the two renames leaves alpha aside in the staging
    folder; the next run, even one that builds only beta, puts it back."""
    out: Path = world["out"]
    _kill(_start_paused(["compile", str(world["src"]), "-o", str(out)], "fallback-aside:1",
                        TASKLANG_TEST_NO_EXCHANGE="1"))
    assert not (out / "alpha").exists()
    (staging,) = [p for p in out.iterdir() if p.name.startswith(STAGING_PREFIX)]
    assert (staging / "alpha.old").is_dir()
    _, (result,) = api.compile_paths([str(world["src"])], out, only=["beta"])
    assert result.ok and _hidden(out) == []
    assert tree_bytes(out / "alpha") == world["old"]["alpha"]
    assert tree_bytes(out / "beta") == world["new"]["beta"]


def test_the_fallback_path_compiles(world: dict) -> None:
    out: Path = world["out"]
    done = subprocess.run([sys.executable, "-m", "tasklang.cli", "compile", str(world["src"]),
                           "-o", str(out)], cwd=REPO, env=_env(TASKLANG_TEST_NO_EXCHANGE="1"),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _hidden(out) == []
    assert {name: tree_bytes(out / name) for name in NAMES} == world["new"]


def test_a_second_compile_into_the_same_out_is_refused(world: dict) -> None:
    out: Path = world["out"]
    holder = _start_paused(["compile", str(world["src"]), "-o", str(out)], "locked")
    try:
        got = CliRunner().invoke(main, ["compile", str(world["src"]), "-o", str(out)])
        assert got.exit_code == 1, got.output
        assert got.stderr.strip() == (f"tasklang: error: {out} is being written by process "
                                      f"{holder.pid}; try again when it has finished")
        with pytest.raises(OutputBusy) as caught:
            api.compile_paths([str(world["src"])], out)
        assert caught.value.pid == holder.pid
        assert {name: tree_bytes(out / name) for name in NAMES} == world["old"]
    finally:
        _kill(holder)
    _, results = api.compile_paths([str(world["src"])], out)
    assert all(r.ok for r in results) and _hidden(out) == []


def test_leftovers_of_the_old_scheme_are_removed_or_restored(world: dict) -> None:
    """Hidden .<name>.tmp-<pid> / .<name>.old-<pid> folders of earlier versions: removed once
    their pid is dead, and an .old one comes back when its dataset is missing."""
    out: Path = world["out"]
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    pid = int(dead.stdout)
    (out / "alpha").rename(out / f".alpha.old-{pid}")
    (out / f".beta.tmp-{pid}").mkdir()
    (out / f".beta.tmp-{pid}" / "train.jsonl").write_text("half", encoding="utf-8")
    (out / f".alpha.tmp-{os.getppid()}").mkdir()  # a live owner (an older version): kept
    _, (result,) = api.compile_paths([str(world["src"])], out, only=["beta"])
    assert result.ok
    assert _hidden(out) == [f".alpha.tmp-{os.getppid()}"]
    assert tree_bytes(out / "alpha") == world["old"]["alpha"]


def test_import_gsm8k_is_atomic_and_locked(tmp_path: Path) -> None:
    from .test_import import PROBLEMS

    ref = tmp_path / "ref.jsonl"
    ref.write_text("".join(json.dumps(p) + "\n" for p in PROBLEMS), encoding="utf-8")
    out = tmp_path / "data" / "gsm"
    api.import_gsm8k(str(ref), out, split_val=1, seed=1)
    old = tree_bytes(out)
    _kill(_start_paused(["import", "gsm8k", str(ref), "-o", str(out), "--split-val", "1",
                         "--seed", "2"], "after-exchange"))
    _complete(out)
    assert tree_bytes(out) != old
    assert LOCK_NAME in _hidden(out.parent)
    # The parent is the user's folder: hidden entries of other names are not tasklang's.
    (out.parent / ".notes.tmp-999999999").mkdir()
    api.import_gsm8k(str(ref), out, split_val=1, seed=1)
    assert tree_bytes(out) == old and _hidden(out.parent) == [".notes.tmp-999999999"]


def test_exchange_swaps_two_folders(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x").write_text("a", encoding="utf-8")
    if not exchange(a, b):
        pytest.skip("no renameat2 RENAME_EXCHANGE on this system or filesystem")
    assert (b / "x").read_text(encoding="utf-8") == "a" and not (a / "x").exists()


def test_a_forked_child_does_not_keep_the_lock(tmp_path: Path) -> None:
    """--workers and the sandbox fork: a child outliving a killed compile must not hold OUT."""
    script = ("import os, signal, sys, time\n"
              "from pathlib import Path\n"
              "from tasklang.files import OutputLock\n"
              "OutputLock(Path(sys.argv[1])).acquire()\n"
              "child = os.fork()\n"
              "if child == 0:\n"
              "    null = os.open(os.devnull, os.O_WRONLY)\n"
              "    os.dup2(null, 1)\n"
              "    os.dup2(null, 2)\n"
              "    time.sleep(60)\n"
              "    os._exit(0)\n"
              "print(child, flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=60)
    child = int(done.stdout)
    try:
        assert Path(f"/proc/{child}").exists()
        lock = OutputLock(tmp_path)
        lock.acquire()  # not OutputBusy: the child closed its copy when it was forked
        lock.release()
    finally:
        os.kill(child, signal.SIGKILL)
