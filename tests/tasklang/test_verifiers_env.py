"""tasklang.verifiers_env against the real verifiers package (skipped where it is not
installed: `pip install verifiers`, 0.4.0 installs cleanly beside our pins)."""

from __future__ import annotations

import asyncio
import itertools
import json

import pytest

vf = pytest.importorskip("verifiers.v1")

import tasklang  # noqa: E402
from tasklang.verifiers_env import TasklangTask, taskset  # noqa: E402

from .helpers import GOLDEN  # noqa: E402

SOURCE = str(GOLDEN / "word_problems.task")


def _scored(task: TasklangTask, reply: str) -> float:
    trace = vf.Trace(task=vf.TraceTask(type="TasklangTask", data=task.data),
                     agent=vf.AgentInfo(config=vf.AgentConfig()))
    trace.root_reply = reply
    asyncio.run(task.score(trace, None))
    return trace.reward


def test_tasks_are_the_split_s_records_and_the_rubric_is_tasklang_s() -> None:
    records = tasklang.load(SOURCE).dataset("golden_word_problems").records("val")
    tasks = list(taskset(SOURCE, "golden_word_problems", "val"))
    assert [json.loads(t.data.record) for t in tasks] == records
    for task, record in zip(tasks, records, strict=True):
        assert task.data.prompt == record["prompt"][1]["content"]
        assert task.data.system_prompt == record["prompt"][0]["content"]
        assert _scored(task, record["completion"][0]["content"]) == 1.0
        assert _scored(task, "the answer is " + record["answer"]) == 0.0


def test_a_stream_taskset_is_infinite_and_fresh() -> None:
    ts = taskset(SOURCE, "golden_word_problems", "stream", seed=2)
    assert not ts.bounded
    held = {r["payload"] for s in ("val", "test")
            for r in tasklang.load(SOURCE).dataset("golden_word_problems").records(s)}
    drawn = [json.loads(t.data.record) for t in itertools.islice(iter(ts), 30)]
    assert len(drawn) == 30 and not held & {r["payload"] for r in drawn}
