"""A seeded synthetic city standing in for the Atlanta census block groups (research note A.9).

Everything is drawn from ``numpy.random.default_rng(city_seed)`` sub-streams, so a configuration
always gives the same city. Distances are in units of the mean spacing between region centres
(the city is a square of side ``sqrt(N)``).

* **Regions.** Centres from a mixture around ``1 + N // 500`` downtown cores (spread a third of
  the side) and a uniform background (30 %). Sizes log-normal (median 1, sigma ``size_sigma``),
  rescaled to ``population`` and rounded to whole people (the largest region absorbs the rounding).
* **Ages.** Each region tilts the metro pyramid :data:`~alloc_envs.vaccine.config.AGE_PYRAMID`
  by ``exp(z_i * (age_g - 40) / 40)`` with z a random field over the city (``max(8, N // 25)``
  Gaussian bumps 1.5-4 region spacings wide, plus 30 % independent noise), made linearly
  uncorrelated with the regions' log per-capita contact intensity (kernel row sum / N_i) and
  scaled to standard deviation ``age_tilt_sd``; then Dirichlet(300 x shares) noise. The elder
  share is spatially clustered and, by construction, not tied to mobility (our choice: the
  heuristics' ranking then reflects targeting, not an accident of the city's layout).
* **Places (POIs).** ``places_per_region * N`` of them; half near a random region centre, half
  near a downtown core. Area ~ LogNormal(9.16, 1.48) square feet, dwell ~ LogNormal(3.26, 0.94)
  minutes (fitted to Atlanta, note A.7); factor f_j = psi (dwell / (dwell + 60))^2 / area.
* **Mobility (gravity model).** Region i sends ``visit_rate * N_i`` visitors per hour (before the
  diurnal profile and the trend) to its ``places_visited`` highest-scoring places, with
  P(j | i) proportional to area_j^eta / (d_ij + 0.5)^gamma.
* **Kernel.** :func:`~alloc_envs.vaccine.city.contact_kernel` with ``kernel_top_k`` entries per row.

Cities are cached per process by :meth:`VaccineConfig.synthetic_city_key` (read-only arrays), so
environments of the same configuration share one city.
"""

from __future__ import annotations

import numpy as np

from alloc_envs.vaccine.city import City, contact_kernel
from alloc_envs.vaccine.config import AGE_PYRAMID, VaccineConfig

#: Log-normal parameters of POI area (square feet) and dwell time (minutes), note A.7.
AREA_LN_MEAN, AREA_LN_SD = 9.16, 1.48
DWELL_LN_MEAN, DWELL_LN_SD = 3.26, 0.94
#: Core radius of the gravity law (region spacings), so a region's own places stay finite.
GRAVITY_OFFSET = 0.5
#: Regions handled per block when scoring places (bounds memory at paper scale).
SCORE_BLOCK = 256


#: Cities built in this process, by :meth:`VaccineConfig.synthetic_city_key` (oldest first).
_CACHE: dict[tuple, City] = {}
CACHE_SIZE = 8


def synthetic_city(config: VaccineConfig) -> City:
    """The synthetic city of ``config`` (cached per process; its arrays are read-only)."""
    key = config.synthetic_city_key()
    city = _CACHE.get(key)
    if city is None:
        city = build_synthetic_city(config)
        if len(_CACHE) >= CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = city
    return city


def build_synthetic_city(config: VaccineConfig) -> City:
    """Build the synthetic city of ``config`` (uncached)."""
    streams = np.random.default_rng(config.city_seed).spawn(5)
    n = config.n_regions
    side = float(np.sqrt(n))
    cores = 1 + n // 500
    core_xy = streams[0].uniform(0.25 * side, 0.75 * side, size=(cores, 2))
    coords = _region_centres(streams[0], n, side, core_xy)
    population = _region_sizes(streams[1], n, config.population, config.size_sigma)
    place_xy, factor, area = _places(streams[3], config, coords, side, core_xy)
    region, place, visits = _gravity_visits(config, coords, population, place_xy, area)
    neighbours, weights = contact_kernel(region, place, visits, factor, n, config.kernel_top_k)
    intensity = np.log(np.maximum(weights.sum(axis=1), 1e-300) / population)
    ages = _age_shares(streams[2], coords, side, config.age_tilt_sd, intensity)
    return City(
        population=population,
        age_shares=ages,
        neighbours=neighbours,
        kernel=weights,
        coords=coords,
        acceptance=None,
        name=f"synthetic(n={n}, seed={config.city_seed})",
    )


def _region_centres(
    rng: np.random.Generator, n: int, side: float, core_xy: np.ndarray
) -> np.ndarray:
    around = rng.random(n) >= 0.3
    core = rng.integers(0, len(core_xy), size=n)
    xy = core_xy[core] + rng.normal(0.0, side / 3.0, size=(n, 2))
    xy = np.where(around[:, None], xy, rng.uniform(0.0, side, size=(n, 2)))
    return np.clip(xy, 0.0, side)


def _region_sizes(rng: np.random.Generator, n: int, total: int, sigma: float) -> np.ndarray:
    raw = rng.lognormal(0.0, sigma, size=n)
    sizes = np.maximum(1.0, np.round(raw / raw.sum() * total))
    sizes[np.argmax(sizes)] += total - sizes.sum()
    if sizes.min() < 1:  # tiny cities with extreme draws: spread evenly instead
        sizes = np.full(n, total // n, dtype=np.float64)
        sizes[: total - int(sizes.sum())] += 1
    return sizes


def _smooth_field(
    rng: np.random.Generator, coords: np.ndarray, side: float, intensity: np.ndarray
) -> np.ndarray:
    """A zero-mean, unit-sd spatially correlated field over the regions, with no linear
    correlation with ``intensity`` (the log per-capita contact intensity)."""
    bumps = max(8, len(coords) // 25)
    centres = rng.uniform(0.0, side, size=(bumps, 2))
    widths = rng.uniform(1.5, 4.0, size=bumps)  # neighbourhood scale, in region spacings
    signs = rng.choice([-1.0, 1.0], size=bumps)
    d2 = ((coords[:, None, :] - centres[None]) ** 2).sum(axis=2)
    field = (signs * np.exp(-d2 / (2 * widths**2))).sum(axis=1)
    field = (field - field.mean()) / max(field.std(), 1e-12)
    noisy = np.sqrt(0.7) * field + np.sqrt(0.3) * rng.normal(size=len(coords))
    noisy -= noisy.mean()
    centred = intensity - intensity.mean()
    if centred @ centred > 0:
        noisy -= (noisy @ centred) / (centred @ centred) * centred
    return noisy / max(noisy.std(), 1e-12)


def _age_shares(
    rng: np.random.Generator,
    coords: np.ndarray,
    side: float,
    tilt_sd: float,
    intensity: np.ndarray,
) -> np.ndarray:
    base = np.asarray(AGE_PYRAMID, dtype=np.float64)
    base = base / base.sum()
    centre_age = np.arange(len(base)) * 5.0 + 2.5
    slope = (centre_age - 40.0) / 40.0
    z = _smooth_field(rng, coords, side, intensity) * tilt_sd
    shares = base * np.exp(z[:, None] * slope[None, :])
    shares /= shares.sum(axis=1, keepdims=True)
    noisy = rng.gamma(300.0 * shares)  # Dirichlet(300 x shares) via normalised gammas
    noisy = np.maximum(noisy, 1e-12)
    return noisy / noisy.sum(axis=1, keepdims=True)


def _places(
    rng: np.random.Generator,
    config: VaccineConfig,
    coords: np.ndarray,
    side: float,
    core_xy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P, 2) place positions, (P,) transmission factors and (P,) areas."""
    n = len(coords)
    m = max(1, round(config.places_per_region * n))
    local = rng.random(m) < 0.5
    home = rng.integers(0, n, size=m)
    core = rng.integers(0, len(core_xy), size=m)
    xy = np.where(
        local[:, None],
        coords[home] + rng.normal(0.0, 0.5, size=(m, 2)),
        core_xy[core] + rng.normal(0.0, side / 5.0, size=(m, 2)),
    )
    xy = np.clip(xy, 0.0, side)
    area = rng.lognormal(AREA_LN_MEAN, AREA_LN_SD, size=m)
    dwell = np.clip(rng.lognormal(DWELL_LN_MEAN, DWELL_LN_SD, size=m), 1.0, 24 * 60.0)
    factor = config.psi * (dwell / (dwell + 60.0)) ** 2 / area
    return xy, factor, area


def _gravity_visits(
    config: VaccineConfig,
    coords: np.ndarray,
    population: np.ndarray,
    place_xy: np.ndarray,
    area: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """COO (region, place, visits per hour) of the gravity model, top ``places_visited``."""
    n, m = len(coords), len(place_xy)
    k = min(config.places_visited, m)
    log_area = (config.gravity_eta * np.log(area)).astype(np.float32)[None, :]
    px = place_xy[:, 0].astype(np.float32)[None, :]
    py = place_xy[:, 1].astype(np.float32)[None, :]
    regions, places, visits = [], [], []
    for start in range(0, n, SCORE_BLOCK):
        block = coords[start : start + SCORE_BLOCK].astype(np.float32)
        d2 = np.square(block[:, :1] - px)
        d2 += np.square(block[:, 1:] - py)
        d2 += GRAVITY_OFFSET**2
        score = np.log(d2)
        score *= -0.5 * config.gravity_gamma
        score += log_area
        top = np.argpartition(-score, k - 1, axis=1)[:, :k] if k < m else np.argsort(-score, 1)
        top_score = np.take_along_axis(score, top, axis=1)
        prob = np.exp((top_score - top_score.max(axis=1, keepdims=True)).astype(np.float64))
        prob /= prob.sum(axis=1, keepdims=True)
        rows = np.arange(start, start + len(block))
        regions.append(np.repeat(rows, k))
        places.append(top.reshape(-1))
        visits.append((prob * (config.visit_rate * population[rows])[:, None]).reshape(-1))
    return np.concatenate(regions), np.concatenate(places), np.concatenate(visits)
