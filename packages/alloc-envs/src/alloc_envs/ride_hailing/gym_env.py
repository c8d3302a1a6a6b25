"""Gymnasium view of ride-hailing: one controller acts for every cell (joint action)."""

from __future__ import annotations

from typing import Any

from alloc_envs.core.views import JointGymEnv
from alloc_envs.rendering import RENDER_MODES
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.scenario import RideHailingScenario, build_config
from alloc_envs.ride_hailing.trips import TripTable


class RideHailingEnv(JointGymEnv):
    """Ride-hailing with a joint action over all G cells.

    Observation: the agent-major dict of :class:`RideHailingScenario` (``observation``, ``time``;
    ``candidates`` and ``candidate_mask`` in dispatch mode, ``move_mask`` in reposition mode).
    Action: (G, K) candidate slots (dispatch) or (G, 7) move weights (reposition). Reward: the
    team reward, the sum of the cells' rewards. ``info``: ``gmv``, ``orr``,
    ``orders_generated``, ``orders_served`` (episode to date), ``step_gmv``, ``kl_orders_idle``,
    ``step`` and ``agent_rewards`` (G,). The episode is truncated (never terminated) after
    ``episode_steps`` steps.

    stable-baselines3 (and other libraries that take flat spaces only) cannot build a policy for
    the 2-D ``MultiDiscrete`` dispatch action: wrap the view in
    :class:`alloc_envs.wrappers.FlatJointView` (``MultiDiscrete`` of G * K components).

    Args:
        preset: ``"ride-hailing-1"`` (6x6, 360 drivers; the default) or ``"ride-hailing-2"``
            (10x10, 1000 drivers).
        config: a full :class:`RideHailingConfig` instead of a preset (not both).
        trips: recorded demand (from :mod:`alloc_envs.ride_hailing.trips`) instead of synthetic.
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
        **overrides: any :class:`RideHailingConfig` field, e.g. ``action_mode="reposition"``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 8}

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: RideHailingConfig | None = None,
        trips: TripTable | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = RideHailingScenario(build_config(preset, config, overrides), trips)
        super().__init__(scenario, render_mode)
        self.config = scenario.config
