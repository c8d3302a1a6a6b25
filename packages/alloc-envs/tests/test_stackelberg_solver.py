"""The exact follower solver (alloc_envs.stackelberg.solver) and the responders: exploitability
falls below the tolerance, the result is the soft best response to its own flow, subgames are
consistent, closed-loop leaders and both iteration methods work, bad arguments are rejected."""

from __future__ import annotations

import numpy as np
import pytest

from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.edrp import oversupply_charge
from alloc_envs.mtfg import make_game as mtfg_game
from alloc_envs.stackelberg import (
    ExactResponder,
    FollowerResponse,
    no_incentive,
    rollout,
    solve_equilibrium,
    uniform_policy,
)
from alloc_envs.stackelberg.solver import backward

EDRP = edrp_game("edrp-small")
MTFG = mtfg_game("mtfg-small")
GAMES = {"edrp": EDRP, "mtfg": MTFG}


def solve(game, leader=None, **kwargs):
    kwargs.setdefault("temperature", game.config.follower_temperature)
    kwargs.setdefault("tolerance", game.config.solver_tolerance)
    return solve_equilibrium(game, no_incentive(game) if leader is None else leader, **kwargs)


@pytest.mark.parametrize("name", sorted(GAMES))
@pytest.mark.parametrize("method", ["omd", "fictitious_play"])
def test_exploitability_falls_below_the_tolerance(name: str, method: str) -> None:
    game = GAMES[name]
    tolerance = 1e-3 if method == "omd" else 2e-2  # fictitious play converges as 1/k
    result = solve(game, method=method, tolerance=tolerance, max_iterations=400)
    history = result.exploitability
    assert result.converged and history[-1] <= tolerance < history[0]
    assert history[0] > 100 * tolerance  # the uniform start is far from the equilibrium
    assert result.iterations == len(history) - 1
    assert np.minimum.accumulate(history)[-1] == history.min()
    assert result.unregularised_exploitability >= 0.0


@pytest.mark.parametrize("name", sorted(GAMES))
def test_the_equilibrium_is_the_soft_best_response_to_its_own_flow(name: str) -> None:
    game = GAMES[name]
    result = solve(game, tolerance=1e-6, max_iterations=2000)
    tau = game.config.follower_temperature
    flow = rollout(game, result.policy, no_incentive(game))
    best = backward(game, flow, result.policy, tau).best_policy
    weights = flow.distributions[:-1, :, None]  # compare where followers are

    def gap(policy: np.ndarray) -> float:  # mean over steps of the mass-weighted L1 distance
        return float((weights * np.abs(best - policy)).sum() / game.horizon)

    # exploitability is quadratic in the distance: 1e-6 allows about 1e-3
    assert gap(result.policy) < 2e-3 < 0.1 < gap(uniform_policy(game, game.horizon))
    assert (result.policy[:, ~game.action_mask] == 0).all()
    np.testing.assert_allclose(result.policy.sum(axis=2), 1.0)
    np.testing.assert_allclose(result.flow.distributions, flow.distributions)


def test_subgames_of_the_equilibrium_are_equilibria() -> None:
    """Solving from step t with the equilibrium's (m_t, x_t) gives back its tail (the leader
    view's receding-horizon response relies on this)."""
    game, t = EDRP, 3
    u = np.full(game.n_incentives, 0.2)
    whole = solve(game, u, tolerance=1e-7, max_iterations=3000)
    tail = solve(
        game,
        u,
        start=t,
        distribution=whole.flow.distributions[t],
        exogenous=whole.flow.exogenous[t],
        tolerance=1e-7,
        max_iterations=3000,
    )
    np.testing.assert_allclose(tail.flow.distributions, whole.flow.distributions[t:], atol=1e-4)
    assert tail.flow.metrics["orr"] != whole.flow.metrics["orr"]  # tail: steps t.. only


def test_closed_loop_leader_policies_are_answered_in_equilibrium() -> None:
    rule = oversupply_charge(EDRP)
    result = solve(EDRP, rule, max_iterations=400)
    assert result.converged
    flow = result.flow
    for t in range(EDRP.horizon):  # the incentives are the rule's along the equilibrium flow
        np.testing.assert_allclose(
            flow.incentives[t], rule(t, flow.distributions[t], flow.exogenous[t])
        )
    assert (flow.incentives >= 0).all() and (flow.incentives <= EDRP.incentive_high).all()


def test_warm_start_from_the_equilibrium_stops_at_once() -> None:
    first = solve(MTFG, tolerance=1e-4)
    again = solve(MTFG, tolerance=1e-4, initial_policy=first.policy)
    assert again.iterations == 0 and again.converged


def test_exact_responder_answers_with_a_valid_policy() -> None:
    responder = ExactResponder(temperature=0.05, tolerance=1e-3)
    game = MTFG
    answer = responder.respond(
        game,
        np.array([0.0, 0.5]),
        start=2,
        distribution=game.initial_distribution,
        exogenous=game.initial_exogenous,
        rng=np.random.default_rng(0),
    )
    assert isinstance(answer, FollowerResponse)
    assert answer.policy.shape == (game.horizon - 2, game.n_states, game.n_actions)
    assert answer.exploitability is not None and answer.exploitability <= 1e-3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": 0.0}, "temperature"),
        ({"method": "newton"}, "method"),
        ({"step_size": 1.5}, "step_size"),
        ({"max_iterations": -1}, "max_iterations"),
        ({"tolerance": float("nan")}, "tolerance"),
    ],
)
def test_bad_solver_arguments_raise_value_errors(kwargs: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        solve_equilibrium(MTFG, np.zeros(2), **kwargs)
    with pytest.raises(ValueError, match=field):
        ExactResponder(**kwargs)


def test_bad_initial_policy_is_rejected() -> None:
    policy = uniform_policy(MTFG, MTFG.horizon)
    with pytest.raises(ValueError, match="initial_policy"):
        solve(MTFG, initial_policy=policy[:2])
