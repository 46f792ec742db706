"""A verifiers (>= 0.4, `verifiers.v1`) taskset over a tasklang dataset, with tasklang's rubric.

In verifiers.v1 an environment's data half is a `Taskset` of `Task`s, and a plain taskset
resolves to `vf.SingleAgentEnv`: one agent, one reply per task, which is the single-turn
environment. Each task carries its tasklang record (JSON text, so the wire data stays flat
in verifiers' traces.jsonl), and its one `@vf.reward` is `tasklang.score` of the agent's
last reply: the grading of `tasklang grade`, eval and RL. `split="stream"` makes the taskset
infinite (fresh records that never repeat a val or test item, Dataset.stream).

verifiers is optional: importing this module without it raises ImportError saying so.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator

try:
    import verifiers.v1 as vf
except ImportError:  # pragma: no cover - the message is the point
    raise ImportError("tasklang.verifiers_env needs verifiers >= 0.4: pip install verifiers") from None

from .project import load, score

STREAM = "stream"


class TasklangData(vf.TaskData):
    """A task's wire data: the prompt verifiers sends, and the record that grades the reply."""

    record: str  # the tasklang record, JSON text
    answer: str


class TasklangTask(vf.Task[TasklangData]):
    @vf.reward(weight=1.0)
    async def tasklang(self, trace: vf.Trace) -> float:
        """tasklang's grade of the reply: 1.0 correct, partial credit as the runtime gives it."""
        return float(score(trace.last_reply, json.loads(self.data.record)).reward or 0.0)


class TasklangConfig(vf.TasksetConfig):
    paths: list[str] = []
    """The `.task` files (or directories), as `tasklang.load` takes them."""
    dataset: str = ""
    split: str = "train"
    """A split's records, or "stream" for endless fresh ones."""
    n: int | None = None
    """The first n records of the split (a stream: that many, or endless)."""
    seed: int | None = None


class TasklangTaskset(vf.Taskset[TasklangTask, TasklangConfig]):
    def __init__(self, config: TasklangConfig) -> None:
        super().__init__(config)
        self.INFINITE = config.split == STREAM and config.n is None

    def load(self) -> Iterator[TasklangTask]:
        c = self.config
        ds = load(c.paths).dataset(c.dataset)
        records = (itertools.islice(ds.stream(c.seed), c.n) if c.split == STREAM
                   else ds.records(c.split, c.n, c.seed))
        for r in records:
            data = TasklangData(id=r["id"], name=r["pattern"], prompt=r["prompt"][-1]["content"],
                                system_prompt=r["prompt"][0]["content"],
                                record=json.dumps(r, ensure_ascii=False), answer=r["answer"])
            yield TasklangTask(data, c.task)


def taskset(paths: str | list[str], dataset: str, split: str = "train", n: int | None = None,
            seed: int | None = None) -> TasklangTaskset:
    """The taskset of a dataset's split (verifiers resolves it to a SingleAgentEnv)."""
    names = [paths] if isinstance(paths, str) else list(paths)
    return TasklangTaskset(TasklangConfig(paths=names, dataset=dataset, split=split, n=n, seed=seed))
