"""The hindsight oracle of Ride-Hailing: equal to the brute-force optimum of small days, its
plan replays to its value, no policy beats it, and what it cannot model is an error."""

from __future__ import annotations

import copy
import itertools

import numpy as np
import pytest

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv
from alloc_envs.ride_hailing.demand import OrderStream
from alloc_envs.ride_hailing.oracle import hindsight_oracle, solve_day

#: A line of three cells (hexagons in one row: neighbours left and right).
SMALL = {"rows": 1, "cols": 3, "max_trip_steps": 2, "episode_steps": 5}


def _day(rng: np.random.Generator, n_orders: int, n_cells: int, steps: int) -> OrderStream:
    return OrderStream.from_unsorted(
        steps,
        rng.integers(0, steps, n_orders),
        rng.integers(0, n_cells, n_orders),
        rng.integers(0, n_cells, n_orders),
        rng.integers(1, 3, n_orders),
        np.round(rng.uniform(1.0, 50.0, n_orders), 2),
    )


def _env(day: OrderStream | None = None, **overrides) -> RideHailingEnv:
    env = RideHailingEnv(None, **{**SMALL, **overrides})  # overrides win
    env.reset(seed=0)
    if day is not None:
        env.scenario.sim.reset(day)
    return env


def _dispatch_choices(sim) -> list[np.ndarray]:
    """Every joint dispatch action that serves a different set of orders."""
    k = sim.config.max_orders
    per_cell = []
    for g in range(sim.n_cells):
        slots = [s for s in range(1, k + 1) if sim.slots[g, s] >= 0]
        most = min(int(sim.idle[g]), len(slots))
        per_cell.append([c for r in range(most + 1) for c in itertools.combinations(slots, r)])
    actions = []
    for combo in itertools.product(*per_cell):
        picks = np.zeros((sim.n_cells, k), dtype=np.int64)
        for g, chosen in enumerate(combo):
            picks[g, : len(chosen)] = chosen
        actions.append(picks)
    return actions


def _reposition_choices(sim) -> list[np.ndarray]:
    """Every joint split of the drivers left idle after the oldest-first matching."""
    served = sim.fifo_matches()
    left = sim.idle - np.bincount(sim.orders.origin[served], minlength=sim.n_cells)
    per_cell = []
    for g in range(sim.n_cells):
        moves = np.flatnonzero(sim.move_mask[g])
        splits = []
        for combo in itertools.combinations_with_replacement(moves, int(left[g])):
            counts = np.bincount(np.asarray(combo, dtype=np.int64), minlength=7)
            splits.append(counts / max(1, counts.sum()))
        per_cell.append(splits or [np.zeros(7)])
    return [np.stack(rows) for rows in itertools.product(*per_cell)]


def _brute_force(sim) -> float:
    """The most GMV any sequence of actions earns from ``sim``'s state to the end of the day."""
    if sim.done:
        return sim.gmv
    dispatch = sim.config.action_mode == "dispatch"
    best = -np.inf
    for action in _dispatch_choices(sim) if dispatch else _reposition_choices(sim):
        branch = copy.deepcopy(sim)
        if dispatch:
            branch.step_dispatch(action)
        else:
            branch.step_reposition(action)
        best = max(best, _brute_force(branch))
    return best


def _replay(env, plan) -> dict:
    sim = env.unwrapped.scenario.sim
    done = False
    while not done:
        _, _, _, done, info = env.step(plan.action(sim))
    return info


CASES = [
    # (action mode, rng seed, orders, overrides)
    ("dispatch", 0, 7, {}),
    ("dispatch", 1, 8, {"patience": 2}),
    ("dispatch", 2, 7, {"patience": 0}),
    ("dispatch", 3, 8, {"max_orders": 1}),  # crowded cells: only the oldest order is offered
    ("dispatch", 4, 6, {"drivers_per_cell": 2, "max_orders": 2}),
    ("reposition", 0, 7, {}),
    ("reposition", 5, 8, {"patience": 2}),
    ("reposition", 6, 5, {"drivers_per_cell": 2, "episode_steps": 3}),
    ("reposition", 7, 8, {"patience": 0}),
]


@pytest.mark.parametrize(("mode", "seed", "n_orders", "overrides"), CASES)
def test_oracle_equals_the_brute_force_optimum_and_its_plan_replays(
    mode: str, seed: int, n_orders: int, overrides: dict
) -> None:
    config = {"drivers_per_cell": 1, "max_orders": 3, "patience": 1, **SMALL, **overrides}
    day = _day(np.random.default_rng(seed), n_orders, 3, config["episode_steps"])
    env = _env(day, action_mode=mode, **config)
    optimum = _brute_force(copy.deepcopy(env.scenario.sim))
    result = hindsight_oracle(env, restrict=False, milp_nodes=10_000)
    assert result.optimal and result.method == "milp"
    assert result.value == pytest.approx(optimum, abs=1e-9)
    assert result.bound >= optimum - 1e-9
    info = _replay(env, result.plan)
    assert info["gmv"] == pytest.approx(result.value, abs=1e-9)
    assert info["orders_served"] == result.orders_served


@pytest.mark.parametrize("mode", ["dispatch", "reposition"])
def test_a_hand_checkable_day(mode: str) -> None:
    """Cells 0 - 1 - 2 in a line, one driver each, orders wait no step. At step 0 cell 0 has
    A (10, to cell 1 in 1 step) then B (12, to cell 2 in 2 steps); at step 1 cell 1 has C (30)
    and D (20). Taking the cheaper A brings a second driver to cell 1 in time for both C and
    D: 10 + 30 + 20 = 60, against 12 + 30 = 42 with B (the greedy choice). In reposition mode
    the oldest-first rule takes A by itself."""
    day = OrderStream.from_unsorted(
        3,
        np.array([0, 0, 1, 1]),
        np.array([0, 0, 1, 1]),
        np.array([1, 2, 0, 2]),
        np.array([1, 2, 1, 1]),
        np.array([10.0, 12.0, 30.0, 20.0]),
    )
    env = _env(day, action_mode=mode, drivers_per_cell=1, episode_steps=3, patience=0)
    result = hindsight_oracle(env, restrict=False)
    assert result.value == pytest.approx(60.0) and result.optimal
    # the LP relaxation of the oldest-first rule (a big-M row) is weaker than dispatch's
    assert result.bound == pytest.approx(60.0) if mode == "dispatch" else result.bound >= 60.0
    assert result.orders_served == 3 and result.orr == pytest.approx(0.75)
    assert _replay(env, result.plan)["gmv"] == pytest.approx(60.0)
    empty = solve_day(env.config.replace(drivers_per_cell=0), day)
    assert empty.bound == pytest.approx(0.0) and empty.value == 0.0


@pytest.mark.parametrize("mode", ["dispatch", "reposition"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_policy_beats_the_oracle_on_small_cities(mode: str, seed: int) -> None:
    config = {"rows": 1, "cols": 4, "drivers_per_cell": 2, "max_trip_steps": 2}
    config.update(episode_steps=8, base_rate_low=1, base_rate_high=3, action_mode=mode)
    env = RideHailingEnv(None, **config)
    env.reset(seed=seed)
    result = hindsight_oracle(env, restrict=False, milp_nodes=100_000)
    assert result.optimal and result.value <= result.bound + 1e-6
    rng = np.random.default_rng(seed)
    for policy in ("serve-all", "random", "random"):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, _, done, info = env.step(_policy_action(policy, obs_of(env), rng))
        assert info["gmv"] <= result.value + 1e-6, policy
    assert _replay(_reset(env, seed), result.plan)["gmv"] == pytest.approx(result.value)


def obs_of(env) -> dict:
    return env.unwrapped.scenario.observe()


def _reset(env, seed: int):
    env.reset(seed=seed)
    return env


def _policy_action(policy: str, obs: dict, rng: np.random.Generator) -> np.ndarray:
    """Serve every offered order (highest price first), or a random valid action."""
    if "candidates" in obs:
        mask = obs["candidate_mask"][:, 1:] > 0
        key = -obs["candidates"][:, 1:, 2] if policy == "serve-all" else rng.random(mask.shape)
        ranking = np.argsort(np.where(mask, key, np.inf), axis=1, kind="stable")
        n = mask.sum(axis=1, keepdims=True)
        if policy != "serve-all":
            n = rng.integers(0, n + 1)
        return np.where(np.arange(mask.shape[1]) < n, ranking + 1, 0)
    weights = rng.random(obs["move_mask"].shape) * obs["move_mask"]
    return weights if policy != "serve-all" else obs["move_mask"] * (np.arange(7) == 0)


def test_the_oracle_works_on_the_parallel_view_and_keeps_its_bound() -> None:
    env = RideHailingParallelEnv(None, **SMALL, drivers_per_cell=1)
    env.reset(seed=3)
    result = hindsight_oracle(env)
    assert result.bound >= result.value > 0
    assert 0.0 <= result.gap <= 1.0


def test_what_the_oracle_cannot_model_is_an_error() -> None:
    with pytest.raises(ValueError, match="Ride-Hailing environment"):
        hindsight_oracle(object())
    env = _env()
    env.step(np.zeros((3, env.config.max_orders), dtype=np.int64))
    with pytest.raises(ValueError, match="from step 0"):
        hindsight_oracle(env)
    config = _env().config
    good = _day(np.random.default_rng(0), 4, 3, config.episode_steps)
    bad = {
        "origin cells": OrderStream.from_unsorted(
            5, good.step, good.origin + 3, good.destination, good.duration, good.price
        ),
        "durations": OrderStream.from_unsorted(
            5, good.step, good.origin, good.destination, good.duration * 0, good.price
        ),
        "prices": OrderStream.from_unsorted(
            5, good.step, good.origin, good.destination, good.duration, -good.price
        ),
        "episode_steps": OrderStream.from_unsorted(
            4, good.step, good.origin, good.destination, good.duration, good.price
        ),
    }
    for name, day in bad.items():
        with pytest.raises(ValueError, match=name):
            solve_day(config, day, HexGrid(1, 3))
    with pytest.raises(ValueError, match="milp_nodes"):
        solve_day(config, good, milp_nodes=-1)
    with pytest.raises(ValueError, match="milp_time_limit"):
        solve_day(config, good, milp_time_limit=0.0)
