"""Percentile bootstrap over seeds and the compare verdict."""

from __future__ import annotations

import numpy as np
import pytest

from alloc_bench.bootstrap import bootstrap_ci, bootstrap_diff_ci
from alloc_bench.compare import verdict


def test_ci_is_seeded_reproducible_and_brackets_the_mean() -> None:
    values = [1.0, 2.0, 4.0, 8.0, 16.0]
    low, high = bootstrap_ci(values)
    assert (low, high) == bootstrap_ci(values)
    assert low < np.mean(values) < high
    assert min(values) <= low and high <= max(values)
    varied = list(np.random.default_rng(1).normal(size=12))
    assert bootstrap_ci(varied, seed=1) != bootstrap_ci(varied, seed=2)
    # A higher confidence gives a wider interval.
    low99, high99 = bootstrap_ci(values, confidence=0.99)
    assert low99 <= low and high <= high99


def test_ci_of_one_value_or_equal_values_is_the_value() -> None:
    assert bootstrap_ci([3.5]) == (3.5, 3.5)
    value = 220775.79000000001
    assert bootstrap_ci([value] * 5) == (value, value)


def test_ci_matches_the_percentiles_of_resampled_means() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(10.0, 2.0, size=8)
    low, high = bootstrap_ci(values, resamples=2000, seed=3)
    index = np.random.default_rng(3).integers(0, 8, size=(2000, 8))
    means = values[index].mean(axis=1)
    assert (low, high) == pytest.approx(tuple(np.percentile(means, [2.5, 97.5])))


def test_ci_covers_the_true_mean_about_as_often_as_claimed() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for trial in range(200):
        sample = rng.normal(0.0, 1.0, size=30)
        low, high = bootstrap_ci(sample, resamples=1000, seed=trial)
        hits += low <= 0.0 <= high
    assert 0.85 <= hits / 200 <= 0.99


def test_paired_difference_removes_shared_seed_noise() -> None:
    shared = np.array([100.0, 300.0, 200.0, 500.0, 400.0])
    a, b = shared + 10.0, shared  # A is exactly 10 better on every seed
    diff, low, high = bootstrap_diff_ci(a, b, paired=True)
    assert diff == pytest.approx(10.0) and low == pytest.approx(10.0) == high
    diff, low, high = bootstrap_diff_ci(a, b, paired=False)
    assert diff == pytest.approx(10.0) and low < 0 < high  # unpaired: lost in the seed noise


@pytest.mark.parametrize(
    ("low", "high", "higher", "expected"),
    [
        (1.0, 2.0, True, "A beats B"),
        (-2.0, -1.0, True, "B beats A"),
        (-1.0, 1.0, True, "no clear difference between A and B (the CI includes 0)"),
        (-2.0, -1.0, False, "A beats B"),
        (1.0, 2.0, False, "B beats A"),
    ],
)
def test_verdict_needs_the_ci_to_exclude_zero(low: float, high: float, higher: bool,
                                              expected: str) -> None:  # fmt: skip
    assert verdict("A", "B", low, high, higher) == expected


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0], confidence=1.0)
    with pytest.raises(ValueError, match="same length"):
        bootstrap_diff_ci([1.0], [1.0, 2.0], paired=True)
