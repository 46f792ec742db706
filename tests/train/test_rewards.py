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
        prompt=["A press makes 6 cans a minute. How many cans in 7 minutes?"] * 4,
        pattern=["a"] * 4,
    )
    assert rewards == [1.0, 0.7, 0.0, 1.0]


def test_the_records_prompt_grounds_the_inits() -> None:
    """Eval, RL, the loop and TRL grade against the record's own prompt automatically."""
    prompt = [{"role": "system", "content": "Experts: rate_equation"},
              {"role": "user", "content": "A press makes 6 cans a minute. How many in 7?"}]
    record = {"answer": "42", "expert": "rate_equation", "prompt": prompt}
    assert grade_record(TRACE, record).reward == 1.0
    other = {**record, "prompt": [{"role": "user", "content": "It runs for 7 minutes."}]}
    assert grade_record(TRACE, other).status == "exec_error:ungrounded_init"
    # TRL hands the prompt column over as `prompts`
    assert tasklang_reward([TRACE], answer=["42"], expert=["rate_equation"],
                           prompts=[other["prompt"]]) == [0.5]


def test_a_composed_record_is_graded_against_its_sequence() -> None:
    house = ("- expert: percentage\n  trace:\n  - {op: init, var: p, value: 80}\n"
             "  - {op: init, var: r, value: 50}\n  - {op: percent_increase, base: p, rate: r, "
             "var: result}\n  - {op: query, var: result}\n- expert: arithmetic\n  trace:\n"
             "  - {op: init, var: v, source: prev.result}\n  - {op: init, var: c, value: 20}\n"
             "  - {op: compute, compute_op: sub, args: [v, c], var: result}\n"
             "  - {op: query, var: result}\n")
    record = {"answer": "100", "expert": "composition", "experts": ["percentage", "arithmetic"]}
    assert grade_record(house, record).status == "correct"
    swapped = {**record, "experts": ["arithmetic", "percentage"]}
    assert grade_record(house, swapped).status == "wrong_expert"


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
    columns = {key: [r[key] for r in records[:20]]
               for key in ("answer", "expert", "experts", "id", "prompt")}
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
