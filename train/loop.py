"""The self-improvement loop of notes 004, closed.

Iteration 0 measures the start model on val (the baseline the notes insist on). Each
iteration then samples k solutions per training problem, keeps only those the runtime (or
the code sandbox) verifies as correct, fine-tunes on them, and measures val again. One line
per iteration in metrics.jsonl: problems tried, solved, examples kept, val accuracy with its
interval. The selected checkpoint is the best val model, which may be the start model.
`validation.every` measures val every N iterations (0: every one; the last and a stop on the
time limit are always measured), `time_limit_s` stops after the iteration that passes it.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import data as D
from .curriculum import CurriculumSampler, CurriculumSpec
from .devices import Placement, peak_memory, place, reset_peak_memory, resolve
from .generate import Sampling
from .models import load
from .modes import ModeSpec, apply_mode
from .rl import observe_successes, sample_and_grade
from .runs import better, check_run_dir, progress, replacing, start_run
from .sft import Schedule, Trainer, Validation, epoch_batches, save_checkpoint, val_metrics


@dataclass(frozen=True)
class LoopConfig:
    model: str
    data: str
    out: str
    mode: ModeSpec = field(default_factory=ModeSpec)
    iterations: int = 3
    problems: int | None = None  # training problems sampled per iteration (None: all)
    k: int = 4
    temperature: float = 0.8
    passes: float = 2.0  # SFT passes over the kept solutions
    schedule: Schedule = field(default_factory=lambda: Schedule(lr=1e-4, batch_size=16))
    max_new_tokens: int | None = None
    prompt_format: str = "chat"
    validation: Validation = field(default_factory=Validation)
    seed: int = 0
    prompt_split: str = "train"  # the split whose prompts are sampled
    time_limit_s: float | None = None  # stop after the iteration that passes it (measured, saved)
    overwrite: bool = False  # replace a run already in `out` (train.runs.replacing)
    device: str = "auto"  # train.devices.resolve
    dtype: str = "auto"
    curriculum: CurriculumSpec | None = None  # None: problems drawn uniformly from the split


def verified_records(
    records: list[dict[str, Any]], texts: list[str], statuses: list[str], k: int
) -> tuple[list[dict[str, Any]], int]:
    """Correct samples as SFT records (prompt + the model's own verified completion), one
    per distinct text per problem; and how many problems had at least one."""
    kept: list[dict[str, Any]] = []
    solved = 0
    for p, record in enumerate(records):
        seen: set[str] = set()
        for j in range(k):
            text, status = texts[p * k + j], statuses[p * k + j]
            if status == "correct" and text not in seen:
                seen.add(text)
                kept.append({**record, "completion": [{"role": "assistant", "content": text}]})
        solved += bool(seen)
    return kept, solved


def run_loop(cfg: LoopConfig) -> dict[str, Any]:
    placement = resolve(cfg.device, cfg.dtype)
    out = Path(cfg.out)
    check_run_dir(out, "loop", overwrite=cfg.overwrite)  # before any loading
    with replacing(out, cfg.overwrite):
        return _run(cfg, placement, out)


def _run(cfg: LoopConfig, placement: Placement, out: Path) -> dict[str, Any]:
    reset_peak_memory(placement)
    data = Path(cfg.data)
    train_records, val_records = D.load_splits(data, cfg.prompt_split)
    model, tokenizer = load(cfg.model, train_records)
    model = place(apply_mode(model, cfg.mode), placement, train=True)
    max_new = D.generation_budget(cfg.max_new_tokens, data)
    sampling = Sampling(max_new_tokens=max_new, do_sample=True, temperature=cfg.temperature)
    run = start_run(out, "loop", cfg, model, max_new, placement)
    rng = random.Random(cfg.seed)
    started = time.time()
    sampler = None if cfg.curriculum is None else CurriculumSampler(train_records, cfg.curriculum)

    def measure() -> dict[str, Any]:
        if not val_records or not cfg.validation.n:
            return {}
        with placement.autocast():
            return val_metrics(model, tokenizer, val_records, cfg.validation, cfg.prompt_format, max_new)

    baseline = measure()
    best = {"val_accuracy": baseline.get("val_accuracy"), "iteration": 0}  # None: not measured
    save_checkpoint(model, tokenizer, out)
    run.evaluation(iteration=0, step=0, **baseline, best=True)
    every = cfg.validation.every or 1
    iteration, stopped_early = 0, False
    bar = progress(cfg.iterations, "loop", "iter")
    with run.curve_on_exit(f"self-improvement loop on {data.name}", "iteration"):
        for iteration in range(1, cfg.iterations + 1):
            event = _iterate(model, tokenizer, train_records, cfg, sampling, rng, iteration, placement,
                             sampler)
            bar.update(1)
            late = cfg.time_limit_s is not None and time.time() - started > cfg.time_limit_s
            if iteration % every == 0 or iteration == cfg.iterations or late:
                event.update(measure())
                improved = better(event, best)
                if improved:
                    best = {"val_accuracy": event["val_accuracy"], "iteration": iteration}
                    save_checkpoint(model, tokenizer, out)
                run.evaluation(**event, best=improved)
            else:
                run.log(**event)
            if late:
                stopped_early = iteration < cfg.iterations
                break
        bar.close()
        summary = {
            "event": "done",
            "iterations": iteration,
            "stopped_early": stopped_early,
            "best_iteration": best["iteration"],
            "best_val_accuracy": best["val_accuracy"],
            "baseline_val_accuracy": baseline.get("val_accuracy"),
            "wall_s": round(time.time() - started, 1),
            **placement.describe(),
            **peak_memory(placement),
        }
        run.log(**summary)
    return summary


def _iterate(
    model: Any,
    tokenizer: Any,
    train_records: list[dict[str, Any]],
    cfg: LoopConfig,
    sampling: Sampling,
    rng: random.Random,
    iteration: int,
    placement: Placement,
    sampler: CurriculumSampler | None = None,
) -> dict[str, Any]:
    """One iteration: sample k solutions per problem, keep the verified ones, fine-tune on them.
    With a curriculum the problems (`problems` of them, else as many as the split holds) come
    from its mixture, which then follows their successes."""
    if sampler is not None:
        pool = [dict(r) for r in sampler.draw(cfg.problems or len(train_records), rng)]
    elif cfg.problems is None:
        pool = train_records
    else:
        pool = rng.sample(train_records, min(cfg.problems, len(train_records)))
    with placement.autocast():
        _, gens, _, statuses = sample_and_grade(model, tokenizer, pool, cfg.k, sampling, cfg.prompt_format)
    kept, solved = verified_records(pool, [g.text for g in gens], statuses, cfg.k)
    mix = {} if sampler is None else observe_successes(sampler, pool, statuses, cfg.k)
    event: dict[str, Any] = {
        "iteration": iteration,
        "step": iteration,
        "problems": len(pool),
        "solved": solved,
        "solve_rate": solved / len(pool),
        "kept": len(kept),
        **mix,
    }
    if kept:
        examples = D.encode_all(tokenizer, kept, cfg.prompt_format)
        pad = tokenizer.pad_token_id
        batches = epoch_batches(examples, cfg.schedule, pad, iteration * 1000)
        steps = max(1, round(cfg.passes * len(batches)))
        trainer = Trainer(model, tokenizer, cfg.schedule, steps, placement)
        losses = []
        epoch = 0
        while trainer.step < steps:
            if epoch:  # every epoch has as many batches as the first; only the order changes
                batches = epoch_batches(examples, cfg.schedule, pad, iteration * 1000 + epoch)
            for batch in batches:
                losses.append(trainer.train_step(batch))
                if trainer.step >= steps:
                    break
            epoch += 1
        event["train_loss"] = sum(losses) / len(losses)
    return event
