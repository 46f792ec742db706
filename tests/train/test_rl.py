"""REINFORCE: advantages, a step toward the rewarded output, the loop's bookkeeping."""

from __future__ import annotations

import copy

import torch

from train import data as D
from train.generate import Sampling
from train.loop import verified_records
from train.rl import advantages, reinforce_step, sample_and_grade, sequence_logprobs


def test_group_baseline() -> None:
    assert advantages([1.0, 0.0, 0.5, 0.5], k=2) == [0.5, -0.5, 0.0, 0.0]
    normed = advantages([1.0, 0.0], k=2, normalize=True)
    assert normed[0] > 0.99 and normed[1] < -0.99


def test_an_rl_step_moves_the_policy_toward_the_rewarded_output(tiny, records) -> None:
    """Toy reward: 1 if the first generated token is token A, else 0. After a few updates
    on sampled groups, the probability of A as the first token must rise."""
    model, tok = tiny
    torch.manual_seed(0)
    prompts = [D.prompt_ids(tok, r, "chat") for r in records[:4]]
    target = tok.convert_tokens_to_ids("-")

    def p_target() -> float:
        model.eval()
        with torch.no_grad():
            logp, _ = sequence_logprobs(model, prompts, [[target]] * len(prompts), tok.pad_token_id)
        return float(logp[:, -1].exp().mean())

    before = p_target()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    k = 8
    for _ in range(6):
        group_prompts = [p for p in prompts for _ in range(k)]
        # Half the samples start with the target token, half with something else: the
        # update is told which ones were rewarded.
        other = tok.convert_tokens_to_ids("x") if tok.convert_tokens_to_ids("x") is not None else 5
        outputs = [
            [target, tok.eos_token_id] if j % 2 == 0 else [other, tok.eos_token_id]
            for _ in prompts
            for j in range(k)
        ]
        rewards = [1.0 if out[0] == target else 0.0 for out in outputs]
        stats = reinforce_step(
            model, optimizer, group_prompts, outputs, advantages(rewards, k), tok.pad_token_id
        )
        assert stats["updated"] == len(outputs)
    assert p_target() > before * 2


def test_kl_penalty_is_zero_against_itself(tiny, records) -> None:
    import copy

    model, tok = tiny
    reference = copy.deepcopy(model)
    prompts = [D.prompt_ids(tok, r, "chat") for r in records[:2]]
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    stats = reinforce_step(
        model, optimizer, prompts, [[5, 6], [7]], [1.0, -1.0], tok.pad_token_id, reference=reference, kl=0.1
    )
    assert abs(stats["kl"]) < 1e-6


def test_groups_without_signal_are_skipped(tiny, records) -> None:
    model, tok = tiny
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    stats = reinforce_step(model, optimizer, [[1, 2]] * 2, [[3], [4]], [0.0, 0.0], tok.pad_token_id)
    assert stats["updated"] == 0


def test_sampling_is_graded_by_the_runtime(tiny, records) -> None:
    model, tok = tiny
    _, gens, rewards, statuses = sample_and_grade(
        model, tok, records[:2], 2, Sampling(max_new_tokens=6, do_sample=True), "chat"
    )
    assert len(gens) == len(rewards) == len(statuses) == 4
    assert all(r == 0.0 for r in rewards) and all(s == "parse_failure" for s in statuses)


def test_loop_keeps_only_verified_distinct_solutions(records) -> None:
    gold = records[0]["completion"][0]["content"]
    kept, solved = verified_records(
        records[:2],
        [gold, gold, "junk", "junk"],
        ["correct", "correct", "parse_failure", "parse_failure"],
        k=2,
    )
    assert solved == 1 and len(kept) == 1
    assert kept[0]["completion"][0]["content"] == gold and kept[0]["id"] == records[0]["id"]


def test_a_loss_scaler_leaves_the_update_exact(tiny, records) -> None:
    """fp16 training scales the loss (Placement.grad_scaler). The same step with a scaler
    (power-of-two scale, fp32 on the CPU: exact) must give bit-identical weights: the gradients
    are unscaled before clipping and stepping, not clipped while still scaled."""
    model, tok = tiny
    prompts = [D.prompt_ids(tok, r, "chat") for r in records[:3]]
    outputs = [[5, 6, tok.eos_token_id], [7, tok.eos_token_id], [8, 9, 10, tok.eos_token_id]]
    adv = [1.0, -0.5, 2.0]

    def stepped(scaler) -> list[torch.Tensor]:
        policy = copy.deepcopy(model)
        optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-2)
        reinforce_step(policy, optimizer, prompts, outputs, adv, tok.pad_token_id, scaler=scaler)
        return [p.detach().clone() for p in policy.parameters()]

    plain = stepped(None)
    scaled = stepped(torch.amp.GradScaler("cpu", init_scale=2.0**12))
    assert not all(torch.equal(a, b) for a, b in zip(plain, [p.detach() for p in model.parameters()],
                                                       strict=True))  # the step moved something
    assert all(torch.equal(a, b) for a, b in zip(plain, scaled, strict=True))


def test_under_bf16_the_log_probs_are_taken_in_fp32(tiny, records) -> None:
    """Under bf16 autocast the logits are bf16; RL's log-probabilities (and so its KL) are the
    log_softmax of those logits in fp32 (`logits.float()`, as TRL does). A bf16 log_softmax
    would be off by about 1e-2 nats on this model: bf16 keeps 8 bits of mantissa."""
    from train.devices import Placement

    model, tok = tiny
    model.eval()
    prompts = [D.prompt_ids(tok, r, "chat") for r in records[:3]]
    outputs = [[5, 6, 7], [8], [9, 10]]
    with torch.no_grad(), Placement("cpu", "bf16").autocast():
        logp, mask = sequence_logprobs(model, prompts, outputs, tok.pad_token_id)
        rows = [list(p) + list(o) for p, o in zip(prompts, outputs, strict=True)]
        width = max(len(r) for r in rows)
        ids = torch.tensor([r + [tok.pad_token_id] * (width - len(r)) for r in rows])
        attn = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
        logits = model(input_ids=ids, attention_mask=attn).logits[:, :-1]
        assert logits.dtype == torch.bfloat16
        fp32 = torch.log_softmax(logits.float(), dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
        bf16 = torch.log_softmax(logits, dim=-1).gather(-1, ids[:, 1:, None]).squeeze(-1)
    assert logp.dtype == torch.float32
    assert torch.allclose(logp[mask], fp32[mask], rtol=0, atol=1e-6)
    assert (bf16.float()[mask] - fp32[mask]).abs().max() > 1e-3
