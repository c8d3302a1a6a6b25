"""Leader trainers of the Stackelberg scenarios (alloc_agents.stackelberg, issue #7): the §4.3
regularisers, the leader's policy, TIRL's transition model and generated mean field, the
followers' update on it, SMFU / TIRL runs, determinism, checkpoints, config validation,
SMFU-w/o-L and the §5.1 evaluation protocol. Small presets, small populations."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch

from alloc_agents.stackelberg import (
    SMFU,
    TIRL,
    FollowerPPO,
    FollowerPPOConfig,
    StackelbergConfig,
    TIRLConfig,
    evaluate_leader,
    exact_leader_score,
    make_trainer,
    method_config,
)
from alloc_agents.stackelberg.dimensions import LOCAL_STATE, DimensionMap
from alloc_agents.stackelberg.leader import LeaderFeatures, LeaderNetwork, MeanLeader
from alloc_agents.stackelberg.leader_update import LeaderLearner, reward_to_go
from alloc_agents.stackelberg.learned_game import LearnedKernelGame
from alloc_agents.stackelberg.model_based import generated_step
from alloc_agents.stackelberg.regularisers import clip_weights_, l1_penalty
from alloc_agents.stackelberg.rollout import play_episode
from alloc_agents.stackelberg.transition import TransitionModel
from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.mtfg import make_game as mtfg_game
from alloc_envs.mtfg import value_gap_bonus
from alloc_envs.stackelberg import Population, no_incentive, rollout, uniform_policy
from alloc_envs.stackelberg.leader import as_leader_policy

MTFG = mtfg_game("mtfg-small")
EDRP = edrp_game("edrp-small")
FOLLOWERS = FollowerPPOConfig(n_followers=300, n_epochs=2, n_minibatches=2)
CPU = torch.device("cpu")
TIMING = ("seconds", "fps")


def _without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def _learner(game, **changes) -> LeaderLearner:
    return LeaderLearner(game, StackelbergConfig(**changes), seed=0, device=CPU)


def _fake_episodes(learner: LeaderLearner, game, rewards: np.ndarray) -> list:
    actor = learner.actor()
    for t in range(game.horizon):
        actor(t, game.initial_distribution, game.initial_exogenous)
    return [(*actor.take(), rewards)]


# ---------------------------------------------------------------------- regularisers (§4.3)
def test_l1_penalty_gradient_is_delta_times_sign() -> None:
    weights = torch.nn.Parameter(torch.tensor([[-2.0, 0.5], [0.25, -0.1]]))
    bias = torch.nn.Parameter(torch.tensor([3.0, -1.0]))
    penalty = l1_penalty([weights, bias], 0.01)
    assert float(penalty.detach()) == pytest.approx(0.01 * (2.0 + 0.5 + 0.25 + 0.1 + 3.0 + 1.0))
    penalty.backward()
    assert torch.equal(weights.grad, 0.01 * weights.detach().sign())
    assert torch.equal(bias.grad, 0.01 * bias.detach().sign())


def test_weight_clipping_bounds_the_policy_only() -> None:
    p = torch.nn.Parameter(torch.tensor([-3.0, -0.2, 0.0, 0.7, 5.0]))
    clip_weights_([p], 0.5)
    assert p.tolist() == pytest.approx([-0.5, -0.2, 0.0, 0.5, 0.5])
    learner = _learner(MTFG, weight_clip=0.05, leader_lr=0.1)
    learner.update(_fake_episodes(learner, MTFG, np.ones(MTFG.horizon)))
    policy = torch.cat([q.detach().flatten() for q in learner.network.policy_net.parameters()])
    value = torch.cat([q.detach().flatten() for q in learner.network.value_net.parameters()])
    assert float(policy.abs().max()) == pytest.approx(0.05)  # at the bound, not beyond
    assert float(value.abs().max()) > 0.05  # the baseline is not regularised


def test_leader_entropy_is_minus_expected_log_density_and_the_bonus_raises_it() -> None:
    features = LeaderFeatures(EDRP)
    torch.manual_seed(0)
    network = LeaderNetwork(EDRP, features.size, (16,), "tanh")
    obs = torch.as_tensor(features(3, EDRP.initial_distribution, EDRP.initial_exogenous))
    with torch.no_grad():
        law = network.distribution(obs)
        rng = np.random.default_rng(0)
        z = rng.beta(law.alpha.double().numpy(), law.beta.double().numpy(), size=(20_000, 8))
        monte_carlo = -law.log_prob(torch.as_tensor(z, dtype=torch.float32)).mean()
        # the box's log-volume (8 dimensions of width 0.75) enters the entropy of u
        width = float(EDRP.incentive_high[0] - EDRP.incentive_low[0])
        assert float(law.entropy()) == pytest.approx(float(monte_carlo), abs=0.05)
        assert float(law.entropy()) < 8 * math.log(width) + 1e-6  # below the uniform law's

    def entropy_after(coef: float) -> float:
        learner = _learner(MTFG, entropy_coef=coef, leader_lr=0.01)
        for _ in range(20):
            stats = learner.update(_fake_episodes(learner, MTFG, np.zeros(MTFG.horizon)))
        return stats["leader_entropy"]

    assert entropy_after(1.0) > entropy_after(0.0) + 0.1


def test_leader_acts_inside_the_box_and_sees_what_its_mode_allows() -> None:
    learner = _learner(EDRP)
    actor, m, x = learner.actor(), EDRP.initial_distribution, EDRP.initial_exogenous
    for t in range(EDRP.horizon):
        u = actor(t, m, x)
        assert u.shape == (8,) and (u >= EDRP.incentive_low).all()
        assert (u <= EDRP.incentive_high).all()
    feats, draws = actor.take()
    assert feats.shape == (EDRP.horizon, EDRP.horizon + 16 + 8) and draws.shape == (8, 8)
    assert np.array_equal(reward_to_go(np.array([1.0, 2.0, 3.0])), [6.0, 5.0, 3.0])
    mean = learner.policy()
    assert np.array_equal(mean(2, m, x), mean(2, m, x))
    assert not np.array_equal(mean(2, m, x), mean(2, np.roll(m, 1), x))
    open_loop = _learner(EDRP, leader_mode="open_loop").policy()  # reading B: mu(u | t)
    assert np.array_equal(open_loop(2, m, x), open_loop(2, np.roll(m, 1), 0 * x))


def test_per_dimension_head_applies_one_rule_to_each_dimensions_local_state() -> None:
    learner = _learner(EDRP, leader_head="per_dimension")
    dims = DimensionMap(EDRP)
    m, x = EDRP.initial_distribution, EDRP.initial_exogenous
    feats = learner.features(3, m, x)
    assert feats.shape == (EDRP.horizon + 16 + 8 + 8 * LOCAL_STATE,)
    assert np.allclose(feats[-8 * LOCAL_STATE :].reshape(8, 2), dims.local_state(3, m, x))
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():  # a trained-looking head: large weights, so dimensions differ
        for p in learner.network.policy_net.parameters():
            p.copy_(torch.randn(p.shape, generator=generator))
    law = learner.network.distribution(torch.as_tensor(feats))
    assert law.alpha.shape == (8,) and law.alpha.std() > 1e-3
    # the same local state gives the same law in every dimension, whatever m_t and x_t say
    # elsewhere; permuting the dimensions' local states permutes their laws
    local = torch.as_tensor(feats[-8 * LOCAL_STATE :]).reshape(8, 2)
    perm = torch.randperm(8, generator=generator)
    moved = torch.as_tensor(feats).clone()
    moved[-8 * LOCAL_STATE :] = local[perm].reshape(-1)
    moved[EDRP.horizon : EDRP.horizon + 16] = 0.0
    law_moved = learner.network.distribution(moved)
    assert torch.allclose(law_moved.alpha, law.alpha[perm])
    assert torch.allclose(law_moved.beta, law.beta[perm])
    same = torch.as_tensor(feats).clone()
    same[-8 * LOCAL_STATE :] = local[0].repeat(8)
    alpha = learner.network.distribution(same).alpha
    assert torch.allclose(alpha, alpha[0].expand(8))
    # the update reaches the shared head
    before = [p.clone() for p in learner.network.policy_net.parameters()]
    learner.update(_fake_episodes(learner, EDRP, np.linspace(0.0, 1.0, EDRP.horizon)))
    after = list(learner.network.policy_net.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True))


def test_per_dimension_head_trains_and_resumes_on_both_games(tmp_path) -> None:
    for game in (EDRP, MTFG):
        path = tmp_path / "smfu.pt"
        kwargs = {"iterations": 2, "follower": FOLLOWERS, "leader_head": "per_dimension"}
        trainer = make_trainer("smfu", game, device="cpu", **kwargs)
        trainer.train(checkpoint_path=path)
        resumed = SMFU.load(path, game, device="cpu")
        assert resumed.config.leader_head == "per_dimension"
        m, x = game.initial_distribution, game.initial_exogenous
        u = trainer.leader_policy()(1, m, x)
        assert np.array_equal(u, resumed.leader_policy()(1, m, x))
        assert ((u >= game.incentive_low) & (u <= game.incentive_high)).all()


def test_per_dimension_head_is_refused_where_it_cannot_read_local_states() -> None:
    with pytest.raises(ValueError, match="open-loop"):
        StackelbergConfig(leader_mode="open_loop", leader_head="per_dimension")
    with pytest.raises(ValueError, match="leader_head"):
        method_config("ebpg", leader_head="per_dimension")
    with pytest.raises(ValueError, match="MatchingGame"):
        DimensionMap(object())
    with pytest.raises(ValueError, match="features"):
        LeaderNetwork(EDRP, EDRP.horizon + 3, (8,), "tanh", head="per_dimension")


# ---------------------------------------------------------------------- TIRL's model
def test_transition_model_recovers_the_kernel_and_the_flow() -> None:
    policy, u = uniform_policy(EDRP, EDRP.horizon), np.full(8, 0.25)
    flow = rollout(EDRP, policy, u)
    true = np.stack([EDRP.transition_kernel(t, o) for t, o in enumerate(flow.outcomes)])
    pop = Population(EDRP, 5000, seed=0)
    model = TransitionModel(EDRP, (128,), "tanh", 1e-2, seed=0, device=CPU)
    for _ in range(3):
        ep = play_episode(
            pop, policy, as_leader_policy(EDRP, u), start=0, distribution=None, exogenous=None
        )
        model.observe(ep.states, ep.actions, ep.next_states)
        model.fit(100)
    assert model.n_transitions == 3 * 5000 * EDRP.horizon
    kernels = model.kernels()
    tv = 0.5 * np.abs(kernels - true).sum(axis=-1)  # (T, S, A)
    weighted_tv = (flow.joints * tv).sum() / flow.joints.sum()
    assert weighted_tv < 0.05  # visited (t, s, a), weighted by the mass that visits them
    generated = rollout(LearnedKernelGame(EDRP, kernels), policy, u)  # Eq. 10 with P_eta
    flow_tv = 0.5 * np.abs(generated.distributions - flow.distributions).sum(axis=1)
    assert flow_tv.max() < 0.02
    assert generated.metrics["orr"] == pytest.approx(flow.metrics["orr"], abs=0.01)


def test_followers_expected_update_on_the_exact_kernel_reaches_the_equilibrium() -> None:
    # mtfg-small's kernel does not depend on the mean field: the fixed true kernel is exact
    u = no_incentive(MTFG)
    flow = rollout(MTFG, uniform_policy(MTFG, MTFG.horizon), u)
    kernels = np.stack([MTFG.transition_kernel(t, o) for t, o in enumerate(flow.outcomes)])
    model = LearnedKernelGame(MTFG, kernels)
    learner = FollowerPPO(MTFG, FollowerPPOConfig(n_followers=300), seed=0, device="cpu")
    before = learner.evaluate(u).exploitability
    state = learner.population.rng.bit_generator.state
    for _ in range(25):
        row, generated = generated_step(learner, model, as_leader_policy(MTFG, u))
    assert learner.evaluate(u).exploitability < 0.02 * before
    assert learner.population.rng.bit_generator.state == state  # no follower simulated
    assert row["cr"] == pytest.approx(generated.metrics["cr"])


def test_tirl_generated_episodes_do_not_depend_on_n() -> None:
    config = TIRLConfig(iterations=3, model_episodes=1, follower=FOLLOWERS, model_epochs=20)
    small = TIRL(MTFG, config, seed=0, device="cpu")
    big = TIRL(
        MTFG, config.replace(follower=FOLLOWERS.replace(n_followers=100_000)), seed=0, device="cpu"
    )
    small.train(1)  # K1 = 1 N-agent episode, then only generated ones
    big.load_state_dict(copy.deepcopy(small.state_dict()))  # the same learners, N apart
    before = big.followers.population.rng.bit_generator.state
    rows_small, rows_big = small.train(2), big.train(2)
    assert _without_timing(rows_small) == _without_timing(rows_big)
    assert all(row["generated"] == 1.0 for row in rows_big)
    assert rows_big[-1]["agent_steps"] == 300 * MTFG.horizon  # the data episode only
    assert big.followers.population.rng.bit_generator.state == before


# ---------------------------------------------------------------------- the trainers
@pytest.mark.parametrize("game", [MTFG, EDRP], ids=["mtfg-small", "edrp-small"])
@pytest.mark.parametrize("method", ["smfu", "reg-tirl"])
def test_trainers_run_and_report_finite_metrics(game, method: str) -> None:
    extra = {"model_episodes": 2} if method.endswith("tirl") else {}
    trainer = make_trainer(method, game, device="cpu", iterations=3, follower=FOLLOWERS, **extra)
    rows = trainer.train()
    metric = "cr" if game is MTFG else "orr"
    for row in rows:
        assert all(math.isfinite(v) for v in row.values())
        assert 0.0 <= row[metric] <= 1.0 and row["seconds"] > 0
        assert {"leader_return", "follower_return", "leader_policy_loss"} <= set(row)
    assert [row["iteration"] for row in rows] == [1, 2, 3]
    if method == "reg-tirl":
        assert [row["generated"] for row in rows] == [0.0, 0.0, 1.0]
        assert rows[-1]["agent_steps"] == 2 * 300 * game.horizon
        assert rows[-1]["leader_l1"] > 0
    policy = trainer.leader_policy()
    u = policy(0, game.initial_distribution, game.initial_exogenous)
    assert ((u >= game.incentive_low) & (u <= game.incentive_high)).all()


def test_same_seed_same_run_other_seed_other_run() -> None:
    config = StackelbergConfig(iterations=3, follower=FOLLOWERS, follower_iterations=2)

    def run(seed: int) -> list[dict]:
        return _without_timing(SMFU(EDRP, config, seed=seed, device="cpu").train())

    first = run(3)
    assert first == run(3)
    assert first != run(4)
    assert first[-1]["episodes"] == 6 and first[-1]["env_steps"] == 6 * EDRP.horizon


def test_checkpoint_resume_is_exact(tmp_path) -> None:
    config = TIRLConfig(iterations=5, model_episodes=3, follower=FOLLOWERS, model_epochs=10)
    path = tmp_path / "tirl.pt"
    straight = TIRL(MTFG, config, seed=1, device="cpu", log_dir=tmp_path / "a")
    straight.train(2, checkpoint_path=path)
    rows = straight.train()  # to config.iterations: 3 more, crossing K1
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert state["counters"]["iteration"] == 2
    resumed = TIRL.load(path, MTFG, device="cpu", log_dir=tmp_path / "b")
    assert _without_timing(resumed.train()) == _without_timing(rows)
    for a, b in zip(
        straight.leader.network.parameters(), resumed.leader.network.parameters(), strict=True
    ):
        assert torch.equal(a, b)
    assert torch.equal(straight.model.counts, resumed.model.counts)
    header = (tmp_path / "a" / "progress.csv").read_text().splitlines()[0].split(",")
    assert header[:4] == ["iteration", "env_steps", "agent_steps", "episodes"]
    with pytest.raises(ValueError, match="smfu"):
        SMFU.load(path, MTFG, device="cpu")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("iterations", -1),
        ("follower_iterations", 0),
        ("follower", {"n_followers": 10}),
        ("leader_mode", "absent"),
        ("leader_lr", 0.0),
        ("leader_hidden_sizes", ()),
        ("leader_activation", "gelu"),
        ("leader_head", "shared"),
        ("leader_max_grad_norm", 0.0),
        ("entropy_coef", -0.1),
        ("l1_coef", float("nan")),
        ("weight_clip", 0.0),
        ("model_episodes", 0),
        ("model_hidden_sizes", (8, 0)),
        ("model_lr", 2.0),
        ("model_epochs", 0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        TIRLConfig(**{field: value})


def test_config_round_trip_methods_and_class_checks() -> None:
    config = method_config("reg-tirl", model_hidden_sizes=[], follower=FOLLOWERS)
    assert config.model_hidden_sizes == () and config.weight_clip is not None
    assert TIRLConfig.from_dict(config.to_dict()) == config
    assert method_config("smfu-wo-l").leader_mode == "none"
    with pytest.raises(ValueError, match="method"):
        method_config("ppo")
    with pytest.raises(ValueError, match="unknown"):
        method_config("smfu", model_episodes=3)  # a TIRL field
    with pytest.raises(ValueError, match="TIRLConfig"):
        TIRL(MTFG, StackelbergConfig(), device="cpu")
    with pytest.raises(ValueError, match="seed"):
        SMFU(MTFG, seed=-1, device="cpu")


def test_smfu_without_leader_pays_no_incentive() -> None:
    trainer = make_trainer("smfu-wo-l", MTFG, device="cpu", iterations=2, follower=FOLLOWERS)
    before = [p.clone() for p in trainer.leader.network.parameters()]
    rows = trainer.train()
    assert all(row["bonus_paid"] == 0.0 for row in rows)  # u = 0 at every step
    assert not any(key.startswith("leader_policy") for key in rows[-1])
    assert all(
        torch.equal(a, b) for a, b in zip(before, trainer.leader.network.parameters(), strict=True)
    )
    assert np.array_equal(trainer.leader_policy(), np.zeros(2))


# ---------------------------------------------------------------------- §5.1 protocol
def test_evaluate_leader_retrains_followers_per_seed() -> None:
    config = FollowerPPOConfig(n_followers=300, iterations=12, n_epochs=2, n_minibatches=2)
    leader = MeanLeader(MTFG, LeaderFeatures(MTFG), _learner(MTFG).network)
    result = evaluate_leader(lambda: MTFG, leader, config, [0, 1], device="cpu")
    assert result.metric == "cr" and result.per_seed.shape == (2,)
    expected = [np.mean([row["cr"] for row in h[-10:]]) for h in result.histories]
    assert np.allclose(result.per_seed, expected)
    assert result.mean == pytest.approx(np.mean(expected))
    assert result.std == pytest.approx(np.std(expected))
    assert len(result.histories[0]) == 12 and result.histories[0] != result.histories[1]
    with pytest.raises(ValueError, match="last"):
        evaluate_leader(lambda: MTFG, leader, config.replace(iterations=5), [0], device="cpu")
    with pytest.raises(ValueError, match="orr"):
        evaluate_leader(lambda: MTFG, leader, config, [0], metric="orr", device="cpu")


def test_exact_leader_score_ranks_the_hand_rule_above_no_incentive_on_mtfg() -> None:
    none = exact_leader_score(MTFG, no_incentive(MTFG), "cr")
    rule = exact_leader_score(MTFG, value_gap_bonus(MTFG), "cr")
    assert none[0] == pytest.approx(0.951, abs=2e-3) and none[1] == pytest.approx(3.10, abs=0.01)
    assert rule[0] > none[0] + 0.02  # the type-1 bonus raises the collection ratio
    with pytest.raises(ValueError, match="'orr' is not among"):
        exact_leader_score(MTFG, no_incentive(MTFG), "orr")
