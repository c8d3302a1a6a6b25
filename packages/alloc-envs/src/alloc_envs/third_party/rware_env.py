"""Gymnasium and PettingZoo views of the typed multi-robot warehouse (``alloc/RWARE-v0``).

``gymnasium.make("alloc/RWARE-v0", preset="rware-2")`` (joint action) or
``pettingzoo.make("parallel", "alloc/RWARE-v0", preset="rware-1")`` (one agent per robot).
"""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from alloc_envs.core.views import JointGymEnv, JointParallelEnv
from alloc_envs.rendering import RENDER_MODES
from alloc_envs.third_party.rware_config import RWAREConfig, make_rware_config
from alloc_envs.third_party.rware_scenario import RWAREScenario


class RWAREEnv(JointGymEnv):
    """RWARE with two robot colours and one controller for all N robots.

    Observation: ``{"observation": (N, 91) float32}`` for the presets (layout and per-colour
    orders in :class:`~alloc_envs.third_party.rware_scenario.RWAREScenario`). Action:
    ``MultiDiscrete([5] * N)``. Reward: the team reward (deliveries this step);
    ``info["agent_rewards"]`` (N,) float64, ``info["deliveries"]``,
    ``info["deliveries_by_color"]`` (K,), ``info["wrong_color_arrivals"]``, ``info["step"]``.
    Never terminates; ``truncated`` after ``time_limit`` steps. ``agent_types`` is the (N,)
    tuple of robot colours, the same in every episode.

    Args:
        preset: ``"rware-1"`` (8 robots, 4 requests; the default) or ``"rware-2"`` (16 robots,
            8 requests), both in upstream's 20 x 10 "small" warehouse.
        config: a full :class:`~alloc_envs.third_party.rware_config.RWAREConfig` instead.
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
        **overrides: any ``RWAREConfig`` field, e.g. ``time_limit=100``.
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 10}

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: RWAREConfig | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = RWAREScenario(make_rware_config(preset, config, **overrides))
        super().__init__(scenario, render_mode)
        self.config = scenario.config
        self.agent_types = scenario.agent_types


class RWAREParallelEnv(JointParallelEnv):
    """RWARE with one PettingZoo agent per robot, named ``agent_0`` .. ``agent_{N-1}``.

    Each agent observes ``{"observation": (D,) float32}`` (in its colour's order), acts with
    ``Discrete(5)`` and gets its own reward; all agents are truncated together at the time
    limit. ``state()``: (N D,) float32 canonical features. Arguments as for :class:`RWAREEnv`.
    """

    metadata = {
        "name": "rware_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 10,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: RWAREConfig | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = RWAREScenario(make_rware_config(preset, config, **overrides))
        super().__init__(scenario, render_mode)
        self.config = scenario.config
        self.agent_types = scenario.agent_types


def parallel_env(**kwargs: Any) -> RWAREParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return RWAREParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
