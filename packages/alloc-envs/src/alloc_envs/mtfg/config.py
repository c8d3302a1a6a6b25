"""Configuration and presets of MTFG (multi-type food gathering, TIRL paper §5).

Units: food in units per follower (the population is the unit of mass, so the mean-field and
N-agent fidelities share every number); values, bonuses and costs in reward units per unit of
food or per move. Everything beyond the paper's sentence (a grid, two food types in the
bottom-left and top-right zones, a leader who pays incentives to raise the collection ratio) is
our choice, following ``smfg-reference.md`` §6.5-6.6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alloc_envs.core.config import build_config as core_build_config
from alloc_envs.core.config import replace_config
from alloc_envs.core.validation import check_int, check_number
from alloc_envs.stackelberg.config import check_solver_fields

#: Food types are placed in this order of corners: bottom-left, top-right, top-left,
#: bottom-right (the paper's two types: bottom-left and top-right).
MAX_TYPES = 4


@dataclass(frozen=True)
class MTFGConfig:
    """All parameters of an MTFG game. Validated at construction (``ValueError``).

    Map:
        grid_size: W, a W x W grid of cells (row 0 at the top); followers start uniformly.
        n_types: K food types, one square cluster each, in the corners (see ``MAX_TYPES``).
        cluster_size: side of each type's square cluster of food cells.
        horizon: T steps.
    Food (units per follower and food cell):
        initial_stock: stock of every food cell at t = 0.
        max_stock: a cell's stock never exceeds this.
        regrowth: units added to every food cell at the start of every step (up to max_stock).
    Values:
        follower_values: (K,) w_k, a follower's value of one unit of type k (followers prefer
            the first type).
        leader_values: (K,) v_k, the leader's value of one unit of type k.
        move_cost: a follower's cost of moving one cell.
        bonus_high: the leader's bonus per unit of each type lies in [0, bonus_high].
    Followers' default responder (the exact solver):
        follower_temperature: entropy weight; solver_tolerance: target exploitability (reward
        units per follower and episode); solver_max_iterations: iteration cap per response.
    """

    grid_size: int = 10
    n_types: int = 2
    cluster_size: int = 2
    horizon: int = 24
    initial_stock: float = 0.5
    max_stock: float = 0.5
    regrowth: float = 0.125
    follower_values: tuple[float, ...] = (1.0, 0.4)
    leader_values: tuple[float, ...] = (0.4, 1.0)
    move_cost: float = 0.01
    bonus_high: float = 1.0
    follower_temperature: float = 0.05
    solver_tolerance: float = 1e-4
    solver_max_iterations: int = 300

    def __post_init__(self) -> None:
        check_int("grid_size", self.grid_size, 2, 64)
        check_int("n_types", self.n_types, 1, MAX_TYPES)
        check_int("cluster_size", self.cluster_size, 1, self.grid_size // 2)
        check_int("horizon", self.horizon, 1, 10_000)
        check_number("max_stock", self.max_stock, 0.0, 1e3, low_inclusive=False)
        check_number("initial_stock", self.initial_stock, 0.0, self.max_stock)
        check_number("regrowth", self.regrowth, 0.0, self.max_stock)
        for name in ("follower_values", "leader_values"):
            values = getattr(self, name)
            if not isinstance(values, tuple) or len(values) != self.n_types:
                raise ValueError(f"{name} must be a tuple of n_types={self.n_types} numbers")
            for i, value in enumerate(values):
                check_number(f"{name}[{i}]", value, 0.0, 1e3)
        check_number("move_cost", self.move_cost, 0.0, 1e3)
        check_number("bonus_high", self.bonus_high, 0.0, 1e3, low_inclusive=False)
        check_solver_fields(self)

    def replace(self, **changes: Any) -> MTFGConfig:
        """A copy with some fields changed (validated); unknown names raise ``ValueError``."""
        return replace_config(self, "mtfg", changes)


#: ``mtfg``: 10 x 10 grid, two types in 2 x 2 clusters (bottom-left, top-right), 24 steps.
#: ``mtfg-small``: 5 x 5 grid, single-cell food, 8 steps (tests and smoke runs).
PRESETS: dict[str, MTFGConfig] = {
    "mtfg": MTFGConfig(),
    "mtfg-small": MTFGConfig(
        grid_size=5, cluster_size=1, horizon=8, initial_stock=0.5, max_stock=0.5, regrowth=0.5
    ),
}
DEFAULT_PRESET = "mtfg"


def build_config(
    preset: str | None, config: MTFGConfig | None, overrides: dict[str, Any]
) -> MTFGConfig:
    """The config from ``config`` or ``preset`` (default ``"mtfg"``), plus overrides."""
    return core_build_config(PRESETS, DEFAULT_PRESET, preset, config, overrides, "mtfg")
