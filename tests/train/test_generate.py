"""Batched, left-padded greedy generation equals generating one prompt at a time."""

from __future__ import annotations

import torch

from train import data as D
from train.generate import Sampling, generate, left_pad


def test_left_padding_puts_prompts_at_the_right_edge() -> None:
    ids, mask = left_pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_batched_greedy_equals_one_by_one(tiny, records) -> None:
    model, tok = tiny
    torch.manual_seed(1)
    with torch.no_grad():  # make the untrained model less degenerate than all-zeros logits
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    prompts = [D.prompt_ids(tok, r, "chat") for r in records[:6]]
    sampling = Sampling(max_new_tokens=12)
    batched = generate(model, tok, prompts, sampling, batch_size=6)
    alone = [generate(model, tok, [p], sampling, batch_size=1)[0] for p in prompts]
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    assert all(len(g.token_ids) <= 12 for g in batched)
