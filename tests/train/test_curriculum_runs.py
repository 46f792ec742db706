"""`train rl` and `train loop` with --curriculum, end to end on a tiny model and a tiny dataset
whose patterns state their difficulty: the mixture is logged at every step and follows the
rewards (a tiny untrained model solves nothing, so the mass moves to the easier level)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tasklang.cli import main
from train.runs import curve_figure, read_metrics

from .conftest import LEVELS


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_records_and_manifest_carry_the_difficulty(graded_dir) -> None:
    rows = [json.loads(line) for line in (graded_dir / "train.jsonl").read_text().splitlines()]
    assert {r["pattern"]: r["difficulty"] for r in rows} == {n: [lv, lv] for n, lv in LEVELS.items()}
    manifest = json.loads((graded_dir / "manifest.json").read_text())
    assert manifest["difficulty"] == {n: [lv, lv] for n, lv in LEVELS.items()}


def _check_mixture(steps: list[dict]) -> None:
    assert steps, "no step logged a mixture"
    for e in steps:
        assert set(e["mixture"]) == {"1", "2"}
        assert sum(e["mixture"].values()) == pytest.approx(1.0, abs=1e-3)
        assert min(e["mixture"].values()) >= 0.05 - 1e-3
    # Four tokens solve nothing: every judged level is below the band, so from the dataset's
    # even split level 2 gives to level 1 at every step.
    shares = [e["mixture"]["2"] for e in steps]
    assert shares[0] < 0.5 and all(b <= a for a, b in zip(shares, shares[1:], strict=False))
    assert steps[-1]["curriculum_level"] < 1.5


def test_train_rl_logs_the_mixture_at_every_step(graded_dir, tmp_path) -> None:
    result = _run("train", "rl", "--model", "tiny", "--data", str(graded_dir), "-o", str(tmp_path / "rl"),
                  "--iterations", "4", "--prompts-per-step", "4", "-k", "2", "--max-new-tokens", "4",
                  "--val-n", "0", "--curriculum", "band:0.3-0.8,min:1,rate:0.5")
    assert result.exit_code == 0, result.output
    steps = [e for e in read_metrics(tmp_path / "rl") if "mean_reward" in e]
    assert [e["step"] for e in steps] == [1, 2, 3, 4]
    _check_mixture([e for e in steps if "mixture" in e])
    assert (tmp_path / "rl" / "curve.png").stat().st_size > 0
    config = json.loads((tmp_path / "rl" / "config.json").read_text())
    assert config["curriculum"]["low"] == 0.3 and config["curriculum"]["by"] == "auto"


def test_train_loop_logs_the_mixture_at_every_iteration(graded_dir, tmp_path) -> None:
    result = _run("train", "loop", "--model", "tiny", "--data", str(graded_dir), "-o", str(tmp_path / "lp"),
                  "--iterations", "3", "--problems", "4", "-k", "1", "--max-new-tokens", "4",
                  "--val-n", "0", "--curriculum", "band:0.3-0.8,min:1,rate:0.5")
    assert result.exit_code == 0, result.output
    steps = [e for e in read_metrics(tmp_path / "lp") if "solved" in e]
    assert [e["iteration"] for e in steps] == [1, 2, 3]
    _check_mixture(steps)


def test_a_bad_curriculum_is_one_line_and_exit_2(graded_dir, tmp_path) -> None:
    result = _run("train", "rl", "--model", "tiny", "--data", str(graded_dir), "-o", str(tmp_path / "x"),
                  "--curriculum", "band:0.9-0.1")
    assert result.exit_code == 2
    assert "band 0.9-0.1: want 0 <= low <= high <= 1" in result.output
    assert "Traceback" not in result.output


def test_the_curve_draws_the_mixture_below_the_reward() -> None:
    events = [{"step": i, "mean_reward": 0.1 * i, "mixture": {"1": 1 - 0.2 * i, "2": 0.2 * i}}
              for i in range(1, 4)]
    fig = curve_figure(events, "t", x_label="iteration")
    labels = [ax.get_ylabel() for ax in fig.axes]
    assert "curriculum mixture (share)" in labels and "mean sampled reward (0-1)" in labels
    assert len(curve_figure([{"step": 1, "mean_reward": 0.5}], "t").axes) == 2  # no mixture: as before
