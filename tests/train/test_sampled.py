"""Seeded sampling (top-p, temperature, per-row generators) and the majority vote over executed answers."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from train import data as D
from train.evaluate import grade_outputs
from train.generate import Sampling, SeededSampler, generate, row_seed, top_p_filter
from train.sampled import SamplingPlan, majority, record_votes, summarize_samples


def test_top_p_keeps_the_smallest_set_that_reaches_p() -> None:
    logits = torch.log(torch.tensor([[0.2, 0.5, 0.3], [0.5, 0.3, 0.2]]))
    kept = lambda p: torch.isfinite(top_p_filter(logits, p)).tolist()  # noqa: E731
    assert kept(0.6) == [[False, True, True], [True, True, False]]
    assert kept(0.5) == [[False, True, False], [True, False, False]]
    assert kept(0.01) == [[False, True, False], [True, False, False]]  # never empty
    assert kept(1.0) == [[True] * 3] * 2


@pytest.mark.parametrize(("temperature", "top_p", "want"), [
    (1.0, 1.0, [0.7, 0.2, 0.1]),
    (0.5, 1.0, [0.49 / 0.54, 0.04 / 0.54, 0.01 / 0.54]),  # p^(1/T), renormalised
    (1.0, 0.8, [0.7 / 0.9, 0.2 / 0.9, 0.0]),
])
def test_sampler_draws_follow_the_tempered_nucleus(
    temperature: float, top_p: float, want: list[float]
) -> None:
    rows = 4000
    scores = torch.log(torch.tensor([0.7, 0.2, 0.1])).repeat(rows, 1)
    sampler = SeededSampler([row_seed(0, "x", j) for j in range(rows)], temperature, top_p)
    out = sampler(torch.zeros((rows, 1), dtype=torch.long), scores)
    picks = out.argmax(dim=-1)
    assert bool((torch.isfinite(out).sum(dim=-1) == 1).all())  # exactly one token left per row
    freq = torch.bincount(picks, minlength=3).double() / rows
    for got, p in zip(freq.tolist(), want, strict=True):
        assert abs(got - p) <= 4 * math.sqrt(p * (1 - p) / rows) + 1e-9


def _noisy(tiny):
    model, tok = tiny
    torch.manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model, tok


def test_seeded_samples_do_not_depend_on_the_batch(tiny, records) -> None:
    model, tok = _noisy(tiny)
    prompts = [D.prompt_ids(tok, r, "chat") for r in records[:5]]
    seeds = [row_seed(7, r["id"], 0) for r in records[:5]]
    sampling = Sampling(max_new_tokens=10, do_sample=True, temperature=1.0, top_p=0.95)
    batched = generate(model, tok, prompts, sampling, batch_size=5, seeds=seeds)
    alone = [generate(model, tok, [p], sampling, batch_size=1, seeds=[s])[0]
             for p, s in zip(prompts, seeds, strict=True)]
    assert [g.token_ids for g in batched] == [g.token_ids for g in alone]
    again = generate(model, tok, prompts, sampling, batch_size=2, seeds=seeds)
    assert [g.token_ids for g in again] == [g.token_ids for g in batched]
    other = generate(model, tok, prompts, sampling, batch_size=5, seeds=[s + 1 for s in seeds])
    assert [g.token_ids for g in other] != [g.token_ids for g in batched]
    # A nucleus this small holds only the most likely token: sampling is greedy decoding.
    narrow = Sampling(max_new_tokens=10, do_sample=True, temperature=1.0, top_p=1e-6)
    greedy = generate(model, tok, prompts, Sampling(max_new_tokens=10), batch_size=5)
    assert [g.token_ids for g in generate(model, tok, prompts, narrow, 5, seeds=seeds)] == [
        g.token_ids for g in greedy
    ]


def test_row_seeds_are_distinct_and_stable() -> None:
    seeds = {row_seed(0, f"id{i}", j) for i in range(50) for j in range(8)}
    assert len(seeds) == 400 and all(0 <= s < 2**63 for s in seeds)
    assert row_seed(3, "a", 1) == row_seed(3, "a", 1) != row_seed(4, "a", 1)


def test_majority_breaks_ties_by_the_first_sample() -> None:
    assert majority(["7", "3", "3", "7"]) == ("7", 2)
    assert majority([None, "3", "7", "7"]) == ("7", 2)
    assert majority([None, None]) == (None, 0)
    assert majority([None, "5"]) == ("5", 1)


def _arithmetic(records: list[dict]) -> dict:
    return next(r for r in records if r["expert"] == "arithmetic")


def test_votes_count_executed_answers(records) -> None:
    record = _arithmetic(records)
    gold = D.target_text(record)
    added = gold.replace("compute_op: sub", "compute_op: add")  # runs, to the wrong value
    assert added != gold

    def votes(texts: list[str]) -> dict:
        return record_votes(record, grade_outputs([record] * len(texts), texts))

    tie_wrong_first = votes([added, gold, added, gold, "no trace"])
    assert tie_wrong_first["correct"] == 2 and tie_wrong_first["majority_votes"] == 2
    assert tie_wrong_first["majority_correct"] is False
    assert tie_wrong_first["majority_answer"] != record["answer"]
    tie_right_first = votes([gold, added, "no trace", added, gold])
    assert tie_right_first["majority_correct"] is True
    assert tie_right_first["majority_answer"] == record["answer"]
    nothing = votes(["no trace"] * 3)
    assert nothing["majority_answer"] is None and nothing["majority_correct"] is False


def test_summary_reports_pass_at_every_k_and_the_vote() -> None:
    plan = SamplingPlan(k=4, temperature=0.7)
    per_record = [
        {"samples": 4, "correct": 4, "majority_answer": "1", "majority_correct": True},
        {"samples": 4, "correct": 1, "majority_answer": "2", "majority_correct": False},
        {"samples": 4, "correct": 0, "majority_answer": None, "majority_correct": False},
    ]
    s = summarize_samples(per_record, plan)
    assert s["pass_at"]["1"] == pytest.approx((1 + 0.25 + 0) / 3)
    assert s["pass_at"]["4"] == pytest.approx(2 / 3)
    assert list(s["pass_at"]) == ["1", "2", "3", "4"]
    assert s["majority_accuracy"] == pytest.approx(1 / 3) and s["no_answer"] == 1
    with pytest.raises(ValueError):
        SamplingPlan(k=2, temperature=0.0)


@given(st.lists(st.one_of(st.none(), st.sampled_from(["1", "2", "3", "4"])), max_size=12))
def test_majority_is_a_most_frequent_answer_and_the_earliest_of_them(keys: list[str | None]) -> None:
    winner, votes = majority(keys)
    answered = [k for k in keys if k is not None]
    if not answered:
        assert (winner, votes) == (None, 0)
        return
    top = max(answered.count(k) for k in answered)
    assert votes == top == answered.count(winner)
    assert winner == next(k for k in answered if answered.count(k) == top)
