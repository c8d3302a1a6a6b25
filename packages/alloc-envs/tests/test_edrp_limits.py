"""EDRP v1 (the revised city) and its limits: the headroom a platform has on the default preset,
the planner's ceiling (an LP whose plan, rolled out in the model, reproduces its value), the
exact leader gradient (against central finite differences) and the charge optimiser; EDRP v0 kept
as it was."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from alloc_envs.edrp import EDRPConfig, make_game
from alloc_envs.edrp.exact_leader import (
    STORED,
    equilibrium_orr,
    exact_leader,
    fare_equalising_charges,
    load_exact_leaders,
    optimise_charges,
    save_exact_leaders,
)
from alloc_envs.edrp.limits import planner_ceiling
from alloc_envs.stackelberg.fokker_planck import rollout
from alloc_envs.stackelberg.leader import no_incentive
from alloc_envs.stackelberg.sampled import play_sampled
from alloc_envs.stackelberg.sensitivity import leader_gradient, refine_equilibrium
from alloc_envs.stackelberg.solver import solve_equilibrium

EDRP = make_game("edrp")
SMALL = make_game("edrp-small", reach_hops=2)


def solve(game, charges):
    temperature = game.config.follower_temperature
    return solve_equilibrium(game, charges, temperature=temperature, tolerance=1e-6)


@pytest.fixture(scope="module")
def ceiling():
    return planner_ceiling(EDRP)


@pytest.fixture(scope="module")
def no_charge():
    return solve(EDRP, no_incentive(EDRP))


def test_v1_reach_follows_the_citys_own_one_slot_trips() -> None:
    city = EDRP.city
    hops = city.hop_distances()
    assert EDRP.reach_hops == city.one_slot_reach() == 4
    assert (city.trip_steps[(hops >= 1) & (hops <= 4)] == 1).all()
    assert (city.trip_steps[hops == 5] > 1).any()
    targets, distance = city.reachable_zones(4)
    for zone in (0, 31, 62):
        assert set(targets[zone][targets[zone] >= 0]) == set(
            np.flatnonzero((hops[zone] >= 1) & (hops[zone] <= 4))
        )
    np.testing.assert_array_equal(
        EDRP.move_cost[:63, 1:], np.where(distance >= 0, 0.5 * distance, 0)
    )


def test_the_default_city_leaves_a_platform_headroom(ceiling, no_charge) -> None:
    none = no_charge.flow.metrics["orr"]
    assert no_charge.converged and 0.76 <= none <= 0.84
    assert ceiling.orr - none >= 0.06
    rule = solve(EDRP, fare_equalising_charges(EDRP))
    gain = rule.flow.metrics["orr"] - none
    assert rule.converged and gain >= 0.06 and gain >= 0.6 * (ceiling.orr - none)
    assert rule.flow.metrics["orr"] <= ceiling.orr


def test_the_planners_plan_rolled_out_in_the_model_reproduces_its_value(ceiling) -> None:
    assert ceiling.rollout_orr == pytest.approx(ceiling.orr, abs=5e-3)
    flow = rollout(EDRP, ceiling.policy, no_incentive(EDRP))
    assert flow.metrics["orr"] == pytest.approx(ceiling.rollout_orr, abs=1e-12)


def test_no_leader_beats_the_planner_on_a_small_city() -> None:
    bound = planner_ceiling(SMALL).orr
    rng = np.random.default_rng(0)
    for charges in [no_incentive(SMALL), *rng.uniform(0, 0.75, (4, SMALL.n_incentives))]:
        assert solve(SMALL, charges).flow.metrics["orr"] <= bound + 1e-9


def test_sampled_followers_approach_the_mean_field(ceiling, no_charge) -> None:
    """N sampled drivers playing the equilibrium policy score close to its mean-field ORR;
    playing the planner's knife-edge plan (arrivals equal to the orders), they lose more to the
    randomness of a finite fleet, but still beat the equilibrium."""
    none = no_incentive(EDRP)
    orr = play_sampled(EDRP, no_charge.policy, none, 100_000, seed=0)["orr"]
    assert orr == pytest.approx(no_charge.flow.metrics["orr"], abs=0.01)
    planned = play_sampled(EDRP, ceiling.policy, none, 100_000, seed=0)["orr"]
    assert orr < planned < ceiling.orr


def test_the_charge_gradient_at_no_charge_is_large_enough(no_charge) -> None:
    weights = np.full((EDRP.horizon, EDRP.n_sites), 1 / EDRP.total_demand)
    result = leader_gradient(
        EDRP,
        np.zeros((EDRP.horizon, EDRP.n_incentives)),
        weights,
        temperature=EDRP.config.follower_temperature,
        initial_policy=no_charge.policy,
    )
    assert result.fixed_point_residual < 1e-10 and result.adjoint_residual < 1e-6
    assert result.value == pytest.approx(no_charge.flow.metrics["orr"], abs=1e-4)
    assert result.gradient.sum(axis=0).max() >= 0.01  # d ORR / d u(y), a fixed charge


def test_the_exact_gradient_agrees_with_central_finite_differences() -> None:
    game, temperature = SMALL, SMALL.config.follower_temperature
    rng = np.random.default_rng(1)
    u = rng.uniform(0.05, 0.5, (game.horizon, game.n_incentives))
    weights = np.full((game.horizon, game.n_sites), 1 / game.total_demand)
    exact = leader_gradient(game, u, weights, temperature=temperature)

    def orr(charges: np.ndarray) -> float:
        policy = refine_equilibrium(game, charges, exact.policy, temperature)
        return rollout(game, policy, charges).metrics["orr"]

    step = 1e-5
    for t, y in [(0, 0), (2, 3), (4, 7), (7, 1)]:
        bump = np.zeros_like(u)
        bump[t, y] = step
        central = (orr(u + bump) - orr(u - bump)) / (2 * step)
        assert exact.gradient[t, y] == pytest.approx(central, rel=1e-4, abs=1e-8)
    direction = rng.standard_normal(u.shape) * step
    central = (orr(u + direction) - orr(u - direction)) / 2
    assert (exact.gradient * direction).sum() == pytest.approx(central, rel=1e-4)


def test_optimised_charges_beat_their_start_and_stay_below_the_planner() -> None:
    fixed = optimise_charges(SMALL, max_evaluations=15)
    assert fixed.charges.shape == (SMALL.n_incentives,)
    assert fixed.orr > fixed.start_orr + 0.05
    assert fixed.orr == pytest.approx(equilibrium_orr(SMALL, fixed.charges), abs=1e-4)
    start = np.broadcast_to(fixed.charges, (SMALL.horizon, SMALL.n_incentives))
    scheduled = optimise_charges(SMALL, schedule=True, start=start, max_evaluations=8)
    assert scheduled.charges.shape == start.shape and scheduled.orr >= fixed.orr - 1e-9
    assert scheduled.orr <= planner_ceiling(SMALL).orr
    assert fixed(3, None, None) is fixed.charges and scheduled(3, None, None).shape == (8,)


def test_the_shipped_exact_leaders_are_the_default_citys(ceiling, no_charge) -> None:
    """The package's stored exact leaders of EDRP v1 are found for the default preset, their
    ORR is what the model gives today, and the fixed one holds most of the headroom."""
    fixed, schedule = exact_leader(EDRP)
    assert fixed.evaluations == 0 and schedule.evaluations == 0  # loaded, not optimised
    assert fixed.charges.shape == (63,) and schedule.charges.shape == (36, 63)
    none = no_charge.flow.metrics["orr"]
    orr = solve(EDRP, fixed.charges).flow.metrics["orr"]
    assert orr == pytest.approx(fixed.orr, abs=1e-4)
    assert orr - none >= 0.06 and orr - none >= 0.6 * (ceiling.orr - none)
    assert none < fixed.orr <= schedule.orr <= ceiling.orr
    assert load_exact_leaders(STORED / "exact_leader_v1.npz", make_game("edrp", version=0)) is None


def test_exact_leader_archives_round_trip_and_reject_other_files(tmp_path) -> None:
    fixed = optimise_charges(SMALL, max_evaluations=2)
    path = tmp_path / "leaders.npz"
    save_exact_leaders(path, SMALL, fixed, fixed)
    loaded, _ = load_exact_leaders(path, SMALL)
    np.testing.assert_array_equal(loaded.charges, fixed.charges)
    assert loaded.orr == fixed.orr
    assert load_exact_leaders(path, make_game("edrp-small", reach_hops=3)) is None
    assert load_exact_leaders(tmp_path / "missing.npz", SMALL) is None
    (tmp_path / "text.npz").write_text("not an archive")
    with pytest.raises(ValueError, match=r"text\.npz: not an exact-leader archive"):
        load_exact_leaders(tmp_path / "text.npz", SMALL)


def test_bad_inputs_name_the_field() -> None:
    with pytest.raises(ValueError, match=r"reach_hops = 9 is outside \[1, 4\]"):
        make_game("edrp-small", reach_hops=9)
    with pytest.raises(ValueError, match="premium_peak"):
        EDRPConfig(premium_peak=-1.0)
    with pytest.raises(ValueError, match="reach_hops"):
        EDRPConfig(reach_hops=0)
    with pytest.raises(ValueError, match="version"):
        make_game("edrp", version=7)
    with pytest.raises(ValueError, match="start must have shape"):
        optimise_charges(SMALL, start=np.zeros(3))


def _digest(game) -> str:
    digest = hashlib.sha256()
    for array in (game.action_mask, game.site_of, game.next_if_unmatched, game.move_cost):
        digest.update(np.ascontiguousarray(array).tobytes())
    for array in (game.success_kernels, game.city.fares, game.city.demand):
        digest.update(np.round(array, 9).tobytes())
    return digest.hexdigest()[:16]


def test_v0_keeps_the_first_edrp() -> None:
    """EDRP v0's model as it was before v1 (digests taken then), and its figures."""
    assert _digest(make_game("edrp", version=0)) == "9374915fd466bc71"
    assert _digest(make_game("edrp-small", version=0)) == "3fa0e9914d46723e"
    old = make_game("edrp", version=0)
    assert solve(old, no_incentive(old)).flow.metrics["orr"] == pytest.approx(0.8148, abs=1e-4)
    assert planner_ceiling(old).orr == pytest.approx(0.8682, abs=1e-4)
