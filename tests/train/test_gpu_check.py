"""bench/gpu_check.py, the prepared GPU script, run on the CPU with tiny sizes: it must work the
first time it meets a GPU, since a GPU lease is 15 minutes and drawn by chance."""

from __future__ import annotations

import importlib.util
import json
import sys

from .conftest import ROOT, TINY


def _script():
    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "bench" / "gpu_check.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gpu_check"] = module  # dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


def test_gpu_check_runs_on_the_cpu_and_records_its_figures(tmp_path, capsys) -> None:
    out = tmp_path / "figures.json"
    sizes = ["--steps", "20", "--batch-size", "8", "--val-n", "2", "--eval-n", "6", "--eval-batch", "6",
             "--max-new-tokens", "8", "--tiny-config", json.dumps(TINY)]
    rc = _script().main(["--device", "cpu", "--out", str(out), "--work", str(tmp_path / "w"), *sizes])
    assert rc == 0, capsys.readouterr().out
    report = json.loads(out.read_text())
    assert set(report["runs"]) == {"bf16", "fp32"} and report["all_losses_went_down"]
    for dtype, run in report["runs"].items():
        assert run["device"] == "cpu" and run["dtype"] == dtype and run["train_steps"] == 20
        assert run["train_steps_per_s"] > 0 and run["train_tokens_per_s"] > 0
        assert run["eval_n"] == 6 and run["eval_generations_per_s"] > 0
        assert run["final_loss"] < run["first_loss"] and 0 <= run["eval_accuracy"] <= 1
        assert run["train_peak_rss_bytes"] > 2**20
    assert report["runs"]["bf16"]["eval_model_dtype"] == "torch.bfloat16"
    assert {"train_speedup", "eval_speedup", "final_loss_difference"} <= set(report["bf16_vs_fp32"])
    assert "bf16: eval n=6" in capsys.readouterr().out


def test_gpu_check_refuses_a_missing_device_before_spending_time(tmp_path, capsys) -> None:
    rc = _script().main(["--device", "cpu", "--dtypes", "fp16", "--out", str(tmp_path / "f.json")])
    assert rc == 2 and "fp16 needs an accelerator" in capsys.readouterr().err
    assert not (tmp_path / "f.json").exists()


def test_a_short_run_judges_its_loss_on_its_evaluations(tmp_path) -> None:
    # 5 steps log one 10-step window: first and last window loss are the same number, which
    # made a CPU dry run report that the loss did not go down (and exit 1)
    events = [{"event": "start", "step": 0}]
    events += [{"step": s, "train_loss": 3.0 - 0.5 * s, "val_accuracy": 0.0} for s in range(1, 6)]
    events.append({"step": 5, "loss": 2.0, "steps_per_s": 9.0, "tokens_per_s": 900.0})
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    figures = _script().train_figures(tmp_path, {"step": 5, "wall_s": 1.0, "best_val_accuracy": 0.0})
    assert figures["first_loss"] == 2.5 and figures["final_loss"] == 0.5 and figures["loss_went_down"]
    assert figures["train_steps_per_s"] == 9.0 and figures["loss_curve"] == [[5, 2.0]]
