"""Gymnasium view of the hidden-types task: one controller acts for all agents."""

from __future__ import annotations

from typing import Any

from alloc_envs.core.views import JointGymEnv
from alloc_envs.hidden_types.scenario import HiddenTypesConfig, HiddenTypesScenario, build_config


class HiddenTypesEnv(JointGymEnv):
    """The hidden-types task (:mod:`alloc_envs.hidden_types.scenario`) with a joint action.

    Observation: ``{"observation": (N, obs_dim) float32}`` noise. Action: (N,) ints in
    ``0 .. K - 1``. Reward: the number of agents whose action is their hidden type; ``info``:
    ``accuracy``, ``episode_accuracy``, ``step`` and ``agent_rewards`` (N,). Truncated after
    ``episode_steps``.

    Args:
        config: a :class:`HiddenTypesConfig` (default: 36 agents, 2 types, 8 steps).
        render_mode: ``None`` or ``"ansi"``.
        **overrides: any :class:`HiddenTypesConfig` field, e.g. ``n_types=4``.
    """

    def __init__(
        self,
        *,
        config: HiddenTypesConfig | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = HiddenTypesScenario(build_config(config, overrides))
        super().__init__(scenario, render_mode)
        self.config = scenario.config
