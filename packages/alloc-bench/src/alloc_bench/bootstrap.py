"""Percentile-bootstrap confidence intervals over seeds, with ``scipy.stats.bootstrap``.

Method (scipy's ``method="percentile"``): draw ``resamples`` samples of the n seed values with
replacement (a ``numpy.random.default_rng(seed)`` generator, so the same inputs always give the
same interval), take the mean of each, and report the ``(1 - confidence) / 2`` and
``(1 + confidence) / 2`` percentiles of those means. The percentile method rather than scipy's
default BCa: BCa's jackknife acceleration is unstable with the papers' 5 seeds and undefined when
the values are equal (an oracle's std 0). The unit of resampling is
the seed (each seed's value is already the mean over its evaluation episodes). With one value the
interval is that value; with few seeds (the papers use 5) the percentile bootstrap is known to be
too narrow, so read it as a lower bound on the uncertainty.

For a difference of two methods (:func:`bootstrap_diff_ci`), the seeds are resampled together
(paired) when both methods ran the same seeds: seed ``s`` gives both the same environment draws,
so pairing removes that shared noise. Otherwise each side is resampled independently.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import stats

#: Default number of bootstrap resamples.
DEFAULT_RESAMPLES = 10_000
#: Default confidence level of the intervals.
DEFAULT_CONFIDENCE = 0.95
#: Default seed of the resampling generator.
DEFAULT_SEED = 0


def _check(resamples: int, confidence: float) -> None:
    if resamples < 1:
        raise ValueError(f"resamples must be >= 1, got {resamples}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _mean_difference(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return x.mean(axis=axis) - y.mean(axis=axis)


def _interval(
    samples: tuple[np.ndarray, ...],
    statistic,
    paired: bool,
    resamples: int,
    confidence: float,
    seed: int,
) -> tuple[float, float]:
    result = stats.bootstrap(
        samples,
        statistic,
        n_resamples=resamples,
        confidence_level=confidence,
        method="percentile",
        paired=paired,
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


def bootstrap_ci(
    values: Sequence[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float]:
    """Percentile-bootstrap interval of the mean of ``values`` (module doc)."""
    _check(resamples, confidence)
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or data.size == 0:
        raise ValueError("values must be a non-empty sequence of numbers")
    if data.min() == data.max():  # one seed, or identical values: no spread to resample
        return float(data[0]), float(data[0])
    low, high = _interval((data,), np.mean, False, resamples, confidence, seed)
    # A mean lies within [min, max]; clip the rounding of equal values (std 0 -> [v, v]).
    return max(low, float(data.min())), min(high, float(data.max()))


def bootstrap_diff_ci(
    a: Sequence[float],
    b: Sequence[float],
    *,
    paired: bool,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float, float]:
    """``(mean(a) - mean(b), low, high)``: the difference and its bootstrap interval.

    ``paired``: ``a[i]`` and ``b[i]`` come from the same seed; resample seed indices once for
    both. Otherwise resample each side on its own.
    """
    _check(resamples, confidence)
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        raise ValueError("both samples must be non-empty")
    if paired and x.size != y.size:
        raise ValueError("paired samples must have the same length")
    diff = float(x.mean() - y.mean())
    if np.ptp(x) == 0 and np.ptp(y) == 0:
        return diff, diff, diff  # nothing to resample
    if not paired and min(x.size, y.size) == 1:  # scipy resamples only samples of 2 or more
        if x.size == 1:
            low, high = _interval((y,), np.mean, False, resamples, confidence, seed)
            return diff, float(x[0]) - high, float(x[0]) - low
        low, high = _interval((x,), np.mean, False, resamples, confidence, seed)
        return diff, low - float(y[0]), high - float(y[0])
    low, high = _interval((x, y), _mean_difference, paired, resamples, confidence, seed)
    return diff, low, high
