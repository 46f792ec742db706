"""Several processes: sharding invariants in one process (fast), and a real 2-process run with
gloo on the CPU against one process with the same global batch (slow tier: two launches)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from tasklang.cli import main
from train import data as D
from train.distributed import Engine, interleave, launch_command

from .conftest import ROOT, TINY

# Stated tolerance: 2 processes vs 1 differ only in the order of float additions (the gradient
# all-reduce, shards of different widths); measured 3e-8 relative on val loss after 8 steps.
REL_TOL = 1e-5


@given(st.lists(st.integers(), max_size=40), st.integers(1, 6))
def test_dealing_then_interleaving_gives_the_items_back_in_order(items: list[int], world: int) -> None:
    parts = [Engine(rank, world).shard(items) for rank in range(world)]
    assert sorted(len(p) for p in parts)[-1] - sorted(len(p) for p in parts)[0] <= 1
    assert interleave(parts, len(items)) == items


@pytest.mark.parametrize("world", [2, 3, 5])
def test_shares_of_a_batch_add_up_to_the_whole_batch_loss(tiny, records, world: int) -> None:
    model, tok = tiny
    batch = D.pad_batch(D.encode_all(tok, records[:4]), tok.pad_token_id)
    with torch.no_grad():
        whole = D.token_loss_sum(model(**batch.model_inputs()).logits, batch.labels)
        parts = []
        for rank in range(world):
            rows = Engine(rank, world).shard(range(4))
            if rows:
                share = batch.select(rows)
                parts.append(D.token_loss_sum(model(**share.model_inputs()).logits, share.labels))
    assert torch.allclose(sum(parts), whole, rtol=1e-6)
    assert sum(batch.select(Engine(r, world).shard(range(4))).label_tokens for r in range(min(world, 4))) == (
        batch.label_tokens
    )


def test_the_launch_command_is_accelerate_with_plain_ddp_or_the_given_config() -> None:
    plain = launch_command(["train", "sft", "--model", "tiny"], 2, None)
    assert plain[1:5] == ["-m", "accelerate.commands.launch", "--num_processes", "2"]
    assert "--multi_gpu" in plain
    assert plain[-6:] == ["-m", "tasklang.cli", "train", "sft", "--model", "tiny"]
    configured = launch_command(["eval"], 4, "fsdp.yaml")
    assert "--config_file" in configured and "--multi_gpu" not in configured


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tasklang.cli", *args], capture_output=True, text=True, env=env, timeout=600
    )


def _curve(run) -> list[tuple[int, float]]:
    events = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(e["step"], e[k]) for e in events for k in ("loss", "val_loss") if k in e]


def _in_process(*args: str) -> None:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output


@pytest.mark.slow
def test_two_gloo_processes_train_and_evaluate_as_one(dataset_dir, tmp_path) -> None:
    """One process runs here; two are started by `--num-processes 2` (accelerate launch, gloo)."""
    common = ["--model", "tiny", "--data", str(dataset_dir), "--steps", "8", "--batch-size", "8",
              "--eval-every", "2", "--val-n", "4", "--max-new-tokens", "8", "--device", "cpu",
              "--tiny-config", json.dumps(TINY)]
    _in_process("train", "sft", *common, "-o", str(tmp_path / "one"))
    two = _cli("train", "sft", *common, "-o", str(tmp_path / "two"), "--num-processes", "2")
    assert two.returncode == 0, two.stderr
    assert two.stdout.count('"event": "done"') == 1  # one summary: only rank 0 prints
    assert json.loads(two.stdout.strip().splitlines()[-1])["processes"] == 2
    a, b = _curve(tmp_path / "one"), _curve(tmp_path / "two")
    assert [s for s, _ in a] == [s for s, _ in b] and len(a) == 5
    for (_, x), (_, y) in zip(a, b, strict=True):
        assert y == pytest.approx(x, rel=REL_TOL)
    assert not list((tmp_path / "two").glob("*.tmp*"))

    val = str(dataset_dir / "val.jsonl")
    ev = ["eval", "--model", str(tmp_path / "two"), "--data", val, "--max-new-tokens", "12"]
    _in_process(*ev, "--device", "cpu", "-o", str(tmp_path / "e1.jsonl"))
    two = _cli(*ev, "--device", "cpu", "-o", str(tmp_path / "e2.jsonl"), "--num-processes", "2")
    assert two.returncode == 0, two.stderr
    rows = (tmp_path / "e1.jsonl").read_text().splitlines()
    assert len(rows) == 24 and (tmp_path / "e2.jsonl").read_text().splitlines() == rows


def test_num_processes_relaunches_the_same_command_line(monkeypatch, tmp_path) -> None:
    import train.distributed

    seen: list = []
    monkeypatch.setattr(train.distributed, "launch", lambda *call: seen.append(call) or 0)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    given = ["--model", "tiny", "--data", str(tmp_path), "--out", str(tmp_path / "o"), "--packing",
             "--resume", "--lr", "0.002", "--tiny-config", '{"num_hidden_layers": 2}', "--dtype", "bf16"]
    result = CliRunner().invoke(main, ["train", "sft", *given, "--num-processes", "3"])
    assert result.exit_code == 0, result.output
    (args, n, config), = seen
    assert n == 3 and config is None and args[:2] == ["train", "sft"]
    assert sorted(args[2:]) == sorted(given)  # every option the user gave, and only those
    result = CliRunner().invoke(main, ["eval", "--model", "m", "--data", "d", "-o", "x.jsonl", "-n", "5",
                                       "--num-processes", "2"])
    assert result.exit_code == 0
    assert seen[-1][0] == ["eval", "--model", "m", "--data", "d", "--out", "x.jsonl", "-n", "5"]


@pytest.mark.parametrize("command", ["rl", "loop"])
def test_rl_and_loop_refuse_several_processes_in_one_line(monkeypatch, command: str) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = CliRunner().invoke(main, ["train", command, "--model", "tiny", "--data", "d", "-o", "o"])
    assert result.exit_code == 2 and result.output.count("\n") == 1
    assert f"`train {command}` runs in one process" in result.output
