"""PettingZoo ``ParallelEnv`` view of the hidden-types task: one agent per row, ``agent_<i>``."""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from alloc_envs.core.views import JointParallelEnv
from alloc_envs.hidden_types.scenario import HiddenTypesView
from alloc_envs.rendering import RENDER_MODES


class HiddenTypesParallelEnv(HiddenTypesView, JointParallelEnv):
    """The hidden-types task (:mod:`alloc_envs.hidden_types.scenario`) with one agent each.

    Each agent observes ``{"observation": (obs_dim,) float32}`` noise, picks ``Discrete(K)`` and
    gets 1 when the action is its hidden type (``self.types[i]`` for ``agent_<i>``), else 0.
    ``state()`` is the flat joint noise. Arguments as for the Gymnasium view.
    """

    metadata = {
        "name": "hidden_types_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 2,
        "is_parallelizable": True,
    }


def parallel_env(**kwargs: Any) -> HiddenTypesParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return HiddenTypesParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
