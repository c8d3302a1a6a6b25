"""How mobility varies over the episode: the hourly visit multiplier s(t).

Visits in hour t are ``W(t) = s(t) W0`` with ``s(t) = diurnal(hour of day) x trend(day)``, so the
contact kernel is ``K(t) = s(t)^2 K0`` (research note A.9.4-5). ``trend`` is 1 until
``trend_start_day``, falls linearly to ``trend_level`` at ``trend_end_day`` and stays there (the
March-2020 mobility collapse: growth, then flattening). Day 0 is the warm-up day.
"""

from __future__ import annotations

import numpy as np

from alloc_envs.vaccine.config import DIURNAL_PROFILE, HOURS_PER_DAY, VaccineConfig


def trend(config: VaccineConfig, days: np.ndarray) -> np.ndarray:
    """Visit multiplier of the trend at (fractional) ``days`` (same shape, float64)."""
    days = np.asarray(days, dtype=np.float64)
    start, end, level = config.trend_start_day, config.trend_end_day, config.trend_level
    if end > start:
        ramp = np.clip((days - start) / (end - start), 0.0, 1.0)
    else:
        ramp = (days >= start).astype(np.float64)
    return 1.0 + (level - 1.0) * ramp


def contact_multiplier(config: VaccineConfig) -> np.ndarray:
    """(episode_hours,) float64: s(t)^2 for every hour of the episode."""
    hours = np.arange(config.episode_hours)
    if config.diurnal:
        profile = np.asarray(DIURNAL_PROFILE, dtype=np.float64)
        profile = profile / profile.mean()
    else:
        profile = np.ones(HOURS_PER_DAY)
    s = profile[hours % HOURS_PER_DAY] * trend(config, hours // HOURS_PER_DAY)
    return s * s
