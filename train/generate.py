"""Batched generation with left padding.

Prompts are sorted by length before batching (less padding, same results: greedy decoding
of a left-padded row equals decoding it alone, which the tests check) and the outputs are
put back in the caller's order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch


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
) -> list[Generation]:
    """One generation per prompt (token ids), in the prompts' order."""
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
        if sampling.do_sample:
            kwargs.update(temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
        sequences = model.generate(input_ids=ids, attention_mask=mask, **kwargs)
        for row, i in enumerate(rows):
            tokens = _trim(sequences[row, ids.shape[1] :].tolist(), eos, pad)
            out[i] = Generation(tokenizer.decode(tokens, skip_special_tokens=True), tuple(tokens))
        if on_batch is not None:
            on_batch(len(rows))
    return [g for g in out if g is not None]
