"""The hidden-types task (``alloc/HiddenTypes-v0``): balanced hidden types, rewards, the cap on
one shared policy, bad input, and multi-step determinism of the PettingZoo view. The generic
contract (PettingZoo's ``parallel_api_test`` and ``parallel_seed_test``, Gymnasium's checker,
pickling, vector envs) runs in ``test_registered_envs.py``."""

from __future__ import annotations

import numpy as np
import pettingzoo
import pytest

import alloc_envs  # noqa: F401  (registers the ids)
from alloc_envs.hidden_types.gym_env import HiddenTypesEnv
from alloc_envs.hidden_types.parallel_env import HiddenTypesParallelEnv
from alloc_envs.hidden_types.scenario import HiddenTypesConfig, hidden_types


def test_types_are_balanced_fixed_and_shuffled_by_the_type_seed() -> None:
    types = hidden_types(HiddenTypesConfig(n_agents=36, n_types=4))
    assert np.bincount(types).tolist() == [9, 9, 9, 9]
    assert not np.array_equal(types, np.arange(36) % 4)
    other = hidden_types(HiddenTypesConfig(n_agents=36, n_types=4, type_seed=1))
    assert not np.array_equal(types, other)
    env = HiddenTypesParallelEnv(n_agents=36, n_types=4)
    np.testing.assert_array_equal(env.types, types)
    env.reset(seed=3)
    np.testing.assert_array_equal(env.types, types)  # a reset keeps the types


def test_reward_is_one_for_the_agents_own_type_and_shared_policies_are_capped() -> None:
    env = HiddenTypesEnv(n_agents=10, n_types=2, episode_steps=3)
    types = env.unwrapped.scenario.types
    env.reset(seed=0)
    _, reward, _, _, info = env.step(types)
    assert reward == 10.0 and info["accuracy"] == 1.0
    np.testing.assert_array_equal(info["agent_rewards"], np.ones(10))
    for k in range(2):  # one action for every agent (what a shared, id-free policy can do)
        _, reward, terminated, truncated, info = env.step(np.full(10, k))
        assert reward == 5.0 and info["accuracy"] == 0.5
    assert info["episode_accuracy"] == pytest.approx(2 / 3)
    assert (terminated, truncated) == (False, True)


def test_observations_are_noise_independent_of_the_types() -> None:
    env = HiddenTypesParallelEnv(n_agents=4, n_types=2, obs_dim=3)
    obs, _ = env.reset(seed=1)
    rows = np.stack([obs[a]["observation"] for a in env.possible_agents])
    assert rows.shape == (4, 3) and rows.dtype == np.float32
    assert (np.abs(rows) <= 1).all() and len(np.unique(rows)) == 12


def test_parallel_view_is_deterministic_over_several_steps_and_episodes() -> None:
    def trajectory(seed: int) -> list[tuple]:
        env = pettingzoo.make("parallel", "alloc/HiddenTypes-v0", n_agents=6, n_types=3)
        rng = np.random.default_rng(7)
        out = []
        for episode in range(2):
            obs, _ = env.reset(seed=seed if episode == 0 else None)
            while env.agents:
                actions = {a: int(rng.integers(3)) for a in env.agents}
                obs, rewards, _, trunc, _ = env.step(actions)
                out.append(({a: o["observation"].copy() for a, o in obs.items()}, rewards, trunc))
        return out

    first, second = trajectory(5), trajectory(5)
    assert len(first) == 16
    for a, b in zip(first, second, strict=True):
        assert a[1] == b[1] and a[2] == b[2]
        for agent in a[0]:
            np.testing.assert_array_equal(a[0][agent], b[0][agent])
    different = trajectory(6)
    assert any(
        not np.array_equal(a[0]["agent_0"], b[0]["agent_0"])
        for a, b in zip(first, different, strict=True)
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"n_agents": 1}, "n_agents"), ({"n_types": 1}, "n_types"), ({"n_types": 40}, "n_types"),
     ({"episode_steps": 0}, "episode_steps"), ({"obs_dim": 0}, "obs_dim"),
     ({"type_seed": -1}, "type_seed"), ({"n_agent": 3}, "n_agent")],
)  # fmt: skip
def test_bad_options_name_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        HiddenTypesEnv(**kwargs)


@pytest.mark.parametrize(
    ("action", "message"),
    [(np.zeros(3), "shape"), (np.array([0, 1, np.nan, 0]), "finite"),
     (np.array([0, 1, 2, 0]), r"\[0, 1\]"), (np.array([0, 0.5, 1, 0]), "integers")],
)  # fmt: skip
def test_bad_actions_are_value_errors(action: np.ndarray, message: str) -> None:
    env = HiddenTypesEnv(n_agents=4, n_types=2)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)
