"""RWARE as a joint scenario: colour features, per-colour observation orders and action labels,
seeding from the view's generator, and the time limit as truncation.

The rules live in :class:`~alloc_envs.third_party.rware_typed.TypedWarehouse`; this module builds
the fixed-shape arrays of the views.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from alloc_envs.rendering import NAMED_RGB, Frame, Panel
from alloc_envs.third_party.actions import check_joint_discrete_action
from alloc_envs.third_party.rware_config import COLOR_NAMES, N_RWARE_ACTIONS, RWAREConfig
from alloc_envs.third_party.rware_typed import TypedWarehouse

#: Upstream's per-agent features before the sensor cells, and per sensor cell.
SELF_FEATURES = ("x", "y", "carrying", "dir_up", "dir_down", "dir_left", "dir_right", "highway")
#: Robot headings in pictures, by upstream's Direction value (UP, DOWN, LEFT, RIGHT).
_ARROWS = "↑↓←→"
CELL_FEATURES = (
    "has_agent",
    "agent_up",
    "agent_down",
    "agent_left",
    "agent_right",
    "has_shelf",
    "requested",
)


class RWAREScenario:
    """N robots of K colours in a warehouse (upstream layout; see ``RWAREConfig``).

    Per agent, the *canonical* feature vector (length ``8 + 7 C + K + C K`` with C = (2r + 1)^2
    sensor cells; 91 for the presets) is :data:`feature_names`: upstream's 71 features (own x,
    y, carrying, direction one-hot, on-highway; then per sensor cell, row-major: agent present,
    its direction one-hot, shelf present, shelf requested), then the agent's colour one-hot,
    then per sensor cell the one-hot colour of the shelf there.

    Joint observation: ``{"observation": (N, D) float32}``, where agent i's row is its canonical
    vector reordered by its colour's fixed permutation ``observation_order[color]`` (identity
    when ``permute_observations`` is off). Every action is valid, so there is no action mask.

    Joint action: (N,) integers in 0..4. With ``roll_actions``, agent i of colour c choosing a
    plays upstream's action ``(a + c) mod 5`` (NOOP, FORWARD, LEFT, RIGHT, TOGGLE_LOAD).
    Rewards: (N,) float64, +1 to the agent delivering a requested shelf of its colour (or to all
    agents with ``reward="global"``). State: (N D,) float32, the canonical vectors in agent order.
    """

    def __init__(self, config: RWAREConfig) -> None:
        self.config = config
        self.agent_prefix = "agent"
        self.n_agents = config.n_agents
        self.n_actions = N_RWARE_ACTIONS
        self.agent_types: tuple[int, ...] = tuple(config.colors)
        self._colors = np.asarray(config.colors, dtype=np.int64)
        self.warehouse = TypedWarehouse(
            agent_colors=config.colors,
            n_colors=config.n_colors,
            reward_global=config.reward == "global",
            shelf_columns=config.shelf_columns,
            column_height=config.column_height,
            shelf_rows=config.shelf_rows,
            sensor_range=config.sensor_range,
            request_queue_size=config.request_queue_size,
        )
        k = config.n_colors
        cells = (2 * config.sensor_range + 1) ** 2
        self.feature_names: tuple[str, ...] = (
            SELF_FEATURES
            + tuple(f"cell{c}_{f}" for c in range(cells) for f in CELL_FEATURES)
            + tuple(f"own_{COLOR_NAMES[j]}" for j in range(k))
            + tuple(f"cell{c}_shelf_{COLOR_NAMES[j]}" for c in range(cells) for j in range(k))
        )
        self.obs_dim = len(self.feature_names)
        upstream_dim = int(self.warehouse.observation_space[0].shape[0])
        if upstream_dim + k + cells * k != self.obs_dim:  # guards against an upstream change
            raise RuntimeError(f"unexpected rware observation length {upstream_dim}")
        order_rng = np.random.default_rng(config.type_seed)
        #: (K, D) int64: colour c's agents see canonical feature ``order[c, j]`` at position j.
        self.observation_order = np.stack(
            [
                order_rng.permutation(self.obs_dim)
                if config.permute_observations
                else np.arange(self.obs_dim)
                for _ in range(k)
            ]
        )
        self._row_order = self.observation_order[self._colors]
        high = float(max(config.grid_shape) - 1)  # coordinates; every other feature is 0/1
        self.agent_observation_space = spaces.Dict(
            {"observation": spaces.Box(0.0, high, shape=(self.obs_dim,), dtype=np.float32)}
        )
        self.joint_observation_space = spaces.Dict(
            {
                "observation": spaces.Box(
                    0.0, high, shape=(self.n_agents, self.obs_dim), dtype=np.float32
                )
            }
        )
        self.agent_action_space = spaces.Discrete(N_RWARE_ACTIONS)
        self.joint_action_space = spaces.MultiDiscrete(
            np.full(self.n_agents, N_RWARE_ACTIONS, dtype=np.int64)
        )
        self.state_space = spaces.Box(
            0.0, high, shape=(self.n_agents * self.obs_dim,), dtype=np.float32
        )
        self._features = np.zeros((self.n_agents, self.obs_dim), dtype=np.float32)
        self._t = 0
        self._started = False

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Start an episode drawing every random number from ``rng``."""
        self.warehouse.np_random = rng
        obs, _ = self.warehouse.reset()
        self._features = self._canonical(obs)
        self._t = 0
        self._started = True
        return self.observe()

    def step(self, action: Any) -> np.ndarray:
        """Apply a joint action (``ValueError`` if malformed); the (N,) float64 rewards."""
        joint = check_joint_discrete_action(
            action, self.n_agents, N_RWARE_ACTIONS, self.agent_prefix
        )
        if self.config.roll_actions:
            joint = (joint + self._colors) % N_RWARE_ACTIONS
        obs, rewards, _, _, _ = self.warehouse.step(joint.tolist())
        self._features = self._canonical(obs)
        self._t += 1
        return np.asarray(rewards, dtype=np.float64)

    def _canonical(self, upstream_obs: tuple) -> np.ndarray:
        return np.concatenate(
            [np.stack(upstream_obs), self.warehouse.color_features()], axis=1, dtype=np.float32
        )

    @property
    def terminated(self) -> bool:
        """Never: the warehouse has no terminal state."""
        return False

    @property
    def truncated(self) -> bool:
        """``time_limit`` steps taken."""
        return self._started and self._t >= self.config.time_limit

    def observe(self) -> dict[str, np.ndarray]:
        """The joint observation (a fresh array): each row in its colour's order."""
        return {"observation": np.take_along_axis(self._features, self._row_order, axis=1)}

    def canonical_observation(self) -> np.ndarray:
        """(N, D) float32: the features in :data:`feature_names` order (fresh array)."""
        return self._features.copy()

    def state(self) -> np.ndarray:
        """(N D,) float32: the canonical feature vectors in agent order."""
        return self._features.reshape(-1).copy()

    def metrics(self, rewards: np.ndarray | None = None) -> dict[str, Any]:
        """``step``, ``deliveries`` (episode total), ``deliveries_by_color`` (K,) and
        ``wrong_color_arrivals`` (episode to date)."""
        wh = self.warehouse
        return {
            "step": self._t,
            "deliveries": int(wh.deliveries.sum()),
            "deliveries_by_color": wh.deliveries.copy(),
            "wrong_color_arrivals": int(wh.wrong_color_arrivals),
        }

    def render_ansi(self) -> str:
        """The grid, one line per row: ``.`` corridor, ``_`` empty storage cell, ``=`` goal,
        a shelf as the first letter of its colour (``r``, ``b``, ...; upper case when
        requested), a robot as the digit of its colour (hiding the shelf it carries); then one
        status line."""
        if not self._started:
            return "(no episode yet: call reset())"
        wh = self.warehouse
        rows, cols = wh.grid_size
        chars = [["." if wh.highways[y, x] else "_" for x in range(cols)] for y in range(rows)]
        for gx, gy in wh.goals:
            chars[gy][gx] = "="
        requested = {s.id for s in wh.request_queue}
        for shelf in wh.shelfs:
            letter = COLOR_NAMES[int(wh.shelf_colors[shelf.id - 1])][0]
            chars[shelf.y][shelf.x] = letter.upper() if shelf.id in requested else letter
        for agent in wh.agents:
            chars[agent.y][agent.x] = str(int(wh.agent_colors[agent.id - 1]))
        m = self.metrics()
        lines = ["".join(row) for row in chars]
        lines.append(
            f"step {self._t}/{self.config.time_limit}, deliveries {m['deliveries']} "
            f"(by colour {m['deliveries_by_color'].tolist()})"
        )
        return "\n".join(lines)

    def render_frame(self) -> Frame:
        """The warehouse (drawn here: upstream's pyglet renderer needs a display): corridors
        light, storage cells grey, goals dark (``G``), shelves in a pale version of their colour
        (full colour and ``!`` when requested), robots in a dark version of their colour with
        their index and heading (``3→``; ``3→*`` when carrying a shelf); deliveries in the
        title."""
        wh = self.warehouse
        rows, cols = wh.grid_size
        rgb = np.empty((rows, cols, 3))
        rgb[:] = NAMED_RGB["background"]
        rgb[np.asarray(wh.highways) == 0] = (0.82, 0.82, 0.82)
        text = np.full((rows, cols), "", dtype=object)
        for gx, gy in wh.goals:
            rgb[gy, gx] = NAMED_RGB["dark"]
            text[gy, gx] = "G"
        colors = np.asarray([NAMED_RGB[name] for name in COLOR_NAMES])
        requested = {shelf.id for shelf in wh.request_queue}
        for shelf in wh.shelfs:
            color = colors[int(wh.shelf_colors[shelf.id - 1]) % len(colors)]
            if shelf.id in requested:
                rgb[shelf.y, shelf.x] = color
                text[shelf.y, shelf.x] = "!"
            else:
                rgb[shelf.y, shelf.x] = 0.6 + 0.4 * color
        for agent in wh.agents:
            color = colors[int(wh.agent_colors[agent.id - 1]) % len(colors)]
            rgb[agent.y, agent.x] = 0.55 * color
            load = "*" if agent.carrying_shelf is not None else ""
            text[agent.y, agent.x] = f"{agent.id - 1}{_ARROWS[agent.dir.value]}{load}"
        m = self.metrics()
        title = (
            f"RWARE  step {self._t}/{self.config.time_limit}  deliveries {m['deliveries']} "
            f"(by colour {m['deliveries_by_color'].tolist()})"
        )
        return Frame(
            title, (Panel("warehouse (robots: index + heading)", rgb, "image", text=text),)
        )
