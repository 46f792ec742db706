"""The success-driven curriculum for users of TRL's GRPOTrainer.

    curriculum = TRLCurriculum(records, parse_spec("band:0.3-0.8"))
    trainer = GRPOTrainer(model=..., reward_funcs=[curriculum.reward],
                          train_dataset=curriculum.dataset(),
                          args=GRPOConfig(..., max_steps=N, shuffle_dataset=False),
                          callbacks=[curriculum.callback()])

`dataset()` is a `datasets.IterableDataset` whose every prompt is drawn from the curriculum's
mixture when the trainer reads it (GRPOTrainer repeats each one `num_generations` times
itself); `reward` grades with `tasklang_reward`, the one record-grading dispatch, and counts
each completion's success for its record's bucket; the callback applies the rule once per
optimizer step and logs the mixture (to `history`, and to a metrics.jsonl when given a path).
The curriculum itself is train/curriculum.py, the one that `train rl` and `train loop` use.

Shuffling must be off: GRPOTrainer would otherwise read a shuffle buffer (1000 prompts) ahead,
drawn from a mixture that many steps old. Accelerate still reads one batch ahead, so a step's
prompts follow the mixture of one step before.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from .curriculum import CurriculumSampler, CurriculumSpec
from .rewards import tasklang_reward

# The record columns the stream carries (those every record has): what the reward reads,
# and what the curriculum buckets by.
COLUMNS = ("prompt", "answer", "expert", "experts", "id", "pattern", "difficulty", "constants",
           "function", "tests")
Grader = Callable[..., list[float]]


class TRLCurriculum:
    """A curriculum over compiled records, wired into GRPOTrainer's dataset, reward and callbacks.
    `grade` is TRL's reward signature (default `tasklang_reward`); a completion succeeds when
    it earns the full reward."""

    def __init__(self, records: Sequence[Mapping[str, Any]], spec: CurriculumSpec, seed: int = 0,
                 grade: Grader = tasklang_reward) -> None:
        self.sampler = CurriculumSampler(records, spec)
        self.columns = [k for k in COLUMNS if all(k in r for r in records)]
        self.rng = random.Random(seed)
        self.grade = grade
        self.history: list[dict[str, Any]] = []

    def stream(self) -> Iterator[dict[str, Any]]:
        """Endless records, each drawn from the mixture as it is when the record is read."""
        while True:
            record = self.sampler.draw(1, self.rng)[0]
            yield {k: record[k] for k in self.columns}

    def dataset(self) -> Any:
        import datasets

        return datasets.IterableDataset.from_generator(self.stream)

    def reward(self, completions: Sequence[Any], **columns: Any) -> list[float]:
        """TRL's reward signature: the grade of each completion, observed by the curriculum."""
        rewards = self.grade(completions, **columns)
        for i, value in enumerate(rewards):
            record: dict[str, Any] = {k: columns[k][i] for k in ("pattern", "difficulty") if k in columns}
            self.sampler.observe(record, 1.0 if value >= 1.0 else 0.0)
        return rewards

    def callback(self, metrics: str | Path | None = None) -> TrainerCallback:
        return CurriculumCallback(self, None if metrics is None else Path(metrics))


class CurriculumCallback(TrainerCallback):  # type: ignore[misc]  # transformers is untyped here
    """Applies the curriculum's rule after every optimizer step and logs the new mixture."""

    def __init__(self, curriculum: TRLCurriculum, metrics: Path | None = None) -> None:
        self.curriculum = curriculum
        self.metrics = metrics

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if getattr(args, "shuffle_dataset", False):
            raise ValueError("the curriculum needs GRPOConfig(shuffle_dataset=False): a shuffle "
                             "buffer reads 1000 prompts ahead of the mixture")

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        event = {"step": state.global_step, **self.curriculum.sampler.step()}
        self.curriculum.history.append(event)
        if self.metrics is not None:
            with self.metrics.open("a", encoding="utf-8") as f:
                f.write(json.dumps(event) + "\n")
