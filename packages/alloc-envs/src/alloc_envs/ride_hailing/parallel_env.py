"""PettingZoo ``ParallelEnv`` view of ride-hailing: one agent per cell, named ``cell_<id>``."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv
from pettingzoo.utils import parallel_to_aec

from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.render import render_ansi
from alloc_envs.ride_hailing.scenario import UNBOUNDED, RideHailingScenario, build_config
from alloc_envs.ride_hailing.trips import TripTable


class RideHailingParallelEnv(ParallelEnv):
    """Ride-hailing with one agent per hex cell.

    Each agent observes its row of the joint observation (a dict with ``observation`` and, in
    dispatch mode, ``candidates`` and ``candidate_mask``, in reposition mode ``move_mask``; the
    arrays are read-only views of the joint arrays), acts with its row of the joint action
    and receives its cell's reward. ``state()`` is the (G * (5 + 3L),) float32 concatenation of
    all cells' observation vectors. Every agent's info holds the episode metrics (see
    :class:`~alloc_envs.ride_hailing.gym_env.RideHailingEnv`). All agents are truncated together
    after ``episode_steps`` steps. Arguments as for the Gymnasium view.
    """

    metadata = {"name": "ride_hailing_v0", "render_modes": ["ansi"], "is_parallelizable": True}

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
        self.render_mode = render_mode
        self.possible_agents = [f"cell_{g}" for g in range(self.scenario.n_agents)]
        self.agents: list[str] = []
        self._index = {agent: g for g, agent in enumerate(self.possible_agents)}
        obs_dim = self.scenario.sim.obs_dim * self.scenario.n_agents
        self.state_space = spaces.Box(0.0, UNBOUNDED, shape=(obs_dim,), dtype=np.float32)
        self.np_random, _ = seeding.np_random(None)
        self._joint_obs: dict[str, np.ndarray] | None = None

    def observation_space(self, agent: str) -> spaces.Space:
        """The agent's space; all agents share one space object (PettingZoo checks identity)."""
        self._check_agent(agent)
        return self.scenario.agent_observation_space

    def action_space(self, agent: str) -> spaces.Space:
        """The agent's space; all agents share one space object."""
        self._check_agent(agent)
        return self.scenario.agent_action_space

    def _check_agent(self, agent: str) -> None:
        if agent not in self._index:
            raise ValueError(
                f"unknown agent {agent!r}; agents are cell_0 .. cell_{len(self._index) - 1}"
            )

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is not None or self._joint_obs is None:
            self.np_random, _ = seeding.np_random(seed)
        self.agents = list(self.possible_agents)
        self._joint_obs = self.scenario.reset(self.np_random)
        metrics = self.scenario.metrics()
        return self._split(self._joint_obs), {a: dict(metrics) for a in self.agents}

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[dict, dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        if not self.agents:
            raise RuntimeError("the episode is over (truncated); call reset() before step()")
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions missing for {len(missing)} agent(s), e.g. {missing[:3]}")
        unknown = [a for a in actions if a not in self._index]
        if unknown:
            raise ValueError(f"actions for unknown agent(s) {unknown[:3]}")
        joint = self._join_actions(actions)
        cell_rewards = self.scenario.step(joint)
        metrics = self.scenario.metrics(cell_rewards)
        self._joint_obs = self.scenario.observe()
        obs = self._split(self._joint_obs)
        agents = self.agents
        rewards = {a: float(cell_rewards[self._index[a]]) for a in agents}
        done = self.scenario.sim.done
        terminations = dict.fromkeys(agents, False)
        truncations = dict.fromkeys(agents, done)
        infos = {a: dict(metrics) for a in agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _join_actions(self, actions: dict[str, Any]) -> np.ndarray:
        space = self.scenario.agent_action_space
        rows = []
        for agent in self.possible_agents:
            a = np.asarray(actions[agent])
            if a.shape != space.shape:
                raise ValueError(f"action of {agent} must have shape {space.shape}, got {a.shape}")
            rows.append(a)
        return np.stack(rows)

    def _split(self, joint: dict[str, np.ndarray]) -> dict[str, dict[str, np.ndarray]]:
        """Per-agent observations as read-only views of the joint arrays (no copies)."""
        for array in joint.values():
            array.setflags(write=False)
        keys = list(joint)
        return {
            agent: {k: joint[k][g] for k in keys} for g, agent in enumerate(self.possible_agents)
        }

    def state(self) -> np.ndarray:
        if self._joint_obs is None:
            raise RuntimeError("call reset() before state()")
        return self._joint_obs["observation"].reshape(-1).copy()

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return render_ansi(self.scenario)
        return None

    def close(self) -> None:
        pass


def parallel_env(**kwargs: Any) -> RideHailingParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return RideHailingParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
