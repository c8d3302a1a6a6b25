"""Seeded random rollouts of the adapters' views, for the tests and the speed benchmark.

Actions are uniform over the valid actions of each agent (the ``action_mask`` when the
observation has one, else all actions), drawn from a generator of their own so that a
trajectory is a function of ``(reset seed, action seed)``.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np


def random_joint_action(
    rng: np.random.Generator, obs: dict[str, np.ndarray], n_actions: int
) -> np.ndarray:
    """(N,) int64: for each agent a uniform draw among the unmasked actions.

    ``obs`` is a joint observation (``obs["observation"]`` is (N, D); ``obs["action_mask"]``,
    when present, (N, n_actions) with 1 for the valid actions).
    """
    n = obs["observation"].shape[0]
    mask = obs.get("action_mask")
    valid = np.ones((n, n_actions), dtype=bool) if mask is None else np.asarray(mask) > 0
    scores = rng.random((n, n_actions)) * valid
    return scores.argmax(axis=1).astype(np.int64)


def joint_from_agents(par_obs: dict[str, dict[str, np.ndarray]], agents: list[str]) -> dict:
    """Stack per-agent observation dicts back into the joint (agent-major) dict."""
    keys = par_obs[agents[0]].keys()
    return {k: np.stack([par_obs[a][k] for a in agents]) for k in keys}


def gym_episode(
    env: Any, seed: int | None, action_seed: int, max_steps: int | None = None
) -> list[Any]:
    """Reset the Gymnasium view with ``seed`` and play random valid actions until the episode
    ends (or ``max_steps``); returns [reset (obs, info), then (action, obs, reward, terminated,
    truncated, info) per step], deep-copied."""
    rng = np.random.default_rng(action_seed)
    n_actions = int(env.unwrapped.scenario.n_actions)
    obs, info = env.reset(seed=seed)
    trajectory: list[Any] = [copy.deepcopy((obs, info))]
    while True:
        action = random_joint_action(rng, obs, n_actions)
        obs, reward, terminated, truncated, info = env.step(action)
        trajectory.append(copy.deepcopy((action, obs, reward, terminated, truncated, info)))
        if terminated or truncated or (max_steps is not None and len(trajectory) > max_steps):
            return trajectory


def parallel_episode(
    env: Any, seed: int | None, action_seed: int, max_steps: int | None = None
) -> list[Any]:
    """Like :func:`gym_episode` for the PettingZoo parallel view."""
    rng = np.random.default_rng(action_seed)
    n_actions = int(env.scenario.n_actions)
    agents = list(env.possible_agents)
    obs, infos = env.reset(seed=seed)
    trajectory: list[Any] = [copy.deepcopy((obs, infos))]
    while env.agents:
        joint = random_joint_action(rng, joint_from_agents(obs, agents), n_actions)
        obs, rewards, terms, truncs, infos = env.step(
            {a: int(joint[i]) for i, a in enumerate(agents)}
        )
        trajectory.append(copy.deepcopy((joint, obs, rewards, terms, truncs, infos)))
        if max_steps is not None and len(trajectory) > max_steps:
            break
    return trajectory
