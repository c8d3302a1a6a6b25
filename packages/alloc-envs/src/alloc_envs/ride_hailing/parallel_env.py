"""PettingZoo ``ParallelEnv`` view of ride-hailing: one agent per cell, named ``cell_<id>``."""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from alloc_envs.core.views import JointParallelEnv
from alloc_envs.rendering import RENDER_MODES
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.scenario import RideHailingScenario, build_config
from alloc_envs.ride_hailing.trips import TripTable
from alloc_envs.ride_hailing.vector_env import RideHailingVectorEnv


class RideHailingParallelEnv(JointParallelEnv):
    """Ride-hailing with one agent per hex cell.

    Each agent observes its row of the joint observation (a dict with ``observation``, ``time``
    and, in dispatch mode, ``candidates`` and ``candidate_mask``, in reposition mode
    ``move_mask``; the arrays are read-only views of the joint arrays), acts with its row of the
    joint action and receives its cell's reward. ``state()`` is the (G * (5 + 3L),) float32
    concatenation of all cells' observation vectors. Every agent's info holds the episode
    metrics (see :class:`~alloc_envs.ride_hailing.gym_env.RideHailingEnv`). All agents are
    truncated together after ``episode_steps`` steps. Arguments as for the Gymnasium view.

    :meth:`agent_neighbours` gives each cell's adjacent cells (the neighbourhoods that
    neighbourhood-based learners such as CoPO read); :meth:`joint_vector_env` E copies of the
    city stepped in one call (what alloc-agents' runner steps when it is there).
    """

    metadata = {
        "name": "ride_hailing_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 8,
        "is_parallelizable": True,
    }

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
        self._trips = trips

    def joint_vector_env(self, num_envs: int) -> RideHailingVectorEnv:
        """``num_envs`` copies of this city stepped in one call, in joint arrays with a leading
        copy axis: copy ``e`` reset with seed ``s`` and given actions is this environment reset
        with ``s`` and given the same actions (its observations, rewards and infos, bit for bit);
        ``state()`` gives every copy's :meth:`state`."""
        return RideHailingVectorEnv(num_envs, config=self.config, trips=self._trips)

    def agent_neighbours(self) -> dict[str, list[str]]:
        """``{agent: [agents of the adjacent hex cells]}``, clockwise from north (2 to 6 per
        cell; cells on the map only). Symmetric, and fixed for the city."""
        names = self.possible_agents
        neighbours = self.scenario.grid.neighbors
        return {names[g]: [names[j] for j in neighbours[g] if j >= 0] for g in range(len(names))}


def parallel_env(**kwargs: Any) -> RideHailingParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return RideHailingParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
