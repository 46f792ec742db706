"""GPU check (issue 13 item 8): bf16 training and eval of the `tiny` model through tasklang's own
functions, against fp32 on the same device, with the figures written to one JSON file.

    PYTHONUNBUFFERED=1 python bench/gpu_check.py --device cuda --out gpu_check.json

For each dtype (default bf16 then fp32) it runs `train.sft.run_sft` (what `tasklang train sft`
calls) on a compiled trace dataset, then loads the selected checkpoint with `train.models.load`,
places it for inference with `train.devices.place` (what `tasklang eval --device` does) and
answers the val split with `train.sft.evaluate_model`, graded by the runtime. Recorded per
dtype: device and its name, train steps/s and tokens/s (median of the logged 10-step windows,
evaluation time excluded), eval generations/s and tokens/s, peak device memory, first and last
logged training loss, best val accuracy during training and the final eval's accuracy with its
Wilson interval. The JSON file is rewritten after every phase, so a run cut short keeps what it
measured.

The dataset: `--data DIR` (a `tasklang compile` output), else tasks/demo/rate_arith.task is
compiled into the work directory with tasklang's API (needs lark, pydantic and jsonschema: on a
machine without them, carry their wheels or compile here and pass --data). The same script runs
on the CPU with `--device cpu` and small sizes; tests/train/test_gpu_check.py does that.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Sizes:
    steps: int
    batch_size: int
    lr: float
    val_n: int  # val examples answered at each training evaluation
    eval_n: int  # val examples answered by the final eval
    eval_batch: int
    max_new_tokens: int
    tiny_config: str | None


def say(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def compile_demo(work: Path) -> Path:
    from tasklang.api import LoadOptions, compile_paths

    # The demo imports ../gsm/experts.task: the project root is tasks/, not tasks/demo/.
    source = ROOT / "tasks" / "demo" / "rate_arith.task"
    checked, _ = compile_paths([str(source)], work / "data", options=LoadOptions(root=ROOT / "tasks"))
    if not checked.ok:
        raise SystemExit(f"gpu_check: {source} did not compile: {checked.diagnostics[0]}")
    return work / "data" / "demo_rate_arith"


def train_figures(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """What the run's metrics.jsonl says about speed and loss."""
    from train.runs import read_metrics

    events = read_metrics(run_dir)
    windows = [e for e in events if "steps_per_s" in e]
    losses = [e["loss"] for e in windows]
    if len(losses) < 2:  # a run of 10 steps or fewer logs one window: compare its evaluations'
        losses = [e["train_loss"] for e in events if e.get("train_loss") is not None] or losses
    vals = [e["val_accuracy"] for e in events if "val_accuracy" in e]
    return {
        "train_steps": summary["step"],
        "train_steps_per_s": statistics.median(e["steps_per_s"] for e in windows) if windows else None,
        "train_tokens_per_s": statistics.median(e["tokens_per_s"] for e in windows) if windows else None,
        "train_wall_s": summary["wall_s"],
        "first_loss": losses[0] if losses else None,
        "final_loss": losses[-1] if losses else None,
        "loss_curve": [[e["step"], round(e["loss"], 5)] for e in windows],
        "loss_went_down": bool(losses) and losses[-1] < losses[0],
        "val_accuracy_curve": vals,
        "best_val_accuracy": summary["best_val_accuracy"],
        "train_peak_device_bytes": summary.get("peak_device_bytes"),
        "train_peak_rss_bytes": summary.get("peak_rss_bytes"),
        "device_name": summary.get("device_name"),
    }


def eval_figures(run_dir: Path, data: Path, device: str, dtype: str, sizes: Sizes) -> dict[str, Any]:
    """The selected checkpoint answering val, placed as `tasklang eval --device --dtype` places it."""
    import torch

    from train.data import read_records
    from train.devices import peak_memory, place, reset_peak_memory, resolve
    from train.evaluate import summarize
    from train.models import load
    from train.sft import evaluate_model

    placement = resolve(device, dtype)
    records = read_records(data / "val.jsonl")[: sizes.eval_n]
    model, tokenizer = load(str(run_dir))
    model = place(model, placement, train=False)
    reset_peak_memory(placement)
    if placement.kind == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    results = evaluate_model(model, tokenizer, records, "chat", sizes.max_new_tokens, sizes.eval_batch)
    if placement.kind == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    new_tokens = sum(len(tokenizer(r["output"], add_special_tokens=False)["input_ids"]) for r in results)
    s = summarize(results)
    return {
        "eval_n": s["n"],
        "eval_accuracy": s["accuracy"],
        "eval_wilson95": s["wilson95"],
        "eval_parse_rate": s["parse_rate"],
        "eval_s": round(seconds, 3),
        "eval_generations_per_s": s["n"] / seconds,
        "eval_new_tokens_per_s": new_tokens / seconds,
        "eval_model_dtype": str(next(model.parameters()).dtype),
        **{f"eval_{k}": v for k, v in peak_memory(placement).items()},
    }


def _shown(value: float | None) -> str:
    return "none" if value is None else f"{value:.3f}"  # None: no val accuracy was measured


def check_dtype(data: Path, work: Path, device: str, dtype: str, sizes: Sizes) -> dict[str, Any]:
    from train.models import TinySpec
    from train.sft import Schedule, SFTConfig, Validation, run_sft

    run_dir = work / f"sft-{dtype}"
    cfg = SFTConfig(
        model="tiny",
        data=str(data),
        out=str(run_dir),
        schedule=Schedule(lr=sizes.lr, batch_size=sizes.batch_size, steps=sizes.steps, seed=0),
        validation=Validation(
            every=max(1, sizes.steps // 3), n=sizes.val_n, max_new_tokens=sizes.max_new_tokens
        ),
        tiny=TinySpec.from_json(sizes.tiny_config),
        device=device,
        dtype=dtype,
        overwrite=True,  # --work is scratch: a rerun in the same one replaces its runs
    )
    say(f"{dtype}: train sft, {sizes.steps} steps of batch {sizes.batch_size} on {device}")
    summary = run_sft(cfg)
    figures = {"device": summary["device"], "dtype": summary["dtype"], **train_figures(run_dir, summary)}
    say(
        f"{dtype}: {figures['train_steps_per_s']:.1f} steps/s, {figures['train_tokens_per_s']:.0f} tokens/s, "
        f"loss {figures['first_loss']:.3f} -> {figures['final_loss']:.3f}, "
        f"best val accuracy {_shown(figures['best_val_accuracy'])}, peak device bytes "
        f"{figures['train_peak_device_bytes']}"
    )
    figures.update(eval_figures(run_dir, data, device, dtype, sizes))
    say(
        f"{dtype}: eval n={figures['eval_n']} accuracy {figures['eval_accuracy']:.3f} "
        f"{figures['eval_wilson95']}, {figures['eval_generations_per_s']:.1f} generations/s, "
        f"{figures['eval_new_tokens_per_s']:.0f} new tokens/s"
    )
    return figures


def environment() -> dict[str, Any]:
    import torch
    import transformers

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "cuda_available": torch.cuda.is_available(),
    }
    if torch.cuda.is_available():
        env.update(
            cuda=torch.version.cuda, gpu=torch.cuda.get_device_name(), bf16=torch.cuda.is_bf16_supported()
        )
    return env


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="JSON file for the figures")
    p.add_argument("--device", default="cuda")
    p.add_argument("--dtypes", default="bf16,fp32", help="comma-separated, run in this order")
    p.add_argument("--data", default=None, help="compiled dataset directory (default: compile the demo)")
    p.add_argument("--work", default=None, help="directory for the dataset and run directories")
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--val-n", type=int, default=64)
    p.add_argument("--eval-n", type=int, default=400)
    p.add_argument("--eval-batch", type=int, default=64)
    p.add_argument("--max-new-tokens", type=int, default=160)
    p.add_argument("--tiny-config", default=None, help="JSON for the tiny model (default: its 3.6M shape)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import os

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    from train.devices import DeviceError, resolve

    sizes = Sizes(
        args.steps, args.batch_size, args.lr, args.val_n, args.eval_n, args.eval_batch,
        args.max_new_tokens, args.tiny_config,
    )
    dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    try:
        for dtype in dtypes:  # every requested placement exists, before minutes are spent
            resolve(args.device, dtype)
    except DeviceError as err:
        print(f"gpu_check: {err}", file=sys.stderr)
        return 2
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="gpu-check-"))
    out = Path(args.out)
    report: dict[str, Any] = {"environment": environment(), "sizes": sizes.__dict__, "runs": {}}
    say(f"environment {report['environment']}")
    started = time.perf_counter()
    data = Path(args.data) if args.data else compile_demo(work)
    report["data"] = str(data)
    say(f"dataset {data} ready after {time.perf_counter() - started:.1f} s")
    for dtype in dtypes:
        report["runs"][dtype] = check_dtype(data, work, args.device, dtype, sizes)
        report["wall_s"] = round(time.perf_counter() - started, 1)
        out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    runs = report["runs"]
    if "bf16" in runs and "fp32" in runs:
        b, f = runs["bf16"], runs["fp32"]
        report["bf16_vs_fp32"] = {
            "train_speedup": b["train_steps_per_s"] / f["train_steps_per_s"],
            "eval_speedup": b["eval_generations_per_s"] / f["eval_generations_per_s"],
            "final_loss_difference": b["final_loss"] - f["final_loss"],
            "eval_accuracy_difference": b["eval_accuracy"] - f["eval_accuracy"],
        }
    report["all_losses_went_down"] = all(r["loss_went_down"] for r in runs.values())
    out.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    say(f"done in {report['wall_s']} s; figures in {out}")
    return 0 if report["all_losses_went_down"] else 1


if __name__ == "__main__":
    sys.exit(main())
