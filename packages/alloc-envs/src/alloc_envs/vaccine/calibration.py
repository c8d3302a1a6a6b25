"""Calibrate the transmission level of a city: the ``contact_scale`` that gives a target
cumulative infected share without vaccines (research note A.9.6: about 1.25 % by day 30 for
Atlanta, from Chen et al.'s ``SEIR_at_30d``)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from alloc_envs.vaccine.city import City
from alloc_envs.vaccine.config import VaccineConfig
from alloc_envs.vaccine.sim import POLICY, EpidemicSim

#: Cumulative infected share (E + I + R) of Atlanta at day 30 without vaccines (note A.3).
ATLANTA_DAY30_SHARE = 0.0125


def infected_share(
    config: VaccineConfig, city: City, day: int = 30, seeds: Sequence[int] = (0, 1, 2)
) -> float:
    """Mean over ``seeds`` of the share of the city ever infected (E + I + R) after ``day`` days
    without vaccines (the initial exposures included)."""
    cfg = config.replace(counterfactual=False, warmup_days=0, n_decisions=max(day, 1))
    shares = []
    for seed in seeds:
        sim = EpidemicSim(cfg, city)
        sim.reset(np.random.default_rng(seed))
        while sim.day < day:
            sim.run_day()
        shares.append(1.0 - sim.S[POLICY].sum() / sim.population.sum())
    return float(np.mean(shares))


def calibrate_contact_scale(
    config: VaccineConfig,
    city: City,
    target: float = ATLANTA_DAY30_SHARE,
    day: int = 30,
    seeds: Sequence[int] = (0, 1, 2),
    tolerance: float = 0.01,
    max_iterations: int = 40,
) -> float:
    """The ``contact_scale`` at which :func:`infected_share` is ``target`` (relative
    ``tolerance``), by bisection on its logarithm. Use it as
    ``config.replace(contact_scale=...)``.

    Raises:
        ValueError: the target is not in (0, 1), or cannot be reached within scales 1e-6..1e6.
    """
    if not 0.0 < target < 1.0:
        raise ValueError(f"target must be in (0, 1), got {target}")
    low, high = -6.0, 6.0  # log10 of the scale

    def share(log_scale: float) -> float:
        return infected_share(config.replace(contact_scale=10.0**log_scale), city, day, seeds)

    if share(low) > target or share(high) < target:
        raise ValueError(f"target {target} is out of reach for contact_scale in [1e-6, 1e6]")
    for _ in range(max_iterations):
        mid = 0.5 * (low + high)
        value = share(mid)
        if abs(value - target) <= tolerance * target:
            return 10.0**mid
        low, high = (mid, high) if value < target else (low, mid)
    return 10.0 ** (0.5 * (low + high))
