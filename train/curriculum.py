"""A curriculum driven by success: the mixture of training prompts follows the rewards observed.

The training records fall into buckets: their pattern (`by:pattern`) or their stated difficulty
level (`by:difficulty`, the midpoint of a pattern's `difficulty lo..hi`). Each bucket has a level
(its stated difficulty; 0 when none is stated) and keeps the successes of its last `window`
samples. After every step each judged bucket (at least `min_count` samples) is compared with the
target band: a bucket above the band is too easy and gives `rate` of its weight to the next harder
level; one below the band is too hard and gives it to the next easier level; at the top (or the
bottom) of the ladder, or when nothing states a difficulty, the weight goes to the bucket's peers
at its own level that are not off the band the same way. A floor keeps every bucket drawable so
nothing starves, and a starved bucket's success can still be measured.

Pure Python (no torch): `train rl`, `train loop` and the TRL callback (train/trl_curriculum.py)
share it, and its properties are tested without a model.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

BY = ("auto", "pattern", "difficulty")


class CurriculumError(ValueError):
    """A curriculum spec or a record set it cannot use; the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class CurriculumSpec:
    """`band:0.3-0.8,floor:0.05,rate:0.25,window:64,min:4,by:auto` (every key but band optional)."""

    low: float = 0.3
    high: float = 0.8
    floor: float = 0.05  # each bucket's least probability (capped at 1/buckets: uniform)
    rate: float = 0.25  # share of an off-band bucket's weight moved per step
    window: int = 64  # samples remembered per bucket (std of a 0.5 rate: 0.06)
    min_count: int = 4  # samples a bucket needs before it is judged
    by: str = "auto"  # auto: difficulty when every record states one, else pattern

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high <= 1:
            raise CurriculumError(f"band {self.low}-{self.high}: want 0 <= low <= high <= 1")
        if not 0 <= self.floor < 1:
            raise CurriculumError(f"floor {self.floor}: want 0 <= floor < 1")
        if not 0 < self.rate <= 1:
            raise CurriculumError(f"rate {self.rate}: want 0 < rate <= 1")
        if self.window < 1 or self.min_count < 1:
            raise CurriculumError("window and min must be at least 1")
        if self.by not in BY:
            raise CurriculumError(f"by:{self.by}: want one of {', '.join(BY)}")


_KEYS = {"band", "floor", "rate", "window", "min", "by"}
_BAND = re.compile(r"^(\d*\.?\d+)-(\d*\.?\d+)$")


def parse_spec(text: str) -> CurriculumSpec:
    """`band:0.3-0.8[,floor:F][,rate:R][,window:N][,min:N][,by:pattern|difficulty|auto]`."""
    fields: dict[str, str] = {}
    for part in text.split(","):
        key, sep, value = part.strip().partition(":")
        if not sep or key not in _KEYS or not value:
            raise CurriculumError(f"curriculum {text!r}: {part.strip()!r} is not one of "
                                  "band:LOW-HIGH, floor:F, rate:R, window:N, min:N, by:WHAT")
        if key in fields:
            raise CurriculumError(f"curriculum {text!r}: {key} is given twice")
        fields[key] = value
    if "band" not in fields:
        raise CurriculumError(f"curriculum {text!r}: name the target band, e.g. band:0.3-0.8")
    band = _BAND.match(fields["band"])
    if band is None:
        raise CurriculumError(f"band:{fields['band']}: want LOW-HIGH, e.g. band:0.3-0.8")
    try:
        return CurriculumSpec(
            low=float(band.group(1)), high=float(band.group(2)),
            floor=float(fields.get("floor", 0.05)), rate=float(fields.get("rate", 0.25)),
            window=int(fields.get("window", 64)), min_count=int(fields.get("min", 4)),
            by=fields.get("by", "auto"))
    except ValueError as err:  # int("x") / float("x"): CurriculumError is a ValueError too
        if isinstance(err, CurriculumError):
            raise
        raise CurriculumError(f"curriculum {text!r}: {err}") from None


# ---------------------------------------------------------------- the rule, as pure functions

EASY, HARD, IN_BAND = "easy", "hard", "band"


def verdict(success: float | None, spec: CurriculumSpec) -> str | None:
    """easy (above the band), hard (below), band, or None (not judged yet)."""
    if success is None:
        return None
    if success > spec.high:
        return EASY
    if success < spec.low:
        return HARD
    return IN_BAND


def next_weights(weights: Sequence[float], levels: Sequence[float],
                 verdicts: Sequence[str | None], rate: float) -> list[float]:
    """The weights after one step (they sum to what they summed to): each easy bucket gives
    `rate` of its weight to the next harder level's buckets, each hard one to the next easier
    level's; with no such level, to its own level's peers that are not off the band the same
    way; with none of those either, it keeps it."""
    out = list(weights)
    for i, v in enumerate(verdicts):
        if v not in (EASY, HARD):
            continue
        targets = _targets(i, levels, verdicts, v)
        if not targets:
            continue
        moved = rate * weights[i]
        out[i] -= moved
        for j in targets:
            out[j] += moved / len(targets)
    return out


def _targets(i: int, levels: Sequence[float], verdicts: Sequence[str | None], v: str) -> list[int]:
    if v == EASY:
        above = [lv for lv in levels if lv > levels[i]]
        step = min(above) if above else None
    else:
        below = [lv for lv in levels if lv < levels[i]]
        step = max(below) if below else None
    if step is not None:
        return [j for j, lv in enumerate(levels) if lv == step]
    return [j for j, lv in enumerate(levels) if lv == levels[i] and j != i and verdicts[j] != v]


def mixture(weights: Sequence[float], floor: float) -> list[float]:
    """Probabilities: the normalised weights mixed with a uniform floor, so each is at least
    min(floor, 1/n) and they sum to 1."""
    n = len(weights)
    floor = min(floor, 1 / n)
    total = sum(weights)
    shares = [w / total for w in weights] if total > 0 else [1 / n] * n
    return [floor + (1 - n * floor) * s for s in shares]


# ---------------------------------------------------------------- the scheduler


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    level: float


def difficulty_of(record: Mapping[str, Any]) -> float | None:
    """A record's level: the midpoint of its `difficulty` [lo, hi] (None: not stated)."""
    d = record.get("difficulty")
    if isinstance(d, list | tuple) and len(d) == 2 and all(isinstance(x, int | float) for x in d):
        return (float(d[0]) + float(d[1])) / 2
    return None


def _level_name(level: float) -> str:
    return str(int(level)) if level == int(level) else f"{level:g}"


class Curriculum:
    """The buckets' weights and recent successes; `update` applies the rule once."""

    def __init__(self, buckets: Sequence[Bucket], spec: CurriculumSpec,
                 weights: Sequence[float] | None = None) -> None:
        if not buckets:
            raise CurriculumError("a curriculum needs at least one bucket of records")
        self.buckets = list(buckets)
        self.spec = spec
        self.index = {b.key: i for i, b in enumerate(self.buckets)}
        given = list(weights) if weights is not None else [1.0] * len(self.buckets)
        total = sum(given)
        self.weights = [w / total for w in given]
        self.seen: list[deque[float]] = [deque(maxlen=spec.window) for _ in self.buckets]
        self.updates = 0

    def observe(self, key: str, success: float) -> None:
        self.seen[self.index[key]].append(min(1.0, max(0.0, float(success))))

    def successes(self) -> list[float | None]:
        """Each bucket's success rate over its window (None: fewer than min_count samples)."""
        return [sum(s) / len(s) if len(s) >= self.spec.min_count else None for s in self.seen]

    def probabilities(self) -> list[float]:
        return mixture(self.weights, self.spec.floor)

    def update(self) -> None:
        verdicts = [verdict(s, self.spec) for s in self.successes()]
        self.weights = next_weights(self.weights, [b.level for b in self.buckets], verdicts,
                                    self.spec.rate)
        self.updates += 1

    def draw(self, rng: random.Random) -> str:
        return rng.choices([b.key for b in self.buckets], weights=self.probabilities())[0]

    def snapshot(self) -> dict[str, Any]:
        """What metrics.jsonl gets each step: the mixture, the successes and the mean level."""
        probs = self.probabilities()
        return {
            "mixture": {b.key: round(p, 4) for b, p in zip(self.buckets, probs, strict=True)},
            "bucket_success": {b.key: None if s is None else round(s, 4)
                               for b, s in zip(self.buckets, self.successes(), strict=True)},
            "curriculum_level": round(sum(p * b.level for b, p in zip(self.buckets, probs,
                                                                       strict=True)), 4),
        }


class CurriculumSampler:
    """Training records drawn through a Curriculum: the prompts of `train rl`, `train loop`
    and the TRL stream. Buckets start at the records' own shares (the dataset's mixture)."""

    def __init__(self, records: Sequence[Mapping[str, Any]], spec: CurriculumSpec) -> None:
        if not records:
            raise CurriculumError("a curriculum needs training records")
        levels = [difficulty_of(r) for r in records]
        by = spec.by
        if by == "auto":
            by = "difficulty" if all(lv is not None for lv in levels) else "pattern"
        if by == "difficulty" and any(lv is None for lv in levels):
            missing = next(str(r.get("pattern")) for r, lv in zip(records, levels, strict=True)
                           if lv is None)
            raise CurriculumError(f"by:difficulty, but pattern {missing} states no difficulty "
                                  "(add `difficulty N` to it, or use by:pattern)")
        self.by = by
        groups: dict[str, list[Mapping[str, Any]]] = {}
        level_of: dict[str, float] = {}
        for r, lv in zip(records, levels, strict=True):
            key = self.bucket_of(r)
            groups.setdefault(key, []).append(r)
            level_of.setdefault(key, 0.0 if lv is None else lv)
        keys = sorted(groups, key=lambda k: (level_of[k], k))
        self.groups = groups
        self.curriculum = Curriculum([Bucket(k, level_of[k]) for k in keys], spec,
                                     [len(groups[k]) for k in keys])

    def bucket_of(self, record: Mapping[str, Any]) -> str:
        if self.by == "difficulty":
            level = difficulty_of(record)
            return "?" if level is None else _level_name(level)
        return str(record.get("pattern"))

    def draw(self, n: int, rng: random.Random) -> list[Mapping[str, Any]]:
        """n records: a bucket from the mixture, then a record of it uniformly, each time."""
        return [rng.choice(self.groups[self.curriculum.draw(rng)]) for _ in range(n)]

    def observe(self, record: Mapping[str, Any], success: float) -> None:
        key = self.bucket_of(record)
        if key in self.groups:  # a record from outside the training set: nothing to adjust
            self.curriculum.observe(key, success)

    def step(self) -> dict[str, Any]:
        """Apply the rule once; the new mixture, as metrics.jsonl logs it."""
        self.curriculum.update()
        return self.curriculum.snapshot()
