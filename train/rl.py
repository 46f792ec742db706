"""REINFORCE with the runtime's graded reward and a per-prompt group baseline.

Each step samples k completions for each of a few prompts (left-padded, batched), grades
them with the same dispatch as eval (runtime.records), and pushes up the log-probability of
completions that beat their own group's mean reward (the notes' 1.0/0.7/0.5/0.3/0.0 scale
gives a signal even when no sample is right). Optional KL to the start model (k3
estimator) keeps the policy near what SFT taught. Groups whose samples all score the same
carry no signal and are skipped, not averaged in as zeros.
"""

from __future__ import annotations

import copy
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from runtime.records import grade_record

from . import data as D
from .curriculum import CurriculumSampler, CurriculumSpec
from .devices import CPU, Placement, peak_memory, place, reset_peak_memory, resolve
from .generate import Generation, Sampling, generate, model_device
from .models import load
from .modes import ModeSpec, apply_mode
from .runs import better, check_run_dir, progress, replacing, start_run
from .sft import Validation, save_checkpoint, val_metrics


@dataclass(frozen=True)
class RLConfig:
    model: str
    data: str
    out: str
    mode: ModeSpec = field(default_factory=ModeSpec)
    iterations: int = 50
    prompts_per_step: int = 8
    k: int = 4
    lr: float = 1e-5
    temperature: float = 1.0
    top_p: float = 1.0
    kl: float = 0.0
    normalize: bool = False  # divide advantages by the group's std
    max_new_tokens: int | None = None
    prompt_format: str = "chat"
    validation: Validation = field(default_factory=Validation)
    seed: int = 0
    time_limit_s: float | None = None
    overwrite: bool = False  # replace a run already in `out` (train.runs.replacing)
    prompt_split: str = "train"  # the split whose prompts are sampled
    device: str = "auto"  # train.devices.resolve
    dtype: str = "auto"
    curriculum: CurriculumSpec | None = None  # None: prompts drawn uniformly from the split


def advantages(rewards: Sequence[float], k: int, normalize: bool = False) -> list[float]:
    """Reward minus its group's mean (groups are consecutive runs of k)."""
    out: list[float] = []
    for start in range(0, len(rewards), k):
        group = rewards[start : start + k]
        mean = sum(group) / len(group)
        std = math.sqrt(sum((r - mean) ** 2 for r in group) / len(group))
        for r in group:
            a = r - mean
            out.append(a / (std + 1e-6) if normalize and std > 0 else a)
    return out


def sequence_logprobs(
    model: Any, prompts: Sequence[Sequence[int]], outputs: Sequence[Sequence[int]], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-token log-probabilities of `outputs` given `prompts` (right-padded), and their mask."""
    rows = [list(p) + list(o) for p, o in zip(prompts, outputs, strict=True)]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attn = torch.zeros((len(rows), width), dtype=torch.long)
    target_mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, (p, r) in enumerate(zip(prompts, rows, strict=True)):
        ids[i, : len(r)] = torch.tensor(r)
        attn[i, : len(r)] = 1
        target_mask[i, len(p) : len(r)] = True
    device = model_device(model)
    ids, attn, target_mask = ids.to(device), attn.to(device), target_mask.to(device)
    # log_softmax in fp32 whatever the autocast dtype (as TRL does): bf16 logits keep 8 bits of
    # mantissa, and a bf16 log_softmax is off by up to ~0.05 nats, more than a KL term measures.
    logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1].float()
    logp = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    return logp, target_mask[:, 1:]


def reinforce_step(
    policy: Any,
    optimizer: torch.optim.Optimizer,
    prompts: Sequence[Sequence[int]],
    outputs: Sequence[Sequence[int]],
    advantage: Sequence[float],
    pad_id: int,
    reference: Any = None,
    kl: float = 0.0,
    placement: Placement = CPU,
    scaler: Any = None,
) -> dict[str, float]:
    """One policy-gradient update on sampled outputs with given advantages. Rows with zero
    advantage (and empty outputs) are dropped before the forward pass. `scaler` is the run's
    loss scaler (Placement.grad_scaler; fp16 needs one that lives across steps)."""
    keep = [i for i, a in enumerate(advantage) if a != 0 and len(outputs[i]) > 0]
    if not keep:
        return {"loss": 0.0, "kl": 0.0, "updated": 0.0}
    prompts = [prompts[i] for i in keep]
    outputs = [outputs[i] for i in keep]
    adv = torch.tensor([advantage[i] for i in keep], dtype=torch.float32, device=placement.torch_device())
    policy.train()
    with placement.autocast():
        logp, mask = sequence_logprobs(policy, prompts, outputs, pad_id)
    lengths = mask.sum(-1).clamp(min=1)
    seq_logp = (logp * mask).sum(-1) / lengths
    loss = -(adv * seq_logp).mean()
    kl_value = torch.tensor(0.0)
    if reference is not None and kl > 0:
        with torch.no_grad(), placement.autocast():
            ref_logp, _ = sequence_logprobs(reference, prompts, outputs, pad_id)
        delta = ref_logp - logp
        kl_tok = torch.exp(delta) - delta - 1  # k3: unbiased, always >= 0
        kl_value = ((kl_tok * mask).sum(-1) / lengths).mean()
        loss = loss + kl * kl_value
    scaler = scaler if scaler is not None else placement.grad_scaler()
    scaler.scale(loss).backward()
    scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
    torch.nn.utils.clip_grad_norm_([p for p in policy.parameters() if p.requires_grad], 1.0)
    scaler.step(optimizer)  # skipped when fp16 overflowed; the scale then shrinks
    scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return {"loss": float(loss.detach()), "kl": float(kl_value.detach()), "updated": float(len(keep))}


def sample_and_grade(
    model: Any,
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    k: int,
    sampling: Sampling,
    prompt_format: str,
    batch_size: int = 64,
    reward: Callable[[str, dict[str, Any]], float] | None = None,
) -> tuple[list[list[int]], list[Generation], list[float], list[str]]:
    """k samples per record (consecutive), their rewards and statuses."""
    prompts = [D.prompt_ids(tokenizer, r, prompt_format) for r in records for _ in range(k)]
    gens = generate(model, tokenizer, prompts, sampling, batch_size)
    rewards, statuses = [], []
    for i, gen in enumerate(gens):
        record = records[i // k]
        if reward is not None:
            rewards.append(reward(gen.text, record))
            statuses.append("custom")
        else:
            grade = grade_record(gen.text, record)
            rewards.append(float(grade.reward or 0.0))
            statuses.append(grade.status)
    return prompts, gens, rewards, statuses


def run_rl(cfg: RLConfig) -> dict[str, Any]:
    placement = resolve(cfg.device, cfg.dtype)
    out = Path(cfg.out)
    check_run_dir(out, "rl", overwrite=cfg.overwrite)  # before any loading
    with replacing(out, cfg.overwrite):
        return _run(cfg, placement, out)


def _run(cfg: RLConfig, placement: Placement, out: Path) -> dict[str, Any]:
    reset_peak_memory(placement)
    data = Path(cfg.data)
    train_records, val_records = D.load_splits(data, cfg.prompt_split)
    model, tokenizer = load(cfg.model, train_records)
    reference = None
    if cfg.kl > 0:
        # Nothing updates the reference: it may hold the placement's dtype, like an eval model.
        reference = place(copy.deepcopy(model).eval(), placement, train=False)
        for p in reference.parameters():
            p.requires_grad_(False)
    policy = place(apply_mode(model, cfg.mode), placement, train=True)
    optimizer = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=cfg.lr)
    scaler = placement.grad_scaler()
    max_new = D.generation_budget(cfg.max_new_tokens, data)
    sampling = Sampling(max_new_tokens=max_new, do_sample=True, temperature=cfg.temperature, top_p=cfg.top_p)
    every = cfg.validation.every or max(1, cfg.iterations // 5)
    run = start_run(out, "rl", cfg, policy, max_new, placement)
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    started = time.time()
    sampler = None if cfg.curriculum is None else CurriculumSampler(train_records, cfg.curriculum)

    def validate(iteration: int) -> dict[str, Any]:
        with placement.autocast():
            metrics = val_metrics(policy, tokenizer, val_records, cfg.validation, cfg.prompt_format, max_new)
        return {"step": iteration, **metrics}

    best: dict[str, Any] = {"val_accuracy": None, "step": None}  # None: not measured
    if val_records and cfg.validation.n:
        # The start model is a candidate too: RL that makes things worse must not win.
        event = validate(0)
        best = {"val_accuracy": event["val_accuracy"], "step": 0}
        save_checkpoint(policy, tokenizer, out)
        run.evaluation(**event, best=True)
    bar = progress(cfg.iterations, "rl", "iter")
    iteration = 0
    with run.curve_on_exit(f"REINFORCE on {data.name}", "iteration (one policy update each)"):
        for iteration in range(1, cfg.iterations + 1):
            stats = _update(
                policy, optimizer, tokenizer, train_records, cfg, sampling, rng, reference, placement,
                sampler, scaler,
            )
            run.log(step=iteration, **stats)
            bar.update(1)
            out_of_time = cfg.time_limit_s is not None and time.time() - started > cfg.time_limit_s
            if (
                val_records
                and cfg.validation.n
                and (iteration % every == 0 or iteration == cfg.iterations or out_of_time)
            ):
                event = validate(iteration)
                improved = better(event, best)
                if improved:
                    best = {"val_accuracy": event["val_accuracy"], "step": iteration}
                    save_checkpoint(policy, tokenizer, out)
                run.evaluation(**event, mean_reward=stats["mean_reward"], best=improved)
            if out_of_time:
                break
        bar.close()
        if not (out / "checkpoint").exists():
            save_checkpoint(policy, tokenizer, out)
        summary = {
            "event": "done",
            "step": iteration,
            "best_step": best["step"],
            "best_val_accuracy": best["val_accuracy"],
            "wall_s": round(time.time() - started, 1),
            **placement.describe(),
            **peak_memory(placement),
        }
        run.log(**summary)
    return summary


def _update(
    policy: Any,
    optimizer: torch.optim.Optimizer,
    tokenizer: Any,
    train_records: list[dict[str, Any]],
    cfg: RLConfig,
    sampling: Sampling,
    rng: random.Random,
    reference: Any,
    placement: Placement,
    sampler: CurriculumSampler | None = None,
    scaler: Any = None,
) -> dict[str, Any]:
    """One iteration: sample a group per prompt, grade, and take one policy-gradient step.
    With a curriculum the prompts come from its mixture, which then follows their rewards."""
    if sampler is None:
        batch = rng.sample(train_records, min(cfg.prompts_per_step, len(train_records)))
    else:
        batch = [dict(r) for r in sampler.draw(cfg.prompts_per_step, rng)]
    with placement.autocast():
        prompts, gens, rewards, statuses = sample_and_grade(
            policy, tokenizer, batch, cfg.k, sampling, cfg.prompt_format
        )
    adv = advantages(rewards, cfg.k, cfg.normalize)
    stats = reinforce_step(
        policy,
        optimizer,
        prompts,
        [g.token_ids for g in gens],
        adv,
        tokenizer.pad_token_id,
        reference,
        cfg.kl,
        placement,
        scaler,
    )
    groups = len(rewards) // cfg.k
    signal = sum(1 for g in range(groups) if len(set(rewards[g * cfg.k : (g + 1) * cfg.k])) > 1)
    mix = {} if sampler is None else observe_successes(sampler, batch, statuses, cfg.k)
    return {
        "mean_reward": sum(rewards) / len(rewards),
        "sample_accuracy": statuses.count("correct") / len(statuses),
        "groups_with_signal": signal / max(1, groups),
        # A surrogate, not a token loss: named apart so no curve draws it as one.
        "pg_loss": stats["loss"],
        "kl": stats["kl"],
        "updated": stats["updated"],
        **mix,
    }


def observe_successes(sampler: CurriculumSampler, records: Sequence[dict[str, Any]],
                      statuses: Sequence[str], k: int) -> dict[str, Any]:
    """Each sample's success (a correct answer) counts for its record's bucket; then one
    curriculum step. The new mixture, for metrics.jsonl."""
    for i, status in enumerate(statuses):
        sampler.observe(records[i // k], 1.0 if status == "correct" else 0.0)
    return sampler.step()
