"""The curriculum inside TRL's real GRPOTrainer (train/trl_curriculum.py): prompts streamed
from the mixture, rewards observed, the rule applied and logged at every optimizer step."""

from __future__ import annotations

import itertools
import json

import pytest

from train.curriculum import parse_spec
from train.rewards import tasklang_reward

from .conftest import TINY

trl = pytest.importorskip("trl", reason="TRL is not installed (the dev extra has it)")
pytest.importorskip("datasets")


def _rows(graded_dir) -> list[dict]:
    return [json.loads(line) for line in (graded_dir / "train.jsonl").read_text().splitlines()]


def _trainer(tmp_path, rows, curriculum, steps: int, **config):
    from train.models import TinySpec, build_tiny

    model, tokenizer = build_tiny(rows, TinySpec(**TINY))
    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "grpo"), per_device_train_batch_size=8, num_generations=2,
        max_completion_length=4, max_steps=steps, report_to=[], use_cpu=True, logging_steps=1,
        save_strategy="no", shuffle_dataset=False, **config)
    return trl.GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[curriculum.reward],
                           args=args, train_dataset=curriculum.dataset(),
                           callbacks=[curriculum.callback(tmp_path / "metrics.jsonl")])


def test_grpo_moves_a_policy_that_solves_the_easy_items_to_harder_ones(tmp_path, graded_dir) -> None:
    """A scripted grade: level 1 always solved, level 2 every other time (in the band). The
    mixture GRPOTrainer draws from moves from level 1 to level 2, and is logged each step."""
    from train.trl_curriculum import TRLCurriculum

    rows = _rows(graded_dir)
    halves = itertools.cycle([1.0, 0.0])
    drawn: list[int] = []

    def scripted(completions, **columns):
        levels = [d[0] for d in columns["difficulty"]]
        drawn.extend(levels)
        return [1.0 if lv == 1 else next(halves) for lv in levels]

    curriculum = TRLCurriculum(rows, parse_spec("band:0.3-0.8,min:2,rate:0.5"), grade=scripted)
    _trainer(tmp_path, rows, curriculum, steps=6).train()
    history = curriculum.history
    assert [e["step"] for e in history] == [1, 2, 3, 4, 5, 6]
    assert history[0]["mixture"]["2"] > 0.5  # level 1 was judged easy after the first step
    assert history[-1]["mixture"]["2"] > 0.9 and history[-1]["mixture"]["1"] >= 0.05 - 1e-9
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert logged == history
    # What the trainer read followed the mixture: the last steps are mostly level 2.
    assert drawn[-8:].count(2) >= 5 and drawn[:8].count(2) <= 6


def test_the_default_grade_is_the_tasklang_reward(tmp_path, graded_dir) -> None:
    from train.trl_curriculum import TRLCurriculum

    rows = _rows(graded_dir)
    curriculum = TRLCurriculum(rows, parse_spec("band:0.3-0.8,min:1"))
    assert curriculum.grade is tasklang_reward
    gold = [r["completion"] for r in rows[:6]]
    columns = {k: [r[k] for r in rows[:6]] for k in curriculum.columns}
    assert curriculum.reward(gold, **columns) == [1.0] * 6
    assert all(s == 1.0 for s in curriculum.sampler.curriculum.successes() if s is not None)


def test_a_shuffled_stream_is_refused(tmp_path, graded_dir) -> None:
    from train.trl_curriculum import TRLCurriculum

    rows = _rows(graded_dir)
    curriculum = TRLCurriculum(rows, parse_spec("band:0.3-0.8"))
    trainer = _trainer(tmp_path, rows, curriculum, steps=1)
    trainer.args.shuffle_dataset = True
    with pytest.raises(ValueError, match="shuffle_dataset=False"):
        trainer.train()
