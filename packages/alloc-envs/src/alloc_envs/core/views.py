"""The Gymnasium and PettingZoo views shared by every multi-region scenario.

A scenario object (:class:`JointScenario`) owns the simulator and speaks in *joint*,
agent-major arrays: observations are arrays (or dicts of arrays) with a leading axis of one row
per agent, actions likewise, rewards are (N,) arrays. The two views only re-shape that:

* :class:`JointGymEnv`: one controller, the joint action; the reward is the team reward (the sum)
  and the per-agent rewards are in ``info["agent_rewards"]``;
* :class:`JointParallelEnv`: a PettingZoo ``ParallelEnv`` with one agent per row, named
  ``f"{agent_prefix}_{i}"``; each agent sees read-only views of its rows. Its observations are
  :class:`~alloc_envs.core.agent_dicts.AgentDict` s that carry the joint arrays, and an
  ``AgentDict`` of actions for every live agent whose ``joint`` is still valid is stepped as
  the joint action it carries (what ``Policy.act_parallel`` returns): no per-agent work.

An episode ends when the scenario reports ``terminated`` (the task is over, e.g. all food
collected) or ``truncated`` (the time limit was reached); all agents end together. Stepping
before ``reset()`` or after the end raises ``RuntimeError``.
"""

from __future__ import annotations

from typing import Any, Protocol

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import ParallelEnv

from alloc_envs.core.agent_dicts import AgentDict
from alloc_envs.rendering import RENDER_MODES, Frame, ViewRenderer

JointObservation = dict[str, np.ndarray]


class JointScenario(Protocol):
    """What a scenario provides to the views (agent-major arrays throughout)."""

    #: Number of agents N (fixed for the episode).
    n_agents: int
    #: Prefix of the PettingZoo agent names (``"cell"`` gives ``cell_0`` .. ``cell_{N-1}``).
    agent_prefix: str
    agent_observation_space: spaces.Space
    joint_observation_space: spaces.Space
    agent_action_space: spaces.Space
    joint_action_space: spaces.Space
    #: Space of :meth:`state` (PettingZoo's global state for centralised critics).
    state_space: spaces.Space

    @property
    def terminated(self) -> bool:
        """Whether the task of the episode is over (never, for time-limited scenarios)."""

    @property
    def truncated(self) -> bool:
        """Whether the time limit was reached without the task being over."""

    def reset(self, rng: np.random.Generator) -> JointObservation:
        """Start an episode drawing every random number from ``rng``; the first observation."""

    def step(self, action: Any) -> np.ndarray:
        """Apply a joint action (``ValueError`` if malformed); the (N,) float64 rewards."""

    def observe(self) -> JointObservation:
        """The current joint observation (fresh arrays)."""

    def metrics(self, rewards: np.ndarray | None = None) -> dict[str, Any]:
        """Scenario metrics for ``info`` (a fresh dict); ``rewards`` are the step's, if any."""

    def state(self) -> np.ndarray:
        """The global state (fresh array)."""

    def render_ansi(self) -> str:
        """A text picture of the current state."""

    def render_frame(self) -> Frame:
        """The picture of the current state (:mod:`alloc_envs.rendering`), after ``reset()``."""


_NOT_RUNNING = "no episode is running (not started, or over); call reset() before step()"


class JointGymEnv(gymnasium.Env):
    """Gymnasium view of a :class:`JointScenario`: a joint action for all agents.

    The spaces are agent-major, (N, ...) arrays; :class:`alloc_envs.wrappers.FlatJointView`
    flattens them for libraries that take flat spaces only (stable-baselines3).
    """

    metadata = {"render_modes": list(RENDER_MODES), "render_fps": 4}

    def __init__(self, scenario: JointScenario, render_mode: str | None = None) -> None:
        self._renderer = ViewRenderer(render_mode, self.metadata)
        self.scenario = scenario
        self.observation_space = scenario.joint_observation_space
        self.action_space = scenario.joint_action_space
        self.render_mode = render_mode
        self._running = False
        self._started = False

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[JointObservation, dict[str, Any]]:
        super().reset(seed=seed)
        obs = self.scenario.reset(self.np_random)
        self._running = self._started = True
        return obs, self.scenario.metrics()

    def step(self, action: Any) -> tuple[JointObservation, float, bool, bool, dict[str, Any]]:
        if not self._running:
            raise RuntimeError(_NOT_RUNNING)
        rewards = self.scenario.step(action)
        info = self.scenario.metrics(rewards)
        info["agent_rewards"] = rewards
        obs = self.scenario.observe()
        terminated, truncated = self.scenario.terminated, self.scenario.truncated
        self._running = not (terminated or truncated)
        return obs, float(rewards.sum()), terminated, truncated, info

    def render(self) -> str | np.ndarray | None:
        """``"ansi"``: a text picture; ``"rgb_array"``: an (H, W, 3) uint8 picture of the same
        size at every step (after ``reset()``); no render mode: ``None``."""
        return self._renderer.render(
            self._started, self.scenario.render_ansi, self.scenario.render_frame
        )

    def close(self) -> None:
        self._renderer.close()


class JointParallelEnv(ParallelEnv):
    """PettingZoo view of a :class:`JointScenario`: one agent per row of the joint arrays."""

    metadata = {
        "name": "joint_scenario",
        "render_modes": list(RENDER_MODES),
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(self, scenario: JointScenario, render_mode: str | None = None) -> None:
        self._renderer = ViewRenderer(render_mode, self.metadata)
        self.scenario = scenario
        self.render_mode = render_mode
        self.possible_agents = [f"{scenario.agent_prefix}_{i}" for i in range(scenario.n_agents)]
        self.agents: list[str] = []
        self._index = {agent: i for i, agent in enumerate(self.possible_agents)}
        self.state_space = scenario.state_space
        self.np_random, _ = seeding.np_random(None)
        self._started = False

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
            last = self.possible_agents[-1]
            raise ValueError(
                f"unknown agent {agent!r}; agents are {self.possible_agents[0]} .. {last}"
            )

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if seed is not None or not self._started:
            self.np_random, _ = seeding.np_random(seed)
        self._started = True
        self.agents = list(self.possible_agents)
        obs = self._split(self.scenario.reset(self.np_random))
        metrics = self.scenario.metrics()
        return obs, {a: dict(metrics) for a in self.agents}

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[dict, dict[str, float], dict[str, bool], dict[str, bool], dict[str, dict]]:
        if not self.agents:
            raise RuntimeError(_NOT_RUNNING)
        if not isinstance(actions, dict):
            raise ValueError(
                f"actions must be a dict agent -> action, got {type(actions).__name__}"
            )
        joint = actions.joint_for(self.agents) if isinstance(actions, AgentDict) else None
        if joint is None:
            joint = self._join_actions(actions)
        rewards = self.scenario.step(joint)
        metrics = self.scenario.metrics(rewards)
        obs = self._split(self.scenario.observe())
        agents = self.agents
        terminated, truncated = self.scenario.terminated, self.scenario.truncated
        if len(agents) == len(self.possible_agents):
            step_rewards = dict(zip(agents, rewards.tolist(), strict=True))
        else:
            step_rewards = {a: float(rewards[self._index[a]]) for a in agents}
        terminations = dict.fromkeys(agents, terminated)
        truncations = dict.fromkeys(agents, truncated)
        infos = {a: metrics.copy() for a in agents}
        if terminated or truncated:
            self.agents = []
        return obs, step_rewards, terminations, truncations, infos

    def _join_actions(self, actions: dict[str, Any]) -> np.ndarray:
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"actions missing for {len(missing)} agent(s), e.g. {missing[:3]}")
        unknown = [a for a in actions if a not in self._index]
        if unknown:
            raise ValueError(f"actions for unknown agent(s) {unknown[:3]}")
        shape = self.scenario.agent_action_space.shape
        rows = []
        for agent in self.possible_agents:
            row = np.asarray(actions[agent])
            if row.shape != shape:
                raise ValueError(f"action of {agent} must have shape {shape}, got {row.shape}")
            rows.append(row)
        return np.stack(rows)

    def _split(self, joint: JointObservation) -> AgentDict:
        """Per-agent observations as read-only views of the joint arrays (no copies)."""
        for array in joint.values():
            array.setflags(write=False)
        return AgentDict.of_rows(joint, self.possible_agents)

    def state(self) -> np.ndarray:
        if not self._started:
            raise RuntimeError("call reset() before state()")
        return self.scenario.state()

    def render(self) -> str | np.ndarray | None:
        """As the Gymnasium view's :meth:`JointGymEnv.render`."""
        return self._renderer.render(
            self._started, self.scenario.render_ansi, self.scenario.render_frame
        )

    def close(self) -> None:
        self._renderer.close()
