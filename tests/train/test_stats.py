"""Wilson, McNemar and Cohen's h against known values, and their invariants."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from train.stats import cohens_h, mcnemar_exact, min_n_for_margin, small_sample_warning, wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Reference values: Wilson (1927) score interval, z = 1.96, as given by
        # statsmodels.stats.proportion.proportion_confint(k, n, method="wilson").
        (8, 10, 0.4901625, 0.9433178),
        (0, 10, 0.0, 0.2775328),
        (10, 10, 0.7224672, 1.0),
        (50, 100, 0.4038315, 0.5961685),
        (1, 3, 0.0614919, 0.7923403),
    ],
)
def test_wilson_known_values(k: int, n: int, low: float, high: float) -> None:
    interval = wilson(k, n)
    assert interval.low == pytest.approx(low, abs=1e-6)
    assert interval.high == pytest.approx(high, abs=1e-6)


@given(st.integers(1, 5000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_wilson_contains_the_estimate_and_stays_in_range(kn: tuple[int, int]) -> None:
    k, n = kn
    interval = wilson(k, n)
    assert 0.0 <= interval.low <= k / n <= interval.high <= 1.0


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError):
        wilson(5, 3)


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (1, 8, 2 * (1 + 9) / 2**9),  # binomial tail by hand: 2 * P(X <= 1 | n=9, 1/2)
        (0, 5, 2 / 2**5),
        (3, 3, 1.0),
        (0, 0, 1.0),
        (10, 2, 2 * sum(math.comb(12, i) for i in range(3)) / 2**12),
    ],
)
def test_mcnemar_exact_known_values(b: int, c: int, p: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(p, rel=1e-9)


@given(st.integers(0, 3000), st.integers(0, 3000))
def test_mcnemar_is_symmetric_and_a_probability(b: int, c: int) -> None:
    p = mcnemar_exact(b, c)
    assert 0.0 <= p <= 1.0  # 2 * 2**-n underflows to 0.0 past n = 1074
    assert p == pytest.approx(mcnemar_exact(c, b))


def test_cohens_h_known_values() -> None:
    assert cohens_h(0.5, 0.75) == pytest.approx(
        2 * math.asin(math.sqrt(0.75)) - 2 * math.asin(math.sqrt(0.5))
    )
    assert cohens_h(0.5, 0.75) == pytest.approx(0.5236, abs=1e-4)
    assert cohens_h(0.3, 0.3) == 0.0
    assert cohens_h(0.9, 0.1) == pytest.approx(-cohens_h(0.1, 0.9))


def test_small_samples_warn_and_large_ones_do_not() -> None:
    warning = small_sample_warning(10)
    assert warning is not None and "n=10" in warning
    assert small_sample_warning(min_n_for_margin(0.05)) is None
    assert min_n_for_margin(0.05) == 385
