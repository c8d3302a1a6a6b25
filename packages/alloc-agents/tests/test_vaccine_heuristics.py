"""Rule-based vaccine allocators: the share -> action mapping, each rule's doses, seeding, the
PettingZoo adapter, and that they read nothing but the observation."""

from __future__ import annotations

import numpy as np
import pytest

from alloc_agents import POLICIES, make_policy
from alloc_agents.rule_based.vaccine import (
    BUDGET,
    CAPACITY,
    COLUMNS,
    CONFIRMED,
    ELDER_SHARE,
    LOG_POPULATION,
    NEW_CONFIRMED,
    shares_to_actions,
)
from alloc_envs.vaccine import (
    OBSERVATION_COLUMNS,
    VaccineAllocationEnv,
    VaccineAllocationParallelEnv,
)

NAMES = ["none", "random", "population", "new-cases", "cumulative-cases", "elder-first"]


def _doses(env: VaccineAllocationEnv, action: np.ndarray) -> np.ndarray:
    return env.scenario.doses_for(action)


def test_the_family_is_registered_and_columns_match_the_environment() -> None:
    assert sorted(POLICIES["vaccine"]) == sorted(NAMES)
    assert COLUMNS == OBSERVATION_COLUMNS
    with pytest.raises(ValueError, match="unknown policy"):
        make_policy("greedy", family="vaccine")


def test_shares_map_to_proportional_doses() -> None:
    shares = np.array([4.0, 2.0, 1.0, 0.0, 1e-12])
    actions = shares_to_actions(shares)
    assert actions.shape == (5, 1) and actions.dtype == np.float32
    assert actions[0, 0] == 1.0 and actions[3, 0] == -1.0 and actions[4, 0] == -1.0
    np.testing.assert_allclose(actions[1:3, 0], 1 + np.log([0.5, 0.25]) / 10, rtol=1e-6)
    np.testing.assert_array_equal(shares_to_actions(np.zeros(3)), -1.0)


def _observation(n: int = 6) -> dict[str, np.ndarray]:
    rows = np.zeros((n, len(COLUMNS)), dtype=np.float32)
    rows[:, LOG_POPULATION] = np.log(np.array([1000, 2000, 3000, 4000, 5000, 6000][:n]))
    rows[:, ELDER_SHARE] = [0.05, 0.30, 0.10, 0.20, 0.01, 0.15][:n]
    rows[:, NEW_CONFIRMED] = [0.0, 0.1, 0.5, 0.0, 0.2, 0.0][:n]
    rows[:, CONFIRMED] = [1.0, 0.0, 0.0, 0.0, 0.0, 0.0][:n]
    rows[:, CAPACITY] = 1.0
    rows[:, BUDGET] = 0.2  # 4,200 doses a day for 21,000 people
    return {"observation": rows}


def test_each_rule_sets_the_documented_shares() -> None:
    from alloc_agents.rule_based.vaccine import ElderFirst, NewCasesProportional

    rows = _observation()["observation"].astype(np.float64)
    population = np.exp(rows[:, LOG_POPULATION])
    np.testing.assert_allclose(
        NewCasesProportional().shares(rows), rows[:, NEW_CONFIRMED] * population
    )
    target = ElderFirst().shares(rows)
    # elder order 1 (2,000), 3 (4,000), 5 (6,000 > the 0-remainder)... budget 4,200
    np.testing.assert_allclose(target, [0, 2000, 0, 2200, 0, 0], rtol=1e-5)
    quiet = rows.copy()
    quiet[:, NEW_CONFIRMED] = 0
    np.testing.assert_allclose(NewCasesProportional().shares(quiet), population)


@pytest.mark.parametrize("name", NAMES)
def test_rules_give_their_doses_in_the_environment(name: str) -> None:
    env = VaccineAllocationEnv(n_decisions=20)
    obs, _ = env.reset(seed=0)
    policy = make_policy(name, seed=1, family="vaccine")
    for _ in range(12):  # some confirmed cases first
        obs, *_ = env.step(np.zeros((100, 1), dtype=np.float32))
    action = policy.act(obs)
    assert action.shape == (100, 1) and action.dtype == np.float32
    assert env.action_space.contains(action)
    doses = _doses(env, action)
    rows = obs["observation"].astype(np.float64)
    population = env.scenario.sim.population
    budget = env.scenario.sim.budget
    if name == "none":
        np.testing.assert_array_equal(doses, 0.0)
        return
    assert doses.sum() == pytest.approx(budget, rel=1e-9)
    if name == "population":
        np.testing.assert_allclose(doses, budget * population / population.sum(), rtol=1e-5)
    elif name in ("new-cases", "cumulative-cases"):
        column = NEW_CONFIRMED if name == "new-cases" else CONFIRMED
        cases = rows[:, column] * np.exp(rows[:, LOG_POPULATION])
        np.testing.assert_allclose(doses, budget * cases / cases.sum(), rtol=1e-4, atol=1e-3)
    elif name == "elder-first":
        order = np.argsort(-rows[:, ELDER_SHARE], kind="stable")
        capacity = env.scenario.sim.capacity()
        given = doses[order]
        full = np.flatnonzero(given >= capacity[order] * (1 - 1e-6))
        assert full.size >= 1 and np.array_equal(full, np.arange(full.size))  # a prefix is full
        assert np.all(given[full.size + 1 :] == 0)  # then one partial region, then nothing


def test_random_is_seeded_and_changes_every_day() -> None:
    obs = _observation()
    a, b = (
        make_policy("random", seed=7, family="vaccine"),
        make_policy("random", seed=7, family="vaccine"),
    )
    first = a.act(obs)
    np.testing.assert_array_equal(first, b.act(obs))
    assert not np.array_equal(first, a.act(obs))
    a.reset(7)
    np.testing.assert_array_equal(first, a.act(obs))


@pytest.mark.parametrize("name", NAMES)
def test_rules_play_the_parallel_view(name: str) -> None:
    env = VaccineAllocationParallelEnv(n_decisions=3)
    policy = make_policy(name, seed=0, family="vaccine")
    obs, _ = env.reset(seed=0)
    while env.agents:
        actions = policy.act_parallel(obs)
        assert set(actions) == set(env.possible_agents)
        assert actions["region_0"].shape == (1,)
        obs, _, _, _, infos = env.step(actions)
    given = infos["region_0"]["doses_given"]
    assert given == 0.0 if name == "none" else given == pytest.approx(3 * 2298)


def test_rules_reject_other_observations() -> None:
    with pytest.raises(ValueError, match="vaccine observation"):
        make_policy("population", family="vaccine").act({"observation": np.zeros((3, 4))})


def test_heuristics_beat_random_on_the_small_city() -> None:
    """new-cases averts more infections than random, elder-first more deaths (one seed)."""
    env = VaccineAllocationEnv()
    results = {}
    for name in ("random", "new-cases", "elder-first"):
        policy = make_policy(name, seed=0, family="vaccine")
        obs, _ = env.reset(seed=0)
        truncated = False
        while not truncated:
            obs, _, _, truncated, info = env.step(policy.act(obs))
        results[name] = info
    assert results["new-cases"]["infections_averted"] > results["random"]["infections_averted"]
    assert results["elder-first"]["deaths_averted"] > results["random"]["deaths_averted"]
