"""The M3RL and EBPG leader baselines (alloc_agents.stackelberg.m3rl / .ebpg): config
validation, M3RL's dimension-wise exploration and its policy gradient, EBPG's events and hold,
the population-response model, short runs, determinism, checkpoint resume and the §5.1
evaluation of the trained leaders. Small presets, small populations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from alloc_agents.stackelberg import (
    EBPG,
    M3RL,
    SMFU,
    EBPGConfig,
    FollowerPPOConfig,
    M3RLConfig,
    evaluate_leader,
    make_trainer,
    method_config,
)
from alloc_agents.stackelberg.baseline_learner import (
    IncentiveBox,
    discounted_reward_to_go,
    masked_log_prob,
)
from alloc_agents.stackelberg.dimensions import DimensionMap
from alloc_agents.stackelberg.ebpg import EBPGLearner, dimension_tokens
from alloc_agents.stackelberg.leader_update import reward_to_go
from alloc_agents.stackelberg.m3rl import M3RLLearner, gae
from alloc_agents.stackelberg.population_model import EpisodeMemory, ResponseLearner
from alloc_agents.stackelberg.rollout import play_episode
from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.mtfg import make_game as mtfg_game
from alloc_envs.stackelberg import Population, uniform_policy

MTFG = mtfg_game("mtfg-small")
EDRP = edrp_game("edrp-small")
FOLLOWERS = FollowerPPOConfig(n_followers=300, n_epochs=2, n_minibatches=2)
CPU = torch.device("cpu")
TIMING = ("seconds", "fps")
OWN_COLUMNS = {
    "m3rl": {"leader_perturbed", "response_kl"},
    "ebpg": {"leader_events", "response_kl"},
}


def _without_timing(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k not in TIMING} for row in rows]


def _play(actor, game, distributions=None) -> np.ndarray:
    """(T, U) the incentives of one episode of ``actor`` on fixed inputs (m_0 by default)."""
    out = []
    for t in range(game.horizon):
        m = game.initial_distribution if distributions is None else distributions[t]
        out.append(actor(t, m, game.initial_exogenous))
    return np.stack(out)


# ---------------------------------------------------------------------- configs
@pytest.mark.parametrize(
    ("cls", "field", "value"),
    [
        (M3RLConfig, "epsilon", -0.1),
        (M3RLConfig, "epsilon", 1.5),
        (M3RLConfig, "gae_lambda", 2.0),
        (M3RLConfig, "leader_gamma", float("nan")),
        (M3RLConfig, "leader_mode", "none"),
        (M3RLConfig, "response_history", 0),
        (M3RLConfig, "response_embedding", 0),
        (M3RLConfig, "response_hidden_sizes", ()),
        (M3RLConfig, "response_activation", "gelu"),
        (M3RLConfig, "response_lr", 0.0),
        (M3RLConfig, "response_steps", -1),
        (M3RLConfig, "response_batch_size", 0),
        (M3RLConfig, "response_buffer", 0),
        (EBPGConfig, "event_period", 0),
        (EBPGConfig, "event_threshold", 0.0),
        (EBPGConfig, "event_threshold", 2.5),
        (EBPGConfig, "attention_dim", 0),
        (EBPGConfig, "leader_mode", "open_loop"),
        (EBPGConfig, "leader_lr", 0.0),
    ],
)
def test_configs_reject_bad_values_naming_the_field(cls, field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        cls(**{field: value})


def test_config_round_trip_and_method_names() -> None:
    config = method_config("ebpg", event_threshold=None, response_hidden_sizes=[16, 16])
    assert isinstance(config, EBPGConfig) and config.response_hidden_sizes == (16, 16)
    assert EBPGConfig.from_dict(config.to_dict()) == config
    m3rl = method_config("m3rl", epsilon=0.0)
    assert M3RLConfig.from_dict(m3rl.to_dict()) == m3rl
    assert (m3rl.epsilon, m3rl.gae_lambda, EBPGConfig().response_history) == (0.0, 0.95, 1)
    with pytest.raises(ValueError, match="unknown"):
        method_config("m3rl", event_period=3)  # an EBPG field
    with pytest.raises(ValueError, match="M3RLConfig"):
        M3RL(MTFG, EBPGConfig(), device="cpu")
    with pytest.raises(ValueError, match="leader_mode"):
        make_trainer("ebpg", MTFG, device="cpu", leader_mode="none")


# ---------------------------------------------------------------------- shared pieces
def test_returns_gae_and_masked_log_prob() -> None:
    rewards, values = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    adv, targets = gae(rewards, values, 1.0, 1.0)  # lambda 1: Monte Carlo
    assert np.allclose(targets, reward_to_go(rewards)) and np.allclose(adv, targets - values)
    _, one_step = gae(rewards, values, 1.0, 0.0)  # lambda 0: r_t + V_{t+1}
    assert np.allclose(one_step, [1.0 - 1.0, 2.0 + 2.0, 3.0])
    assert np.allclose(discounted_reward_to_go(rewards, 0.5), [1 + 1 + 0.75, 2 + 1.5, 3])
    learner = M3RLLearner(EDRP, M3RLConfig(), 0, CPU)
    inputs = torch.zeros(5, learner.features.size + 32)
    law = learner.network.distribution(inputs)
    z = torch.rand(5, 8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(masked_log_prob(law, z), law.log_prob(z))
    keep = torch.zeros(5, 8, dtype=torch.bool)
    keep[:, 2] = True
    expected = torch.distributions.Beta(law.alpha[:, 2], law.beta[:, 2]).log_prob(z[:, 2])
    assert torch.allclose(masked_log_prob(law, z, keep), expected - law.log_width[2])


def test_population_response_model_loss_decreases_on_fixed_data() -> None:
    config = M3RLConfig(response_history=2, response_batch_size=64)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        learner = ResponseLearner(MTFG, config, np.random.default_rng(0), CPU)
    box, rng = IncentiveBox(MTFG), np.random.default_rng(1)
    population = Population(MTFG, 2000, seed=0)
    for _ in range(6):
        memory, histories = EpisodeMemory(), []

        def leader(t, m, x, memory=memory, histories=histories):
            memory.begin(t, m)
            histories.append(learner.features(t, memory, x))
            z = rng.random(2)
            memory.end(z)
            return box.incentive(z)

        policy = uniform_policy(MTFG, MTFG.horizon)
        play_episode(population, policy, leader, start=0, distribution=None, exogenous=None)
        learner.observe(
            np.stack(histories), np.stack(memory.incentives), np.stack(memory.distributions)
        )
    assert learner.buffer.size == 6 * (MTFG.horizon - 1)
    before = learner.loss()
    learner.fit(100)
    assert learner.loss() < 0.5 * before
    with pytest.raises(ValueError, match="from t = 0"):
        EpisodeMemory().begin(2, MTFG.initial_distribution)  # not played from t = 0


# ---------------------------------------------------------------------- M3RL
def test_m3rl_perturbs_each_dimension_with_probability_epsilon_inside_the_box() -> None:
    learner = M3RLLearner(EDRP, M3RLConfig(epsilon=0.3), 0, CPU)
    with torch.no_grad():  # a policy concentrated near the top of the box: z ~ Beta(51, 1)
        learner.network.policy_net.out.bias[0, :8] = 50.0
        learner.network.policy_net.out.bias[0, 8:] = -50.0
    actor = learner.actor()
    records = []
    for _ in range(150):
        incentives = _play(actor, EDRP)
        assert ((incentives >= EDRP.incentive_low) & (incentives <= EDRP.incentive_high)).all()
        records.append(actor.take())
    perturbed = np.concatenate([r.perturbed for r in records])
    draws = np.concatenate([r.incentives for r in records])
    assert perturbed.mean() == pytest.approx(0.3, abs=0.02)  # 9,600 coins
    assert draws[perturbed].mean() == pytest.approx(0.5, abs=0.02)  # uniform on the box
    assert (draws[perturbed] < 0.5).mean() == pytest.approx(0.5, abs=0.03)
    assert draws[~perturbed].mean() > 0.95  # the policy's own draws
    width = EDRP.incentive_high - EDRP.incentive_low  # EDRP v1's box is [0, 0.75]
    assert np.allclose(learner.network.log_width.exp().numpy(), width)

    quiet = M3RLLearner(EDRP, M3RLConfig(epsilon=0.0), 0, CPU).actor()
    _play(quiet, EDRP)
    assert not quiet.take().perturbed.any()


def test_m3rl_policy_gradient_ignores_perturbed_dimensions() -> None:
    learner = M3RLLearner(MTFG, M3RLConfig(epsilon=1.0), 0, CPU)  # every dimension uniform
    actor = learner.actor()
    _play(actor, MTFG)
    stats = learner.update([(*actor.take(), np.arange(MTFG.horizon, dtype=float))])
    assert stats["leader_policy_loss"] == 0.0 and stats["leader_perturbed"] == 1.0
    assert math.isfinite(stats["response_kl"]) and stats["leader_value_loss"] > 0


# ---------------------------------------------------------------------- EBPG
def test_dimension_map_reads_the_games_structure() -> None:
    edrp = DimensionMap(EDRP)
    assert np.array_equal(edrp.sites, np.eye(8, dtype=bool))  # zone i's charge acts on zone i
    mtfg = DimensionMap(MTFG)
    assert np.array_equal(mtfg.sites, MTFG.types[None, :] == np.arange(2)[:, None])
    assert mtfg.states.any(axis=1).all()
    m0, x0 = EDRP.initial_distribution, EDRP.initial_exogenous
    tokens = dimension_tokens(edrp, 0, m0, m0, x0, np.zeros(8))
    local = edrp.local_state(0, m0, x0)
    assert np.allclose(local, tokens[:, [8, 10]]) and ((local >= 0) & (local < 1)).all()
    idle = np.zeros(EDRP.n_states)
    idle[3] = 1.0  # every driver idle in zone 3: only zone 3 and its neighbours can be reached
    assert np.flatnonzero(edrp.local_state(0, idle, x0)[:, 0]).tolist() == sorted(
        {3, *EDRP.city.neighbors[3][EDRP.city.neighbors[3] >= 0].tolist()}
    )
    assert tokens.shape == (8, 12) and ((tokens >= 0) & (tokens <= 1)).all()


def test_ebpg_holds_the_incentive_between_period_events() -> None:
    learner = EBPGLearner(EDRP, EBPGConfig(event_period=3, event_threshold=None), 0, CPU)
    for actor in (learner.actor(), learner.policy()):
        for _ in range(2):  # a second episode starts over at t = 0
            u = _play(actor, EDRP)
            blocks = [(0, 3), (3, 6), (6, 8)]
            for start, stop in blocks:
                assert (u[start:stop] == u[start]).all()
            assert not np.array_equal(u[0], u[3]) and not np.array_equal(u[3], u[6])
        if hasattr(actor, "take"):
            record = actor.take()
            assert record.events.tolist() == [0, 3, 6] and record.draws.shape == (3, 8)
            assert record.histories.shape[0] == EDRP.horizon
            assert np.allclose(IncentiveBox(EDRP).incentive(record.incentives), u)
    with pytest.raises(ValueError, match="from t = 0"):
        learner.policy()(3, EDRP.initial_distribution, EDRP.initial_exogenous)


def test_ebpg_re_decides_when_the_distribution_moves_past_the_threshold() -> None:
    config = EBPGConfig(event_period=100, event_threshold=0.5)
    learner = EBPGLearner(MTFG, config, 0, CPU)
    m0 = MTFG.initial_distribution
    shift = np.zeros_like(m0)  # moves 0.15 of mass from state 0 to state 1 per step
    shift[0], shift[1] = -0.15, 0.15
    m0 = np.full_like(m0, 1.0 / m0.size) + np.where(np.arange(m0.size) == 0, 0.5, 0.0)
    m0 /= m0.sum()
    # L1 distance to m_0: 0, 0.3, 0.6 (event: > 0.5, though each step moves 0.3), then back
    path = [m0, m0 + shift, m0 + 2 * shift, m0 + 2 * shift, m0 + shift, m0, m0, m0]
    actor = learner.actor()
    u = _play(actor, MTFG, path)
    record = actor.take()
    assert record.events.tolist() == [0, 2, 5]  # at 5: 0.6 away from m_2
    assert (u[:2] == u[0]).all() and (u[2:5] == u[2]).all() and (u[5:] == u[5]).all()
    deterministic = learner.policy()
    u = _play(deterministic, MTFG, path)
    assert (u[2:5] == u[2]).all() and not np.array_equal(u[1], u[2])
    rare = EBPGLearner(MTFG, config.replace(event_threshold=None), 0, CPU).actor()
    _play(rare, MTFG, path)
    assert rare.take().events.tolist() == [0]


# ---------------------------------------------------------------------- trainers
@pytest.mark.parametrize("game", [MTFG, EDRP], ids=["mtfg-small", "edrp-small"])
@pytest.mark.parametrize("method", ["m3rl", "ebpg"])
def test_baselines_run_and_report_the_shared_and_their_own_columns(game, method: str) -> None:
    trainer = make_trainer(method, game, device="cpu", iterations=3, follower=FOLLOWERS)
    rows = trainer.train()
    reference = make_trainer("smfu", game, device="cpu", iterations=1, follower=FOLLOWERS)
    assert set(rows[-1]) == set(reference.train()[0]) | OWN_COLUMNS[method]
    metric = "cr" if game is MTFG else "orr"
    for row in rows:
        assert all(math.isfinite(v) for v in row.values())
        assert 0.0 <= row[metric] <= 1.0 and row["response_kl"] >= 0
    assert [row["iteration"] for row in rows] == [1, 2, 3]
    if method == "ebpg":
        assert all(1 <= row["leader_events"] <= game.horizon for row in rows)
    policy = trainer.leader_policy()
    u = _play(policy, game)
    assert ((u >= game.incentive_low) & (u <= game.incentive_high)).all()


@pytest.mark.parametrize("method", ["m3rl", "ebpg"])
def test_baseline_checkpoint_resume_is_exact_and_seeded(tmp_path, method: str) -> None:
    trainer_class = {"m3rl": M3RL, "ebpg": EBPG}[method]
    config = method_config(
        method, iterations=4, follower=FOLLOWERS, follower_iterations=2, response_batch_size=16
    )
    path = tmp_path / f"{method}.pt"
    straight = trainer_class(MTFG, config, seed=1, device="cpu")
    straight.train(2, checkpoint_path=path)
    rows = straight.train()
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert state["counters"]["iteration"] == 2 and state["method"] == method
    resumed = trainer_class.load(path, MTFG, device="cpu")
    assert _without_timing(resumed.train()) == _without_timing(rows)
    for a, b in zip(
        straight.leader.network.parameters(), resumed.leader.network.parameters(), strict=True
    ):
        assert torch.equal(a, b)
    for a, b in zip(
        straight.leader.response.model.parameters(),
        resumed.leader.response.model.parameters(),
        strict=True,
    ):
        assert torch.equal(a, b)
    fresh = trainer_class(MTFG, config, seed=1, device="cpu")
    assert _without_timing(fresh.train()) == _without_timing(straight.history)
    with pytest.raises(ValueError, match="smfu"):
        SMFU.load(path, MTFG, device="cpu")


def test_evaluate_leader_accepts_both_trained_leaders() -> None:
    evaluation = FollowerPPOConfig(n_followers=300, iterations=10, n_epochs=1, n_minibatches=1)
    for method in ("m3rl", "ebpg"):
        trainer = make_trainer(method, MTFG, device="cpu", iterations=2, follower=FOLLOWERS)
        trainer.train()
        result = evaluate_leader(
            lambda: MTFG, trainer.leader_policy(), evaluation, [0, 1], device="cpu"
        )
        assert result.metric == "cr" and result.per_seed.shape == (2,)
        assert ((result.per_seed >= 0) & (result.per_seed <= 1)).all()
        assert np.isfinite(result.leader_return).all()
