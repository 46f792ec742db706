"""Adapters: a tasklang dataset in the shape other RL libraries consume.

`ReasoningGymDataset` follows reasoning-gym's `ProceduralDataset` interface (its
`create_dataset(name, size, seed)` objects): sized, indexable and iterable entries
`{"question", "answer", "metadata"}`, and `score_answer(answer, entry) -> float`. reasoning-gym
itself is not a dependency: code written against its datasets (a reward that calls
`dataset.score_answer(text, entry)`, a loop over `dataset[i]`) takes this object unchanged.
The reward is tasklang's (`tasklang.score`, the dispatch `tasklang grade`, eval and RL use),
so `answer` is the model's whole reply (a trace, the exact text or a code block), not only
a final number.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from .project import Dataset, load, score


@dataclass(frozen=True)
class ReasoningGymConfig:
    """What reasoning-gym keeps in `dataset.config`: here the split, size and seed."""

    split: str
    size: int | None
    seed: int | None


class ReasoningGymDataset:
    """A split of a tasklang dataset (its first `size` records, at `seed`) as a
    reasoning-gym ProceduralDataset. Records are generated once, on first use."""

    def __init__(self, dataset: Dataset, split: str = "train", size: int | None = None,
                 seed: int | None = None) -> None:
        self.dataset = dataset
        self.config = ReasoningGymConfig(split, size, seed)
        self.seed = seed if seed is not None else dataset.seed
        self.size = len(self._records)

    @cached_property
    def _records(self) -> list[dict[str, Any]]:
        return self.dataset.records(self.config.split, self.config.size, self.config.seed)

    @property
    def category(self) -> str:
        return "tasklang"

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, idx: int) -> dict[str, Any]:
        if not -self.size <= idx < self.size:
            raise IndexError(f"index {idx} out of range for {self.size} entries")
        return entry_of(self._records[idx], idx % self.size)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return (entry_of(r, i) for i, r in enumerate(self._records))

    def score_answer(self, answer: str | None, entry: dict[str, Any]) -> float:
        """The reward of a reply against an entry: tasklang's grade (0.0 for no reply)."""
        if not isinstance(answer, str) or not answer:
            return 0.0
        return float(score(answer, entry["metadata"]["record"]).reward or 0.0)


def entry_of(record: dict[str, Any], index: int) -> dict[str, Any]:
    """A reasoning-gym entry: the user's question, the gold answer, and the record kept whole
    in `metadata` (with reasoning-gym's `source_dataset` and `source_index`)."""
    return {
        "question": record["prompt"][-1]["content"],
        "answer": record["answer"],
        "metadata": {"source_dataset": record["id"].split("/")[0], "source_index": index,
                     "pattern": record["pattern"], "system": record["prompt"][0]["content"],
                     "record": record},
    }


def create_dataset(paths: Any, name: str, size: int | None = None, seed: int | None = None,
                   split: str = "train", **options: Any) -> ReasoningGymDataset:
    """reasoning-gym's `create_dataset(name, size, seed)`, over the `.task` files `paths`
    (`options` are tasklang.load's)."""
    return ReasoningGymDataset(load(paths, **options).dataset(name), split, size, seed)
