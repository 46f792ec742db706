"""Progress and logs: bars with an ETA, one line per evaluation, curve.png however a run ends,
curves whose axes say what they plot, and `train loop` honouring every option it shows."""

from __future__ import annotations

import json
import signal

import pytest
from click.testing import CliRunner

from tasklang.cli import main
from train.models import TinySpec, build_tiny, save
from train.runs import curve_figure, evaluation_line, read_metrics
from train.sft import Schedule, SFTConfig, Trainer, Validation, run_sft

from .conftest import TINY


def _run(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(main, list(args), catch_exceptions=False, env=env)


@pytest.fixture
def small_model(records, tmp_path):
    where = tmp_path / "small"
    save(*build_tiny(records, TinySpec(**TINY)), where)
    return where


def _loop(small_model, dataset_dir, out, *extra: str, env: dict[str, str] | None = None):
    return _run("train", "loop", "--model", str(small_model), "--data", str(dataset_dir), "-o", str(out),
                "-k", "1", "--problems", "2", "--val-n", "2", "--max-new-tokens", "4", *extra, env=env)


def test_loop_measures_val_every_n_iterations_and_shows_a_bar(small_model, dataset_dir, tmp_path) -> None:
    result = _loop(small_model, dataset_dir, tmp_path / "loop", "--iterations", "3", "--eval-every", "2",
                   env={"TASKLANG_PROGRESS": "1"})
    assert result.exit_code == 0, result.output
    events = read_metrics(tmp_path / "loop")
    measured = [e["iteration"] for e in events if "iteration" in e and "val_accuracy" in e]
    assert measured == [0, 2, 3]  # the start, every 2nd, and always the last
    assert [e["iteration"] for e in events if "solved" in e] == [1, 2, 3]
    assert "loop:" in result.stderr and "<" in result.stderr  # a tqdm bar, with its ETA
    assert "iteration 2: " in result.stderr and "val accuracy" in result.stderr


def test_loop_stops_on_its_time_limit_after_measuring(small_model, dataset_dir, tmp_path) -> None:
    result = _loop(small_model, dataset_dir, tmp_path / "loop", "--iterations", "400", "--time-limit", "1")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["stopped_early"] and summary["iterations"] < 400
    last = [e for e in read_metrics(tmp_path / "loop") if "solved" in e][-1]
    assert last["iteration"] == summary["iterations"] and "val_accuracy" in last
    assert (tmp_path / "loop" / "curve.png").exists()


def _sft_config(dataset_dir, out, steps: int = 12) -> SFTConfig:
    return SFTConfig(
        model="tiny", data=str(dataset_dir), out=str(out), tiny=TinySpec(**TINY), device="cpu",
        schedule=Schedule(lr=3e-3, batch_size=8, steps=steps, warmup=0.0),
        validation=Validation(every=4, n=2, max_new_tokens=4),
    )


def test_each_evaluation_is_one_line_on_stderr_and_one_event(dataset_dir, tmp_path, capsys) -> None:
    run_sft(_sft_config(dataset_dir, tmp_path / "run", steps=8))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("step ")]
    assert [line.split(":")[0] for line in lines] == ["step 4", "step 8"]
    assert all("train loss" in x and "val loss" in x and "val accuracy" in x and "95% CI" in x for x in lines)
    evals = [e for e in read_metrics(tmp_path / "run") if "val_accuracy" in e]
    assert [e["step"] for e in evals] == [4, 8]
    assert all({"train_loss", "val_loss", "val_wilson95"} <= set(e) for e in evals)
    assert evaluation_line(evals[0]) == lines[0].removesuffix(" (best so far)") + (
        " (best so far)" if evals[0]["best"] else ""
    )


@pytest.mark.parametrize("stop", ["interrupt", "sigterm"])
def test_a_stopped_run_still_draws_its_curve(dataset_dir, tmp_path, monkeypatch, stop: str) -> None:
    real_step = Trainer.train_step

    def step_then_stop(self, batch):
        loss = real_step(self, batch)
        if self.step == 6:
            if stop == "sigterm":
                signal.raise_signal(signal.SIGTERM)  # what `kill` or a scheduler sends
            raise KeyboardInterrupt  # what Ctrl-C raises
        return loss

    monkeypatch.setattr(Trainer, "train_step", step_then_stop)
    expected = SystemExit if stop == "sigterm" else KeyboardInterrupt
    with pytest.raises(expected):
        run_sft(_sft_config(dataset_dir, tmp_path / "run"))
    assert (tmp_path / "run" / "curve.png").stat().st_size > 1000
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_the_curve_axes_say_what_they_plot() -> None:
    events = [{"step": 10, "loss": 2.0}, {"step": 20, "loss": 1.0, "val_loss": 1.5, "val_accuracy": 0.25}]
    fig = curve_figure(events, "t", x_label="optimizer step")
    left, right = fig.axes
    assert left.get_xlabel() == "optimizer step"
    assert "train loss (nats/token" in left.get_ylabel() and "val loss" in left.get_ylabel()
    assert right.get_ylabel().startswith("val accuracy")
    reward = curve_figure([{"step": 1, "mean_reward": 0.5}], "t", x_label="iteration")
    assert reward.axes[0].get_ylabel() == "mean sampled reward (0-1)"
    # a loop whose iterations kept no solution logs val accuracy alone: no axis claims a loss
    only_val = curve_figure([{"step": i, "val_accuracy": 0.0} for i in range(3)], "t", x_label="iteration")
    left, right = only_val.axes
    assert left.get_ylabel() == "" and list(left.get_yticks()) == [] and right.get_ylabel()
    only_val.canvas.draw()
    assert all(float(t).is_integer() for t in left.get_xticks())  # iterations, not 0.25 of one
