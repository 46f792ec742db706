"""The grading dispatch shared by eval, RL, the loop and the TRL reward function."""

from __future__ import annotations

import json

import pytest

from train.rewards import completion_text, grade_record, record_kind, tasklang_reward

TRACE = (
    "expert: rate_equation\ntrace:\n- {op: init, var: rate, value: 6}\n- {op: init, var: time, value: 7}\n"
    "- {op: compute, compute_op: mul, args: [rate, time], var: result}\n- {op: query, var: result}\n"
)
SHORT_CIRCUIT = (
    "expert: rate_equation\ntrace:\n- {op: init, var: result, value: 42}\n- {op: query, var: result}\n"
)


def test_trace_records_are_executed_by_the_runtime() -> None:
    record = {"answer": "42", "expert": "rate_equation"}
    assert record_kind(record) == "trace"
    assert grade_record(TRACE, record).reward == 1.0
    assert grade_record(TRACE, {"answer": "41", "expert": "rate_equation"}).reward == 0.7
    assert grade_record(TRACE, {"answer": "42", "expert": "percentage"}).reward == 0.3
    assert grade_record("the answer is 42", record).reward == 0.0
    # A bare "init the answer, query it" is the short circuit the runtime refuses.
    assert grade_record(SHORT_CIRCUIT, record).reward < 1.0


def test_exact_records_need_the_exact_text() -> None:
    record = {"answer": "[apple]", "expert": None}
    assert record_kind(record) == "exact"
    assert grade_record("[apple]", record).reward == 1.0
    assert grade_record("[apple].", record).reward == 0.0


def test_completion_text_reads_both_trl_formats() -> None:
    assert completion_text("abc") == "abc"
    assert completion_text([{"role": "assistant", "content": "abc"}]) == "abc"
    assert completion_text(None) == ""
    assert completion_text([]) == ""


def test_trl_signature_with_dataset_columns() -> None:
    completions = [[{"role": "assistant", "content": TRACE}], TRACE, "nonsense", "[x]"]
    rewards = tasklang_reward(
        completions,
        answer=["42", "41", "42", "[x]"],
        expert=["rate_equation", "rate_equation", "rate_equation", None],
        prompt=["p"] * 4,
        pattern=["a"] * 4,
    )
    assert rewards == [1.0, 0.7, 0.0, 1.0]


def test_code_records_run_in_the_sandbox() -> None:
    record = {
        "answer": "",
        "expert": None,
        "function": "double",
        "tests": [{"args": "[2]", "expected": "4"}, {"args": "[5]", "expected": "10"}],
    }
    assert record_kind(record) == "code"
    good = "```python\ndef double(x):\n    return 2 * x\n```"
    bad = "```python\ndef double(x):\n    return x + 2\n```"
    hostile = "```python\ndef double(x):\n    while True:\n        pass\n```"
    assert grade_record(good, record).reward == 1.0
    assert grade_record(bad, record).reward == 0.0
    assert grade_record(hostile, record).reward == 0.0


def test_rewards_for_compiled_records(records: list[dict]) -> None:
    gold = [r["completion"] for r in records[:20]]
    columns = {key: [r[key] for r in records[:20]] for key in ("answer", "expert", "id")}
    assert tasklang_reward(gold, **columns) == [1.0] * 20


@pytest.mark.slow
def test_trl_grpo_trainer_calls_the_reward(tmp_path, dataset_dir, records) -> None:
    """One GRPO step through TRL itself with our reward function (skipped without TRL)."""
    trl = pytest.importorskip("trl", reason="TRL is not installed (compatibility test only)")
    datasets = pytest.importorskip("datasets")
    from train.models import TinySpec, build_tiny

    from .conftest import TINY

    model, tokenizer = build_tiny(records, TinySpec(**TINY))
    rows = [json.loads(line) for line in (dataset_dir / "train.jsonl").read_text().splitlines()][:8]
    ds = datasets.Dataset.from_list([{k: r[k] for k in ("prompt", "answer", "expert", "id")} for r in rows])
    seen: list[int] = []

    def reward(completions, **columns):
        rewards = tasklang_reward(completions, **columns)
        seen.append(len(rewards))
        return rewards

    args = trl.GRPOConfig(
        output_dir=str(tmp_path / "grpo"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=16,
        max_steps=1,
        report_to=[],
        use_cpu=True,
        logging_steps=1,
        save_strategy="no",
    )
    trainer = trl.GRPOTrainer(
        model=model, processing_class=tokenizer, reward_funcs=[reward], args=args, train_dataset=ds
    )
    trainer.train()
    assert seen and all(n > 0 for n in seen)
