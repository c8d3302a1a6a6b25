"""Aggregation over seeds: mean, population std and bootstrap CI of each metric.

The value of a seed is the run's metric (its mean over evaluation episodes). ``mean`` and ``std``
are taken across seeds, exactly (``statistics.mean`` / ``statistics.pstdev``, so identical values
give a std of exactly 0); ``std`` is the population standard deviation (``ddof=0``; one seed gives
0). ``ci`` is the 95% percentile-bootstrap interval of the mean over seeds
(:func:`alloc_bench.bootstrap.bootstrap_ci`).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alloc_bench.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, bootstrap_ci

#: Degrees of freedom of the reported standard deviation (0 = population std across seeds).
STD_DDOF = 0


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """``(mean, population std)`` of ``values``, computed exactly."""
    return float(statistics.mean(values)), float(statistics.pstdev(values))


def summarize(
    per_seed: Sequence[Mapping[str, Any]],
    metrics: Iterable[str],
    *,
    with_ci: bool = False,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, dict[str, Any]]:
    """``{"mean": {m: ...}, "std": {m: ...}}`` across the rows of ``per_seed`` (one per seed),
    plus ``"ci": {m: [low, high]}`` when ``with_ci``."""
    out: dict[str, dict[str, Any]] = {"mean": {}, "std": {}}
    if with_ci:
        out["ci"] = {}
    for metric in metrics:
        values = [float(row[metric]) for row in per_seed]
        out["mean"][metric], out["std"][metric] = mean_std(values)
        if with_ci:
            low, high = bootstrap_ci(values, resamples=resamples, confidence=confidence)
            out["ci"][metric] = [low, high]
    return out
