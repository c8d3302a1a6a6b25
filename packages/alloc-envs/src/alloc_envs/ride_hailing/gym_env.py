"""Gymnasium view of ride-hailing: one controller acts for every cell (joint action)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.render import render_ansi
from alloc_envs.ride_hailing.scenario import RideHailingScenario, build_config
from alloc_envs.ride_hailing.trips import TripTable


class RideHailingEnv(gymnasium.Env):
    """Ride-hailing with a joint action over all G cells.

    Observation: the agent-major dict of :class:`RideHailingScenario` (``observation``;
    ``candidates`` and ``candidate_mask`` in dispatch mode, ``move_mask`` in reposition mode).
    Action: (G, K) candidate slots (dispatch) or (G, 7) move weights (reposition). Reward: the
    team reward, the sum of the cells' rewards. ``info``: ``gmv``, ``orr``,
    ``orders_generated``, ``orders_served`` (episode to date), ``step_gmv``, ``kl_orders_idle``,
    ``step`` and ``agent_rewards`` (G,). The episode is truncated (never terminated) after
    ``episode_steps`` steps.

    Args:
        preset: ``"ride-hailing-1"`` (6x6, 360 drivers; the default) or ``"ride-hailing-2"``
            (10x10, 1000 drivers).
        config: a full :class:`RideHailingConfig` instead of a preset (not both).
        trips: recorded demand (from :mod:`alloc_envs.ride_hailing.trips`) instead of synthetic.
        render_mode: ``None`` or ``"ansi"``.
        **overrides: any :class:`RideHailingConfig` field, e.g. ``action_mode="reposition"``.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: RideHailingConfig | None = None,
        trips: TripTable | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.scenario = RideHailingScenario(build_config(preset, config, overrides), trips)
        self.config = self.scenario.config
        self.observation_space = self.scenario.joint_observation_space
        self.action_space = self.scenario.joint_action_space
        self.render_mode = render_mode

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        super().reset(seed=seed)
        obs = self.scenario.reset(self.np_random)
        return obs, self.scenario.metrics()

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], float, bool, bool, dict[str, Any]]:
        cell_rewards = self.scenario.step(action)
        info = self.scenario.metrics(cell_rewards)
        info["agent_rewards"] = cell_rewards
        obs = self.scenario.observe()
        return obs, float(cell_rewards.sum()), False, self.scenario.sim.done, info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return render_ansi(self.scenario)
        return None
