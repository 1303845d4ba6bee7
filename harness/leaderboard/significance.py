"""Is a difference between two runs real? Paired bootstrap intervals and sign-flip tests, numpy only.

Both work on per-query differences ``d_i = b_i - a_i`` of one task (the same query scored by
run A and run B), so query difficulty cancels out:

- **bootstrap interval**: draw ``n`` query indices with replacement (the same indices for both
  runs, which is resampling ``d``), take the mean of ``d`` over them; repeated ``resamples``
  times, the ``alpha/2`` and ``1 - alpha/2`` quantiles of those means are the interval
  (percentile bootstrap, at level ``1 - alpha``);
- **sign-flip test** (paired permutation test): under "A and B are exchangeable on every query"
  each ``d_i`` is as likely to be ``-d_i``. The two-sided p-value is the share of sign patterns
  whose ``|mean|`` reaches the observed ``|mean|``. With ``m`` non-zero differences and
  ``2**m <= resamples`` every pattern is enumerated (exact); otherwise ``resamples`` random
  patterns are drawn and ``p = (1 + hits) / (1 + resamples)``, which is never 0.

A mean over several tasks (:func:`mean_of_tasks`) is tested the same way, stratified: each
resample draws every task's queries within that task (each task its own draws), takes each
task's mean, and averages the task means with equal weight, as the leaderboard averages tasks.
Its sign flips are drawn per task in the same way. Callers seed a generator per task, so a
task's numbers do not change when other tasks join the comparison.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

MAX_EXACT_FLIPS = 16
"""Non-zero differences up to which every sign pattern may be enumerated (2**16 patterns)."""
_CHUNK_ELEMENTS = 1 << 22
"""Resampled indices drawn at once (32 MiB of int64), so a large task needs no large array."""
_RELATIVE_TIE = 1e-12
"""A resampled statistic within this (relative) distance of the observed one counts as reaching it."""


@dataclass(frozen=True)
class Draws:
    """The resampled statistics of one task (or one mean of tasks)."""

    observed: float
    """Mean difference (B - A) of the observed queries."""
    bootstrap: np.ndarray
    """(resamples,) mean differences of bootstrap resamples."""
    flipped: np.ndarray
    """(resamples,) mean differences under random sign flips."""
    exact_p: float | None = None
    """The p-value from every sign pattern, when there were few enough to enumerate."""


@dataclass(frozen=True)
class PairedTest:
    """A difference, its bootstrap interval and its sign-flip p-value."""

    difference: float
    """Observed mean difference B - A."""
    ci_low: float
    ci_high: float
    """Bootstrap interval at level 1 - alpha."""
    p_value: float
    """Two-sided sign-flip p-value."""
    exact: bool
    """True when the p-value enumerated every sign pattern."""
    significant: bool
    """``p_value < alpha``."""


def draw(differences: np.ndarray, resamples: int, rng: np.random.Generator) -> Draws:
    """Bootstrap and sign-flip draws of the mean of ``differences`` (one value per query)."""
    d = np.asarray(differences, dtype=np.float64)
    if d.ndim != 1 or len(d) == 0:
        raise ValueError("differences must be a non-empty 1-D array")
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    n = len(d)
    rows = max(1, _CHUNK_ELEMENTS // n)
    bootstrap = np.empty(resamples)
    flipped = np.empty(resamples)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        indices = rng.integers(0, n, size=(stop - start, n))
        bootstrap[start:stop] = d[indices].mean(axis=1)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        signs = rng.integers(0, 2, size=(stop - start, n)) * 2 - 1
        flipped[start:stop] = (signs * d).mean(axis=1)
    return Draws(observed=float(d.mean()), bootstrap=bootstrap, flipped=flipped, exact_p=_exact_p(d, resamples))


def _exact_p(d: np.ndarray, resamples: int) -> float | None:
    """The sign-flip p-value over every pattern of the non-zero differences, if there are few."""
    nonzero = d[d != 0]
    m = len(nonzero)
    if m > MAX_EXACT_FLIPS or 2**m > resamples:
        return None
    if m == 0:
        return 1.0  # every pattern gives the observed mean, 0
    patterns = ((np.arange(2**m)[:, None] >> np.arange(m)) & 1) * 2 - 1
    sums = np.abs(patterns @ nonzero)
    observed = abs(float(nonzero.sum()))
    return float(np.mean(sums >= observed - _tie(observed)))


def mean_of_tasks(tasks: Sequence[Draws]) -> Draws:
    """The stratified draws of the unweighted mean over ``tasks`` (each task resampled within itself)."""
    if not tasks:
        raise ValueError("mean_of_tasks needs at least one task")
    return Draws(
        observed=float(np.mean([t.observed for t in tasks])),
        bootstrap=np.mean([t.bootstrap for t in tasks], axis=0),
        flipped=np.mean([t.flipped for t in tasks], axis=0),
    )


def paired_test(draws: Draws, alpha: float) -> PairedTest:
    """The interval at level ``1 - alpha`` and the two-sided p-value of ``draws``."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    low, high = np.quantile(draws.bootstrap, [alpha / 2, 1 - alpha / 2])
    if draws.exact_p is not None:
        p_value, exact = draws.exact_p, True
    else:
        observed = abs(draws.observed)
        hits = int(np.count_nonzero(np.abs(draws.flipped) >= observed - _tie(observed)))
        p_value, exact = (1 + hits) / (1 + len(draws.flipped)), False
    return PairedTest(
        difference=draws.observed,
        ci_low=float(low),
        ci_high=float(high),
        p_value=p_value,
        exact=exact,
        significant=p_value < alpha,
    )


def _tie(observed: float) -> float:
    # Sums of the same values in another order differ in the last bits; they are the same statistic.
    return _RELATIVE_TIE * max(1.0, observed)
