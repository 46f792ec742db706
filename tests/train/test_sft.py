"""SFT: the loss goes down, modes train what they say, LoRA round-trips, runs resume."""

from __future__ import annotations

import json
import random

import pytest
import torch

from train import data as D
from train.models import load_pretrained
from train.modes import ModeError, ModeSpec, apply_mode
from train.sft import Schedule, SFTConfig, Trainer, Validation, run_sft

from .conftest import TINY


def _loss(model, batch) -> float:
    model.eval()
    with torch.no_grad():
        return float(model(**batch.model_inputs(), labels=batch.labels).loss)


def test_a_few_steps_lower_the_loss(tiny, records) -> None:
    model, tok = tiny
    examples = D.encode_all(tok, records[:16])
    batch = D.pad_batch(examples, tok.pad_token_id)
    before = _loss(model, batch)
    trainer = Trainer(model, tok, Schedule(lr=3e-3, batch_size=16, warmup=0.0), total_steps=10)
    for _ in range(10):
        trainer.train_step(batch)
    assert _loss(model, batch) < before * 0.8


def test_last_n_trains_the_last_layers_and_an_untied_head(tiny, records) -> None:
    model, tok = tiny
    model.lm_head.weight = model.model.embed_tokens.weight  # tie them, as many real models do
    model = apply_mode(model, ModeSpec("last-n", last_n=1))
    assert model.lm_head.weight is not model.model.embed_tokens.weight
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all(n.startswith(("model.layers.1.", "lm_head", "model.norm")) for n in trainable)
    assert any(n.startswith("model.layers.1.") for n in trainable) and "lm_head.weight" in trainable
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    batch = D.pad_batch(D.encode_all(tok, records[:8]), tok.pad_token_id)
    trainer = Trainer(model, tok, Schedule(lr=1e-2, warmup=0.0), total_steps=3)
    for _ in range(3):
        trainer.train_step(batch)
    for name, value in model.named_parameters():
        if name in frozen:
            assert torch.equal(value, frozen[name]), name


def test_last_n_larger_than_the_model_is_refused(tiny) -> None:
    model, _ = tiny
    with pytest.raises(ModeError, match="has 2 layers"):
        apply_mode(model, ModeSpec("last-n", last_n=5))


def test_lora_save_and_reload_reproduce_the_logits(tiny, records, tmp_path) -> None:
    from peft import PeftModel

    model, tok = tiny
    model.save_pretrained(tmp_path / "base")
    tok.save_pretrained(tmp_path / "base")
    lora = apply_mode(model, ModeSpec("lora", lora_r=4, lora_alpha=8))
    assert (
        0
        < sum(p.numel() for p in lora.parameters() if p.requires_grad)
        < sum(p.numel() for p in lora.parameters()) // 2
    )
    batch = D.pad_batch(D.encode_all(tok, records[:8]), tok.pad_token_id)
    trainer = Trainer(lora, tok, Schedule(lr=1e-2, warmup=0.0), total_steps=3)
    for _ in range(3):
        trainer.train_step(batch)
    lora.eval()
    with torch.no_grad():
        expected = lora(**batch.model_inputs()).logits
    lora.save_pretrained(tmp_path / "adapter")
    base, _ = load_pretrained(str(tmp_path / "base"))
    reloaded = PeftModel.from_pretrained(base, tmp_path / "adapter").eval()
    with torch.no_grad():
        got = reloaded(**batch.model_inputs()).logits
    assert torch.allclose(got, expected, atol=1e-5)


def _config(dataset_dir, out, **changes) -> SFTConfig:
    from train.models import TinySpec

    base = dict(
        model="tiny",
        data=str(dataset_dir),
        out=str(out),
        tiny=TinySpec(**TINY),
        schedule=Schedule(lr=3e-3, batch_size=16, steps=12),
        validation=Validation(every=6, n=4, max_new_tokens=8),
    )
    base.update(changes)
    return SFTConfig(**base)


def test_run_directory_holds_config_metrics_checkpoint_and_curve(dataset_dir, tmp_path) -> None:
    summary = run_sft(_config(dataset_dir, tmp_path / "run"))
    run = tmp_path / "run"
    assert summary["step"] == 12
    config = json.loads((run / "config.json").read_text())
    assert config["command"] == "sft" and config["total_steps"] == 12
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in events if "loss" in e]
    assert losses[-1] < losses[0]
    assert [e["step"] for e in events if "val_accuracy" in e] == [6, 12]
    assert (run / "curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    model, tok = load_pretrained(str(run))  # a run directory loads as its checkpoint
    assert tok.pad_token_id != tok.eos_token_id and tok.padding_side == "left"
    assert summary["best_step"] in (6, 12)


@pytest.mark.slow
def test_resume_continues_where_it_stopped(dataset_dir, tmp_path) -> None:
    full = run_sft(_config(dataset_dir, tmp_path / "full"))
    cut = _config(dataset_dir, tmp_path / "cut", schedule=Schedule(lr=3e-3, batch_size=16, steps=12))
    # Simulate a crash after the first evaluation: run 6 of the 12 steps' schedule...
    half = run_sft(
        _config(
            dataset_dir,
            tmp_path / "cut",
            validation=Validation(every=6, n=4, max_new_tokens=8),
            time_limit_s=1e-9,
        )
    )
    assert half["stopped_early"] and half["step"] < 12
    resumed = run_sft(SFTConfig(**{**cut.__dict__, "resume": True}))
    assert resumed["step"] == 12
    # ... and the resumed run ends with the same weights as the uninterrupted one.
    state_full = torch.load(tmp_path / "full" / "last" / "state.pt", weights_only=False)["trainable"]
    state_cut = torch.load(tmp_path / "cut" / "last" / "state.pt", weights_only=False)["trainable"]
    assert state_full.keys() == state_cut.keys()
    for name in state_full:
        assert torch.allclose(state_full[name], state_cut[name], atol=1e-5), name
    assert full["step"] == resumed["step"]


def test_packing_trains_too(dataset_dir, tmp_path) -> None:
    schedule = Schedule(lr=3e-3, batch_size=8, steps=4, packing=True)
    summary = run_sft(_config(dataset_dir, tmp_path / "packed", schedule=schedule))
    assert summary["step"] == 4


def test_seeded_batches_are_reproducible(tiny, records) -> None:
    _, tok = tiny
    examples = D.encode_all(tok, records[:20])
    a = [b.input_ids.tolist() for b in D.batches(examples, 4, tok.pad_token_id, random.Random(5))]
    b = [b.input_ids.tolist() for b in D.batches(examples, 4, tok.pad_token_id, random.Random(5))]
    assert a == b


def _grads_at_step(trainer: Trainer, batch: D.Batch) -> list[torch.Tensor]:
    """The gradients the optimizer steps with (after the scaler's unscale), one train step."""
    seen: list[torch.Tensor] = []
    hook = trainer.optimizer.register_step_pre_hook(
        lambda opt, *_: seen.extend(p.grad.detach().clone() for g in opt.param_groups for p in g["params"])
    )
    trainer.train_step(batch)
    hook.remove()
    return seen


def test_fp16_loss_scaling_unscales_once_when_accelerate_wraps_the_optimizer(records) -> None:
    """Regression: under several processes the stepped object is accelerate's optimizer wrapper;
    unscaling the inner optimizer and then stepping the wrapper divided fp16 gradients twice."""
    from accelerate import Accelerator
    from accelerate.optimizer import AcceleratedOptimizer
    from accelerate.state import AcceleratorState

    from train.devices import Placement
    from train.models import TinySpec, build_tiny

    grads = {}
    Accelerator(cpu=True)  # the wrapper needs accelerate's state; reset below for later tests
    try:
        for dtype in ("fp32", "fp16"):
            model, tok = build_tiny(records, TinySpec(**TINY))
            batch = D.pad_batch(D.encode_all(tok, records[:8]), tok.pad_token_id)
            trainer = Trainer(model, tok, Schedule(lr=1e-3, warmup=0.0), 4, Placement("cpu", dtype))
            trainer.stepper = AcceleratedOptimizer(trainer.optimizer, device_placement=False)
            grads[dtype] = torch.cat([g.flatten() for g in _grads_at_step(trainer, batch)])
    finally:
        AcceleratorState._reset_state(True)
    assert trainer.scaler.is_enabled() and trainer.scaler.get_scale() > 1
    ratio = float(grads["fp16"].norm() / grads["fp32"].norm())
    assert ratio == pytest.approx(1.0, rel=0.05)  # measured 1.00; the double unscale gave 1.5e-5
