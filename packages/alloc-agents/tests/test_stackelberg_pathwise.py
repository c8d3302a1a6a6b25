"""TIRL's pathwise leader gradient through the learned model (``leader_gradient="pathwise"``,
alloc_agents.stackelberg.pathwise, issue #25): it learns a 2-zone EDRP whose best charge is known
in closed form, its gradient is the finite-difference slope of the model return, the default
(REINFORCE) path does not use it, and a pathwise run resumes exactly."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from alloc_agents.stackelberg import TIRL, FollowerPPOConfig, TIRLConfig, make_trainer
from alloc_agents.stackelberg import tirl as tirl_module
from alloc_agents.stackelberg.pathwise import ModelReturn, reward_partials
from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.edrp import two_zone_city
from alloc_envs.edrp.exact_leader import equilibrium_orr
from alloc_envs.mtfg import make_game as mtfg_game
from alloc_envs.stackelberg.matching import SiteOutcome

FOLLOWERS = FollowerPPOConfig(n_followers=1000)
TIMING = ("seconds", "fps")
TWO_ZONE = edrp_game("edrp-small", city=two_zone_city(), reach_hops=1)


def test_closed_form_of_the_two_zone_city() -> None:
    assert equilibrium_orr(TWO_ZONE, np.zeros(2)) == pytest.approx(0.657, abs=1e-3)
    assert equilibrium_orr(TWO_ZONE, np.array([0.5, 0.0])) == pytest.approx(1.0, abs=1e-6)


def test_pathwise_tirl_learns_the_two_zone_charge(check_two_zone_leader) -> None:
    # Measured on seeds 0-4 (33 iterations each): exact ORR 1.000 in all five, zone 0 charged
    # 0.65-0.71 and zone 1 0.26-0.41, on the line (1 - u_0) 20 = (1 - u_1) 10 of the best
    # charges (the closed form u_0 = 0.5 is its point with u_1 = 0); after 15 iterations
    # seed 3 was still at ORR 0.77.
    trainer = make_trainer(
        "tirl",
        TWO_ZONE,
        seed=0,
        device="cpu",
        iterations=33,
        model_episodes=3,
        leader_gradient="pathwise",
        follower=FOLLOWERS,
        progress=False,
    )
    trainer.train(3)  # K1 = 3 N-agent episodes, REINFORCE: the leader is near its start
    after_k1 = equilibrium_orr(TWO_ZONE, trainer.leader_policy())
    rows = trainer.train()  # 30 generated iterations, pathwise
    assert [row["generated"] for row in rows] == [1.0] * 30
    check_two_zone_leader(trainer, after_k1)


def _double(trainer: TIRL, noise: float) -> ModelReturn:
    """The trainer's model return with float64 copies of both networks (for finite
    differences) whose parameters are moved by Gaussian ``noise`` (freshly initialised
    networks are nearly flat in the incentive: a random point tests the derivative better)."""
    leader = copy.deepcopy(trainer.leader)
    leader.network.double()
    followers = copy.deepcopy(trainer.followers.network).double()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in [*leader.network.policy_net.parameters(), *followers.actor.parameters()]:
            p.add_(noise * torch.randn(p.shape, generator=generator, dtype=p.dtype))
    return ModelReturn(trainer.learned_game(), followers, leader)


@pytest.mark.parametrize("transition_model", ["kernel", "matching"])
def test_pathwise_gradient_is_the_slope_of_the_model_return(transition_model: str) -> None:
    # An open-loop leader: the closed-loop one's observation of m_t is held fixed by design.
    trainer = make_trainer(
        "tirl",
        TWO_ZONE,
        seed=3,
        device="cpu",
        model_episodes=1,
        leader_mode="open_loop",
        transition_model=transition_model,
        follower=FOLLOWERS,
        progress=False,
    )
    trainer.train(1)  # P_eta fitted once
    objective = _double(trainer, noise=0.3)
    params = list(objective.leader.network.policy_net.parameters())
    value, _, _ = objective(sample=False)
    grads = torch.autograd.grad(value, params)
    rng = np.random.default_rng(0)
    direction = [torch.as_tensor(rng.standard_normal(p.shape)) for p in params]
    analytic = sum(float((g * d).sum()) for g, d in zip(grads, direction, strict=True))
    eps = 1e-5

    def shifted(sign: float) -> float:
        with torch.no_grad():
            for p, d in zip(params, direction, strict=True):
                p.add_(sign * eps * d)
            out = float(objective(sample=False)[0])
            for p, d in zip(params, direction, strict=True):
                p.sub_(sign * eps * d)
        return out

    numeric = (shifted(1.0) - shifted(-1.0)) / (2 * eps)
    assert abs(analytic) > 1e-2  # the return does move with the charges here (-0.179)
    assert analytic == pytest.approx(numeric, rel=1e-6)


def test_reward_partials_of_a_reward_that_depends_on_the_incentive() -> None:
    game = mtfg_game("mtfg-small")
    rng = np.random.default_rng(1)
    served = rng.uniform(0.0, 0.1, game.n_sites)
    outcome = SiteOutcome(served * 1.5, served * 2.0, served)
    x, u = game.initial_exogenous, rng.uniform(game.incentive_low, game.incentive_high)
    reward, d_served, d_incentive = reward_partials(game, 0, outcome, x, u)
    assert reward == pytest.approx(game.leader_reward(0, outcome, x, u))
    np.testing.assert_allclose(d_served, (game.leader_values - u)[game.types], atol=1e-9)
    lost = -np.bincount(game.types, weights=served, minlength=game.n_incentives)
    np.testing.assert_allclose(d_incentive, lost, atol=1e-9)


def test_the_default_leader_update_is_reinforce(monkeypatch) -> None:
    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    real = tirl_module.pathwise_update
    monkeypatch.setattr(tirl_module, "pathwise_update", counted)
    small = FollowerPPOConfig(n_followers=300, n_epochs=2, n_minibatches=2)
    config = TIRLConfig(iterations=4, model_episodes=2, follower=small, model_epochs=10)
    assert config.leader_gradient == "reinforce"
    default = TIRL(TWO_ZONE, config, seed=2, device="cpu").train()
    assert calls == []
    pathwise = config.replace(leader_gradient="pathwise", pathwise_steps=3)
    rows = TIRL(TWO_ZONE, pathwise, seed=2, device="cpu").train()
    assert len(calls) == 2  # the two generated iterations

    def strip(row: dict) -> dict:
        return {k: v for k, v in row.items() if k not in TIMING}

    # The K1 iterations are the same run; the generated ones differ in the leader's update.
    assert [strip(r) for r in rows[:2]] == [strip(r) for r in default[:2]]
    assert rows[-1]["leader_policy_loss"] != default[-1]["leader_policy_loss"]


@pytest.mark.parametrize("transition_model", ["kernel", "matching"])
def test_pathwise_checkpoint_resume_is_exact(tmp_path, transition_model: str) -> None:
    game = edrp_game("edrp-small")
    small = FollowerPPOConfig(n_followers=300, n_epochs=2, n_minibatches=2)
    config = TIRLConfig(
        iterations=5,
        model_episodes=2,
        follower=small,
        model_epochs=10,
        leader_gradient="pathwise",
        pathwise_steps=2,
        leader_head="per_dimension",
        transition_model=transition_model,
    )
    path = tmp_path / "tirl.pt"
    straight = TIRL(game, config, seed=1, device="cpu")
    straight.train(3, checkpoint_path=path)  # past K1: the leader's rng has fed the paths
    rows = straight.train()
    resumed = TIRL.load(path, game, device="cpu")
    assert resumed.config.leader_gradient == "pathwise"
    assert resumed.config.transition_model == transition_model
    again = resumed.train()

    def strip(rows: list[dict]) -> list[dict]:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]

    assert strip(again) == strip(rows)
    for a, b in zip(
        straight.leader.network.parameters(), resumed.leader.network.parameters(), strict=True
    ):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("field", "value"),
    [("leader_gradient", "adam"), ("pathwise_steps", 0), ("transition_model", "mlp")],
)
def test_config_rejects_bad_pathwise_settings(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TIRLConfig(**{field: value})


def test_pathwise_needs_followers_that_observe_the_incentive() -> None:
    blind = FollowerPPOConfig(observe_incentive=False)
    with pytest.raises(ValueError, match="observe_incentive"):
        TIRLConfig(leader_gradient="pathwise", follower=blind)
    TIRLConfig(follower=blind)  # REINFORCE does not differentiate the followers
