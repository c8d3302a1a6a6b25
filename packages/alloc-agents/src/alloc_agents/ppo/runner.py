"""Rollouts over several copies of a PettingZoo ``ParallelEnv``, stepped in lockstep.

The runner speaks the ``ParallelEnv`` API only (``possible_agents``, ``agents``, ``reset``,
``step``, ``observation_space``, ``action_space``, optionally ``state``). Bookkeeping per copy e
and agent i (``possible_agents`` order):

* an agent *acts* at a step when it is in ``env.agents`` and has not been done since the last
  reset (an agent that is gone stays gone until reset);
* an acting agent that disappears from ``env.agents`` without a termination or truncation flag
  counts as terminated;
* when no agent is left, the copy's episode is over: the final observation (and ``state()``)
  are kept for the truncation bootstrap, and the copy is reset at once (same-step autoreset).

Joint vector envs: when the env offers ``joint_vector_env(E)`` (Ride-Hailing does: E cities in
one simulator, each bit-identical to a parallel env with the same seed and actions) and every
agent is in one space group, the runner steps that one vector env instead of E parallel envs,
with the same seeds, observations, rewards and episodes (tested against the per-copy path). Its
copies always act in lockstep: all agents act at every step, episodes end together and are reset
together; asking to step only some copies is an error.

Seeding: the k-th episode of copy e is reset with
``SeedSequence(seed, spawn_key=(e, k)).generate_state(1)[0]``, so the whole run is a function of
the master seed. For exact resumption, each copy records the actions of its current episode;
:meth:`Runner.load_state_dict` resets the copy with the episode's seed and replays them (envs
are deterministic given the reset seed and the actions).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from numbers import Number
from typing import Any

import numpy as np
import torch

from alloc_agents.ppo.spaces import AgentLayout, flat_features_np, stack_group_obs
from alloc_envs.core.agent_dicts import AgentDict


def episode_seed(seed: int, copy: int, episode: int) -> int:
    """Reset seed of episode ``episode`` of env copy ``copy`` (a uint32)."""
    ss = np.random.SeedSequence(seed, spawn_key=(copy, episode))
    return int(ss.generate_state(1, np.uint32)[0])


def team_rewards(rewards: np.ndarray, acting: np.ndarray) -> np.ndarray:
    """(N, E) rewards where every agent that acted in env copy ``e`` gets the mean of those
    agents' rewards at this step (``PPOConfig.reward_sharing="team"``); others get 0.

    ``rewards``: (N, E) float32 per-agent rewards of one step; ``acting``: (N, E) bool.
    """
    counts = acting.sum(axis=0)
    means = np.where(acting, rewards, 0.0).sum(axis=0) / np.maximum(counts, 1)
    return np.where(acting, means[None, :], 0.0).astype(rewards.dtype)


@dataclass
class EpisodeStats:
    """A finished episode of one copy. ``team_return``: sum over agents of their returns;
    ``agent_return``: mean over the agents that acted; ``metrics``: numeric scalars of the
    final ``info`` of the first agent that has one (e.g. ``gmv``, ``orr``)."""

    team_return: float
    agent_return: float
    length: int
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class StepOutcome:
    """What one lockstep step returns; arrays are (N, E) in ``possible_agents`` order."""

    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    #: per copy: the observations returned by ``step`` (before any reset) if some agent of the
    #: copy was truncated at this step, else ``None``.
    final_obs: list[Mapping[str, Any] | None]
    #: (E, S) centralised inputs of the final observations (MAPPO), rows of copies without a
    #: truncation are zeros; ``None`` without a centralised input.
    final_central: np.ndarray | None
    episodes: list[EpisodeStats]


def _scalar_metrics(info: Any) -> dict[str, float]:
    if not isinstance(info, Mapping):
        return {}
    out = {}
    for key, value in info.items():
        if isinstance(value, bool | np.bool_):
            continue
        if isinstance(value, Number | np.number) and np.isfinite(value):
            out[str(key)] = float(value)
    return out


class Runner:
    """E copies of ``env_fn()`` stepped in lockstep (one process)."""

    def __init__(
        self,
        env_fn: Callable[[], Any],
        n_envs: int,
        seed: int,
        centralised: bool = False,
        vectorised: bool = True,
    ) -> None:
        """``vectorised``: step the env's ``joint_vector_env`` where it has one (module
        docstring); ``False`` always steps ``n_envs`` parallel envs."""
        first = env_fn()
        self.layout = AgentLayout.from_env(first)
        self.seed = seed
        self.n_envs = n_envs
        n = self.layout.n_agents
        self.index = {a: i for i, a in enumerate(self.layout.agents)}
        groups = self.layout.groups
        #: One space group of every agent, in ``possible_agents`` order.
        self._one_group = len(groups) == 1 and groups[0].agents == tuple(range(n))
        make_vector = getattr(first, "joint_vector_env", None)
        use_vector = vectorised and make_vector is not None and self._one_group
        #: The joint vector env that steps every copy, or ``None`` (then ``envs`` are stepped).
        self.vector = make_vector(n_envs) if use_vector else None
        #: The parallel envs: one per copy, or only the first (for its metadata and probes)
        #: when the vector env steps the copies.
        self.envs = [first] + ([] if use_vector else [env_fn() for _ in range(n_envs - 1)])
        for env in self.envs[1:]:
            self.layout.check_matches(env)
        self.episode_index = np.zeros(n_envs, dtype=np.int64)
        self.obs: list[Mapping[str, Any]] = [{} for _ in range(n_envs)]
        self.alive = np.zeros((n, n_envs), dtype=bool)
        self.participated = np.zeros((n, n_envs), dtype=bool)
        self.ep_return = np.zeros((n, n_envs), dtype=np.float64)
        self.ep_length = np.zeros(n_envs, dtype=np.int64)
        self.replay: list[list[tuple[list[np.ndarray], list[np.ndarray]]]] = [
            [] for _ in range(n_envs)
        ]
        self.centralised = centralised
        self.central_mode: str | None = None
        self.central_dim = 0
        if centralised:
            self._probe_central()

    # ------------------------------------------------------------------ centralised input
    def _probe_central(self) -> None:
        env = self.envs[0]
        env.reset(seed=episode_seed(self.seed, 0, 0))
        try:
            state = np.asarray(env.state(), dtype=np.float32)
            self.central_mode, self.central_dim = "state", int(state.size)
        except (NotImplementedError, AttributeError):
            self.central_mode = "joint"
            self.central_dim = sum(g.obs.flat_dim * g.n_agents for g in self.layout.groups)

    def _central_of(self, e: int, obs: Mapping[str, Any]) -> np.ndarray:
        """Centralised input of copy e: ``state()`` or all agents' flat observations."""
        if self.central_mode == "state":
            return np.asarray(self.envs[e].state(), dtype=np.float32).ravel()
        parts = []
        for g in self.layout.groups:
            for name in g.names:
                if name in obs:
                    parts.append(flat_features_np(g, obs[name]))
                else:
                    parts.append(np.zeros(g.obs.flat_dim, np.float32))
        return np.concatenate(parts)

    def central(self) -> np.ndarray | None:
        """(E, S) centralised inputs of the current observations, or ``None``."""
        if not self.centralised:
            return None
        if self.vector is not None:
            return np.asarray(self.vector.state(), dtype=np.float32)
        return np.stack([self._central_of(e, self.obs[e]) for e in range(self.n_envs)])

    # ------------------------------------------------------------------ episodes
    def _reset(self, e: int) -> None:
        env = self.envs[e]
        obs, _ = env.reset(seed=episode_seed(self.seed, e, int(self.episode_index[e])))
        self.obs[e] = obs
        self.alive[:, e] = False
        for agent in env.agents:
            self.alive[self.index[agent], e] = True
        self.participated[:, e] = False
        self.ep_return[:, e] = 0.0
        self.ep_length[e] = 0
        self.replay[e] = []

    def reset_all(self) -> None:
        """Start an episode in every copy (episode counters as they are)."""
        if self.vector is not None:
            self._reset_vector()
            return
        for e in range(self.n_envs):
            self._reset(e)

    def _reset_vector(self) -> None:
        """Reset every copy of the joint vector env, copy e with its episode's seed."""
        seeds = [episode_seed(self.seed, e, int(k)) for e, k in enumerate(self.episode_index)]
        joint, _ = self.vector.reset(seed=seeds)
        self.obs = self._copy_obs(joint)
        self.alive[:] = True
        self.participated[:] = False
        self.ep_return[:] = 0.0
        self.ep_length[:] = 0
        self.replay = [[] for _ in range(self.n_envs)]

    def _copy_obs(self, joint: Mapping[str, np.ndarray]) -> list[AgentDict]:
        """Per copy, an ``AgentDict`` over the copy's rows of the (E, N, ...) joint arrays."""
        return [
            AgentDict.of_rows({key: value[e] for key, value in joint.items()}, self.layout.agents)
            for e in range(self.n_envs)
        ]

    def acting(self) -> np.ndarray:
        """(N, E) bool: the agents that act at the next step."""
        if self.vector is not None:
            return self.alive.copy()
        act = np.zeros_like(self.alive)
        n = self.layout.n_agents
        for e, env in enumerate(self.envs):
            if len(env.agents) == n:  # every agent is there
                act[:, e] = self.alive[:, e]
                continue
            for agent in env.agents:
                i = self.index[agent]
                act[i, e] = self.alive[i, e]
        return act

    def group_obs(self, observations: list[Mapping[str, Any]] | None = None):
        """Per space group ``{key: (A, E, *shape)}`` float32 of the current (or given)
        observations; inactive agents are zeros."""
        observations = self.obs if observations is None else observations
        return [stack_group_obs(g, observations) for g in self.layout.groups]

    # ------------------------------------------------------------------ stepping
    def step(
        self, env_actions: list[np.ndarray], acting: np.ndarray, copies: np.ndarray | None = None
    ) -> StepOutcome:
        """Send each acting agent its action (``env_actions[g]``: (A_g, E, ...)) and step the
        copies (``copies``: (E,) bool, those to step; ``None``: all); copies whose episode ends
        are reset. A copy left out is not stepped: its rows of the outcome are zeros."""
        if self.vector is not None:
            return self._step_vector(env_actions, acting, copies)
        n, e_count = self.layout.n_agents, self.n_envs
        rewards = np.zeros((n, e_count), dtype=np.float32)
        terminated = np.zeros((n, e_count), dtype=bool)
        truncated = np.zeros((n, e_count), dtype=bool)
        final_obs: list[Mapping[str, Any] | None] = [None] * e_count
        final_central = (
            np.zeros((e_count, self.central_dim), np.float32) if self.centralised else None
        )
        episodes: list[EpisodeStats] = []
        groups = self.layout.groups
        everyone = self._one_group and bool(acting.all())
        for e, env in enumerate(self.envs):
            if copies is not None and not copies[e]:
                continue
            record_actions = [np.ascontiguousarray(a[:, e]) for a in env_actions]
            record_acted = [acting[list(g.agents), e].copy() for g in groups]
            if everyone:  # the joint action as it is (no per-agent work for AgentDict views)
                actions: dict[str, Any] = AgentDict.of_rows(record_actions[0], self.layout.agents)
            else:
                actions = {}
                for g, acts, acted in zip(groups, record_actions, record_acted, strict=True):
                    for i, name in enumerate(g.names):
                        if acted[i]:
                            actions[name] = acts[i]
            self.replay[e].append((record_actions, record_acted))
            obs, rew, term, trunc, infos = env.step(actions)
            live = set(env.agents)
            rows = [self.index[name] for name in actions]
            rewards[rows, e] = [rew.get(name, 0.0) for name in actions]
            terminated[rows, e] = [bool(term.get(name, False)) for name in actions]
            truncated[rows, e] = [bool(trunc.get(name, False)) for name in actions]
            vanished = [name not in live for name in actions] if live else True
            truncated[rows, e] &= ~terminated[rows, e]
            terminated[rows, e] |= vanished & ~truncated[rows, e]  # vanished without a flag
            self.alive[rows, e] &= ~(terminated[rows, e] | truncated[rows, e])
            self.participated[:, e] |= acting[:, e]
            self.ep_return[:, e] += rewards[:, e]
            self.ep_length[e] += 1
            if truncated[:, e].any():
                final_obs[e] = obs
                if final_central is not None:
                    final_central[e] = self._central_of(e, obs)
            if not live:
                episodes.append(self._finish(e, infos))
                self.episode_index[e] += 1
                self._reset(e)
            else:
                self.obs[e] = obs
        return StepOutcome(rewards, terminated, truncated, final_obs, final_central, episodes)

    def _step_vector(
        self, env_actions: list[np.ndarray], acting: np.ndarray, copies: np.ndarray | None
    ) -> StepOutcome:
        """:meth:`step` through the joint vector env: every copy, every agent."""
        if (copies is not None and not np.all(copies)) or not np.all(acting):
            raise ValueError(
                "a joint vector env steps every copy and every agent at once; use "
                "Runner(..., vectorised=False) to step some of them"
            )
        actions = env_actions[0]  # (N, E, ...)
        for e in range(self.n_envs):
            self.replay[e].append(([np.ascontiguousarray(actions[:, e])], [acting[:, e].copy()]))
        joint, _, _, truncated_copies, infos = self.vector.step(np.swapaxes(actions, 0, 1))
        rewards = np.ascontiguousarray(infos["agent_rewards"].T, dtype=np.float32)
        terminated = np.zeros(rewards.shape, dtype=bool)
        truncated = terminated.copy()
        truncated[:] = truncated_copies
        self.participated |= acting
        self.ep_return += rewards
        self.ep_length += 1
        final_obs: list[Mapping[str, Any] | None] = [None] * self.n_envs
        final_central = (
            np.zeros((self.n_envs, self.central_dim), np.float32) if self.centralised else None
        )
        episodes: list[EpisodeStats] = []
        if truncated_copies.any():
            if not truncated_copies.all():
                raise RuntimeError("the joint vector env's copies ended at different steps")
            final_obs = list(self._copy_obs(joint))
            if self.centralised:
                final_central = self.central()
            for e in range(self.n_envs):
                metrics = {key: value[e] for key, value in infos.items() if key[0] != "_"}
                episodes.append(self._finish(e, {self.layout.agents[0]: metrics}))
            self.episode_index += 1
            self._reset_vector()
        else:
            self.obs = self._copy_obs(joint)
        return StepOutcome(rewards, terminated, truncated, final_obs, final_central, episodes)

    def _finish(self, e: int, infos: Mapping[str, Any]) -> EpisodeStats:
        metrics: dict[str, float] = {}
        for agent in self.layout.agents:
            if agent in infos:
                metrics = _scalar_metrics(infos[agent])
                if metrics:
                    break
        took_part = self.participated[:, e]
        returns = self.ep_return[:, e]
        agent_return = float(returns[took_part].mean()) if took_part.any() else 0.0
        return EpisodeStats(float(returns.sum()), agent_return, int(self.ep_length[e]), metrics)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Plain containers and tensors: counters, accumulators and the current episodes'
        actions (per copy and space group: actions (steps, A_g, ...), acted (steps, A_g))."""
        replay = []
        for steps in self.replay:
            n_groups = len(self.layout.groups)
            if steps:
                actions = [
                    torch.as_tensor(np.stack([s[0][g] for s in steps])) for g in range(n_groups)
                ]
                acted = [
                    torch.as_tensor(np.stack([s[1][g] for s in steps])) for g in range(n_groups)
                ]
            else:
                actions, acted = [], []
            replay.append({"steps": len(steps), "actions": actions, "acted": acted})
        return {
            "episode_index": torch.as_tensor(self.episode_index),
            "alive": torch.as_tensor(self.alive),
            "participated": torch.as_tensor(self.participated),
            "ep_return": torch.as_tensor(self.ep_return),
            "ep_length": torch.as_tensor(self.ep_length),
            "replay": replay,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Rebuild every copy's current episode: reset with its seed, replay its actions."""
        self.episode_index = state["episode_index"].numpy().copy()
        if self.episode_index.shape != (self.n_envs,):
            raise ValueError(
                f"checkpoint has {self.episode_index.shape[0]} env copies, this run "
                f"{self.n_envs}; resume with the same n_envs"
            )
        if self.vector is not None:
            self._replay_vector(state["replay"])
        else:
            for e, env in enumerate(self.envs):
                self._replay_copy(e, env, state["replay"][e])
        self.alive = state["alive"].numpy().copy()
        self.participated = state["participated"].numpy().copy()
        self.ep_return = state["ep_return"].numpy().copy()
        self.ep_length = state["ep_length"].numpy().copy()

    def _replay_copy(self, e: int, env: Any, record: Mapping[str, Any]) -> None:
        """Reset copy ``e`` with its episode's seed and replay the recorded actions."""
        groups = self.layout.groups
        self._reset(e)
        actions = [a.numpy() for a in record["actions"]]
        acted = [a.numpy() for a in record["acted"]]
        for s in range(record["steps"]):
            step_actions = {
                name: actions[g][s, i]
                for g, group in enumerate(groups)
                for i, name in enumerate(group.names)
                if acted[g][s, i]
            }
            obs, *_ = env.step(step_actions)
            self.obs[e] = obs
            self.replay[e].append(
                (
                    [actions[g][s] for g in range(len(groups))],
                    [acted[g][s] for g in range(len(groups))],
                )
            )

    def _replay_vector(self, records: list[Mapping[str, Any]]) -> None:
        """Reset the joint vector env with the episodes' seeds and replay the recorded actions
        (every copy has taken as many steps: they move in lockstep)."""
        self._reset_vector()
        steps = {int(record["steps"]) for record in records}
        if len(steps) != 1:
            raise ValueError(
                f"checkpoint's copies are at different steps of their episodes ({sorted(steps)});"
                " a joint vector env steps them together: resume with vectorised=False"
            )
        if not steps.pop():
            return
        actions = np.stack([record["actions"][0].numpy() for record in records], axis=1)
        acted = np.stack([record["acted"][0].numpy() for record in records], axis=1)
        for s in range(actions.shape[0]):  # actions[s]: (E, N, ...)
            joint, *_ = self.vector.step(actions[s])
            self.obs = self._copy_obs(joint)
            for e in range(self.n_envs):
                self.replay[e].append(([actions[s, e]], [acted[s, e]]))
