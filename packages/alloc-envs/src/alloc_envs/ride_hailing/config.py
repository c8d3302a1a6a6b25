"""Configuration and presets of the ride-hailing scenario.

Units: time in steps of ``step_minutes`` minutes; prices in the paper's unit (the value of an order,
as the DyPS paper reports GMV; the reference code multiplies these prices by 0.1 internally);
rewards are prices divided by ``reward_scale``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.core.config import replace_config
from alloc_envs.core.validation import check_choice, check_int, check_number

#: Trip-duration weights of the reference simulator for trips of 1..5 steps (research note §2.4;
#: the reference lists 9 lengths, truncates to ``max_trip_steps`` and renormalises, so keeping the
#: first five gives the same distributions for the presets).
REFERENCE_DURATION_PROBS: tuple[float, ...] = (0.2, 0.2, 0.15, 0.15, 0.1)
#: Mean and standard deviation of the order price of a trip of 1..5 steps (paper unit, note §2.4).
REFERENCE_PRICE_MEAN: tuple[float, ...] = (10.17, 15.02, 23.22, 32.14, 40.99)
REFERENCE_PRICE_STD: tuple[float, ...] = (3.34, 6.90, 11.63, 16.20, 20.69)

ACTION_MODES = ("dispatch", "reposition")
#: Largest city: the simulator keeps a (cells x cells) distance table (64 MiB at this size).
MAX_CELLS = 4096
DEMAND_MODES = ("stochastic", "reference")


@dataclass(frozen=True)
class RideHailingConfig:
    """All parameters of a ride-hailing city. Validated at construction (``ValueError``).

    Attributes:
        rows, cols: hex grid size; one agent per cell.
        drivers_per_cell: idle drivers placed in every cell at the start of an episode.
        max_trip_steps: longest trip, in steps (``l_max``); also the number of histogram bins.
        episode_steps: decisions per episode (144 steps of 10 minutes = one day).
        step_minutes: minutes per step (documentation and real-data binning only).
        base_rate_low, base_rate_high: per-cell base order rate drawn uniformly from the integers
            ``[low, high]`` (orders per cell and step) with ``demand_seed``.
        rate_noise: per (step, cell) integer noise drawn uniformly from ``[-noise, noise]`` once per
            city; the Poisson rate is ``max(0, base + noise)``.
        demand_seed: seed of the city (base rates and noise), fixed across episodes.
        demand: ``"stochastic"`` (the order stream is a function of ``reset(seed)``) or
            ``"reference"`` (the same order stream every episode, as the reference code has).
        action_mode: ``"dispatch"`` (pick orders for idle drivers) or ``"reposition"`` (send
            shares of idle drivers to neighbour cells; orders are matched oldest first).
        max_orders: pending orders visible to a cell's agent per step (candidate slots 1..K).
        patience: steps an order waits after its creation step before it expires.
        reward_scale: divisor of served prices in the reward (50 = the reference's 0.1 / 5).
        faithful: reproduce the reference observation's histogram quirks (research note §2.13).
        duration_probs, price_mean, price_std: trip-length weights and price mean/std for trips
            of 1..len(duration_probs) steps (longer trips need longer tables).
    """

    rows: int = 6
    cols: int = 6
    drivers_per_cell: int = 10
    max_trip_steps: int = 3
    episode_steps: int = 144
    step_minutes: int = 10
    base_rate_low: int = 2
    base_rate_high: int = 9
    rate_noise: int = 2
    demand_seed: int = 0
    demand: str = "stochastic"
    action_mode: str = "dispatch"
    max_orders: int = 50
    patience: int = 1
    reward_scale: float = 50.0
    faithful: bool = False
    duration_probs: tuple[float, ...] = REFERENCE_DURATION_PROBS
    price_mean: tuple[float, ...] = REFERENCE_PRICE_MEAN
    price_std: tuple[float, ...] = REFERENCE_PRICE_STD

    def __post_init__(self) -> None:
        check_int("rows", self.rows, 1, MAX_CELLS)
        check_int("cols", self.cols, 1, MAX_CELLS)
        if self.rows * self.cols > MAX_CELLS:
            raise ValueError(
                f"rows * cols must be at most {MAX_CELLS} cells, got {self.rows}x{self.cols}"
            )
        check_int("drivers_per_cell", self.drivers_per_cell, 0, 10**6)
        check_int("episode_steps", self.episode_steps, 1, 10**5)
        check_int("step_minutes", self.step_minutes, 1, 24 * 60)
        n_durations = len(self.duration_probs)
        check_int("max_trip_steps", self.max_trip_steps, 1, n_durations)
        check_int("base_rate_low", self.base_rate_low, 0, 10**4)
        check_int("base_rate_high", self.base_rate_high, self.base_rate_low, 10**4)
        check_int("rate_noise", self.rate_noise, 0, 10**4)
        check_int("demand_seed", self.demand_seed, 0, 2**63 - 1)
        check_choice("demand", self.demand, DEMAND_MODES)
        check_choice("action_mode", self.action_mode, ACTION_MODES)
        check_int("max_orders", self.max_orders, 1, 10**4)
        check_int("patience", self.patience, 0, 10**4)
        check_number("reward_scale", self.reward_scale, low=0.0, low_inclusive=False)
        if not isinstance(self.faithful, bool):
            raise ValueError(f"faithful must be a bool, got {self.faithful!r}")
        for name in ("duration_probs", "price_mean", "price_std"):
            values = np.asarray(getattr(self, name), dtype=np.float64)
            if values.shape != (n_durations,) or not np.all(np.isfinite(values)):
                raise ValueError(
                    f"{name} must hold {n_durations} finite numbers (one per trip length 1.."
                    f"{n_durations}), got {getattr(self, name)!r}"
                )
            if np.any(values < 0):
                raise ValueError(f"{name} must be non-negative, got {getattr(self, name)!r}")
        if float(np.sum(self.duration_probs[: self.max_trip_steps])) <= 0:
            raise ValueError("duration_probs must give positive mass to trips of 1..max_trip_steps")

    @property
    def n_cells(self) -> int:
        """Number of cells (= agents)."""
        return self.rows * self.cols

    @property
    def n_drivers(self) -> int:
        """Fleet size (constant over the episode)."""
        return self.drivers_per_cell * self.n_cells

    def memory_bytes(self, synthetic_demand: bool = True) -> int:
        """Estimated peak memory of an episode in bytes (checked before a simulator is built).

        Measured on the simulator: about 24 bytes per (step, cell) (rates, noise, arrivals),
        8 per pair of cells (the distance table and its temporary) and, for synthetic demand,
        128 per order of the day (its arrays and the sampling's temporaries), with
        ``episode_steps * cells * ((base_rate_low + base_rate_high) / 2 + rate_noise / 4)``
        orders expected. Recorded demand brings its own orders (already in memory).
        """
        g = self.n_cells
        total = 24 * (self.episode_steps + self.max_trip_steps + 1) * g + 8 * g * g
        if synthetic_demand:
            rate = (self.base_rate_low + self.base_rate_high) / 2 + self.rate_noise / 4
            total += int(128 * self.episode_steps * g * rate)
        return total

    def trip_length_probs(self) -> np.ndarray:
        """(max_trip_steps,) float64: probability of a trip of 1..max_trip_steps steps."""
        p = np.asarray(self.duration_probs[: self.max_trip_steps], dtype=np.float64)
        return p / p.sum()

    def replace(self, **changes: Any) -> RideHailingConfig:
        """A copy with some fields changed (validated); unknown names raise ``ValueError``."""
        return replace_config(self, "ride-hailing", changes)


#: The DyPS paper's scenarios (Table 1; sizes from the reference code, research note §8.1).
PRESETS: dict[str, RideHailingConfig] = {
    "ride-hailing-1": RideHailingConfig(
        rows=6, cols=6, drivers_per_cell=10, max_trip_steps=3, base_rate_low=2, base_rate_high=9
    ),
    "ride-hailing-2": RideHailingConfig(
        rows=10, cols=10, drivers_per_cell=10, max_trip_steps=5, base_rate_low=0, base_rate_high=9
    ),
}


#: The preset used when none is named.
DEFAULT_PRESET = "ride-hailing-1"


def make_config(preset: str = DEFAULT_PRESET, **overrides: Any) -> RideHailingConfig:
    """The configuration of ``preset`` with ``overrides`` applied."""
    check_choice("preset", preset, tuple(PRESETS))
    base = PRESETS[preset]
    return base.replace(**overrides) if overrides else base
