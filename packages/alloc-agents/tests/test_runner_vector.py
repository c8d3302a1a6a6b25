"""The runner's joint-vector-env path (Ride-Hailing's ``joint_vector_env``) against its per-copy
path: the same observations, centralised inputs, rewards, flags and episodes for the same seeds
and actions, the same checkpoint replay, and the same trained parameters."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from alloc_agents.ppo import PPOConfig, train
from alloc_agents.ppo.runner import Runner
from alloc_envs.ride_hailing import RideHailingParallelEnv, RideHailingVectorEnv


def _env(**overrides) -> RideHailingParallelEnv:
    return RideHailingParallelEnv(
        preset="ride-hailing-1", episode_steps=5, max_orders=8, **overrides
    )


def _random_actions(runner: Runner, rng: np.random.Generator) -> list[np.ndarray]:
    """(N, E, K) random candidate slots (most of them real orders) for every agent."""
    n, k = runner.layout.n_agents, len(runner.envs[0].action_space("cell_0").nvec)
    return [rng.integers(0, k + 1, size=(n, runner.n_envs, k))]


def _assert_same_state(vector: Runner, loop: Runner) -> None:
    for a, b in zip(vector.group_obs(), loop.group_obs(), strict=True):
        for key in b:
            np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    np.testing.assert_array_equal(vector.central(), loop.central())
    np.testing.assert_array_equal(vector.acting(), loop.acting())
    np.testing.assert_array_equal(vector.episode_index, loop.episode_index)
    np.testing.assert_array_equal(vector.ep_return, loop.ep_return)


def _step_both(vector: Runner, loop: Runner, actions: list[np.ndarray]) -> None:
    acting = loop.acting()
    a, b = vector.step(actions, acting), loop.step(actions, acting)
    for field in ("rewards", "terminated", "truncated", "final_central"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert [asdict(x) for x in a.episodes] == [asdict(x) for x in b.episodes]
    for fa, fb in zip(a.final_obs, b.final_obs, strict=True):
        assert (fa is None) == (fb is None)
        if fb is not None:
            for ga, gb in zip(vector.group_obs([fa]), loop.group_obs([fb]), strict=True):
                for key in gb:
                    np.testing.assert_array_equal(ga[key], gb[key], err_msg=key)
    _assert_same_state(vector, loop)


@pytest.mark.parametrize("mode", ["dispatch", "reposition"])
def test_vector_path_matches_the_per_copy_path(mode: str) -> None:
    make = lambda: _env(action_mode=mode)  # noqa: E731
    vector = Runner(make, 3, seed=5, centralised=True)
    loop = Runner(make, 3, seed=5, centralised=True, vectorised=False)
    assert isinstance(vector.vector, RideHailingVectorEnv) and loop.vector is None
    vector.reset_all()
    loop.reset_all()
    _assert_same_state(vector, loop)
    rng = np.random.default_rng(0)
    for _ in range(12):  # two days and a bit: two resets of every copy
        if mode == "dispatch":
            actions = _random_actions(loop, rng)
        else:
            actions = [rng.random((loop.layout.n_agents, 3, 7)).astype(np.float32)]
        _step_both(vector, loop, actions)
    assert vector.episode_index.tolist() == [2, 2, 2]


def test_a_checkpoint_replays_into_either_path() -> None:
    vector = Runner(_env, 2, seed=1)
    vector.reset_all()
    rng = np.random.default_rng(1)
    for _ in range(7):  # mid-way through the second day
        vector.step(_random_actions(vector, rng), vector.acting())
    state = vector.state_dict()
    resumed, loop = Runner(_env, 2, seed=1), Runner(_env, 2, seed=1, vectorised=False)
    resumed.load_state_dict(state)
    loop.load_state_dict(state)
    _assert_same_state(resumed, vector)
    _assert_same_state(loop, vector)
    actions = _random_actions(vector, rng)
    _step_both(resumed, loop, actions)


def test_stepping_some_copies_or_agents_needs_the_per_copy_path() -> None:
    runner = Runner(_env, 2, seed=0)
    runner.reset_all()
    actions = _random_actions(runner, np.random.default_rng(0))
    with pytest.raises(ValueError, match="vectorised=False"):
        runner.step(actions, runner.acting(), copies=np.array([True, False]))
    acting = runner.acting()
    acting[3, 1] = False
    with pytest.raises(ValueError, match="vectorised=False"):
        runner.step(actions, acting)


def test_training_through_the_vector_env_ends_with_the_same_parameters(monkeypatch) -> None:
    config = PPOConfig(n_steps=5, n_epochs=2, hidden_sizes=(16, 16), checkpoint_every=10**6)
    kwargs = {"sharing": "ps", "total_env_steps": 30, "n_envs": 3, "seed": 2}
    kwargs |= {"device": "cpu", "config": config, "progress": False}
    vector = train(_env, algorithm="mappo", **kwargs)
    monkeypatch.delattr(RideHailingParallelEnv, "joint_vector_env")
    loop = train(_env, algorithm="mappo", **kwargs)
    for (name, a), (_, b) in zip(
        vector.model.named_parameters(), loop.model.named_parameters(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    assert [h["episode_return"] for h in vector.history] == [
        h["episode_return"] for h in loop.history
    ]
