"""The reference ride-hailing policies: ``mpc`` (rolling-horizon LP) and ``oracle`` (hindsight).

``mpc`` with a horizon of 1 and no expected demand is a one-step matching: in dispatch mode it
serves, in each cell, the ``min(idle, offered)`` highest-priced orders (the greedy dispatcher's
choice; prices here are continuous with no non-positive draws, so there are no ties), and in
reposition mode it keeps every idle driver in place.
"""

from __future__ import annotations

import numpy as np
import pytest

from alloc_agents import make_policy
from alloc_agents.rule_based import HindsightOracle, MPCDispatch
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv
from alloc_envs.ride_hailing.trips import TripTable

#: A small city whose prices are never replaced by their mean (std far below the mean).
CITY = {
    "rows": 3,
    "cols": 3,
    "drivers_per_cell": 3,
    "max_trip_steps": 3,
    "episode_steps": 24,
    "max_orders": 8,
    "price_std": (1.0, 1.5, 2.0, 2.5, 3.0),
}
#: Smaller still, where the oracle's MILP is solved to optimality in well under a second.
TINY = {
    "rows": 1,
    "cols": 4,
    "drivers_per_cell": 2,
    "max_trip_steps": 2,
    "episode_steps": 8,
    "base_rate_low": 1,
    "base_rate_high": 3,
}


def _play(env, policy, seed: int) -> list[dict]:
    """One Gymnasium episode; the info of every step."""
    obs, _ = env.reset(seed=seed)
    policy.reset(seed)
    infos, done = [], False
    while not done:
        obs, _, _, done, info = env.step(policy.act(obs))
        infos.append(info)
    return infos


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_mpc_with_horizon_one_and_no_demand_is_the_greedy_matching(seed: int) -> None:
    env_a, env_b = RideHailingEnv(None, **CITY), RideHailingEnv(None, **CITY)
    mpc = MPCDispatch(horizon=1, expected_demand=False)
    mpc.attach(env_a)
    greedy = make_policy("greedy")
    obs_a, _ = env_a.reset(seed=seed)
    obs_b, _ = env_b.reset(seed=seed)
    done = False
    while not done:
        obs_a, _, _, done, info_a = env_a.step(mpc.act(obs_a))
        obs_b, _, _, _, info_b = env_b.step(greedy.act(obs_b))
        np.testing.assert_array_equal(obs_a["observation"], obs_b["observation"])
        assert info_a["gmv"] == info_b["gmv"] and info_a["orders_served"] > 0


def test_mpc_with_horizon_one_in_reposition_mode_keeps_drivers_in_place() -> None:
    env_a = RideHailingEnv(None, **CITY, action_mode="reposition")
    env_b = RideHailingEnv(None, **CITY, action_mode="reposition")
    mpc = MPCDispatch(horizon=1)
    mpc.attach(env_a)
    obs_a, _ = env_a.reset(seed=4)
    env_b.reset(seed=4)
    stay = np.zeros((env_b.scenario.n_agents, 7))
    done = False
    while not done:
        obs_a, _, _, done, info_a = env_a.step(mpc.act(obs_a))
        _, _, _, _, info_b = env_b.step(stay)
        assert info_a["gmv"] == info_b["gmv"]
    np.testing.assert_array_equal(env_a.scenario.sim.idle, env_b.scenario.sim.idle)


@pytest.mark.parametrize("mode", ["dispatch", "reposition"])
@pytest.mark.parametrize("seed", [0, 1])
def test_no_method_exceeds_the_oracle_and_the_oracle_replays_its_value(
    mode: str, seed: int
) -> None:
    env = RideHailingEnv(None, **TINY, action_mode=mode)
    oracle = HindsightOracle(restrict=False, milp_nodes=100_000)
    oracle.attach(env)
    limit = _play(env, oracle, seed)[-1]["gmv"]
    result = oracle.result
    assert result.optimal and limit == pytest.approx(result.value)
    assert result.value <= result.bound + 1e-6
    names = ["mpc", "random"] + (["greedy", "nearest", "balance"] if mode == "dispatch" else [])
    for name in names:
        policy = make_policy(name, seed=seed, env=env)
        assert _play(env, policy, seed)[-1]["gmv"] <= limit + 1e-6, name


@pytest.mark.parametrize("mode", ["dispatch", "reposition"])
def test_both_views_give_the_same_episode(mode: str) -> None:
    for name in ("mpc", "oracle"):
        gym_env = RideHailingEnv(None, **TINY, action_mode=mode)
        gmv = _play(gym_env, make_policy(name, env=gym_env), 3)[-1]["gmv"]
        par = RideHailingParallelEnv(None, **TINY, action_mode=mode)
        policy = make_policy(name, env=par)
        obs, infos = par.reset(seed=3)
        while par.agents:
            obs, _, _, _, infos = par.step(policy.act_parallel(obs))
        assert infos["cell_0"]["gmv"] == pytest.approx(gmv), name


def test_mpc_with_its_demand_model_beats_greedy_on_a_small_city() -> None:
    env = RideHailingEnv(None, **CITY)
    greedy = sum(_play(env, make_policy("greedy"), s)[-1]["gmv"] for s in range(3))
    mpc = sum(_play(env, make_policy("mpc", env=env), s)[-1]["gmv"] for s in range(3))
    assert mpc > greedy


def test_reference_policies_say_what_they_need() -> None:
    env = RideHailingEnv(None, **TINY)
    obs, _ = env.reset(seed=0)
    for name in ("mpc", "oracle"):
        with pytest.raises(ValueError, match="attach"):
            make_policy(name).act(obs)
        with pytest.raises(ValueError, match="Ride-Hailing environment"):
            make_policy(name, env=object())
        policy = make_policy(name, env=RideHailingEnv(None, **TINY))  # another env, not reset
        env.step(np.zeros((4, env.config.max_orders), dtype=np.int64))
        with pytest.raises(ValueError, match="step"):
            policy.act(env.scenario.observe())
    trips = TripTable(
        n_cells=4,
        n_steps=8,
        day_labels=("2016-11-01",),
        day=[0, 0],
        step=[0, 1],
        origin=[0, 1],
        destination=[1, 2],
        duration=[1, 2],
        price=[10.0, 20.0],
    )
    recorded = RideHailingEnv(None, **{**TINY, "episode_steps": 8}, trips=trips)
    with pytest.raises(ValueError, match="demand model"):
        make_policy("mpc", env=recorded)
    planner = MPCDispatch(expected_demand=False)
    planner.attach(recorded)
    assert _play(recorded, planner, 0)[-1]["gmv"] == pytest.approx(30.0)
