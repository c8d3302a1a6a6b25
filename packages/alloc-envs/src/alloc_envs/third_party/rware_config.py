"""Configuration and presets of the multi-robot warehouse (RWARE) with coloured agent types.

Units: sizes in cells, time in steps. The warehouse layout is upstream's: ``shelf_rows`` x
``shelf_columns`` blocks of 2-wide, ``column_height``-deep shelf columns, a grid of
``((column_height + 1) * shelf_rows + 2)`` rows by ``3 * shelf_columns + 1`` columns, and two
goal (workstation) cells in the middle of the bottom row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from alloc_envs.core.config import build_config, replace_config
from alloc_envs.core.validation import check_choice, check_int

#: Upstream's action count: NOOP, FORWARD, LEFT, RIGHT, TOGGLE_LOAD.
N_RWARE_ACTIONS = 5
#: Colour names, in colour-index order (documentation and rendering).
COLOR_NAMES = ("red", "blue", "green", "yellow")
REWARDS = ("individual", "global")


@dataclass(frozen=True)
class RWAREConfig:
    """All parameters of a typed warehouse. Validated at construction (``ValueError``).

    Attributes:
        shelf_rows, shelf_columns, column_height: upstream's layout parameters
            (``shelf_columns`` odd).
        n_agents: number of robots N.
        request_queue_size: shelves requested at any time, split evenly between the colours.
        n_colors: number of agent types K (1 = upstream's untyped warehouse).
        agent_colors: colour of each agent, fixed for the lifetime of the environment. ``None``:
            contiguous, as even as possible blocks (agents 0 .. N/K - 1 colour 0, ...).
        sensor_range: observation radius in cells (a (2r + 1)^2 window).
        time_limit: steps per episode before truncation (there is no termination).
        reward: ``"individual"`` (+1 to the robot that delivers) or ``"global"`` (+1 to all).
        permute_observations: each colour sees its observation vector in its own fixed order.
        roll_actions: colour c's action a is upstream's action (a + c) mod 5.
        type_seed: seed of the per-colour observation orders (fixed across episodes).
    """

    shelf_rows: int = 2
    shelf_columns: int = 3
    column_height: int = 8
    n_agents: int = 8
    request_queue_size: int = 4
    n_colors: int = 2
    agent_colors: tuple[int, ...] | None = None
    sensor_range: int = 1
    time_limit: int = 500
    reward: str = "individual"
    permute_observations: bool = True
    roll_actions: bool = True
    type_seed: int = 0

    def __post_init__(self) -> None:
        check_int("shelf_rows", self.shelf_rows, 1, 16)
        check_int("shelf_columns", self.shelf_columns, 1, 31)
        if self.shelf_columns % 2 != 1:
            raise ValueError(
                f"shelf_columns must be odd (upstream layout), got {self.shelf_columns}"
            )
        check_int("column_height", self.column_height, 1, 32)
        check_int("n_agents", self.n_agents, 1, self.grid_shape[0] * self.grid_shape[1])
        check_int("n_colors", self.n_colors, 1, len(COLOR_NAMES))
        check_int("request_queue_size", self.request_queue_size, self.n_colors, 10**6)
        if self.request_queue_size % self.n_colors:
            raise ValueError(
                f"request_queue_size must be a multiple of n_colors={self.n_colors} (the queue "
                f"is split evenly between colours), got {self.request_queue_size}"
            )
        per_color = self.n_shelves // self.n_colors
        if self.request_queue_size // self.n_colors >= per_color:
            raise ValueError(
                f"request_queue_size must be < {per_color * self.n_colors} (fewer requests per "
                f"colour than the {per_color} shelves of a colour), got {self.request_queue_size}"
            )
        if isinstance(self.agent_colors, list):  # e.g. from a JSON/TOML suite file
            object.__setattr__(self, "agent_colors", tuple(self.agent_colors))
        if self.agent_colors is not None:
            if not isinstance(self.agent_colors, tuple) or len(self.agent_colors) != self.n_agents:
                raise ValueError(
                    f"agent_colors must be a tuple of n_agents={self.n_agents} colours or None, "
                    f"got {self.agent_colors!r}"
                )
            for i, color in enumerate(self.agent_colors):
                check_int(f"agent_colors[{i}]", color, 0, self.n_colors - 1)
        missing = sorted(set(range(self.n_colors)) - set(self.colors))
        if missing:
            raise ValueError(
                f"every colour needs at least one agent (n_agents={self.n_agents}, "
                f"n_colors={self.n_colors}, agent_colors={self.agent_colors}); none of {missing}"
            )
        check_int("sensor_range", self.sensor_range, 1, 5)
        check_int("time_limit", self.time_limit, 1, 10**6)
        check_choice("reward", self.reward, REWARDS)
        for name in ("permute_observations", "roll_actions"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        check_int("type_seed", self.type_seed, 0, 2**32 - 1)

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, columns) of the warehouse grid, as upstream builds it."""
        return (self.column_height + 1) * self.shelf_rows + 2, 3 * self.shelf_columns + 1

    @property
    def n_shelves(self) -> int:
        """Shelves in the warehouse: upstream's storage cells, less the queueing lane in front of
        the goals (the middle two columns of the bottom block)."""
        lanes = 2 * self.column_height  # the two middle columns of the bottom shelf row
        return 2 * self.shelf_columns * self.column_height * self.shelf_rows - lanes

    @property
    def colors(self) -> tuple[int, ...]:
        """The agent colours (types): ``agent_colors`` or contiguous even blocks."""
        if self.agent_colors is not None:
            return self.agent_colors
        return tuple(i * self.n_colors // self.n_agents for i in range(self.n_agents))

    def replace(self, **changes: Any) -> RWAREConfig:
        """A copy with some fields changed (validated); unknown names raise ``ValueError``."""
        return replace_config(self, "RWARE", changes)


#: DyPS paper Table 1: RWARE (1) and (2) have 200 cells (upstream's "small" layout, 20 x 10),
#: 8 and 16 robots and 4 and 8 requests (upstream's "-hard" queue, N / 2). Two colours as in the
#: SePS setups; time limit 500 (upstream, SePS).
PRESETS: dict[str, RWAREConfig] = {
    "rware-1": RWAREConfig(n_agents=8, request_queue_size=4),
    "rware-2": RWAREConfig(n_agents=16, request_queue_size=8),
}
DEFAULT_PRESET = "rware-1"


def make_rware_config(
    preset: str | None = None, config: RWAREConfig | None = None, **overrides: Any
) -> RWAREConfig:
    """The config of ``preset`` (default ``"rware-1"``) or ``config``, with ``overrides``."""
    return build_config(PRESETS, DEFAULT_PRESET, preset, config, overrides, "RWARE")
