"""TIRL's learned transition with the matching structure (``transition_model="matching"``,
alloc_agents.stackelberg.matching_model, issue #25): on EDRP-small it reproduces the true game's
next mean field when the mean field moves away from the data's (where the paper's P_eta(s' | t, s,
a) does not), its torch flow is its numpy one, and TIRL trains and resumes with it."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from alloc_agents.stackelberg.matching_model import MatchingTransitionModel
from alloc_agents.stackelberg.model_flow import MatchingFlow, make_flow
from alloc_agents.stackelberg.rollout import play_episode
from alloc_agents.stackelberg.transition import TransitionModel
from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.stackelberg.game import uniform_policy
from alloc_envs.stackelberg.population import Population

GAME = edrp_game("edrp-small")
CPU = torch.device("cpu")
TIMING = ("seconds", "fps")


def _no_charge(t: int, m: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.zeros(GAME.n_incentives)


@pytest.fixture(scope="module")
def fitted() -> tuple[TransitionModel, MatchingTransitionModel]:
    """Both models fitted on the same 6 episodes of 2,000 drivers, all idle at the start and
    spread evenly over the zones (1/8 each, above most zones' orders): uniform moves, and
    everyone staying (so that every idle zone is seen both with and without a match: a law is
    only learned where there is data)."""
    models = (
        TransitionModel(GAME, (128,), "tanh", 1e-2, seed=0, device=CPU),
        MatchingTransitionModel(GAME, (128,), "tanh", 1e-2, seed=0, device=CPU),
    )
    uniform = uniform_policy(GAME, GAME.horizon)
    stay = np.zeros_like(uniform)
    stay[..., 0] = 1.0
    idle = np.zeros(GAME.n_states)
    idle[: GAME.n_zones] = 1.0 / GAME.n_zones
    population = Population(GAME, 2000, seed=0)
    for episode in range(6):
        played = play_episode(
            population,
            uniform if episode % 2 else stay,
            _no_charge,
            start=0,
            distribution=idle,
            exogenous=None,
        )
        for model in models:
            model.observe_episode(played)
    for model in models:
        model.fit(100)
    return models


def _crowded(t: int) -> tuple[np.ndarray, object]:
    """(S, A) joint mean field with 70% and 30% of the drivers idle in zones 0 and 1, all
    staying (far more than their orders: both saturate), and its true outcome at step t."""
    m = np.zeros(GAME.n_states)
    m[:2] = [0.7, 0.3]
    joint = np.zeros((GAME.n_states, GAME.n_actions))
    joint[:, 0] = m
    return joint, GAME.outcome(t, joint, GAME.city.demand[t], np.zeros(GAME.n_incentives))


@pytest.mark.parametrize("t", [0, 3, 6])
def test_matching_model_follows_the_mean_field_where_the_kernel_does_not(fitted, t) -> None:
    # Measured: L1 errors 0.006 / 0.019 / 0.010 (matching) against 0.92 / 1.35 / 1.36 (kernel)
    # at t = 0 / 3 / 6 (of a total mass of 2).
    kernel, matching = (model.learned_game(GAME) for model in fitted)
    joint, outcome = _crowded(t)
    assert outcome.served.sum() < 0.2  # saturated: most drivers stay unmatched
    true = GAME.push_forward(t, outcome, joint)
    assert np.abs(matching.push_forward(t, outcome, joint) - true).sum() < 0.05
    assert np.abs(kernel.push_forward(t, outcome, joint) - true).sum() > 0.5
    # ... and the dense kernel and the values are the push-forward's.
    dense = matching.transition_kernel(t, outcome)
    np.testing.assert_allclose(
        joint.reshape(-1) @ dense.reshape(-1, GAME.n_states),
        matching.push_forward(t, outcome, joint),
        atol=1e-12,
    )
    values = np.arange(GAME.n_states, dtype=float)
    np.testing.assert_allclose(matching.expected_next(t, outcome, values), dense @ values)


def test_matching_flow_in_torch_is_the_numpy_push_forward(fitted) -> None:
    learned = fitted[1].learned_game(GAME)
    flow = MatchingFlow(learned, CPU, torch.float64)
    rng = np.random.default_rng(0)
    for t in range(GAME.horizon):
        joint = rng.dirichlet(np.ones(GAME.n_states))[:, None] * uniform_policy(GAME, 1)[0]
        if t % 2:
            joint, _ = _crowded(t)
        outcome = GAME.outcome(t, joint, GAME.city.demand[t], np.zeros(GAME.n_incentives))
        tensors = (torch.as_tensor(v) for v in (joint, outcome.mass, outcome.served))
        np.testing.assert_allclose(
            flow(t, *tensors).numpy(), learned.push_forward(t, outcome, joint), atol=1e-12
        )


def _torch_next(flow, t: int, joint: torch.Tensor, capacity: np.ndarray) -> torch.Tensor:
    """(S,) the flow's m_{t+1} of a (S, A) joint tensor, arrivals and min rule in torch."""
    has_site = torch.as_tensor(GAME.site_of >= 0).reshape(-1)
    sites = torch.as_tensor(GAME.site_of.clip(0)).reshape(-1)
    arrivals = torch.zeros(GAME.n_sites, dtype=joint.dtype)
    arrivals = arrivals.index_add(0, sites, joint.reshape(-1) * has_site)
    served = torch.minimum(arrivals, torch.tensor(capacity))
    return flow(t, joint, arrivals, served)


@pytest.mark.parametrize("t", [0, 3])
def test_matching_flow_gradient_is_the_true_games(fitted, t) -> None:
    # The derivative of the next mean field in the joint mean field, at the crowded (saturated)
    # point, along a random direction over the valid (s, a): the matching flow's is the true
    # game's (finite differences of its push-forward); the kernel's is not (it sends the extra
    # drivers at a saturated site on to trips as often as in the data). Measured at t = 0 / 3:
    # relative error 0.024 / 0.020 (matching), 0.54 / 0.92 (kernel).
    joint_np, outcome = _crowded(t)
    rng = np.random.default_rng(t)
    direction = np.where(GAME.action_mask, rng.standard_normal(joint_np.shape), 0.0)
    weights = rng.standard_normal(GAME.n_states)
    x, u = GAME.city.demand[t], np.zeros(GAME.n_incentives)

    def true_next(joint: np.ndarray) -> float:
        return float(weights @ GAME.push_forward(t, GAME.outcome(t, joint, x, u), joint))

    eps = 1e-6
    numeric = (true_next(joint_np + eps * direction) - true_next(joint_np - eps * direction)) / (
        2 * eps
    )
    errors = []
    for model in fitted:
        learned = model.learned_game(GAME)
        flow = make_flow(learned, CPU, torch.float64)
        joint = torch.tensor(joint_np, requires_grad=True)
        value = torch.as_tensor(weights) @ _torch_next(flow, t, joint, outcome.capacity)
        (grad,) = torch.autograd.grad(value, joint)
        analytic = float((grad.numpy() * direction).sum())
        errors.append(abs(analytic - numeric) / abs(numeric))
    kernel_error, matching_error = errors
    assert matching_error < 0.05 and kernel_error > 0.3
