"""Wilson, McNemar, Cohen's h, pass@k and McNemar power against known values, and their invariants."""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import pytest
from hypothesis import given
from hypothesis import strategies as st

from train.stats import (
    Discordance,
    cohens_h,
    mcnemar_exact,
    mcnemar_n,
    mcnemar_power,
    min_n_for_margin,
    pass_at_k,
    small_sample_warning,
    wilson,
)


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


# --- pass@k -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "c", "k", "want"),
    [
        (10, 3, 1, 0.3),  # pass@1 is the share of correct samples
        (10, 3, 10, 1.0),
        (5, 0, 5, 0.0),
        (4, 2, 2, 1 - 1 / 6),  # 1 - C(2,2)/C(4,2)
        (200, 10, 100, 1 - math.comb(190, 100) / math.comb(200, 100)),  # Chen et al.'s n=200
    ],
)
def test_pass_at_k_known_values(n: int, c: int, k: int, want: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(want, rel=1e-12, abs=1e-15)


@given(st.integers(1, 9).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(1, n))))
def test_pass_at_k_is_the_chance_a_k_subset_holds_a_correct_sample(nck: tuple[int, int, int]) -> None:
    n, c, k = nck
    subsets = list(itertools.combinations(range(n), k))  # samples 0..c-1 are the correct ones
    hits = sum(1 for s in subsets if min(s) < c)
    assert pass_at_k(n, c, k) == pytest.approx(hits / len(subsets), abs=1e-12)
    if k > 1:
        assert pass_at_k(n, c, k) >= pass_at_k(n, c, k - 1) - 1e-12


def test_pass_at_k_rejects_impossible_counts() -> None:
    for n, c, k in ((3, 4, 1), (3, 1, 0), (3, 1, 4)):
        with pytest.raises(ValueError):
            pass_at_k(n, c, k)


# --- power of the paired comparison -------------------------------------------------------


def _brute_power(n: int, p10: float, p01: float, alpha: float) -> float:
    """Exact power by enumerating every table: P(b, c) is multinomial over (p10, p01, rest),
    and the table counts when the exact McNemar p is at most alpha."""
    rest = 1 - p10 - p01
    total = 0.0
    for b in range(n + 1):
        for c in range(n - b + 1):
            if mcnemar_exact(b, c) <= alpha:
                ways = math.comb(n, b) * math.comb(n - b, c)
                total += ways * p10**b * p01**c * rest ** (n - b - c)
    return total


@pytest.mark.parametrize(("n", "p10", "p01", "alpha"),
                         [(10, 0.05, 0.45, 0.05), (25, 0.05, 0.45, 0.05), (40, 0.1, 0.3, 0.05),
                          (60, 0.2, 0.05, 0.01), (7, 0.5, 0.0, 0.05)])
def test_exact_power_equals_brute_force_summation(n: int, p10: float, p01: float, alpha: float) -> None:
    assert mcnemar_power(n, Discordance(p10, p01), alpha) == pytest.approx(
        _brute_power(n, p10, p01, alpha), abs=1e-9
    )


def test_exact_n_is_the_first_n_whose_brute_force_power_reaches_the_target() -> None:
    disc = Discordance(0.05, 0.45)
    n = mcnemar_n(disc, 0.05, 0.8)
    assert _brute_power(n, 0.05, 0.45, 0.05) >= 0.8
    assert all(_brute_power(m, 0.05, 0.45, 0.05) < 0.8 for m in range(1, n))
    assert n == 25


def _connor_power(n: int, p10: float, p01: float, alpha: float) -> float:
    """Connor (1987)'s approximate power at n, the inverse of the sample-size formula (as in
    the R function pwr.mcnemar): it must reach the target at the formula's n, not before."""
    z = NormalDist()
    psi, d = p10 + p01, p10 - p01
    za = z.inv_cdf(1 - alpha / 2)
    spread = math.sqrt(psi - d * d)
    return z.cdf((d * math.sqrt(n) - za * math.sqrt(psi)) / spread) + z.cdf(
        (-d * math.sqrt(n) - za * math.sqrt(psi)) / spread
    )


@pytest.mark.parametrize(("p10", "p01"), [(0.05, 0.45), (0.05, 0.15), (0.1, 0.2), (0.3, 0.1)])
def test_connor_n_is_where_connors_power_reaches_the_target(p10: float, p01: float) -> None:
    n = mcnemar_n(Discordance(p10, p01), 0.05, 0.8, method="connor")
    assert _connor_power(n, p10, p01, 0.05) >= 0.8 - 1e-9
    # The one-sided term the formula drops is negligible here, so n - 1 falls short.
    assert _connor_power(n - 1, p10, p01, 0.05) < 0.8


def test_approximations_known_values() -> None:
    # pwr.mcnemar(0.05, 0.45, power = 0.8): (1.95996 sqrt(.5) + 0.84162 sqrt(.34))^2 / .16 = 22.01
    assert mcnemar_n(Discordance(0.05, 0.45), method="connor") == 23
    # Miettinen's spread psi - d^2 (3 + psi) / 4 = 0.36: (1.38590 + 0.84162 * 0.6)^2 / .16 = 22.35
    assert mcnemar_n(Discordance(0.05, 0.45), method="miettinen") == 23
    # psi = 0.2, d = 0.1: Connor (0.87652 + 0.84162 sqrt(.19))^2 / .01 = 154.60, Miettinen's
    # spread 0.192 gives (0.87652 + 0.84162 sqrt(.192))^2 / .01 = 155.08.
    assert mcnemar_n(Discordance.of(0.2, 0.1), method="connor") == 155
    assert mcnemar_n(Discordance.of(0.2, 0.1), method="miettinen") == 156


def test_discordance_from_total_and_difference() -> None:
    disc = Discordance.of(0.2, 0.1)
    assert (disc.p10, disc.p01) == pytest.approx((0.05, 0.15))
    for bad in ((0.2, 0.0), (0.1, 0.2), (1.2, 0.1)):
        with pytest.raises(ValueError):
            Discordance.of(*bad)
    with pytest.raises(ValueError):
        Discordance(0.1, 0.1)


def test_small_sample_warning_gives_the_paired_n() -> None:
    warning = small_sample_warning(24)
    assert warning is not None
    assert f"n={mcnemar_n(Discordance(0.05, 0.15))}" in warning and "eval power" in warning
