"""A run directory is never replaced silently: an -o that holds a run needs --resume (sft:
continue it) or --overwrite (start over), refused in one line before any model loads; the
replaced run is kept until the new one has a checkpoint. And summaries say None, not -1.0."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tasklang.cli import main
from train.runs import (
    RUN_ENTRIES,
    RunDirTaken,
    aside_path,
    better,
    check_run_dir,
    replacing,
    run_dir_refusal,
)

from .conftest import TINY


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _old_run(path: Path, *entries: str) -> dict[str, str]:
    """A run directory as an earlier run left it; its files' text, to check it is kept whole."""
    path.mkdir(parents=True)
    for name in entries or ("config.json", "checkpoint"):
        if name in ("checkpoint", "last"):
            (path / name).mkdir()
            (path / name / "weights.txt").write_text(f"old {name}")
        else:
            (path / name).write_text(f"old {name}")
    return _files(path)


def _files(path: Path) -> dict[str, str]:
    return {str(f.relative_to(path)): f.read_text() for f in sorted(path.rglob("*")) if f.is_file()}


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


@pytest.mark.parametrize("entry", RUN_ENTRIES)
def test_each_thing_a_run_writes_marks_the_directory_as_a_run(tmp_path: Path, entry: str) -> None:
    out = tmp_path / "r"
    _old_run(out, entry)
    message = run_dir_refusal(out, "sft", resume=False, overwrite=False)
    shown = entry + ("/" if entry in ("checkpoint", "last") else "")
    assert message == (f"-o {out} already holds a run ({shown}); pass --resume to continue it or "
                       "--overwrite to replace it, or choose another -o")
    assert run_dir_refusal(out, "sft", resume=True, overwrite=False) is None
    assert run_dir_refusal(out, "sft", resume=False, overwrite=True) is None


def test_what_is_not_a_run_is_left_to_the_other_checks(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("not a run")
    for name in ("missing", "empty", "file", "other"):
        assert run_dir_refusal(tmp_path / name, "sft", False, False) is None, name
    # both flags at once is a contradiction whatever -o holds
    both = run_dir_refusal(tmp_path / "empty", "sft", True, True)
    assert both is not None and "--resume" in both and "--overwrite" in both


def test_rl_and_loop_offer_overwrite_and_say_only_sft_resumes(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _old_run(out, "metrics.jsonl", "checkpoint")
    for command in ("rl", "loop"):
        assert run_dir_refusal(out, command, False, False) == (
            f"-o {out} already holds a run (metrics.jsonl, checkpoint/); pass --overwrite to replace "
            f"it (train {command} has no --resume; train sft has), or choose another -o"
        )


def test_the_main_process_answer_holds_for_every_process(tmp_path: Path) -> None:
    """Engine.decided hands each process rank 0's answer: a process that sees a run proceeds
    when rank 0 did not refuse, and one that sees none is refused when rank 0 was."""
    taken, empty = tmp_path / "taken", tmp_path / "empty"
    _old_run(taken)
    empty.mkdir()
    check_run_dir(taken, "sft", decided=lambda mine: None)
    with pytest.raises(RunDirTaken, match="rank 0 said no"):
        check_run_dir(empty, "sft", decided=lambda mine: "rank 0 said no")
    with pytest.raises(RunDirTaken) as err:
        check_run_dir(taken, "sft")
    assert err.value.code == 2


@pytest.mark.parametrize("command", ["sft", "rl", "loop"])
def test_a_run_in_out_is_refused_in_one_line_before_any_model_loads(dataset_dir, tmp_path, command) -> None:
    # The model does not exist: the refusal, not "no such file", proves the check came first.
    out = tmp_path / "r"
    before = _old_run(out)
    args = ["train", command, "--model", str(tmp_path / "no-model"), "--data", str(dataset_dir),
            "-o", str(out)]
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert result.output.count("\n") == 1 and result.output.startswith(f"tasklang: error: -o {out} already")
    assert "--overwrite" in result.output and "--resume" in result.output
    assert _files(out) == before
    if command == "sft":  # several processes: decided once, before any is started
        result = _run(*args, "--num-processes", "2")
        assert result.exit_code == 2 and "already holds a run" in result.output
        result = _run(*args, "--resume", "--overwrite")
        assert result.exit_code == 2 and "pass one, not both" in result.output


@pytest.mark.parametrize("command", ["sft", "rl", "loop"])
def test_an_empty_out_is_fine_and_a_failed_overwrite_keeps_the_old_run(dataset_dir, tmp_path,
                                                                       command) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    model = str(tmp_path / "no-model")
    result = _run("train", command, "--model", model, "--data", str(dataset_dir), "-o", str(empty))
    assert result.exit_code == 1 and "no-model: no such file or directory" in result.output
    # --overwrite of a run, then the model fails to load: no new checkpoint, the old run stays
    out = tmp_path / "r"
    before = _old_run(out, "config.json", "metrics.jsonl", "checkpoint", "last")
    result = _run("train", command, "--model", model, "--data", str(dataset_dir), "-o", str(out),
                  "--overwrite")
    assert result.exit_code == 1 and "no-model: no such file or directory" in result.output
    assert _files(out) == before and _siblings(out) == ["empty", "r"]


def test_overwrite_replaces_the_run_once_the_new_one_has_finished(dataset_dir, tmp_path) -> None:
    out = tmp_path / "r"
    _old_run(out, "config.json", "checkpoint", "last")
    (out / "old-only.txt").write_text("from the earlier run")
    result = _run("train", "sft", "--model", "tiny", "--data", str(dataset_dir), "-o", str(out),
                  "--overwrite", "--steps", "1", "--batch-size", "4", "--val-n", "2", "--max-new-tokens", "2",
                  "--tiny-config", json.dumps(TINY))
    assert result.exit_code == 0, result.output
    assert not (out / "old-only.txt").exists() and (out / "checkpoint" / "config.json").exists()
    assert json.loads((out / "config.json").read_text())["overwrite"] is True
    assert _siblings(out) == ["r"]  # nothing left aside
    # ... and now it holds a run: the same command without a flag is refused
    again = _run("train", "sft", "--model", "tiny", "--data", str(dataset_dir), "-o", str(out))
    assert again.exit_code == 2 and "already holds a run" in again.output


def test_replacing_moves_aside_and_restores_what_a_failed_run_cannot_replace(tmp_path: Path) -> None:
    out = tmp_path / "r"
    _old_run(out)
    with replacing(out, overwrite=True):  # a run that finishes: the old one goes
        assert not out.exists() and aside_path(out).exists()
        out.mkdir()
        (out / "config.json").write_text("new")
    assert _files(out) == {"config.json": "new"} and _siblings(out) == ["r"]

    out2 = tmp_path / "s"
    old = _old_run(out2)
    for stop in (RuntimeError("boom"), SystemExit(143), KeyboardInterrupt()):  # an error, SIGTERM, Ctrl-C
        with pytest.raises(type(stop)), replacing(out2, overwrite=True):
            out2.mkdir()
            (out2 / "metrics.jsonl").write_text("new, no checkpoint yet")
            raise stop
        assert _files(out2) == old, stop
    with pytest.raises(RuntimeError), replacing(out2, overwrite=True):  # stopped after a checkpoint
        (out2 / "checkpoint").mkdir(parents=True)
        raise RuntimeError("stopped late")
    assert _files(out2) == {} and (out2 / "checkpoint").is_dir()
    assert _siblings(out2) == ["r", "s"]
    with replacing(tmp_path / "none", overwrite=True), replacing(out2, overwrite=False):
        pass  # nothing to replace, or not asked to: nothing moves
    assert (out2 / "checkpoint").is_dir()


def test_no_val_split_reports_none_not_a_sentinel(tmp_path) -> None:
    from .conftest import ROOT

    assert _run("import", "gsm8k", str(ROOT / "tests" / "data" / "gsm8k_train_sample.jsonl"),
                "-o", str(tmp_path / "gsm")).exit_code == 0
    data = tmp_path / "gsm"
    result = _run("train", "sft", "--model", "tiny", "--data", str(data), "-o", str(tmp_path / "r"),
                  "--steps", "1", "--batch-size", "2", "--tiny-config", json.dumps(TINY))
    assert result.exit_code == 0, result.output
    last = result.stdout.strip().splitlines()[-1]
    assert "Infinity" not in last and "-1.0" not in last
    summary = json.loads(last)
    assert summary["best_val_accuracy"] is None and summary["best_val_loss"] is None
    assert summary["best_step"] is None


def test_a_last_state_from_before_reads_its_sentinels_as_not_measured() -> None:
    from train.sft import _measured

    assert _measured({"val_accuracy": -1.0, "val_loss": math.inf, "step": None}) == {
        "val_accuracy": None, "val_loss": None, "step": None}
    assert _measured({"val_accuracy": 0.5, "val_loss": 1.25, "step": 7})["val_loss"] == 1.25


_value = st.none() | st.floats(0, 1)
_loss = st.none() | st.floats(0, 50)
_event = st.fixed_dictionaries({}, optional={"val_accuracy": _value, "val_loss": _loss})


@given(_event, _event)
def test_checkpoint_selection_is_a_strict_order_with_none_lowest(a, b) -> None:
    assert not better(a, a)  # an equal evaluation never replaces the checkpoint
    assert not (better(a, b) and better(b, a))
    assert not better({}, a)  # an evaluation that measured nothing never wins
    acc_a, acc_b = a.get("val_accuracy"), b.get("val_accuracy")
    if acc_a is not None and acc_b is not None and acc_a != acc_b:
        assert better(a, b) == (acc_a > acc_b)  # accuracy first
    if acc_a == acc_b and a.get("val_loss") is not None and b.get("val_loss") is None:
        assert better(a, b)  # then a measured loss over none
