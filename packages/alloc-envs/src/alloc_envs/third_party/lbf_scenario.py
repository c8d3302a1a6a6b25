"""LBF as a joint scenario: agent-major arrays, seeding from the view's generator, time limit.

The upstream environment (:class:`~alloc_envs.third_party.lbf_upstream.SeededForagingEnv`) keeps
the rules; this module turns its ``Tuple`` spaces into fixed-shape arrays, derives the action
mask from upstream's valid moves, and reports the end of an episode correctly: ``terminated``
when all food is collected, ``truncated`` when ``time_limit`` steps have passed first.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from alloc_envs.rendering import NAMED_RGB, PALETTE, Frame, Panel
from alloc_envs.third_party.actions import check_joint_discrete_action
from alloc_envs.third_party.lbf_config import N_LBF_ACTIONS, LBFConfig
from alloc_envs.third_party.lbf_upstream import SeededForagingEnv

_AGENT_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Colour of a food cell in pictures.
_FOOD_RGB = (0.96, 0.85, 0.50)


class LBFScenario:
    """N foragers on a ``grid_size`` x ``grid_size`` field.

    Joint observation (fresh arrays at every call):

    * ``"observation"`` (N, 3 (F + N)) float32: upstream's vector per agent — for each of the F
      food slots ``(row, col, level)`` of a visible food, then for each of the N agent slots
      ``(row, col, level)`` with the observing agent first and the others in index order;
      ``(-1, -1, 0)`` for empty slots. With full sight, coordinates are absolute.
    * ``"action_mask"`` (N, 6) int8: 1 where an action is valid (NONE always; a move when the
      target cell is inside the field and holds no food; LOAD when food is adjacent). Invalid
      actions are not errors: upstream turns them into NONE.

    Joint action: (N,) integers in 0..5 = NONE, NORTH, SOUTH, WEST, EAST, LOAD.
    Rewards: upstream's (N,) float64 — when a food of level f is collected by loading agents
    whose levels sum to L, each of them gets ``level * f / (L * total level of the episode's
    foods)`` (so the team return of an episode is at most 1), minus ``penalty`` for a failed LOAD.
    State: (3 (F + N),) float32 — the foods (row-major order) then every agent in index order,
    ``(row, col, level)`` each, in absolute coordinates.
    """

    def __init__(self, config: LBFConfig) -> None:
        self.config = config
        self.agent_prefix = "agent"
        self.n_agents = config.n_agents
        self.n_actions = N_LBF_ACTIONS
        self.agent_types: tuple[int, ...] = tuple(config.levels)
        self.env = SeededForagingEnv(
            agent_levels=config.levels,
            min_food_level=config.min_food_level,
            max_food_level=config.max_food_level,
            field_size=(config.grid_size, config.grid_size),
            max_num_food=config.n_foods,
            sight=config.view_radius,
            max_episode_steps=config.time_limit,
            force_coop=config.force_coop,
            normalize_reward=config.normalize_reward,
            penalty=float(config.penalty),
        )
        upstream_space = self.env.observation_space[0]
        self.obs_dim = int(upstream_space.shape[0])
        self.agent_observation_space = self._observation_space(upstream_space, ())
        self.joint_observation_space = self._observation_space(upstream_space, (self.n_agents,))
        self.agent_action_space = spaces.Discrete(N_LBF_ACTIONS)
        self.joint_action_space = spaces.MultiDiscrete(
            np.full(self.n_agents, N_LBF_ACTIONS, dtype=np.int64)
        )
        self.state_space = self._state_space()
        self._obs = np.zeros((self.n_agents, self.obs_dim), dtype=np.float32)
        self._t = 0
        self._started = False
        self._terminated = False
        self._foods_spawned = 0

    # ------------------------------------------------------------------ spaces
    def _observation_space(self, upstream: spaces.Box, lead: tuple[int, ...]) -> spaces.Dict:
        low = np.broadcast_to(upstream.low, lead + upstream.shape).astype(np.float32)
        high = np.broadcast_to(upstream.high, lead + upstream.shape).astype(np.float32)
        return spaces.Dict(
            {
                "observation": spaces.Box(low, high, dtype=np.float32),
                "action_mask": spaces.Box(0, 1, shape=(*lead, N_LBF_ACTIONS), dtype=np.int8),
            }
        )

    def _state_space(self) -> spaces.Box:
        cfg = self.config
        edge = cfg.grid_size - 1
        food = [edge, edge, cfg.food_level_high] * cfg.n_foods
        agents = [edge, edge, max(cfg.levels)] * cfg.n_agents
        high = np.asarray(food + agents, dtype=np.float32)
        low = np.tile(np.asarray([-1, -1, 0], dtype=np.float32), cfg.n_foods + cfg.n_agents)
        return spaces.Box(low, high, dtype=np.float32)

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Start an episode drawing every random number from ``rng``."""
        self.env.np_random = rng
        obs, _ = self.env.reset()
        self._obs = np.stack(obs).astype(np.float32, copy=False)
        self._t = 0
        self._started = True
        self._terminated = False
        self._foods_spawned = int(np.count_nonzero(self.env.field))
        return self.observe()

    def step(self, action: Any) -> np.ndarray:
        """Apply a joint action (``ValueError`` if malformed); the (N,) float64 rewards."""
        joint = check_joint_discrete_action(action, self.n_agents, N_LBF_ACTIONS, self.agent_prefix)
        obs, rewards, _, _, _ = self.env.step(joint.tolist())
        self._obs = np.stack(obs).astype(np.float32, copy=False)
        self._t += 1
        self._terminated = not self.env.field.any()
        return np.asarray(rewards, dtype=np.float64)

    @property
    def terminated(self) -> bool:
        """All food collected."""
        return self._started and self._terminated

    @property
    def truncated(self) -> bool:
        """``time_limit`` steps taken with food left."""
        return self._started and not self._terminated and self._t >= self.config.time_limit

    def observe(self) -> dict[str, np.ndarray]:
        """The joint observation (fresh arrays)."""
        return {"observation": self._obs.copy(), "action_mask": self.action_mask()}

    def action_mask(self) -> np.ndarray:
        """(N, 6) int8: 1 for the actions upstream considers valid now."""
        mask = np.zeros((self.n_agents, N_LBF_ACTIONS), dtype=np.int8)
        valid = self.env._valid_actions
        for i, player in enumerate(self.env.players):
            for act in valid[player]:
                mask[i, act.value] = 1
        return mask

    def state(self) -> np.ndarray:
        """(3 (F + N),) float32: foods in row-major order, then agents in index order."""
        cfg = self.config
        out = np.tile(np.asarray([-1, -1, 0], dtype=np.float32), cfg.n_foods + cfg.n_agents)
        field = self.env.field
        rows, cols = np.nonzero(field)
        foods = np.stack([rows, cols, field[rows, cols]], axis=1).reshape(-1)
        out[: foods.size] = foods
        agents = [(p.position[0], p.position[1], p.level) for p in self.env.players]
        out[3 * cfg.n_foods :] = np.asarray(agents, dtype=np.float32).reshape(-1)
        return out

    def metrics(self, rewards: np.ndarray | None = None) -> dict[str, Any]:
        """``step``, ``foods_spawned`` and ``foods_collected`` (episode to date)."""
        left = int(np.count_nonzero(self.env.field)) if self._started else 0
        return {
            "step": self._t,
            "foods_spawned": self._foods_spawned,
            "foods_collected": self._foods_spawned - left,
        }

    def render_ansi(self) -> str:
        """The field, one line per row: ``.`` empty, a digit = a food of that level, a letter =
        an agent (``A`` = agent_0, ...); then one status line."""
        if not self._started:
            return "(no episode yet: call reset())"
        field = self.env.field
        chars = [["." if v == 0 else str(min(int(v), 9)) for v in row] for row in field]
        for i, player in enumerate(self.env.players):
            r, c = player.position
            chars[r][c] = _AGENT_CHARS[i] if i < len(_AGENT_CHARS) else "@"
        lines = ["".join(row) for row in chars]
        m = self.metrics()
        lines.append(
            f"step {self._t}/{self.config.time_limit}, "
            f"food {m['foods_collected']}/{m['foods_spawned']} collected, "
            f"levels {list(self.agent_types)}"
        )
        return "\n".join(lines)

    def render_frame(self) -> Frame:
        """The field (drawn here: upstream's pyglet renderer needs a display): food cells with
        their level, agents in distinct colours labelled with their letter and level (``A1`` =
        agent_0 of level 1); the step and the food collected in the title."""
        field = np.asarray(self.env.field)
        rgb = np.empty((*field.shape, 3))
        rgb[:] = NAMED_RGB["background"]
        text = np.full(field.shape, "", dtype=object)
        food = field > 0
        rgb[food] = _FOOD_RGB
        text[food] = field[food].astype(str)
        for i, player in enumerate(self.env.players):
            r, c = player.position
            rgb[r, c] = PALETTE[i % len(PALETTE)]
            letter = _AGENT_CHARS[i] if i < len(_AGENT_CHARS) else "@"
            text[r, c] = f"{letter}{player.level}"
        m = self.metrics()
        title = (
            f"LBF  step {self._t}/{self.config.time_limit}  food {m['foods_collected']}/"
            f"{m['foods_spawned']} collected"
        )
        return Frame(title, (Panel("field (agents: letter + level)", rgb, "image", text=text),))
