"""Configuration and presets of Level-Based Foraging (LBF) with persistent agent levels.

Units: grid sizes in cells, time in steps; levels are the integers of LBF (an agent of level ``l``
contributes ``l`` to loading a food; a food of level ``f`` is collected when the levels of the
agents loading it next to it sum to at least ``f``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alloc_envs.core.config import build_config, replace_config
from alloc_envs.core.validation import check_int, check_number

#: Upstream's action count: NONE, NORTH, SOUTH, WEST, EAST, LOAD.
N_LBF_ACTIONS = 6
#: Largest supported field side and level (a level is one character in the text rendering).
MAX_GRID = 64
MAX_LEVEL = 9


@dataclass(frozen=True)
class LBFConfig:
    """All parameters of an LBF task. Validated at construction (``ValueError`` naming the field).

    Attributes:
        grid_size: side of the square field, in cells.
        n_agents: number of agents N.
        n_foods: foods spawned per episode (upstream stops after 1,000 placement attempts, so a
            crowded field may get fewer; ``info["foods_spawned"]`` reports the count).
        agent_levels: level of each agent, fixed for the lifetime of the environment (the agent
            types). ``None``: the first ``N // 2`` agents have level 1, the others level 2.
        min_food_level: lowest food level.
        max_food_level: highest food level; ``None`` is upstream's rule, the sum of the three
            lowest agent levels (3 for the presets), so every food can be collected.
        sight: observation radius in cells; ``None`` sees the whole field.
        time_limit: steps per episode before truncation.
        force_coop: every food gets ``max_food_level`` (upstream's ``-coop`` tasks).
        penalty: reward subtracted from each agent of a failed LOAD (upstream default 0).
        normalize_reward: divide rewards so that an episode's team return is at most 1.
    """

    grid_size: int = 10
    n_agents: int = 6
    n_foods: int = 4
    agent_levels: tuple[int, ...] | None = None
    min_food_level: int = 1
    max_food_level: int | None = None
    sight: int | None = None
    time_limit: int = 50
    force_coop: bool = False
    penalty: float = 0.0
    normalize_reward: bool = True

    def __post_init__(self) -> None:
        check_int("grid_size", self.grid_size, 3, MAX_GRID)
        cells = self.grid_size**2
        check_int("n_agents", self.n_agents, 1, cells - 1)
        interior = (self.grid_size - 2) ** 2
        check_int("n_foods", self.n_foods, 1, min(interior, cells - self.n_agents))
        if isinstance(self.agent_levels, list):  # e.g. from a JSON/TOML suite file
            object.__setattr__(self, "agent_levels", tuple(self.agent_levels))
        if self.agent_levels is not None:
            if not isinstance(self.agent_levels, tuple) or len(self.agent_levels) != self.n_agents:
                raise ValueError(
                    f"agent_levels must be a tuple of n_agents={self.n_agents} levels or None, "
                    f"got {self.agent_levels!r}"
                )
            for i, level in enumerate(self.agent_levels):
                check_int(f"agent_levels[{i}]", level, 1, MAX_LEVEL)
        check_int("min_food_level", self.min_food_level, 1, MAX_LEVEL)
        if self.max_food_level is not None:
            check_int("max_food_level", self.max_food_level, self.min_food_level, MAX_LEVEL)
        elif self.default_max_food_level < self.min_food_level:
            raise ValueError(
                f"min_food_level must be <= the sum of the three lowest agent levels "
                f"({self.default_max_food_level}) when max_food_level is None, "
                f"got {self.min_food_level}"
            )
        if self.sight is not None:
            check_int("sight", self.sight, 1, self.grid_size)
        check_int("time_limit", self.time_limit, 1, 10**6)
        if not isinstance(self.force_coop, bool):
            raise ValueError(f"force_coop must be a bool, got {self.force_coop!r}")
        check_number("penalty", self.penalty, 0.0)
        if not isinstance(self.normalize_reward, bool):
            raise ValueError(f"normalize_reward must be a bool, got {self.normalize_reward!r}")

    @property
    def levels(self) -> tuple[int, ...]:
        """The agent levels (types), ``agent_levels`` or the default half 1 / half 2 split."""
        if self.agent_levels is not None:
            return self.agent_levels
        half = self.n_agents // 2
        return (1,) * half + (2,) * (self.n_agents - half)

    @property
    def default_max_food_level(self) -> int:
        """Upstream's highest food level: the sum of the three lowest agent levels."""
        return sum(sorted(self.levels)[:3])

    @property
    def food_level_high(self) -> int:
        """The highest food level that can occur."""
        return self.default_max_food_level if self.max_food_level is None else self.max_food_level

    @property
    def view_radius(self) -> int:
        """``sight`` or the field size (whole field visible)."""
        return self.grid_size if self.sight is None else self.sight

    def replace(self, **changes: Any) -> LBFConfig:
        """A copy with some fields changed (validated); unknown names raise ``ValueError``."""
        return replace_config(self, "LBF", changes)


#: DyPS paper Table 1: LBF (1) has 100 cells, 6 agents, 4 foods; LBF (2) 100 cells, 12 agents,
#: 10 foods. Time limit 50 (upstream's registered tasks, EPyMARL).
PRESETS: dict[str, LBFConfig] = {
    "lbf-1": LBFConfig(grid_size=10, n_agents=6, n_foods=4),
    "lbf-2": LBFConfig(grid_size=10, n_agents=12, n_foods=10),
}
DEFAULT_PRESET = "lbf-1"


def make_lbf_config(
    preset: str | None = None, config: LBFConfig | None = None, **overrides: Any
) -> LBFConfig:
    """The config of ``preset`` (default ``"lbf-1"``) or ``config``, with ``overrides``."""
    return build_config(PRESETS, DEFAULT_PRESET, preset, config, overrides, "LBF")
