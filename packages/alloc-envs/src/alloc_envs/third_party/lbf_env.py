"""Gymnasium and PettingZoo views of Level-Based Foraging (``alloc/LBF-v0``).

``gymnasium.make("alloc/LBF-v0", preset="lbf-2")`` (joint action) or
``pettingzoo.make("parallel", "alloc/LBF-v0", preset="lbf-1")`` (one agent per forager).
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from alloc_envs.core.views import JointGymEnv, JointParallelEnv
from alloc_envs.rendering import RENDER_MODES
from alloc_envs.third_party.lbf_config import LBFConfig, make_lbf_config
from alloc_envs.third_party.lbf_scenario import LBFScenario


class LBFEnv(JointGymEnv):
    """LBF with one controller for all N agents.

    Observation: ``{"observation": (N, 3 (F + N)) float32, "action_mask": (N, 6) int8}`` (layout
    in :class:`~alloc_envs.third_party.lbf_scenario.LBFScenario`). Action: ``MultiDiscrete([6] *
    N)``. Reward: the team reward (sum over agents); ``info["agent_rewards"]`` (N,) float64,
    ``info["foods_spawned"]``, ``info["foods_collected"]``, ``info["step"]``. ``terminated``
    when all food is collected, ``truncated`` after ``time_limit`` steps otherwise.
    ``agent_types`` is the (N,) tuple of agent levels, the same in every episode.

    Args:
        preset: ``"lbf-1"`` (10x10, 6 agents, 4 foods; the default) or ``"lbf-2"`` (10x10,
            12 agents, 10 foods).
        config: a full :class:`~alloc_envs.third_party.lbf_config.LBFConfig` instead (not both).
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
        **overrides: any ``LBFConfig`` field, e.g. ``time_limit=100``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 5}

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: LBFConfig | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = LBFScenario(make_lbf_config(preset, config, **overrides))
        super().__init__(scenario, render_mode)
        self.config = scenario.config
        self.agent_types = scenario.agent_types


class LBFParallelEnv(JointParallelEnv):
    """LBF with one PettingZoo agent per forager, named ``agent_0`` .. ``agent_{N-1}``.

    Each agent observes ``{"observation": (3 (F + N),) float32, "action_mask": (6,) int8}`` (the
    mask is a valid ``Discrete(6).sample(mask=...)`` mask), acts with ``Discrete(6)`` and gets
    its own reward. All agents terminate together when the food is gone, or are truncated
    together at the time limit. ``state()``: (3 (F + N),) float32. Arguments as for
    :class:`LBFEnv`.
    """

    metadata = {
        "name": "lbf_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 5,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: LBFConfig | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = LBFScenario(make_lbf_config(preset, config, **overrides))
        super().__init__(scenario, render_mode)
        self.config = scenario.config
        self.agent_types = scenario.agent_types


def parallel_env(**kwargs: Any) -> LBFParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return LBFParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
