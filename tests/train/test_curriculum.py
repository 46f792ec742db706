"""The success-driven curriculum (train/curriculum.py): the rule's invariants, and a scripted
policy that always solves the easy items being moved to harder ones. No model: the subject
is the scheduler."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from train.curriculum import (
    EASY,
    HARD,
    IN_BAND,
    Bucket,
    Curriculum,
    CurriculumError,
    CurriculumSampler,
    CurriculumSpec,
    mixture,
    next_weights,
    parse_spec,
    verdict,
)

weights_st = st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=1, max_size=8)
verdict_st = st.sampled_from([EASY, HARD, IN_BAND, None])


@st.composite
def states(draw):
    n = draw(st.integers(1, 8))
    weights = draw(st.lists(st.floats(0.01, 10.0), min_size=n, max_size=n))
    levels = draw(st.lists(st.sampled_from([0.0, 1.0, 2.0, 3.5]), min_size=n, max_size=n))
    verdicts = draw(st.lists(verdict_st, min_size=n, max_size=n))
    return weights, levels, verdicts


@given(weights_st, st.floats(0.0, 0.99))
def test_mixture_sums_to_one_and_respects_the_floor(weights, floor) -> None:
    probs = mixture(weights, floor)
    assert sum(probs) == pytest.approx(1.0)
    assert min(probs) >= min(floor, 1 / len(weights)) - 1e-12


@given(states(), st.floats(0.01, 1.0), st.floats(0.0, 0.3))
def test_a_step_keeps_the_total_and_the_floor(state, rate, floor) -> None:
    weights, levels, verdicts = state
    after = next_weights(weights, levels, verdicts, rate)
    assert sum(after) == pytest.approx(sum(weights))
    assert all(w >= -1e-12 for w in after)
    probs = mixture(after, floor)
    assert sum(probs) == pytest.approx(1.0)
    assert min(probs) >= min(floor, 1 / len(weights)) - 1e-12


def _mean_level(weights, levels, floor=0.05) -> float:
    return sum(p * lv for p, lv in zip(mixture(weights, floor), levels, strict=True))


@given(states(), st.floats(0.01, 1.0), st.data())
def test_more_success_never_lowers_the_next_mixtures_difficulty(state, rate, data) -> None:
    """Monotone response: raising one bucket's success (hard -> band -> easy, the others
    fixed) never moves the next mixture to easier levels."""
    weights, levels, verdicts = state
    i = data.draw(st.integers(0, len(weights) - 1))
    means = []
    for v in (HARD, IN_BAND, EASY):
        vs = list(verdicts)
        vs[i] = v
        means.append(_mean_level(next_weights(weights, levels, vs, rate), levels))
    assert means[0] <= means[1] + 1e-9 <= means[2] + 2e-9


@given(st.floats(0.0, 1.0), st.floats(0.0, 1.0))
def test_verdict_follows_the_band(a, b) -> None:
    low, high = min(a, b), max(a, b)
    spec = CurriculumSpec(low=low, high=high)
    assert verdict(None, spec) is None
    assert verdict(high, spec) == IN_BAND and verdict(low, spec) == IN_BAND
    if high < 1:
        assert verdict(min(1.0, high + 1e-6), spec) == EASY
    if low > 0:
        assert verdict(max(0.0, low - 1e-6), spec) == HARD


def _records(levels: dict[str, tuple[int, int]], per: int = 10) -> list[dict]:
    return [{"pattern": name, "difficulty": list(d), "id": f"{name}/{i}"}
            for name, d in levels.items() for i in range(per)]


def _train(sampler: CurriculumSampler, solves, steps: int, batch: int = 16, seed: int = 0):
    rng = random.Random(seed)
    log = []
    for _ in range(steps):
        for r in sampler.draw(batch, rng):
            sampler.observe(r, solves(r, rng))
        log.append(sampler.step())
    return log


def test_a_policy_that_solves_the_easy_items_is_moved_to_harder_ones() -> None:
    records = _records({"add": (1, 1), "two_step": (2, 2), "three_step": (3, 3)})
    sampler = CurriculumSampler(records, parse_spec("band:0.3-0.8,floor:0.05"))
    assert sampler.by == "difficulty"
    rates = {1.0: 1.0, 2.0: 0.5, 3.0: 0.0}  # always solves level 1, half of 2, none of 3

    def solves(r, rng) -> float:
        return float(rng.random() < rates[r["difficulty"][0]])

    start = sampler.curriculum.snapshot()
    assert start["mixture"] == pytest.approx({"1": 1 / 3, "2": 1 / 3, "3": 1 / 3}, abs=1e-3)
    log = _train(sampler, solves, steps=40)
    end = log[-1]["mixture"]
    assert end["2"] > 0.8  # the band's level takes the mass ...
    assert end["1"] < 0.1 and end["3"] < 0.1  # ... from the solved one and the hopeless one
    assert min(end.values()) >= 0.05 - 1e-9  # nothing starves
    assert log[-1]["curriculum_level"] > start["curriculum_level"] - 0.01
    assert log[-1]["bucket_success"]["1"] == 1.0


def test_when_the_policy_improves_the_mixture_climbs() -> None:
    """Once level 2 is solved too, the mass moves on to level 3."""
    records = _records({"a": (1, 1), "b": (2, 2), "c": (3, 3)})
    sampler = CurriculumSampler(records, parse_spec("band:0.3-0.8"))
    skill = {"solved": 1.0}

    def solves(r, rng) -> float:
        level = r["difficulty"][0]
        if level <= skill["solved"]:
            return 1.0
        return float(rng.random() < 0.5) if level == skill["solved"] + 1 else 0.0

    first = _train(sampler, solves, steps=30)[-1]
    skill["solved"] = 2.0
    second = _train(sampler, solves, steps=40, seed=1)[-1]
    assert first["mixture"]["2"] > first["mixture"]["3"]
    assert second["mixture"]["3"] > 0.8
    assert second["curriculum_level"] > first["curriculum_level"] + 0.5


def test_patterns_without_difficulty_are_kept_in_the_band() -> None:
    """No stated difficulty: buckets are patterns at one level, and weight flows from the
    solved and the hopeless patterns to the ones in the band."""
    records = [{"pattern": p, "id": f"{p}/{i}"} for p in ("easy", "fair", "hopeless") for i in range(5)]
    sampler = CurriculumSampler(records, parse_spec("band:0.2-0.9"))
    assert sampler.by == "pattern"
    rates = {"easy": 1.0, "fair": 0.5, "hopeless": 0.0}
    log = _train(sampler, lambda r, rng: float(rng.random() < rates[r["pattern"]]), steps=30)
    end = log[-1]["mixture"]
    assert end["fair"] > 0.8 and end["easy"] >= 0.05 - 1e-9 and end["hopeless"] >= 0.05 - 1e-9


def test_unjudged_buckets_keep_their_weight() -> None:
    c = Curriculum([Bucket("a", 1), Bucket("b", 2)], CurriculumSpec(min_count=4), [3, 1])
    for _ in range(3):
        c.observe("a", 1.0)
    c.update()
    assert c.probabilities() == pytest.approx(mixture([0.75, 0.25], 0.05))


@pytest.mark.parametrize("text, message", [
    ("0.3-0.8", "not one of"),
    ("floor:0.1", "name the target band"),
    ("band:0.8-0.3", "low <= high"),
    ("band:0.3-0.8,by:level", "by:level"),
    ("band:0.3-0.8,window:x", "invalid literal"),
    ("band:0.3-0.8,band:0.1-0.2", "given twice"),
    ("band:0.3-0.8,rate:0", "rate"),
])
def test_bad_specs_are_one_line(text, message) -> None:
    with pytest.raises(CurriculumError, match=message) as err:
        parse_spec(text)
    assert "\n" not in str(err.value)


def test_by_difficulty_needs_every_pattern_to_state_one() -> None:
    records = [{"pattern": "a", "difficulty": [1, 1]}, {"pattern": "b"}]
    with pytest.raises(CurriculumError, match="pattern b states no difficulty"):
        CurriculumSampler(records, parse_spec("band:0.3-0.8,by:difficulty"))
    assert CurriculumSampler(records, parse_spec("band:0.3-0.8")).by == "pattern"


@settings(max_examples=30)
@given(st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=30), st.integers(0, 9))
def test_draws_come_from_the_training_records(patterns, seed) -> None:
    records = [{"pattern": p, "id": str(i)} for i, p in enumerate(patterns)]
    sampler = CurriculumSampler(records, parse_spec("band:0.3-0.8"))
    drawn = sampler.draw(20, random.Random(seed))
    assert all(r in records for r in drawn)
    assert sum(sampler.curriculum.probabilities()) == pytest.approx(1.0)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.integers(0, 3), st.booleans()), max_size=200),
       st.floats(0.0, 0.5), st.integers(1, 40))
def test_any_history_leaves_a_distribution_above_the_floor(events, floor, every) -> None:
    """Whatever is observed, in whatever order, and however often the rule runs."""
    buckets = [Bucket("a", 1), Bucket("b", 1), Bucket("c", 2), Bucket("d", 3)]
    c = Curriculum(buckets, CurriculumSpec(floor=floor, min_count=2, window=8))
    for n, (i, ok) in enumerate(events, start=1):
        c.observe(buckets[i].key, float(ok))
        if n % every == 0:
            c.update()
            probs = c.probabilities()
            assert sum(probs) == pytest.approx(1.0)
            assert min(probs) >= min(floor, 0.25) - 1e-12
