"""Gymnasium view of the hidden-types task: one controller acts for all agents."""

from __future__ import annotations

from alloc_envs.core.views import JointGymEnv
from alloc_envs.hidden_types.scenario import HiddenTypesView
from alloc_envs.rendering import RENDER_MODES


class HiddenTypesEnv(HiddenTypesView, JointGymEnv):
    """The hidden-types task (:mod:`alloc_envs.hidden_types.scenario`) with a joint action.

    Observation: ``{"observation": (N, obs_dim) float32}`` noise. Action: (N,) ints in
    ``0 .. K - 1``. Reward: the number of agents whose action is their hidden type; ``info``:
    ``accuracy``, ``episode_accuracy``, ``step`` and ``agent_rewards`` (N,). Truncated after
    ``episode_steps``.

    Args:
        config: a :class:`~alloc_envs.hidden_types.scenario.HiddenTypesConfig` (default: 36
            agents, 2 types, 8 steps).
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
        **overrides: any ``HiddenTypesConfig`` field, e.g. ``n_types=4``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 2}
