"""The statistics an honest evaluation reports: intervals, paired tests, effect sizes.

Pure Python (no torch, no scipy) so that `tasklang eval compare` runs anywhere. The notes
(001, 002) took 10-example probes for results and compared models on different samples;
these functions are what replaces that: a Wilson interval on every accuracy, an exact
McNemar test on paired outcomes, and a warning when n cannot support the claim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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


def small_sample_warning(n: int, margin: float = 0.05) -> str | None:
    """A sentence to print when n is too small to resolve differences of `margin`
    (the notes' 10-example probes resolve nothing finer than about +-30 points)."""
    need = min_n_for_margin(margin)
    if n >= need:
        return None
    half = (wilson(n // 2, n).high - wilson(n // 2, n).low) / 2 if n else 1.0
    return (
        f"n={n} is too small for a claim finer than +-{half * 100:.0f} points "
        f"(95% Wilson interval at 50%); {need} examples resolve +-{margin * 100:.0f} points"
    )
