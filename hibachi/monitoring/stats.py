"""The statistical tests the canary analysis uses: one-sided, 'is the canary worse?'."""

from __future__ import annotations

import math

from scipy import stats


def proportion_worse_p(bad_canary: int, n_canary: int, bad_stable: int, n_stable: int) -> float:
    """One-sided two-proportion z-test that the canary's rate is higher; Fisher's exact test when counts are small."""
    if n_canary == 0 or n_stable == 0:
        return 1.0
    pooled = (bad_canary + bad_stable) / (n_canary + n_stable)
    expected_small = min(pooled * n_canary, pooled * n_stable, (1 - pooled) * n_canary, (1 - pooled) * n_stable) < 5
    if expected_small:
        table = [[bad_canary, n_canary - bad_canary], [bad_stable, n_stable - bad_stable]]
        return float(stats.fisher_exact(table, alternative="greater").pvalue)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n_canary + 1 / n_stable))
    if se == 0:
        return 1.0
    z = (bad_canary / n_canary - bad_stable / n_stable) / se
    return float(stats.norm.sf(z))


def above_rate_p(bad: int, n: int, rate: float) -> float:
    """One-sided exact binomial test that the true rate behind ``bad`` of ``n`` is above ``rate``."""
    if n == 0 or bad == 0:
        return 1.0
    return float(stats.binom.sf(bad - 1, n, rate))


def larger_p(canary: list[float], stable: list[float]) -> float:
    """One-sided Mann-Whitney U test that canary values tend to be larger (latency)."""
    if not canary or not stable:
        return 1.0
    return float(stats.mannwhitneyu(canary, stable, alternative="greater").pvalue)


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)
