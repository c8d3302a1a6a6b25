"""A synthetic Manhattan-like city for EDRP (our construction; no data needed).

* **Zones**: a ``rows x cols`` hexagonal strip (:class:`~alloc_envs.core.hexgrid.HexGrid`); the
  default 21 x 3 = 63 zones match the 63 mainland Manhattan taxi zones and the island's shape
  (about 21 km by 3.5 km with ``zone_km = 1``). Row 0 is the north (Harlem), the last row the
  southern tip (Financial District). Neighbours: the hexagonal ones, clockwise from north.
* **Where orders start** (``rho_t``): a base level, a fixed Midtown hot spot (40 % down the
  island) and a commute hot spot that *moves through the day*: uptown (residential) in the
  morning, Midtown at midday, downtown in the evening. The volume follows a day profile with
  morning and evening rush peaks, scaled so that the episode mean of ``sum_v rho_t(v)`` is
  ``demand_per_driver``; every zone has a static log-normal factor (``city_seed``).
* **Where orders go** (``Q_t``): a gravity model, attraction times ``exp(-km / trip_km)``,
  with an attraction hot spot moving the other way (downtown in the morning, uptown in the
  evening) plus the Midtown hot spot.
* **Fares and durations**: ``base_fare + fare_per_km * max(km, zone_km / 2)`` per trip (the
  origin's mean over Q_t is its tariff fare), times the origin's premium
  (:func:`fare_premium`: up to ``premium_peak`` in Midtown at the rush hours, as surge pricing,
  tips and business travel make a business district's trips pay more); a trip of ``km`` takes
  ``floor((3 + 60 km / speed_kmh) / slot_minutes) + 1`` slots, capped at ``max_trip_steps``.
"""

from __future__ import annotations

import numpy as np

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.edrp.city import EDRPCity
from alloc_envs.edrp.config import EDRPConfig

#: Position down the island (0 north, 1 south) of the Midtown hot spot and the hot spots' width.
MIDTOWN = 0.4
HOTSPOT_WIDTH = 0.12
#: (hour, position) knots of the moving origin and destination hot spots (piecewise linear).
ORIGIN_PATH = ((7.0, 0.2), (12.0, 0.45), (19.0, 0.8))
DESTINATION_PATH = ((7.0, 0.8), (12.0, 0.45), (19.0, 0.2))
#: Clock hours of the morning and evening rush peaks.
RUSH_HOURS = (8.5, 18.0)
#: Share of the Midtown fare premium that holds all day (the rest follows the rush).
PREMIUM_ALL_DAY = 0.5
#: Minutes of pick-up added to every trip.
PICKUP_MINUTES = 3.0


def _bump(position: np.ndarray, centre: float) -> np.ndarray:
    return np.exp(-0.5 * ((position - centre) / HOTSPOT_WIDTH) ** 2)


def _path(hour: np.ndarray, knots: tuple[tuple[float, float], ...]) -> np.ndarray:
    hours, positions = zip(*knots, strict=True)
    return np.interp(hour, hours, positions)


def day_profile(hour: np.ndarray) -> np.ndarray:
    """Relative order volume by clock hour: 1 plus morning (8:30) and evening (18:00) peaks."""
    morning, evening = RUSH_HOURS
    return (
        1.0
        + 0.6 * np.exp(-0.5 * (hour - morning) ** 2)
        + 0.6 * np.exp(-0.5 * (hour - evening) ** 2)
    )


def fare_premium(position: np.ndarray, hour: np.ndarray, premium_peak: float) -> np.ndarray:
    """(T, V) fare multiplier of trips starting at ``position`` (V,) down the island at clock
    ``hour`` (T,): ``1 + (premium_peak - 1) * b(v) * (PREMIUM_ALL_DAY + (1 - PREMIUM_ALL_DAY)
    r(t))``, where ``b`` is the Midtown bump (1 at its centre) and ``r`` the day's volume above
    its base, scaled to 1 at the busier rush hour (:func:`day_profile`): half of the premium
    holds all day, half comes with the rush. ``premium_peak = 1``: no premium anywhere."""
    rush = (day_profile(hour) - 1.0) / (day_profile(np.array(RUSH_HOURS)).max() - 1.0)
    level = PREMIUM_ALL_DAY + (1.0 - PREMIUM_ALL_DAY) * rush
    return 1.0 + (premium_peak - 1.0) * level[:, None] * _bump(position, MIDTOWN)[None, :]


def compact_neighbors(grid: HexGrid) -> np.ndarray:
    """(G, 6) int64 hexagonal neighbours, clockwise from north, existing ones first."""
    nb = grid.neighbors
    order = np.argsort(nb < 0, axis=1, kind="stable")
    return np.take_along_axis(nb, order, axis=1)


def _positions(config: EDRPConfig) -> np.ndarray:
    """(V,) each zone's position down the island, 0 (north) to 1 (south)."""
    rows = np.arange(config.rows * config.cols) // config.cols
    return rows / max(config.rows - 1, 1)


def _slot_hours(config: EDRPConfig) -> np.ndarray:
    """(T,) the clock hour at the middle of each slot."""
    return config.start_hour + (np.arange(config.horizon) + 0.5) * config.slot_minutes / 60.0


def city_premiums(config: EDRPConfig) -> np.ndarray:
    """(T, V) the fare premium of every zone and slot of the synthetic city of ``config``
    (:func:`fare_premium`): its fares over the tariff's."""
    return fare_premium(_positions(config), _slot_hours(config), config.premium_peak)


def synthetic_city(config: EDRPConfig) -> EDRPCity:
    """The synthetic city of ``config`` (deterministic given the config)."""
    grid = HexGrid(config.rows, config.cols)
    v = grid.n_cells
    centres = grid.centres * (config.zone_km / np.sqrt(3.0))  # neighbours are sqrt(3) apart
    km = np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))
    position = _positions(config)
    noise = np.random.default_rng(config.city_seed).lognormal(0.0, 0.25, size=v)
    hour = _slot_hours(config)
    origin_centre = _path(hour, ORIGIN_PATH)[:, None]
    dest_centre = _path(hour, DESTINATION_PATH)[:, None]
    origins = (0.3 + _bump(position, MIDTOWN) + 1.5 * _bump(position, origin_centre)) * noise
    origins *= day_profile(hour)[:, None]
    demand = origins * (config.demand_per_driver / origins.sum(axis=1).mean())

    attraction = 0.3 + _bump(position, MIDTOWN) + 1.5 * _bump(position, dest_centre)
    gravity = attraction[:, None, :] * np.exp(-km / config.trip_km)[None]
    destinations = gravity / gravity.sum(axis=2, keepdims=True)

    fare_of_trip = config.base_fare + config.fare_per_km * np.maximum(km, config.zone_km / 2)
    fares = np.einsum("tvw,vw->tv", destinations, fare_of_trip)
    fares = fares * city_premiums(config)
    minutes = PICKUP_MINUTES + 60.0 * km / config.speed_kmh
    trip_steps = np.minimum(np.floor(minutes / config.slot_minutes) + 1, config.max_trip_steps)
    return EDRPCity(
        zone_ids=np.arange(v),
        neighbors=compact_neighbors(grid),
        demand=demand,
        destinations=destinations,
        fares=fares,
        trip_steps=trip_steps.astype(np.int64),
        slot_minutes=config.slot_minutes,
        start_minute=60.0 * config.start_hour,
    )


def two_zone_city(horizon: int = 6, demand: float = 0.45, premium: float = 2.0) -> EDRPCity:
    """A controlled city whose best charge is known in closed form (for tests of leaders).

    Two neighbouring zones with equal demand (``demand`` orders per driver and slot in each),
    zone 0's fare ``premium`` times zone 1's ($20 against $10 at the default), trips of one slot
    that stay in their zone, ``horizon`` slots. Without a charge every driver wants zone 0
    (exact mean-field ORR 0.657 with ``make_game("edrp-small", city=two_zone_city(),
    reach_hops=1)``); a charge ``u_0 = 1 - 1 / premium`` on zone 0 with none on zone 1
    equalises the drivers' shares of the fares, ``(1 - u_0) f_0 = (1 - u_1) f_1``, and every
    order is served (ORR 1.0): every charge on that line is optimal."""
    return EDRPCity(
        zone_ids=np.arange(2),
        neighbors=np.array([[1], [0]]),
        demand=np.full((horizon, 2), demand),
        destinations=np.repeat(np.eye(2)[None], horizon, 0),
        fares=np.tile([10.0 * premium, 10.0], (horizon, 1)),
        trip_steps=np.ones((2, 2), dtype=np.int64),
        slot_minutes=20.0,
        start_minute=420.0,
    )
