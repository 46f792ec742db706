"""Sharded engines (FSDP2, DeepSpeed ZeRO-3): equal shares and the engine decision in one process
(fast), and a real 2-process FSDP2 run with gloo on the CPU against one process (slow tier)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tasklang.cli import main
from train.distributed import Engine, EngineError, check_supported, config_env, interleave, requested_kind
from train.modes import ModeError, ModeSpec
from train.sft import Schedule, SFTConfig, Trainer, check_engine

from .conftest import TINY
from .test_distributed import _cli, _curve, _in_process

# Stated tolerance, as for DDP: FSDP2 gives each process a slice of every parameter and adds the
# gradients by reduce-scatter; measured 1e-7 relative on train and val losses after 8 steps.
REL_TOL = 1e-5

FSDP2_CONFIG = """\
compute_environment: LOCAL_MACHINE
distributed_type: FSDP
num_processes: 2
num_machines: 1
mixed_precision: 'no'
fsdp_config:
  fsdp_version: {version}
  fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP
  fsdp_state_dict_type: FULL_STATE_DICT
  fsdp_reshard_after_forward: true
  fsdp_cpu_ram_efficient_loading: false
"""

DEEPSPEED_CONFIG = """\
compute_environment: LOCAL_MACHINE
distributed_type: DEEPSPEED
num_processes: 2
deepspeed_config:
  zero_stage: 3
"""


@given(st.lists(st.integers(), max_size=40), st.integers(1, 6))
def test_sharded_shares_are_equal_and_gather_drops_the_stand_ins(items: list[int], world: int) -> None:
    engines = [Engine(rank, world, kind="fsdp", sharded=True) for rank in range(world)]
    assert [e.deal(items) for e in engines] == [Engine(e.rank, world).shard(items) for e in engines]
    parts = [e.shard(items) for e in engines]
    assert len({len(p) for p in parts}) == 1  # every process makes the same forward passes
    assert [p[: e.real(len(items))] for p, e in zip(parts, engines, strict=True)] == [
        Engine(e.rank, world).shard(items) for e in engines
    ]  # the real items are DDP's share, in DDP's order; stand-ins only after them
    assert interleave(parts, len(items)) == items


@pytest.mark.parametrize("world", [2, 3])
def test_val_loss_shares_with_stand_ins_add_up_to_the_whole(tiny, records, world: int) -> None:
    from train import data as D
    from train.sft import loss_sums

    model, tok = tiny
    examples = D.encode_all(tok, records[:7])  # 7 over 2 or 3 processes: stand-ins on some
    whole = loss_sums(model, examples, tok.pad_token_id, batch_size=2)
    engines = [Engine(r, world, kind="fsdp", sharded=True) for r in range(world)]
    shares = [loss_sums(model, examples, tok.pad_token_id, 2, engine=e) for e in engines]
    assert sum(s[1] for s in shares) == whole[1]  # token counts exact: no stand-in counted
    assert sum(s[0] for s in shares) == pytest.approx(whole[0], rel=1e-6)


@pytest.mark.parametrize(
    ("env", "kind"),
    [
        ({}, "local"),
        ({"WORLD_SIZE": "1", "ACCELERATE_USE_FSDP": "true"}, "local"),
        ({"WORLD_SIZE": "2"}, "ddp"),
        ({"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "TRUE"}, "fsdp"),
        ({"WORLD_SIZE": "4", "ACCELERATE_USE_DEEPSPEED": "true"}, "deepspeed"),
        ({"WORLD_SIZE": "2", "ACCELERATE_USE_FSDP": "false"}, "ddp"),
    ],
)
def test_the_engine_is_the_one_the_launch_exported(env: dict[str, str], kind: str) -> None:
    assert requested_kind(env) == kind


def test_a_config_file_gives_the_engine_accelerate_launch_would_export(tmp_path) -> None:
    for version in (1, 2):
        path = tmp_path / f"fsdp{version}.yaml"
        path.write_text(FSDP2_CONFIG.format(version=version))
        env = config_env(path)
        assert requested_kind(env) == "fsdp" and env["FSDP_VERSION"] == str(version)
    (tmp_path / "ds.yaml").write_text(DEEPSPEED_CONFIG)
    assert requested_kind(config_env(tmp_path / "ds.yaml")) == "deepspeed"
    (tmp_path / "bad.yaml").write_text("[1, 2")
    with pytest.raises(EngineError, match="cannot read the accelerate config"):
        config_env(tmp_path / "bad.yaml")


def test_fsdp1_is_refused_and_fsdp2_and_ddp_pass() -> None:
    with pytest.raises(EngineError, match="fsdp_version: 2"):
        check_supported("fsdp", {"FSDP_VERSION": "1"})
    check_supported("fsdp", {"FSDP_VERSION": "2"})
    check_supported("ddp", {})


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_accelerates_own_mixed_precision_is_refused_before_launching(tmp_path, monkeypatch,
                                                                      precision) -> None:
    """accelerate's autocast and fp16 scaler would run on top of tasklang's --dtype (the loss
    scaled twice): a config that asks for them is one line, exit 2, before anything starts."""
    import train.distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(train.distributed, "launch", lambda *call: pytest.fail("launched"))
    config = FSDP2_CONFIG.format(version=2).replace("mixed_precision: 'no'", f"mixed_precision: {precision}")
    assert f"mixed_precision: {precision}" in config
    (tmp_path / "mp.yaml").write_text(config)
    args = ["train", "sft", "--model", "tiny", "-o", str(tmp_path / "o"), "--data", str(tmp_path),
            "--accelerate-config", str(tmp_path / "mp.yaml")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert f"mixed_precision: {precision}" in result.output and f"--dtype {precision}" in result.output
    check_supported("ddp", {"ACCELERATE_MIXED_PRECISION": "no"})
    with pytest.raises(EngineError, match="set mixed_precision: 'no'"):
        check_supported("ddp", {"ACCELERATE_MIXED_PRECISION": precision})


@pytest.mark.skipif(importlib.util.find_spec("deepspeed") is not None, reason="deepspeed is installed")
@pytest.mark.parametrize("command", [["train", "sft", "--model", "tiny", "-o", "o"], ["eval", "--model", "m",
                                                                                      "-o", "x.jsonl"]])
def test_a_deepspeed_config_without_deepspeed_is_one_line_and_exit_2(tmp_path, monkeypatch, command) -> None:
    import train.distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(train.distributed, "launch", lambda *call: pytest.fail("launched"))
    (tmp_path / "ds.yaml").write_text(DEEPSPEED_CONFIG)
    result = CliRunner().invoke(main, [*command, "--data", str(tmp_path), "--num-processes", "2",
                                       "--accelerate-config", str(tmp_path / "ds.yaml")])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "asks for DeepSpeed, which is not installed" in result.output


def test_a_config_files_process_count_holds_unless_num_processes_is_given(tmp_path, monkeypatch) -> None:
    import train.distributed

    assert "--num_processes" not in train.distributed.launch_command(["eval"], None, "fsdp.yaml")
    seen: list = []
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(train.distributed, "launch", lambda *call: seen.append(call) or 0)
    (tmp_path / "fsdp.yaml").write_text(FSDP2_CONFIG.format(version=2))
    base = ["train", "sft", "--model", "tiny", "--data", str(tmp_path), "-o", "o",
            "--accelerate-config", str(tmp_path / "fsdp.yaml")]
    for extra, count in (([], None), (["--num-processes", "1"], 1), (["--num-processes", "4"], 4)):
        assert CliRunner().invoke(main, [*base, *extra]).exit_code == 0
        assert seen[-1][1] == count


def test_lora_is_refused_before_any_work_under_a_sharded_engine(tmp_path, monkeypatch) -> None:
    cfg = SFTConfig(model="tiny", data="d", out="o", mode=ModeSpec(mode="lora"))
    with pytest.raises(EngineError, match="--mode lora does not run under fsdp"):
        check_engine(cfg, Engine(0, 2, kind="fsdp", sharded=True))
    check_engine(cfg, Engine(0, 2, kind="ddp"))  # DDP trains LoRA as before
    check_engine(SFTConfig(model="tiny", data="d", out="o"), Engine(0, 2, kind="fsdp", sharded=True))
    # From the command line: refused before the processes start, in one line.
    import train.distributed

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    monkeypatch.setattr(train.distributed, "launch", lambda *call: pytest.fail("launched"))
    (tmp_path / "fsdp.yaml").write_text(FSDP2_CONFIG.format(version=2))
    result = CliRunner().invoke(main, ["train", "sft", "--model", "tiny", "--data", str(tmp_path), "-o", "o",
                                       "--mode", "lora", "--accelerate-config", str(tmp_path / "fsdp.yaml")])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert "--mode lora does not run under fsdp" in result.output


def test_zero3_is_sharded_and_zero2_is_not(tmp_path) -> None:
    from train.distributed import sharded_request

    (tmp_path / "ds3.yaml").write_text(DEEPSPEED_CONFIG)
    (tmp_path / "ds2.yaml").write_text(DEEPSPEED_CONFIG.replace("zero_stage: 3", "zero_stage: 2"))
    assert sharded_request(config_env(tmp_path / "ds3.yaml"))
    assert not sharded_request(config_env(tmp_path / "ds2.yaml"))
    assert not sharded_request({"WORLD_SIZE": "2"})


def test_a_resume_under_another_engine_is_refused(tiny) -> None:
    model, tok = tiny
    trainer = Trainer(model, tok, Schedule(), total_steps=2)
    state = trainer.state()
    assert state["sharded"] is False and state["processes"] == 1
    with pytest.raises(ModeError, match="written by a sharded .* of 2 process"):
        trainer.restore({**state, "sharded": True, "processes": 2})
    trainer.restore({k: v for k, v in state.items() if k not in ("sharded", "processes")})  # an old last/


def _logits(path, ids: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    with torch.no_grad():
        return AutoModelForCausalLM.from_pretrained(path).eval()(input_ids=ids).logits


@pytest.mark.slow
def test_fsdp2_on_two_gloo_processes_trains_resumes_and_evaluates_as_one(dataset_dir, tmp_path) -> None:
    """One process runs here; two are started with an FSDP2 config (accelerate launch, gloo)."""
    config = tmp_path / "fsdp.yaml"
    config.write_text(FSDP2_CONFIG.format(version=2))
    fsdp = ["--num-processes", "2", "--accelerate-config", str(config)]
    # Batches of 7 (the epoch's last of 5): shares of 4 and 3, 3 and 2 rows, never padded in training.
    common = ["--model", "tiny", "--data", str(dataset_dir), "--batch-size", "7", "--eval-every", "4",
              "--val-n", "5", "--max-new-tokens", "8", "--device", "cpu", "--tiny-config", json.dumps(TINY)]
    one, two = tmp_path / "one", tmp_path / "two"
    _in_process("train", "sft", *common, "--steps", "8", "-o", str(one))
    run = _cli("train", "sft", *common, "--steps", "8", "-o", str(two), *fsdp)
    assert run.returncode == 0, run.stderr
    # The run really was sharded: accelerate alone would have made this DDP on the CPU.
    assert json.loads((two / "config.json").read_text())["engine"] == "fsdp"
    start = json.loads((two / "metrics.jsonl").read_text().splitlines()[0])
    assert start["event"] == "start" and start["engine"] == "fsdp" and start["processes"] == 2

    # Resumed from last/ (weights and optimizer state gathered whole) for 4 more steps, both ways.
    _in_process("train", "sft", *common, "--steps", "12", "--resume", "-o", str(one))
    run = _cli("train", "sft", *common, "--steps", "12", "--resume", "-o", str(two), *fsdp)
    assert run.returncode == 0, run.stderr
    a, b = _curve(one), _curve(two)
    assert [s for s, _ in a] == [s for s, _ in b] == [4, 8, 8, 10, 12, 12]
    for (_, x), (_, y) in zip(a, b, strict=True):
        assert y == pytest.approx(x, rel=REL_TOL)

    ids = torch.tensor([[5, 17, 42, 9, 3, 77]])  # the checkpoint is an ordinary model, whole
    assert torch.allclose(_logits(two / "checkpoint", ids), _logits(one / "checkpoint", ids), atol=1e-4)

    # 23 prompts: shares of 12 and 11, so one process answers a stand-in that must be dropped.
    # Sampled answers too (46 of them: shares of 23), seeded per row, so the same as one process's.
    ev = ["eval", "--model", str(two), "--data", str(dataset_dir), "--split", "val", "-n", "23",
          "--max-new-tokens", "12", "--device", "cpu", "--samples", "2", "--temperature", "0.8"]
    _in_process(*ev, "-o", str(tmp_path / "e1.jsonl"))
    run = _cli(*ev, "-o", str(tmp_path / "e2.jsonl"), *fsdp)
    assert run.returncode == 0, run.stderr
    for suffix in (".jsonl", ".jsonl.samples.jsonl"):
        rows = (tmp_path / f"e1{suffix}").read_text().splitlines()
        assert len(rows) == 23 and (tmp_path / f"e2{suffix}").read_text().splitlines() == rows
    assert json.loads((tmp_path / "e2.jsonl.summary.json").read_text())["engine"] == "fsdp"
