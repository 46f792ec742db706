"""The statistics an honest evaluation reports: intervals, paired tests, effect sizes.

Pure Python (no torch, no scipy) so that `tasklang eval compare` runs anywhere. The notes
(001, 002) took 10-example probes for results and compared models on different samples;
these functions are what replaces that: a Wilson interval on every accuracy, an exact
McNemar test on paired outcomes, and a warning when n cannot support the claim.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

# Two-sided 95% normal quantile.
Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def to_json(self) -> list[float]:
        return [round(self.low, 6), round(self.high, 6)]


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval for a binomial proportion (the interval that stays inside
    [0, 1] and behaves at 0/n and n/n, unlike the normal approximation)."""
    if n < 0 or successes < 0 or successes > n:
        raise ValueError(f"wilson: need 0 <= successes <= n, got {successes}/{n}")
    if n == 0:
        return Interval(0.0, 1.0)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # At 0/n and n/n the exact bound is 0 (or 1); floating point leaves ~1e-17 of noise.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def mcnemar_exact(b: int, c: int) -> float:
    """Exact two-sided McNemar p-value from the discordant counts b (A right, B wrong)
    and c (A wrong, B right): a binomial test of min(b, c) under p = 1/2, doubled, capped at 1."""
    if b < 0 or c < 0:
        raise ValueError("mcnemar_exact: discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    k = min(b, c)
    # Sum in log space: C(n, i) / 2^n underflows for n in the thousands.
    log_terms = [_log_comb(n, i) - n * math.log(2) for i in range(k + 1)]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return min(1.0, 2.0 * tail)


def _log_comb(n: int, k: int) -> float:
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def cohens_h(p1: float, p2: float) -> float:
    """Cohen's h effect size between two proportions: 2·asin(√p2) − 2·asin(√p1)."""
    for p in (p1, p2):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"cohens_h: proportions must be in [0, 1], got {p}")
    return 2 * math.asin(math.sqrt(p2)) - 2 * math.asin(math.sqrt(p1))


def min_n_for_margin(margin: float, p: float = 0.5, z: float = Z95) -> int:
    """Smallest n whose 95% interval half-width at proportion p is at most `margin`."""
    if not 0 < margin < 1:
        raise ValueError("margin must be in (0, 1)")
    return math.ceil(z * z * p * (1 - p) / (margin * margin))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chen et al. (2021)'s unbiased pass@k from n samples of which c are correct:
    1 - C(n-c, k) / C(n, k), the chance that k of the n drawn without replacement hold a
    correct one. Computed as a product, since the binomials overflow floats for large n."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass_at_k: need 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    miss = 1.0
    for i in range(n - c + 1, n + 1):
        miss *= 1.0 - k / i
    return 1.0 - miss


def mean_pass_at_k(counts: Sequence[tuple[int, int]], k: int) -> float:
    """pass@k over problems: the mean of each problem's estimate, (n, c) per problem."""
    if not counts:
        return 0.0
    return sum(pass_at_k(n, c, k) for n, c in counts) / len(counts)


# ---------------------------------------------------------------------------------------
# Power of the paired comparison (McNemar). p10 and p01 are the probabilities that a pair is
# discordant one way (A right, B wrong) or the other; only discordant pairs carry information.


@dataclass(frozen=True)
class Discordance:
    """The two discordant-cell probabilities of a paired design."""

    p10: float
    p01: float

    def __post_init__(self) -> None:
        if self.p10 < 0 or self.p01 < 0 or self.p10 + self.p01 > 1:
            raise ValueError(
                f"discordance: need p10, p01 >= 0 and p10 + p01 <= 1, got {self.p10}, {self.p01}"
            )
        if self.p10 == self.p01:
            raise ValueError("discordance: p10 == p01 is no difference; no n detects it")

    @classmethod
    def of(cls, total: float, difference: float) -> Discordance:
        """From the total discordance p10 + p01 and the difference |p01 - p10|."""
        if not 0 < abs(difference) <= total <= 1:
            raise ValueError(
                f"discordance: need 0 < |difference| <= total <= 1, got {difference}, {total}"
            )
        d = abs(difference)
        return cls((total - d) / 2, (total + d) / 2)

    @property
    def total(self) -> float:
        return self.p10 + self.p01

    @property
    def difference(self) -> float:
        return abs(self.p01 - self.p10)


POWER_METHODS = ("exact", "connor", "miettinen")
EXACT_MAX_N = 20_000


def mcnemar_n_approx(disc: Discordance, alpha: float = 0.05, power: float = 0.8,
                     method: str = "connor") -> int:
    """n from a normal approximation: Connor (1987),
    n = (z_{1-a/2} sqrt(psi) + z_{1-b} sqrt(psi - d^2))^2 / d^2, or Miettinen (1968), whose
    second variance term is psi - d^2 (3 + psi) / 4 (psi: total discordance, d: difference)."""
    _check_levels(alpha, power)
    psi, d = disc.total, disc.difference
    za, zb = NormalDist().inv_cdf(1 - alpha / 2), NormalDist().inv_cdf(power)
    if method == "connor":
        spread = psi - d * d
    elif method == "miettinen":
        spread = psi - d * d * (3 + psi) / 4
    else:
        raise ValueError(f"unknown approximation {method!r}; choose connor or miettinen")
    return math.ceil((za * math.sqrt(psi) + zb * math.sqrt(max(0.0, spread))) ** 2 / (d * d))


def _check_levels(alpha: float, power: float) -> None:
    if not 0 < alpha < 1 or not 0 < power < 1:
        raise ValueError(f"alpha and power must be in (0, 1), got {alpha}, {power}")


def _log_pmf(k: int, n: int, p: float) -> float:
    if p <= 0.0:
        return 0.0 if k == 0 else -math.inf
    if p >= 1.0:
        return 0.0 if k == n else -math.inf
    return _log_comb(n, k) + k * math.log(p) + (n - k) * math.log1p(-p)


# Binomial terms further than this many standard deviations (plus a margin) from the mean
# hold less than 1e-20 of the mass together: the sums below skip them.
_SPREAD = 10


def _window(n: int, p: float) -> tuple[int, int]:
    spread = _SPREAD * math.sqrt(n * p * (1 - p)) + _SPREAD
    return max(0, math.floor(n * p - spread)), min(n, math.ceil(n * p + spread))


def _pmf_terms(n: int, p: float, low: int, high: int) -> list[float]:
    """Binomial(n, p) probabilities of low..high: one lgamma, then the ratio recurrence
    P(i + 1) / P(i) = (n - i) / (i + 1) * p / (1 - p)."""
    if p <= 0.0 or p >= 1.0:
        return [math.exp(_log_pmf(i, n, p)) for i in range(low, high + 1)]
    term, odds = math.exp(_log_pmf(low, n, p)), p / (1 - p)
    terms = []
    for i in range(low, high + 1):
        terms.append(term)
        term *= (n - i) / (i + 1) * odds
    return terms


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X <= k) for X ~ Binomial(n, p), summed over the terms that carry mass."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    low, high = _window(n, p)
    if k < low:
        low = max(0, k - 2 * _SPREAD)  # far in the lower tail: only the few terms below k count
    return min(1.0, sum(_pmf_terms(n, p, low, k)))


class _ExactPower:
    """Power of the exact two-sided McNemar test (as `mcnemar_exact`, rejecting at p <= alpha):
    the number of discordant pairs D ~ Binomial(n, psi), and given D = d the count b one way
    ~ Binomial(d, p10 / psi). Rejection per d is computed once and reused across n."""

    def __init__(self, disc: Discordance, alpha: float) -> None:
        self.psi, self.q, self.alpha = disc.total, disc.p10 / disc.total, alpha
        self.reject: list[float] = [0.0]  # P(reject | d), d = 0, 1, ...
        self.critical = -1  # the largest k with 2 P(X <= k | d, 1/2) <= alpha, for the last d

    def _extend(self, d: int) -> None:
        while len(self.reject) <= d:
            m = len(self.reject)
            # k* never decreases in d: P(X <= k | d, 1/2) falls as d grows.
            while 2 * _binom_cdf(self.critical + 1, m, 0.5) <= self.alpha:
                self.critical += 1
            k = self.critical
            # Reject when min(b, d - b) <= k: both tails, the upper one as the lower tail of d - b.
            tails = _binom_cdf(k, m, self.q) + _binom_cdf(k, m, 1 - self.q) if k >= 0 else 0.0
            self.reject.append(min(1.0, tails))

    def __call__(self, n: int) -> float:
        low, high = _window(n, self.psi)
        self._extend(high)
        terms = _pmf_terms(n, self.psi, low, high)
        return sum(t * self.reject[d] for d, t in zip(range(low, high + 1), terms, strict=True))


def mcnemar_power(n: int, disc: Discordance, alpha: float = 0.05) -> float:
    """Exact power of the two-sided exact McNemar test with n pairs."""
    if n < 1:
        raise ValueError("mcnemar_power: n must be >= 1")
    return _ExactPower(disc, alpha)(n)


def mcnemar_n(disc: Discordance, alpha: float = 0.05, power: float = 0.8, method: str = "exact",
              max_n: int = EXACT_MAX_N) -> int:
    """Pairs a McNemar comparison needs to reach `power` at level `alpha`.

    `exact`: the smallest n whose exact power (summed over the binomials, no approximation)
    reaches `power`. The exact power is saw-toothed in n (the test is discrete), so an n a
    little above this one can fall just short; `connor` / `miettinen`: the closed forms."""
    if method != "exact":
        return mcnemar_n_approx(disc, alpha, power, method)
    _check_levels(alpha, power)
    exact = _ExactPower(disc, alpha)
    for n in range(1, max_n + 1):
        if exact(n) >= power:
            return n
    approx = mcnemar_n_approx(disc, alpha, power)
    raise ValueError(
        f"the exact search stops at {max_n} pairs; Connor's approximation needs {approx} "
        "(--method connor)"
    )


# The paired design the small-n warning sizes: a 10-point difference, 20% of pairs discordant.
WARN_DISCORDANCE = Discordance(0.05, 0.15)


def small_sample_warning(n: int, margin: float = 0.05) -> str | None:
    """A sentence to print when n is too small to resolve differences of `margin`
    (the notes' 10-example probes resolve nothing finer than about +-30 points), with the n a
    paired comparison would need (`tasklang eval power` for other designs)."""
    need = min_n_for_margin(margin)
    if n >= need:
        return None
    half = (wilson(n // 2, n).high - wilson(n // 2, n).low) / 2 if n else 1.0
    paired = mcnemar_n(WARN_DISCORDANCE)
    return (
        f"n={n} is too small for a claim finer than +-{half * 100:.0f} points "
        f"(95% Wilson interval at 50%); {need} examples resolve +-{margin * 100:.0f} points, and a "
        f"paired comparison needs n={paired} to detect a 10-point difference with 20% of pairs "
        "discordant (alpha 0.05, power 0.8; see `tasklang eval power`)"
    )
