"""PettingZoo ``ParallelEnv`` view of vaccine allocation: one agent per region, ``region_<i>``."""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from alloc_envs.core.views import JointParallelEnv
from alloc_envs.rendering import RENDER_MODES
from alloc_envs.vaccine.config import VaccineConfig
from alloc_envs.vaccine.scenario import CityLike, VaccineScenario, build_config


class VaccineAllocationParallelEnv(JointParallelEnv):
    """Vaccine allocation with one agent per region.

    Each agent observes its row of the joint observation (``{"observation": (F,) float32}``, a
    read-only view), acts with one number in [-1, 1] (shape (1,)) and receives its region's
    reward. ``state()`` is the (G,) float32 pooled city state
    (:func:`alloc_envs.vaccine.observation.city_state`); ``scenario.agent_states()`` gives the
    (N, F + G) agent-specific version. Every agent's info holds the episode metrics (see
    :class:`~alloc_envs.vaccine.gym_env.VaccineAllocationEnv`). All agents are truncated together
    after ``n_decisions`` decisions. Arguments as for the Gymnasium view.
    """

    metadata = {
        "name": "vaccine_allocation_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: VaccineConfig | None = None,
        city: CityLike = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        scenario = VaccineScenario(build_config(preset, config, overrides), city)
        super().__init__(scenario, render_mode)
        self.config = scenario.config


def parallel_env(**kwargs: Any) -> VaccineAllocationParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return VaccineAllocationParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
