"""Batched generation with left padding.

Prompts are sorted by length before batching (less padding, same results: greedy decoding
of a left-padded row equals decoding it alone, which the tests check) and the outputs are
put back in the caller's order.

Sampling with per-row seeds (`generate(..., seeds=...)`, what `tasklang eval --samples`
uses) draws each row's tokens from its own generator, so a sample depends on its seed
alone: not on the batch it landed in, the batch size, or the process that ran it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from transformers import LogitsProcessor, LogitsProcessorList


@dataclass(frozen=True)
class Sampling:
    max_new_tokens: int = 256
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0


@dataclass(frozen=True)
class Generation:
    text: str
    token_ids: tuple[int, ...]  # the generated tokens only, eos included when emitted


def left_pad(prompts: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(p) for p in prompts)
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(prompts), width), dtype=torch.long)
    for row, prompt in enumerate(prompts):
        if prompt:
            ids[row, width - len(prompt) :] = torch.tensor(list(prompt))
            mask[row, width - len(prompt) :] = 1
    return ids, mask


def model_device(model: Any) -> torch.device:
    """Where the model's weights are: inputs built on the CPU go there."""
    return next(model.parameters()).device


def _trim(tokens: list[int], eos: int, pad: int) -> list[int]:
    """Generated tokens up to and including the first eos; padding after it dropped."""
    if eos in tokens:
        tokens = tokens[: tokens.index(eos) + 1]
    return [t for t in tokens if t != pad]


@torch.no_grad()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[int]],
    sampling: Sampling,
    batch_size: int = 32,
    on_batch: Callable[[int], None] | None = None,
    seeds: Sequence[int] | None = None,
    synced: bool = False,
) -> list[Generation]:
    """One generation per prompt (token ids), in the prompts' order. With `seeds` (one per
    prompt) and `sampling.do_sample`, each row samples from its own seeded generator.
    `synced`: the model is sharded over processes (every forward pass a collective), so a
    process whose rows have all ended keeps stepping until every process's have."""
    if seeds is not None and len(seeds) != len(prompts):
        raise ValueError(f"generate: {len(seeds)} seeds for {len(prompts)} prompts")
    model.eval()
    device = model_device(model)
    pad, eos = tokenizer.pad_token_id, tokenizer.eos_token_id
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[Generation | None] = [None] * len(prompts)
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        ids, mask = left_pad([prompts[i] for i in rows], pad)
        ids, mask = ids.to(device), mask.to(device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": sampling.max_new_tokens,
            "pad_token_id": pad,
            "eos_token_id": eos,
            "do_sample": sampling.do_sample,
        }
        if synced:
            kwargs["synced_gpus"] = True
        if sampling.do_sample and seeds is not None:
            sampler = SeededSampler([seeds[i] for i in rows], sampling.temperature, sampling.top_p)
            kwargs.update(do_sample=False, logits_processor=LogitsProcessorList([sampler]))
        elif sampling.do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        sequences = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        generated = sequences[:, ids.shape[1] :].tolist()  # one copy from the device per batch
        for row, i in enumerate(rows):
            tokens = _trim(generated[row], eos, pad)
            out[i] = Generation(tokenizer.decode(tokens, skip_special_tokens=True), tuple(tokens))
        if on_batch is not None:
            on_batch(len(rows))
    return [g for g in out if g is not None]


def row_seed(seed: int, key: object, sample: int) -> int:
    """A 63-bit seed for sample `sample` of the prompt `key` (a record id): a hash, so
    neighbouring seeds or ids give unrelated streams (unlike `seed + index`)."""
    digest = hashlib.sha256(f"{seed}\x00{key}\x00{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


def top_p_filter(logits: torch.Tensor, top_p: float) -> torch.Tensor:
    """Nucleus filtering: keep the smallest set of most likely tokens whose probability
    reaches `top_p` (at least one), the rest set to -inf."""
    if top_p >= 1.0:
        return logits
    ordered, index = torch.sort(logits, descending=True, dim=-1)
    probs = torch.softmax(ordered, dim=-1)
    before = torch.cumsum(probs, dim=-1) - probs  # mass of the tokens ranked above each one
    drop = before >= top_p
    drop[..., 0] = False
    return logits.masked_fill(drop.scatter(-1, index, drop), float("-inf"))


class SeededSampler(LogitsProcessor):
    """Temperature and top-p sampling with one torch.Generator per row. It returns scores
    that are -inf except at the drawn token, so greedy decoding emits the draw."""

    def __init__(self, seeds: Sequence[int], temperature: float, top_p: float) -> None:
        self.seeds, self.temperature, self.top_p = list(seeds), temperature, top_p
        self.generators: list[torch.Generator] = []

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        if not self.generators:
            self.generators = [torch.Generator(device=scores.device).manual_seed(s) for s in self.seeds]
        probs = torch.softmax(top_p_filter(scores.float() / self.temperature, self.top_p), dim=-1)
        picks = [torch.multinomial(probs[row], 1, generator=g) for row, g in enumerate(self.generators)]
        out = torch.full_like(scores, float("-inf"))
        out.scatter_(1, torch.stack(picks), 0.0)
        return out
