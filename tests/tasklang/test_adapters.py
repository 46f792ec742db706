"""tasklang.adapters: a tasklang split as a reasoning-gym ProceduralDataset.

The behaviour is reasoning-gym's interface (entries with question/answer/metadata, len,
indexing, iteration, `score_answer(answer, entry)`); where reasoning-gym is installed the
last test also checks the names against its own base class."""

from __future__ import annotations

import inspect

import pytest

import tasklang
from tasklang.adapters import ReasoningGymDataset, create_dataset

from .helpers import GOLDEN


@pytest.fixture(scope="module")
def operators() -> ReasoningGymDataset:
    return create_dataset(GOLDEN / "operators.task", "golden_operators", split="train", size=5)


def test_entries_are_the_split_s_records(operators: ReasoningGymDataset) -> None:
    records = tasklang.load(GOLDEN / "operators.task").dataset("golden_operators").records("train", 5)
    assert len(operators) == 5 and operators.size == 5
    for i, (entry, record) in enumerate(zip(operators, records, strict=True)):
        assert entry == operators[i] and set(entry) == {"question", "answer", "metadata"}
        assert entry["question"] == record["prompt"][1]["content"]
        assert entry["answer"] == record["answer"] and entry["metadata"]["record"] == record
        assert entry["metadata"]["source_index"] == i
    assert operators[-1] == operators[4]
    with pytest.raises(IndexError):
        operators[5]


def test_score_answer_is_tasklang_s_grade(operators: ReasoningGymDataset) -> None:
    for entry in operators:
        assert operators.score_answer(entry["metadata"]["record"]["completion"][0]["content"],
                                      entry) == 1.0
        assert operators.score_answer(entry["answer"] + " and more", entry) == 0.0
        assert operators.score_answer(None, entry) == 0.0 and operators.score_answer("", entry) == 0.0


def test_trace_answers_are_graded_by_executing_them() -> None:
    ds = create_dataset(GOLDEN / "word_problems.task", "golden_word_problems", split="val", seed=4)
    entry = ds[0]
    trace = entry["metadata"]["record"]["completion"][0]["content"]
    assert ds.score_answer(trace, entry) == 1.0
    assert ds.score_answer(entry["answer"], entry) == 0.0  # a bare number is no trace
    assert ds.seed == 4 and ds.config.seed == 4


def test_the_interface_is_reasoning_gym_s(operators: ReasoningGymDataset) -> None:
    rg = pytest.importorskip("reasoning_gym")
    base = rg.dataset.ProceduralDataset
    for name in ("__len__", "__getitem__", "__iter__", "score_answer", "category"):
        assert hasattr(operators, name), name
    ours = inspect.signature(ReasoningGymDataset.score_answer).parameters
    assert list(ours) == list(inspect.signature(base.score_answer).parameters)
    # reasoning-gym's own reward loop: next() over the dataset, score each oracle answer
    rg_style = [operators.score_answer(e["metadata"]["record"]["completion"][0]["content"], e)
                for e in iter(operators)]
    assert rg_style == [1.0] * len(operators)
