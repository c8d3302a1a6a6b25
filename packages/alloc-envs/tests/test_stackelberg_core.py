"""The shared Stackelberg core on EDRP and MTFG: Fokker-Planck mass conservation, kernels,
the structured operators against the dense Eq. 2, the separable and crowding-monotone follower
rewards, metrics in [0, 1] and input checks (alloc_envs.stackelberg.{game,matching,
fokker_planck,leader})."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.mtfg import make_game as mtfg_game
from alloc_envs.stackelberg import fp_step, rollout, uniform_policy
from alloc_envs.stackelberg.game import check_incentive, check_policy
from alloc_envs.stackelberg.leader import as_leader_policy, resolve_leader

GAMES = {
    "edrp": edrp_game("edrp-small"),
    "mtfg": mtfg_game("mtfg-small"),
    "edrp-3-trip-levels": edrp_game("edrp-small", max_trip_steps=3, rows=6, horizon=5),
}
METRIC = {"edrp": "orr", "mtfg": "cr", "edrp-3-trip-levels": "orr"}
SETTINGS = settings(max_examples=25, deadline=None)


def random_policy(game, rng: np.random.Generator, steps: int, sharpness: float) -> np.ndarray:
    """A random (steps, S, A) policy on the valid actions (sharper = closer to deterministic)."""
    logits = sharpness * rng.standard_normal((steps, game.n_states, game.n_actions))
    weights = np.where(game.action_mask[None], np.exp(logits), 0.0)
    return weights / weights.sum(axis=2, keepdims=True)


def random_distribution(game, rng: np.random.Generator) -> np.ndarray:
    m = rng.dirichlet(np.full(game.n_states, 0.3))
    return m


def random_incentive(game, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(game.incentive_low, game.incentive_high)


def random_step(name: str, seed: int):
    """A random (game, t, joint, exogenous, incentive, outcome) of a game."""
    game = GAMES[name]
    rng = np.random.default_rng(seed)
    t = int(rng.integers(game.horizon))
    joint = random_distribution(game, rng)[:, None] * random_policy(game, rng, 1, 3.0)[0]
    x = rng.uniform(0, 1, game.initial_exogenous.shape) * game.exogenous_high
    u = random_incentive(game, rng)
    return game, t, joint, x, u, game.outcome(t, joint, x, u)


@SETTINGS
@given(name=st.sampled_from(sorted(GAMES)), seed=st.integers(0, 2**32 - 1))
def test_kernel_rows_are_distributions_on_reachable_states(name: str, seed: int) -> None:
    game, t, _, _, _, outcome = random_step(name, seed)
    kernel = game.transition_kernel(t, outcome)
    assert kernel.shape == (game.n_states, game.n_actions, game.n_states)
    assert (kernel >= 0).all()
    np.testing.assert_allclose(kernel.sum(axis=2), 1.0, atol=1e-12)
    # support: the unmatched next state, or a state a match at the action's site can lead to
    success = game.success_kernels[t]
    for s, a in zip(*np.nonzero(game.action_mask), strict=True):
        allowed = np.zeros(game.n_states, dtype=bool)
        allowed[game.next_if_unmatched[s, a]] = True
        if game.site_of[s, a] >= 0:
            allowed |= success[game.site_of[s, a]] > 0
        assert kernel[s, a, ~allowed].sum() == 0.0


@SETTINGS
@given(name=st.sampled_from(sorted(GAMES)), seed=st.integers(0, 2**32 - 1))
def test_fokker_planck_step_conserves_mass_and_matches_the_dense_eq2(name: str, seed: int) -> None:
    game, t, joint, _, _, outcome = random_step(name, seed)
    m = joint.sum(axis=1)
    policy_t = np.where(m[:, None] > 0, joint / np.maximum(m, 1e-300)[:, None], 0.0)
    kernel = game.transition_kernel(t, outcome)
    fast = game.push_forward(t, outcome, joint)
    dense = fp_step(m, policy_t, kernel)
    np.testing.assert_allclose(fast, dense, atol=1e-13)
    assert (fast >= 0).all()
    assert fast.sum() == pytest.approx(1.0, abs=1e-12)
    values = np.random.default_rng(seed).standard_normal(game.n_states)
    np.testing.assert_allclose(
        game.expected_next(t, outcome, values), np.einsum("sak,k->sa", kernel, values), atol=1e-12
    )


@SETTINGS
@given(
    name=st.sampled_from(sorted(GAMES)),
    seed=st.integers(0, 2**32 - 1),
    sharpness=st.floats(0.0, 5.0),
)
def test_rollouts_conserve_mass_and_metrics_lie_in_the_unit_interval(
    name: str, seed: int, sharpness: float
) -> None:
    game = GAMES[name]
    rng = np.random.default_rng(seed)
    schedule = np.stack([random_incentive(game, rng) for _ in range(game.horizon)])
    flow = rollout(game, random_policy(game, rng, game.horizon, sharpness), schedule)
    np.testing.assert_allclose(flow.distributions.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(flow.joints.sum(axis=(1, 2)), 1.0, atol=1e-12)
    assert (flow.distributions >= 0).all() and (flow.exogenous >= 0).all()
    assert (flow.exogenous <= game.exogenous_high + 1e-12).all()
    for outcome in flow.outcomes:
        np.testing.assert_array_equal(outcome.served, np.minimum(outcome.mass, outcome.capacity))
    metric = flow.metrics[METRIC[name]]
    assert 0.0 <= metric <= 1.0
    if name == "mtfg":
        assert ((0.0 <= flow.metrics["cr_per_type"]) & (flow.metrics["cr_per_type"] <= 1)).all()
        # stock conservation: collected = initial + regrowth - what is left
        left = flow.exogenous[-1].sum()
        supplied = flow.totals["supplied"].sum()
        assert flow.totals["collected"].sum() == pytest.approx(supplied - left, abs=1e-12)
    else:  # the leader's return is the ORR in the mean field
        assert flow.leader_return == pytest.approx(metric, abs=1e-12)


@SETTINGS
@given(name=st.sampled_from(sorted(GAMES)), seed=st.integers(0, 2**32 - 1))
def test_follower_rewards_are_separable_and_monotone_in_crowding(name: str, seed: int) -> None:
    """r = -own cost + (term set by u and the mean field), and Lasry-Lions monotone:
    sum (L1 - L2)(r(L1) - r(L2)) <= 0 for any two joint mean fields (same t, x, u)."""
    game, t, joint, x, u, outcome = random_step(name, seed)
    other = random_step(name, seed + 1)[2]
    r1 = game.follower_reward(t, outcome, x, u)
    r2 = game.follower_reward(t, game.outcome(t, other, x, u), x, u)
    assert ((joint - other) * (r1 - r2)).sum() <= 1e-12
    # own cost: what is left when nobody can be matched (no capacity anywhere)
    empty = game.outcome(t, joint, np.zeros_like(x), u)
    if name == "mtfg":  # MTFG capacity includes regrowth; remove the food altogether
        empty = type(outcome)(outcome.mass, np.zeros_like(outcome.capacity), outcome.mass * 0)
    np.testing.assert_allclose(game.follower_reward(t, empty, x, u), -game.move_cost)
    # the rest is p(site) * payoff(site, u): more crowding at a site, less reward there
    crowded = type(outcome)(outcome.mass * 2 + 1e-3, outcome.capacity, outcome.served)
    assert (game.follower_reward(t, crowded, x, u) <= r1 + 1e-12).all()


@pytest.mark.parametrize("name", sorted(GAMES))
def test_uniform_policy_puts_no_mass_on_masked_actions(name: str) -> None:
    game = GAMES[name]
    policy = uniform_policy(game, 3)
    assert (policy[:, ~game.action_mask] == 0).all()
    np.testing.assert_allclose(policy.sum(axis=2), 1.0)
    check_policy(game, policy, 3)


def test_edrp_state_layout_busy_drivers_count_down_and_cannot_move() -> None:
    game = GAMES["edrp-3-trip-levels"]
    v = game.n_zones
    assert game.n_states == v * game.busy_levels == v * 3
    busy = np.arange(v, game.n_states)
    assert game.action_mask[busy].sum(axis=1).tolist() == [1] * busy.size
    np.testing.assert_array_equal(game.next_if_unmatched[busy, 0], busy - v)
    assert (game.site_of[busy] == -1).all() and (game.move_cost[busy] == 0).all()
    idle, busy_mass = game.zone_distribution(game.initial_distribution)
    assert idle.sum() == pytest.approx(1.0) and busy_mass.sum() == 0.0


# ------------------------------------------------------------------ input checks


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (np.full(3, 0.1), r"shape \(8,\)"),
        (np.full(8, np.nan), "finite"),
        (np.full(8, 0.9), r"outside its range \[0.0, 0.75\]"),
        (np.full(8, -0.1), "outside its range"),
        (np.array(["a"] * 8), "numeric"),
        ([[0.1] * 8, [0.1]], "shape"),
    ],
)
def test_bad_incentives_raise_value_errors(value, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_incentive(GAMES["edrp"], value)


def test_bad_policies_and_leaders_raise_value_errors() -> None:
    game = GAMES["mtfg"]
    good = uniform_policy(game, game.horizon)
    with pytest.raises(ValueError, match="shape"):
        check_policy(game, good[1:], game.horizon)
    masked = good.copy()
    s, a = np.argwhere(~game.action_mask)[0]
    masked[0, s, a] = 0.1
    with pytest.raises(ValueError, match="masked"):
        check_policy(game, masked, game.horizon)
    with pytest.raises(ValueError, match="sums to"):
        check_policy(game, good * 0.5, game.horizon)
    with pytest.raises(ValueError, match="schedule"):
        as_leader_policy(game, np.zeros((3, game.n_incentives)))
    with pytest.raises(ValueError, match="schedule row 0"):
        as_leader_policy(game, np.full((game.horizon, game.n_incentives), 5.0))
    with pytest.raises(ValueError, match="leader must be one of"):
        resolve_leader(game, "bribe", {})
    with pytest.raises(ValueError, match="step 0"):
        rollout(game, good, lambda t, m, x: np.full(game.n_incentives, np.nan))
    with pytest.raises(ValueError, match="start"):
        rollout(game, good, np.zeros(game.n_incentives), start=game.horizon)


@pytest.mark.parametrize("name", sorted(GAMES))
def test_a_policy_that_observes_the_incentive_is_played_at_each_steps_incentive(name: str) -> None:
    game = GAMES[name]
    rng = np.random.default_rng(0)
    low, high = game.incentive_low[0], game.incentive_high[0]
    tables = {level: random_policy(game, rng, game.horizon, 2.0) for level in (low, high)}

    def leader(t: int, m: np.ndarray, x: np.ndarray) -> np.ndarray:
        return np.full(game.n_incentives, high if t % 2 else low)

    def follower(t: int, u: np.ndarray) -> np.ndarray:
        return tables[u[0]][t]

    flow = rollout(game, follower, leader)
    # The same flow as the table of what was played: at odd steps the high-incentive rows.
    played = np.stack([tables[high if t % 2 else low][t] for t in range(game.horizon)])
    np.testing.assert_array_equal(flow.policies, played)
    np.testing.assert_allclose(rollout(game, played, leader).distributions, flow.distributions)
    np.testing.assert_allclose(flow.distributions.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="follower policy at step 0"):
        rollout(game, lambda t, u: tables[low][t] * 2.0, leader)


def test_a_game_with_other_follower_laws_shares_everything_else() -> None:
    game = edrp_game("edrp-small")
    kernels = np.roll(game.success_kernels, 1, axis=2)  # matched drivers land elsewhere
    moves = np.zeros_like(game.next_if_unmatched)  # unmatched ones go to state 0
    twin = game.with_follower_laws(kernels, moves)
    np.testing.assert_array_equal(twin.success_kernels, kernels)
    np.testing.assert_array_equal(twin.next_if_unmatched, moves)
    assert twin.site_of is game.site_of and twin.city is game.city
    joint = game.initial_distribution[:, None] * uniform_policy(game, 1)[0]
    outcome = game.outcome(0, joint, game.initial_exogenous, game.incentive_low)
    pushed = twin.push_forward(0, outcome, joint)
    assert pushed.sum() == pytest.approx(1.0)
    assert not np.allclose(pushed, game.push_forward(0, outcome, joint))
    # The original is untouched, and the new laws are checked like the constructor's.
    np.testing.assert_array_equal(game.success_kernels, edrp_game("edrp-small").success_kernels)
    with pytest.raises(ValueError, match="success_kernels must have shape"):
        game.with_follower_laws(kernels[:, :1], moves)
    with pytest.raises(ValueError, match="rows of success_kernels"):
        game.with_follower_laws(kernels * 2.0, moves)
    with pytest.raises(ValueError, match="next_if_unmatched must lie"):
        game.with_follower_laws(kernels, moves - 1)
