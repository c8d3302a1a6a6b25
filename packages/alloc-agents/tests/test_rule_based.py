"""Rule-based ride-hailing policies: ordering rules, masks, seeding, the parallel adapter."""

from __future__ import annotations

import numpy as np
import pytest

from alloc_agents import POLICIES, make_policy
from alloc_agents.rule_based.ride_hailing import DELTA_DRIVERS, PRICE
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv

K = 5


def _dispatch_obs(prices: list[list[float]]) -> dict[str, np.ndarray]:
    """A hand-made dispatch observation: row i has orders with ``prices[i]`` in slots 1..n."""
    n = len(prices)
    candidates = np.zeros((n, K + 1, 9), dtype=np.float32)
    mask = np.zeros((n, K + 1), dtype=np.int8)
    mask[:, 0] = 1
    for i, row in enumerate(prices):
        candidates[i, 1 : 1 + len(row), PRICE] = row
        mask[i, 1 : 1 + len(row)] = 1
    return {
        "observation": np.zeros((n, 14), np.float32),
        "candidates": candidates,
        "candidate_mask": mask,
    }


def test_greedy_serves_highest_price_first_then_stays() -> None:
    obs = _dispatch_obs([[10.0, 30.0, 20.0], [], [5.0, 5.0]])
    picks = make_policy("greedy").act(obs)
    assert picks.shape == (3, K)
    np.testing.assert_array_equal(picks[0], [2, 3, 1, 0, 0])
    np.testing.assert_array_equal(picks[1], [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(picks[2], [1, 2, 0, 0, 0])  # ties: arrival order


def test_nearest_serves_in_arrival_order() -> None:
    obs = _dispatch_obs([[10.0, 30.0, 20.0]])
    np.testing.assert_array_equal(make_policy("nearest").act(obs)[0], [1, 2, 3, 0, 0])


def test_balance_serves_trips_into_cells_short_of_drivers_first_then_dear_ones() -> None:
    obs = _dispatch_obs([[10.0, 30.0, 20.0, 12.0]])
    obs["candidates"][0, 1:5, DELTA_DRIVERS] = [-3.0, 4.0, 0.0, -3.0]  # destination - origin
    # keys delta - 0.2 * price: -5, -2, -4, -5.4
    np.testing.assert_array_equal(make_policy("balance").act(obs)[0], [4, 1, 3, 2, 0])
    price_only = POLICIES["ride-hailing"]["balance"](price_weight=1e6)
    np.testing.assert_array_equal(price_only.act(obs)[0], make_policy("greedy").act(obs)[0])
    with pytest.raises(ValueError, match="price_weight"):
        POLICIES["ride-hailing"]["balance"](price_weight=-1.0)


def test_policies_never_pick_masked_slots() -> None:
    obs = _dispatch_obs([[1.0, 2.0, 3.0, 4.0]])
    obs["candidate_mask"][0, 2] = 0  # slot 2 holds no candidate
    for name, cls in POLICIES["ride-hailing"].items():
        if cls.knowledge:  # mpc, oracle: they act on their environment (tested on their own)
            continue
        picks = make_policy(name, seed=3).act(obs)[0]
        assert 2 not in picks, name
        orders = picks[picks > 0]
        assert len(set(orders.tolist())) == len(orders), name


def test_random_dispatch_is_seeded_and_stays_with_the_right_probability() -> None:
    obs = _dispatch_obs([[1.0, 2.0, 3.0]] * 4000)
    a = make_policy("random", seed=7).act(obs)
    b = make_policy("random", seed=7).act(obs)
    np.testing.assert_array_equal(a, b)
    # First pick: STAY with probability 1 / (1 + 3 orders); each order with 1/4 too.
    freq = np.bincount(a[:, 0], minlength=4) / len(a)
    np.testing.assert_allclose(freq, 0.25, atol=0.03)
    # Orders are picked at most once; with 5 picks and 3 orders some rows list all three.
    listed = [sorted(row[row > 0].tolist()) for row in a]
    assert all(len(set(x)) == len(x) and set(x) <= {1, 2, 3} for x in listed)
    assert any(x == [1, 2, 3] for x in listed)


def test_random_reposition_weights_are_a_distribution_over_valid_moves() -> None:
    env = RideHailingEnv(preset="ride-hailing-1", action_mode="reposition")
    obs, _ = env.reset(seed=0)
    weights = make_policy("random", seed=0).act(obs)
    assert weights.shape == env.action_space.shape
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-5)
    assert np.all(weights[obs["move_mask"] == 0] == 0)
    env.step(weights)


@pytest.mark.parametrize("name", ["greedy", "nearest", "balance"])
def test_dispatch_policies_reject_reposition_observations(name: str) -> None:
    env = RideHailingEnv(preset="ride-hailing-1", action_mode="reposition")
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match="dispatch"):
        make_policy(name).act(obs)


def test_act_parallel_matches_the_joint_action() -> None:
    par = RideHailingParallelEnv(preset="ride-hailing-1")
    gym_env = RideHailingEnv(preset="ride-hailing-1")
    obs_par, _ = par.reset(seed=4)
    obs_gym, _ = gym_env.reset(seed=4)
    policy = make_policy("greedy")
    per_agent = policy.act_parallel(obs_par)
    joint = policy.act(obs_gym)
    np.testing.assert_array_equal(np.stack([per_agent[a] for a in par.agents]), joint)


def test_make_policy_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="known policies"):
        make_policy("fastest")


@pytest.mark.parametrize(
    ("family", "env_id", "preset"),
    [("lbf", "alloc/LBF-v0", "lbf-1"), ("rware", "alloc/RWARE-v0", "rware-1")],
)
def test_grid_world_random_policies_play_valid_seeded_actions(family, env_id, preset) -> None:
    import gymnasium

    env = gymnasium.make(env_id, preset=preset).unwrapped
    obs, _ = env.reset(seed=0)
    a = make_policy("random", seed=1, family=family).act(obs)
    b = make_policy("random", seed=1, family=family).act(obs)
    np.testing.assert_array_equal(a, b)
    assert env.action_space.contains(a)
    if "action_mask" in obs:
        assert np.all(obs["action_mask"][np.arange(len(a)), a] == 1)
    env.step(a)
