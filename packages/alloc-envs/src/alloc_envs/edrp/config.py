"""Configuration and presets of EDRP (e-hailing driver repositioning, TIRL paper §3.2 and §5).

Units: time in slots of ``slot_minutes`` minutes; money in US dollars; distances in km; demand
in orders per driver and slot (the fleet is the unit of mass, so the mean field and N-agent
fidelities share every number). Everything not stated by the paper is our choice; the research
note ``smfg-reference.md`` §6.2-6.4 is the source of the structure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alloc_envs.core.config import build_config as core_build_config
from alloc_envs.core.config import replace_config
from alloc_envs.core.validation import check_choice, check_int, check_number
from alloc_envs.stackelberg.config import check_solver_fields


@dataclass(frozen=True)
class EDRPConfig:
    """All parameters of an EDRP game. Validated at construction (``ValueError``).

    Synthetic city (ignored when a real :class:`~alloc_envs.edrp.city.EDRPCity` is given):
        rows, cols: a hexagonal strip of rows x cols zones (21 x 3 = 63, the number of mainland
            Manhattan taxi zones, on an island-shaped 21 km x 3.5 km strip); row 0 is the north.
        city_seed: seed of the zones' static demand noise (log-normal, sigma 0.25).
        start_hour: clock time of slot 0 (hours); slot_minutes: slot length; horizon: T slots.
        demand_per_driver: mean over the episode of sum_v rho_t(v), the orders per driver and
            slot (supply-demand ratio; rush hours are higher, midday lower).
        zone_km: distance between neighbouring zone centres; speed_kmh: taxi speed; a trip takes
            ``floor((3 + 60 km / speed) / slot_minutes) + 1`` slots (3 minutes of pick-up), at
            most ``max_trip_steps``.
        trip_km: length scale of the gravity model of destinations (exp(-km / trip_km)).
        base_fare, fare_per_km: fare of a trip = base + per_km * max(km, zone_km / 2).
        premium_peak: fare multiplier of trips starting at the centre of the business district
            (Midtown) at the busiest hour; the premium fades with the distance from Midtown and
            with the day's volume (:func:`alloc_envs.edrp.synthetic.fare_premium`). 1: every
            fare follows the tariff.
    Game:
        reach_hops: a follower may reposition to any zone within this many hops per slot
            (1: only the neighbouring zones). ``None``: as far as the city's own trips go in one
            slot (:meth:`~alloc_envs.edrp.city.EDRPCity.one_slot_reach`): the model drives a
            passenger that far within a slot, so an empty driver can reposition as far. On the
            synthetic city (20-minute slots, 15 km/h, 3 minutes of pick-up) that is 4 hops,
            every zone up to 4 km away: 3 + 60 * 4 / 15 = 19 minutes.
        move_cost: a driver's cost of repositioning, $ per hop.
        charge_low, charge_high: the leader's service charge per zone, a share of the fare.
    Followers' default responder (the exact solver):
        follower_temperature: entropy weight ($); solver_tolerance: target exploitability ($ per
        driver and episode); solver_max_iterations: iteration cap per response.
    """

    rows: int = 21
    cols: int = 3
    city_seed: int = 0
    start_hour: float = 7.0
    slot_minutes: float = 20.0
    horizon: int = 36
    max_trip_steps: int = 3
    demand_per_driver: float = 0.7
    zone_km: float = 1.0
    speed_kmh: float = 15.0
    trip_km: float = 3.0
    base_fare: float = 3.0
    fare_per_km: float = 2.0
    premium_peak: float = 2.6
    reach_hops: int | None = None
    move_cost: float = 0.5
    charge_low: float = 0.0
    charge_high: float = 0.75
    follower_temperature: float = 0.5
    solver_tolerance: float = 1e-3
    solver_max_iterations: int = 300

    def __post_init__(self) -> None:
        check_int("rows", self.rows, 1, 64)
        check_int("cols", self.cols, 1, 32)
        if self.rows * self.cols < 2:
            raise ValueError(f"rows * cols must be at least 2, got {self.rows * self.cols}")
        check_int("city_seed", self.city_seed, 0, 2**63 - 1)
        check_number("start_hour", self.start_hour, 0.0, 24.0)
        check_number("slot_minutes", self.slot_minutes, 1.0, 240.0)
        check_int("horizon", self.horizon, 1, 1440)
        check_int("max_trip_steps", self.max_trip_steps, 1, 24)
        check_number("demand_per_driver", self.demand_per_driver, 0.0, 100.0, low_inclusive=False)
        check_number("zone_km", self.zone_km, 0.0, 100.0, low_inclusive=False)
        check_number("speed_kmh", self.speed_kmh, 0.0, 200.0, low_inclusive=False)
        check_number("trip_km", self.trip_km, 0.0, 1000.0, low_inclusive=False)
        check_number("base_fare", self.base_fare, 0.0, 1e4, low_inclusive=False)
        check_number("fare_per_km", self.fare_per_km, 0.0, 1e4)
        check_number("premium_peak", self.premium_peak, 0.0, 100.0, low_inclusive=False)
        if self.reach_hops is not None:
            check_int("reach_hops", self.reach_hops, 1, 64)
        check_number("move_cost", self.move_cost, 0.0, 1e4)
        check_number("charge_low", self.charge_low, -10.0, 1.0)
        check_number("charge_high", self.charge_high, self.charge_low, 1.0)
        check_solver_fields(self)

    def replace(self, **changes: Any) -> EDRPConfig:
        """A copy with some fields changed (validated); unknown names raise ``ValueError``."""
        return replace_config(self, "edrp", changes)


#: The EDRP presets of each version of its dynamics (the ``-v<k>`` of ``alloc/EDRP-v<k>``), as
#: Gymnasium versions an environment whose dynamics change; results keep their version.
#:
#: * v1 (the latest; :class:`EDRPConfig`'s defaults): drivers reposition as far as a trip goes
#:   in one slot, and Midtown's fares carry a premium (up to ``premium_peak`` = 2.6 at the rush
#:   hours), so that self-interested drivers crowd Midtown and a platform's charges pay.
#:   Calibrated on the exact equilibrium: no charge ORR 0.818, the planner's ceiling 0.954.
#: * v0: the first EDRP: drivers move one zone per slot (about 3 km/h), fares follow the tariff
#:   everywhere, charges up to half the fare. Its drivers' self-interest already spreads them
#:   as the order response rate wants: no charge scores 0.815, the planner 0.868.
#:
#: ``edrp``: the 63-zone Manhattan-like city, 7:00-19:00 in 20-minute slots. ``edrp-small``: an
#: 8-zone city, 8 slots of 10 minutes from 7:00, for tests and smoke runs.
_V1 = EDRPConfig()
_V0 = EDRPConfig(premium_peak=1.0, reach_hops=1, charge_high=0.5)
_SMALL = {"rows": 4, "cols": 2, "horizon": 8, "slot_minutes": 10.0, "max_trip_steps": 2}
PRESETS_BY_VERSION: dict[int, dict[str, EDRPConfig]] = {
    0: {"edrp": _V0, "edrp-small": _V0.replace(**_SMALL, demand_per_driver=1.0)},
    1: {"edrp": _V1, "edrp-small": _V1.replace(**_SMALL, demand_per_driver=1.0)},
}
LATEST_VERSION = 1
PRESETS = PRESETS_BY_VERSION[LATEST_VERSION]
DEFAULT_PRESET = "edrp"


def build_config(
    preset: str | None,
    config: EDRPConfig | None,
    overrides: dict[str, Any],
    version: int = LATEST_VERSION,
) -> EDRPConfig:
    """The config from ``config`` or the ``version``'s ``preset`` (default ``"edrp"``), plus
    overrides; ``ValueError`` for an unknown version."""
    check_choice("version", version, tuple(PRESETS_BY_VERSION))
    presets = PRESETS_BY_VERSION[version]
    return core_build_config(presets, DEFAULT_PRESET, preset, config, overrides, "edrp")
