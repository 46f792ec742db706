"""The dataset random stream: a pure function of its key, uniform, with random.Random's methods."""

from __future__ import annotations

import pickle
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tasklang.rng import DIGEST, StreamRandom, key_of

keys = st.binary(min_size=DIGEST, max_size=DIGEST)


def test_the_stream_is_pinned() -> None:
    """Datasets depend on these exact draws: a change here changes every compiled dataset
    (and every golden file), on purpose or not at all."""
    rng = StreamRandom.of(20260124, "gsm_core", "train", 0, 0)
    assert [rng.below(100) for _ in range(8)] == PINNED_BELOW
    assert rng.random() == PINNED_RANDOM


# Recorded from this implementation; see the test above.
PINNED_BELOW = [82, 96, 70, 15, 81, 4, 77, 74]
PINNED_RANDOM = 0.8440937876261693


def test_the_same_in_another_process() -> None:
    code = ("from tasklang.rng import StreamRandom; r = StreamRandom.of(7, 'ds', 'val', 3, 1); "
            "print([r.below(1000) for _ in range(5)])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True, env={"PYTHONHASHSEED": str(h), "PATH": ""}).stdout
            for h in (0, 1)}
    rng = StreamRandom.of(7, "ds", "val", 3, 1)
    assert outs == {f"{[rng.below(1000) for _ in range(5)]}\n"}


def test_keys_follow_derive_seed_text() -> None:
    assert key_of(1, "a") != key_of("1a")
    assert key_of("ab", "c") != key_of("a", "bc")
    assert len(key_of()) == DIGEST


@given(keys, st.integers(1, 10**30))
def test_below_is_in_range(key: bytes, n: int) -> None:
    rng = StreamRandom(key)
    assert all(0 <= rng.below(n) < n for _ in range(20))


@given(keys, st.integers(-50, 50), st.integers(-50, 50), st.integers(-7, 7).filter(bool))
def test_randrange_draws_from_range(key: bytes, start: int, stop: int, step: int) -> None:
    rng = StreamRandom(key)
    domain = range(start, stop, step)
    if not domain:
        with pytest.raises(ValueError):
            rng.randrange(start, stop, step)
        return
    assert all(rng.randrange(start, stop, step) in domain for _ in range(10))


@given(keys, st.lists(st.integers(), max_size=40))
def test_shuffle_is_a_permutation(key: bytes, items: list[int]) -> None:
    shuffled = list(items)
    StreamRandom(key).shuffle(shuffled)
    assert sorted(shuffled) == sorted(items)


@given(keys, st.integers(1, 2000))
def test_draws_past_the_first_block_continue_the_stream(key: bytes, k: int) -> None:
    """Bits beyond the first 512 come from further blocks; state save and restore (and
    pickling) resume exactly where the stream was."""
    rng = StreamRandom(key)
    rng.getrandbits(k)
    saved = pickle.loads(pickle.dumps(rng))
    copy = StreamRandom(key)
    copy.setstate(rng.getstate())
    want = [rng.getrandbits(97) for _ in range(12)]
    assert [saved.getrandbits(97) for _ in range(12)] == want
    assert [copy.getrandbits(97) for _ in range(12)] == want
    assert all(0 <= w < 2**97 for w in want)


def test_below_is_uniform() -> None:
    """Chi-square over 6 cells (n = 6 needs rejection: 3 bits hold 8 values)."""
    rng = StreamRandom.of("uniformity")
    draws = 60_000
    counts = Counter(rng.below(6) for _ in range(draws))
    expected = draws / 6
    chi2 = sum((counts[i] - expected) ** 2 / expected for i in range(6))
    assert set(counts) == set(range(6))
    assert chi2 < 20.5  # p = 0.001 at 5 degrees of freedom


def test_random_is_a_unit_float_with_53_bits() -> None:
    rng = StreamRandom.of("unit")
    values = [rng.random() for _ in range(10_000)]
    assert all(0.0 <= v < 1.0 for v in values)
    assert 0.48 < sum(values) / len(values) < 0.52
    assert all((v * 2**53).is_integer() for v in values)


def test_the_random_methods_generators_use() -> None:
    rng = StreamRandom.of("methods")
    assert rng.choice("abc") in "abc"
    assert 3 <= rng.randint(3, 5) <= 5
    assert rng.randrange(10) in range(10)
    assert 0 <= rng.getrandbits(7) < 128


def test_misuse_is_refused() -> None:
    with pytest.raises(ValueError, match="64-byte key"):
        StreamRandom(b"short")
    rng = StreamRandom.of("x")
    with pytest.raises(ValueError):
        rng.below(0)
    with pytest.raises(IndexError):
        rng.choice([])
    with pytest.raises(ValueError):
        rng.randrange(5, 5)
    assert rng.below(1) == 0
