"""Shared helpers of the alloc-envs tests (exposed as fixtures: the tests run with
``--import-mode=importlib``, so they cannot import this module by name)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest


def random_joint_action(rng: np.random.Generator, obs: dict[str, np.ndarray]) -> np.ndarray:
    """A random valid joint action for a ride-hailing joint observation.

    Dispatch mode (``candidates`` present): every pick is uniform over the unmasked slots (STAY
    included), and one cell in ten picks uniformly over all slots 0..K (empty slots are valid
    input: they leave the driver idle). Reposition mode: random weights in [0, 1] on the unmasked
    moves, some of them zeroed, some rows all zero.
    """
    mask = np.asarray(obs["candidate_mask"] if "candidates" in obs else obs["move_mask"]) > 0
    g, width = mask.shape
    if "candidates" in obs:
        k = width - 1
        scores = rng.random((g, k, width)) * mask[:, None, :]
        picks = scores.argmax(axis=2)
        wild = rng.random(g) < 0.1
        picks[wild] = rng.integers(0, k + 1, size=(int(wild.sum()), k))
        return picks.astype(np.int64)
    weights = rng.random((g, width)) * mask
    weights[rng.random((g, width)) < 0.3] = 0.0
    weights[rng.random(g) < 0.1] = 0.0
    return weights.astype(np.float32)


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Exact, recursive equality of observations / rewards / infos (arrays compared exactly)."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert a.keys() == b.keys(), f"{path}: keys {sorted(a)} != {sorted(b)}"
        for key in a:
            assert_same(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        assert a_arr.dtype == b_arr.dtype, f"{path}: dtype {a_arr.dtype} != {b_arr.dtype}"
        np.testing.assert_array_equal(a_arr, b_arr, err_msg=path)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def gym_episode(
    env: Any,
    seed: int | None,
    action_seed: int,
    max_steps: int | None = None,
    policy: Callable[[dict[str, np.ndarray]], np.ndarray] | None = None,
) -> list[Any]:
    """Reset ``env`` (Gymnasium view) with ``seed`` and play random actions (or ``policy``);
    returns the trajectory [reset (obs, info), then (action, obs, reward, term, trunc, info)...]."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    trajectory: list[Any] = [copy.deepcopy((obs, info))]
    steps = 0
    while True:
        action = policy(obs) if policy is not None else random_joint_action(rng, obs)
        obs, reward, terminated, truncated, info = env.step(action)
        trajectory.append(copy.deepcopy((action, obs, reward, terminated, truncated, info)))
        steps += 1
        if terminated or truncated or (max_steps is not None and steps >= max_steps):
            return trajectory


def joint_from_agents(par_obs: dict[str, dict[str, np.ndarray]], agents: list[str]) -> dict:
    """Stack per-agent observation dicts back into the joint (agent-major) dict."""
    keys = par_obs[agents[0]].keys()
    return {k: np.stack([par_obs[a][k] for a in agents]) for k in keys}


def parallel_episode(
    env: Any, seed: int | None, action_seed: int, max_steps: int | None = None
) -> list[Any]:
    """Like :func:`gym_episode` for the PettingZoo parallel view (random joint actions split per
    agent)."""
    rng = np.random.default_rng(action_seed)
    obs, infos = env.reset(seed=seed)
    agents = list(env.possible_agents)
    trajectory: list[Any] = [copy.deepcopy((obs, infos))]
    steps = 0
    while env.agents:
        joint = random_joint_action(rng, joint_from_agents(obs, agents))
        actions = {a: joint[i] for i, a in enumerate(agents)}
        obs, rewards, terms, truncs, infos = env.step(actions)
        trajectory.append(copy.deepcopy((joint, obs, rewards, terms, truncs, infos)))
        steps += 1
        if max_steps is not None and steps >= max_steps:
            break
    return trajectory


class Helpers:
    """Namespace handed to the tests by the ``rh`` fixture."""

    random_joint_action = staticmethod(random_joint_action)
    assert_same = staticmethod(assert_same)
    gym_episode = staticmethod(gym_episode)
    parallel_episode = staticmethod(parallel_episode)
    joint_from_agents = staticmethod(joint_from_agents)


@pytest.fixture(scope="session")
def rh() -> type[Helpers]:
    """Ride-hailing test helpers (random valid actions, trajectories, exact comparison)."""
    return Helpers
