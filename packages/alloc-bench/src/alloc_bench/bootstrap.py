"""Percentile-bootstrap confidence intervals over seeds (numpy, seeded, no other dependency).

Method: draw ``resamples`` samples of the n seed values with replacement (a
``numpy.random.default_rng(seed)`` generator, so the same inputs always give the same interval),
take the mean of each, and report the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
percentiles of those means (numpy's default linear interpolation). The unit of resampling is
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


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = (1.0 - confidence) / 2.0 * 100.0
    low, high = np.percentile(stats, [tail, 100.0 - tail])
    return float(low), float(high)


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
    rng = np.random.default_rng(seed)
    index = rng.integers(0, data.size, size=(resamples, data.size))
    low, high = _percentiles(data[index].mean(axis=1), confidence)
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
    rng = np.random.default_rng(seed)
    if paired:
        index = rng.integers(0, x.size, size=(resamples, x.size))
        stats = x[index].mean(axis=1) - y[index].mean(axis=1)
    else:
        ix = rng.integers(0, x.size, size=(resamples, x.size))
        iy = rng.integers(0, y.size, size=(resamples, y.size))
        stats = x[ix].mean(axis=1) - y[iy].mean(axis=1)
    low, high = _percentiles(stats, confidence)
    return diff, low, high
