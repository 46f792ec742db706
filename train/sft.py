"""Supervised fine-tuning: our own short loop over compiled records.

Loss on the completion only (train.data checks the prompt/completion boundary of every
example), eos learned, `full` / `lora` / `last-n` (train.modes), length given as coverage
(passes over the data; notes 003 found 2-3x the sweet spot) or steps, optional packing,
checkpoint selection on val accuracy (greedy answers graded by the runtime, val loss as
the tie-break), resumable from `last/`.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from . import data as D
from .devices import CPU, Placement, peak_memory, place, reset_peak_memory, resolve
from .distributed import LOCAL, Engine, refuse_mode, start
from .evaluate import summarize
from .models import TinySpec, load, save
from .modes import ModeError, ModeSpec, apply_mode, load_trainable_state, trainable_state
from .runs import better, check_run_dir, progress, replacing, start_run


@dataclass(frozen=True)
class Schedule:
    lr: float = 1e-3
    batch_size: int = 16
    coverage: float | None = 3.0  # passes over the training data
    steps: int | None = None  # overrides coverage when given
    warmup: float = 0.05  # fraction of the steps
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    packing: bool = False
    seed: int = 0


@dataclass(frozen=True)
class Validation:
    every: int = 0  # steps between evals; 0 = about 8 per run
    n: int = 64  # val examples generated at each eval
    batch_size: int = 32
    max_new_tokens: int | None = None  # None: the dataset manifest's, else 256


@dataclass(frozen=True)
class SFTConfig:
    model: str
    data: str
    out: str
    mode: ModeSpec = field(default_factory=ModeSpec)
    schedule: Schedule = field(default_factory=Schedule)
    validation: Validation = field(default_factory=Validation)
    prompt_format: str = "chat"
    max_length: int | None = None
    time_limit_s: float | None = None  # stop early (after an eval and a save) past this
    tiny: TinySpec = field(default_factory=TinySpec)
    resume: bool = False
    overwrite: bool = False  # replace a run already in `out` (train.runs.replacing)
    device: str = "auto"  # train.devices.resolve: auto|cpu|cuda|cuda:N|mps
    dtype: str = "auto"  # auto|bf16|fp16|fp32 (autocast; trainable weights stay fp32)


def lr_lambda(total: int, warmup: int) -> Any:
    """Linear warmup, then cosine decay to 10% of the peak."""

    def f(step: int) -> float:
        if warmup and step < warmup:
            return (step + 1) / warmup
        progress_ = (step - warmup) / max(1, total - warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))

    return f


def epoch_batches(examples: list[D.Example], sched: Schedule, pad_id: int, epoch: int) -> list[D.Batch]:
    rng = random.Random(f"{sched.seed}:{epoch}")
    return list(D.batches(examples, sched.batch_size, pad_id, rng, packing=sched.packing))


@torch.no_grad()
def val_loss(
    model: Any,
    examples: list[D.Example],
    pad_id: int,
    batch_size: int = 32,
    placement: Placement = CPU,
    engine: Engine = LOCAL,
) -> float:
    """Mean token loss over `examples` (each process takes its share; the sums are added)."""
    total, tokens = engine.sum(loss_sums(model, examples, pad_id, batch_size, placement, engine), placement)
    return total / max(1.0, tokens)


@torch.no_grad()
def loss_sums(
    model: Any,
    examples: list[D.Example],
    pad_id: int,
    batch_size: int = 32,
    placement: Placement = CPU,
    engine: Engine = LOCAL,
) -> list[float]:
    """This process's [token loss sum, token count] over its share of `examples`. A sharded
    engine's stand-in rows join the forward passes but not the sums."""
    model.eval()
    total, tokens = 0.0, 0
    mine, real = engine.shard(examples), engine.real(len(examples))
    for at in range(0, len(mine), batch_size):
        batch = D.pad_batch(mine[at : at + batch_size], pad_id).to(placement.torch_device())
        with placement.autocast():
            logits = model(**batch.model_inputs()).logits
        keep = min(batch.input_ids.shape[0], real - at)
        if keep > 0:
            total += float(D.token_loss_sum(logits[:keep], batch.labels[:keep]))
            tokens += batch.select(range(keep)).label_tokens
    return [total, float(tokens)]


def evaluate_model(
    model: Any,
    tokenizer: Any,
    records: list[dict[str, Any]],
    prompt_format: str,
    max_new_tokens: int,
    batch_size: int = 32,
    desc: str = "eval",
    engine: Engine = LOCAL,
) -> list[dict[str, Any]]:
    """Greedy answers to `records`, graded by the runtime, in the records' order. With several
    processes each answers its share and every process gets all the results."""
    from .evaluate import grade_outputs
    from .generate import Sampling, generate

    mine = engine.shard(records)
    prompts = [D.prompt_ids(tokenizer, r, prompt_format) for r in mine]
    bar = progress(len(mine), desc, "ex", show=engine.main)
    outs = generate(
        model, tokenizer, prompts, Sampling(max_new_tokens=max_new_tokens), batch_size, on_batch=bar.update,
        synced=engine.sharded,
    )
    bar.close()
    return engine.gather(grade_outputs(mine, [o.text for o in outs]), len(records))


def val_metrics(
    model: Any,
    tokenizer: Any,
    records: list[dict[str, Any]],
    validation: Validation,
    prompt_format: str,
    max_new_tokens: int,
    engine: Engine = LOCAL,
) -> dict[str, Any]:
    """The `val_*` fields every run logs: greedy answers to the first `validation.n` records."""
    results = evaluate_model(
        model,
        tokenizer,
        records[: validation.n],
        prompt_format,
        max_new_tokens,
        validation.batch_size,
        desc="val",
        engine=engine,
    )
    s = summarize(results)
    return {
        "val_accuracy": s["accuracy"],
        "val_n": s["n"],
        "val_wilson95": s["wilson95"],
        "val_parse_rate": s["parse_rate"],
        "val_mean_reward": s["mean_reward"],
    }


class Trainer:
    """Optimizer, schedule and step count of one SFT run (the self-improvement loop uses one
    per iteration). Batches go to the placement's device and the forward pass runs under its
    autocast; fp16 also scales the loss (bf16 and fp32 have the range to need none)."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        sched: Schedule,
        total_steps: int,
        placement: Placement = CPU,
        engine: Engine = LOCAL,
    ) -> None:
        self.model, self.tokenizer, self.sched, self.placement = model, tokenizer, sched, placement
        self.engine = engine
        self.scaler = placement.grad_scaler()
        params = [p for p in model.parameters() if p.requires_grad]
        if not params:
            raise ValueError("nothing to train: every parameter is frozen")
        self.optimizer = torch.optim.AdamW(params, lr=sched.lr, weight_decay=sched.weight_decay)
        warmup = int(sched.warmup * total_steps)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(total_steps, warmup))
        # The forward pass goes through the wrapper (DDP's gradient sync); saving and
        # generating use self.model, the same parameters unwrapped.
        self.forward, self.stepper = engine.prepare(model, self.optimizer)
        self.step = 0

    def _share(self, batch: D.Batch) -> tuple[D.Batch, float]:
        """This process's rows of the global batch, and their weight (0 for a stand-in row
        when the batch has fewer rows than processes: every process must join the step)."""
        if not self.engine.distributed:
            return batch, 1.0
        rows = self.engine.deal(range(batch.input_ids.shape[0]))
        return (batch.select(rows), 1.0) if rows else (batch.select([0]), 0.0)

    def train_step(self, batch: D.Batch) -> float:
        """One optimizer step on `batch`; the global batch's mean token loss."""
        self.model.train()
        tokens = max(1, batch.label_tokens)  # the global count: every process divides by it
        mine, weight = self._share(batch)
        mine = mine.to(self.placement.torch_device())
        with self.placement.autocast():
            logits = self.forward(**mine.model_inputs()).logits
        loss_sum = D.token_loss_sum(logits, mine.labels)
        # DDP averages gradients over processes: times world, the average is the sum's gradient.
        self.engine.backward(self.scaler.scale(loss_sum * (weight * self.engine.world / tokens)))
        if self.sched.grad_clip:
            # The object stepped, not the raw optimizer: the scaler keys its "already
            # unscaled" state by optimizer, and under accelerate `stepper` is a wrapper (an
            # unscale of the inner one would be followed by a second in step: fp16 gradients
            # 65,536 times too small).
            self.scaler.unscale_(self.stepper)
            torch.nn.utils.clip_grad_norm_(
                [p for p in self.model.parameters() if p.requires_grad], self.sched.grad_clip
            )
        self.scaler.step(self.stepper)
        self.scaler.update()
        self.scheduler.step()
        self.stepper.zero_grad(set_to_none=True)
        self.step += 1
        (total,) = self.engine.sum([float(loss_sum.detach()) * weight], self.placement)
        return total / tokens

    def state(self) -> dict[str, Any]:
        """What `last/state.pt` keeps. Sharded, the weights and the optimizer state are gathered
        whole (every process calls this; rank 0 holds the result and writes it)."""
        if self.engine.sharded:
            trainable, optimizer = self.engine.full_training_state(self.model, self.optimizer)
        else:
            trainable, optimizer = trainable_state(self.model), self.optimizer.state_dict()
        return {
            "step": self.step,
            "trainable": trainable,
            "optimizer": optimizer,
            "scheduler": self.scheduler.state_dict(),
            "sharded": self.engine.sharded,
            "engine": self.engine.kind,
            "processes": self.engine.world,
        }

    def restore(self, state: dict[str, Any]) -> None:
        was = bool(state.get("sharded", False))
        if was != self.engine.sharded:
            kind = state.get("engine", "fsdp")
            wrote = f"a sharded ({kind}) run" if was else "an unsharded run (one process or DDP)"
            now = "a sharded engine" if self.engine.sharded else "no sharding"
            raise ModeError(
                f"--resume: last/ was written by {wrote} of {state.get('processes', 1)} process(es) "
                f"and this run has {now}; resume under the engine that wrote it"
            )
        if self.engine.sharded:
            self.engine.load_full_training_state(self.model, self.optimizer, state["trainable"],
                                                 state["optimizer"])
        else:
            load_trainable_state(self.model, state["trainable"])
            self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = int(state["step"])


def total_steps(n_batches_per_epoch: int, sched: Schedule) -> int:
    if sched.steps is not None:
        return sched.steps
    return max(1, math.ceil((sched.coverage or 1.0) * n_batches_per_epoch))


def save_checkpoint(
    model: Any, tokenizer: Any, run_dir: Path, name: str = "checkpoint", weights: dict[str, Any] | None = None
) -> None:
    """Write to a temporary directory, then swap: a crash never leaves half a checkpoint.
    `weights`: the full state dict a sharded engine gathered (Engine.full_weights)."""
    from tasklang.files import swap_into_place

    tmp = run_dir / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save(model, tokenizer, tmp, weights)
    if hasattr(model, "peft_config"):
        model.save_pretrained(tmp / "adapter")
    swap_into_place(tmp, run_dir / name)


def save_last(trainer: Trainer, run_dir: Path, extra: dict[str, Any]) -> None:
    """Every process calls this (a sharded state is gathered by all); the main one writes."""
    if not (trainer.engine.main or trainer.engine.sharded):
        return  # unsharded, the main process holds the whole state already
    state = trainer.state()
    if not trainer.engine.main:
        return
    last = run_dir / "last"
    last.mkdir(exist_ok=True)
    tmp = last / ".state.pt.tmp"
    torch.save({**state, **extra}, tmp)
    tmp.replace(last / "state.pt")


def checkpoint(trainer: Trainer, run_dir: Path) -> None:
    """The selected model into run_dir/checkpoint: gathered by every process when sharded,
    written by the main one."""
    weights = trainer.engine.full_weights(trainer.forward)
    if trainer.engine.main:
        save_checkpoint(trainer.model, trainer.tokenizer, run_dir, weights=weights)


def check_engine(cfg: SFTConfig, engine: Engine) -> None:
    """Refuse, before any work, what this engine cannot train (train.distributed.refuse_mode;
    a launch from `--accelerate-config` was checked before starting the processes)."""
    refuse_mode(cfg.mode.mode, engine.sharded, engine.kind)


def _start_model(
    cfg: SFTConfig, records: list[dict[str, Any]], out: Path, resuming: bool, engine: Engine
) -> tuple[Any, Any]:
    """The model training starts from. `tiny` has random weights and a tokenizer trained here:
    the main process builds them and keeps them in OUT/base, which a resume, a LoRA reload and
    the other processes of a multi-process run load, so every process starts from one model."""
    if cfg.model != "tiny":
        return load(cfg.model, records)
    base = out / "base"
    built = None
    if engine.main and not resuming:
        built = load("tiny", records, cfg.tiny)
        save(*built, base)
    engine.barrier()
    return built or load(str(base))


def run_sft(cfg: SFTConfig) -> dict[str, Any]:
    """Train; returns the final summary (also the last line of metrics.jsonl)."""
    # Resolved before any loading: a bad option, or an -o holding a run, fails at once.
    engine, placement = start(resolve(cfg.device, cfg.dtype))
    check_engine(cfg, engine)
    out = Path(cfg.out)
    check_run_dir(out, "sft", cfg.resume, cfg.overwrite, engine.decided)
    with replacing(out, cfg.overwrite, engine.main):
        return _train(cfg, engine, placement, out)


def _train(cfg: SFTConfig, engine: Engine, placement: Placement, out: Path) -> dict[str, Any]:
    reset_peak_memory(placement)
    data = Path(cfg.data)
    train_records, val_records = D.load_splits(data)
    resuming = cfg.resume and (out / "last" / "state.pt").exists()
    model, tokenizer = _start_model(cfg, train_records, out, resuming, engine)
    model = place(apply_mode(model, cfg.mode), placement, train=True)
    examples = D.encode_all(tokenizer, train_records, cfg.prompt_format, cfg.max_length)
    val_examples = D.encode_all(tokenizer, val_records[:256], cfg.prompt_format) if val_records else []
    pad = tokenizer.pad_token_id
    first_epoch = epoch_batches(examples, cfg.schedule, pad, 0)
    per_epoch = len(first_epoch)
    steps = total_steps(per_epoch, cfg.schedule)
    trainer = Trainer(model, tokenizer, cfg.schedule, steps, placement, engine)
    best: dict[str, Any] = {"val_accuracy": None, "val_loss": None, "step": None}  # None: not measured
    if resuming:
        state = torch.load(out / "last" / "state.pt", weights_only=False, map_location="cpu")
        trainer.restore(state)
        best = _measured(state.get("best", best))
    max_new = D.generation_budget(cfg.validation.max_new_tokens, data)
    every = cfg.validation.every or max(1, steps // 8)
    header = {
        "total_steps": steps,
        "batches_per_epoch": per_epoch,
        "train_examples": len(examples),
        "val_examples": len(val_records),
    }
    who = {"processes": engine.world, "engine": engine.kind}
    run = start_run(out, "sft", cfg, model, max_new, placement, {**header, **who}, who,
                    step=trainer.step, resume=resuming, enabled=engine.main)
    started = time.time()

    def validate() -> dict[str, Any]:
        event: dict[str, Any] = {"step": trainer.step}
        if val_examples:
            event["val_loss"] = val_loss(model, val_examples, pad, placement=placement, engine=engine)
        if val_records and cfg.validation.n:
            with placement.autocast():
                event.update(
                    val_metrics(
                        model, tokenizer, val_records, cfg.validation, cfg.prompt_format, max_new, engine
                    )
                )
        return event

    def out_of_time() -> bool:
        if cfg.time_limit_s is None:
            return False
        return engine.agree(time.time() - started > cfg.time_limit_s)

    bar = progress(steps, "sft", show=engine.main)
    bar.update(trainer.step)
    window: list[float] = []
    since_eval: list[float] = []
    tokens, window_steps, t0 = 0, 0, time.time()
    stopped_early = False
    with run.curve_on_exit(f"SFT ({cfg.mode.mode}) on {data.name}", "optimizer step"):
        while trainer.step < steps:
            epoch, offset = divmod(trainer.step, per_epoch)
            batches = first_epoch if epoch == 0 else epoch_batches(examples, cfg.schedule, pad, epoch)
            for batch in batches[offset:]:
                window.append(trainer.train_step(batch))
                since_eval.append(window[-1])
                tokens += batch.real_tokens
                window_steps += 1
                bar.update(1)
                last_step = trainer.step >= steps
                late = out_of_time()
                if trainer.step % 10 == 0 or last_step:
                    dt = max(1e-9, time.time() - t0)
                    run.log(
                        step=trainer.step,
                        epoch=round(trainer.step / per_epoch, 3),
                        loss=sum(window) / len(window),
                        lr=trainer.scheduler.get_last_lr()[0],
                        tokens_per_s=tokens / dt,
                        steps_per_s=window_steps / dt,
                    )
                    window, tokens, window_steps, t0 = [], 0, 0, time.time()
                if trainer.step % every == 0 or last_step or late:
                    event = validate()
                    improved = better(event, best)
                    if improved:
                        best = {
                            "val_accuracy": event.get("val_accuracy"),
                            "val_loss": event.get("val_loss"),
                            "step": trainer.step,
                        }
                        checkpoint(trainer, out)
                    train_loss = sum(since_eval) / len(since_eval) if since_eval else None
                    run.evaluation(**event, train_loss=train_loss, best=improved)
                    since_eval = []
                    save_last(trainer, out, {"best": best})
                    tokens, window_steps, t0 = 0, 0, time.time()  # speed excludes evaluation time
                if last_step or late:
                    stopped_early = late and not last_step
                    break
            if stopped_early:
                break
        bar.close()
        if not engine.agree((out / "checkpoint").exists()):  # no val split: the last model
            checkpoint(trainer, out)
        summary = {
            "event": "done",
            "step": trainer.step,
            "best_step": best["step"],
            "best_val_accuracy": best["val_accuracy"],
            "best_val_loss": best["val_loss"],
            "stopped_early": stopped_early,
            "wall_s": round(time.time() - started, 1),
            "processes": engine.world,
            **placement.describe(),
            **peak_memory(placement),
        }
        run.log(**summary)
    engine.barrier()  # no process leaves while the main one still writes
    return summary


def _measured(best: dict[str, Any]) -> dict[str, Any]:
    """A `best` from a last/ written before "not measured" was None (-1.0 and inf stood for it)."""
    acc, loss = best.get("val_accuracy"), best.get("val_loss")
    return {
        **best,
        "val_accuracy": None if acc is None or acc < 0 else acc,
        "val_loss": None if loss is None or math.isinf(loss) else loss,
    }
