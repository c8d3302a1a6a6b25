"""PPO followers of the Stackelberg scenarios (alloc_agents.stackelberg): config validation, valid
policy tables, exploitability reduction on mtfg-small, determinism, the update on per-cell sums
against PPO on the samples, the responder inside the leader's Gymnasium view, and checkpoint
round trips."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch

from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.stackelberg import (
    FollowerPPO,
    FollowerPPOConfig,
    PPOResponder,
    evaluate_policy,
)
from alloc_agents.stackelberg.followers import (
    cell_sums,
    clipped_surrogate,
    grouped_clipped_surrogate,
    minibatch_labels,
)
from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.mtfg import make_game as mtfg_game
from alloc_envs.stackelberg import no_incentive, uniform_policy
from alloc_envs.stackelberg.game import check_policy

MTFG = mtfg_game("mtfg-small")
EDRP = edrp_game("edrp-small")
SMALL = FollowerPPOConfig(n_followers=500, iterations=3)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_followers", 0),
        ("iterations", -1),
        ("n_epochs", 0),
        ("n_minibatches", 1.5),
        ("lr", 0.0),
        ("gamma", 1.5),
        ("gae_lambda", -0.1),
        ("clip_coef", 0.0),
        ("ent_coef", float("nan")),
        ("max_grad_norm", 0.0),
        ("hidden_sizes", ()),
        ("hidden_sizes", (64, 0)),
        ("activation", "gelu"),
        ("temperature", -1.0),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        FollowerPPOConfig(**{field: value})


def test_config_round_trip_and_temperature() -> None:
    config = FollowerPPOConfig(hidden_sizes=[32], temperature=0.2)
    assert config.hidden_sizes == (32,)
    assert FollowerPPOConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        config.replace(n_agents=3)
    # temperature None: the scenario's follower temperature; explicit values win
    assert FollowerPPO(MTFG, SMALL, device="cpu").temperature == MTFG.config.follower_temperature
    assert FollowerPPO(MTFG, config, device="cpu").temperature == 0.2


def test_policy_table_is_a_valid_masked_policy() -> None:
    learner = FollowerPPO(EDRP, SMALL, seed=1, device="cpu")  # busy drivers: only action 0
    learner.train(no_incentive(EDRP), 1)
    for start in (0, 5):
        steps = EDRP.horizon - start
        table = learner.policy_table(start, np.zeros((steps, EDRP.incentive_low.shape[0])))
        assert table.dtype == np.float64 and table.shape == (steps, EDRP.n_states, EDRP.n_actions)
        check_policy(EDRP, table, steps)  # rows sum to one, no mass on masked actions
        assert (table[:, ~EDRP.action_mask] == 0).all()
    for bad in (-1, EDRP.horizon, 1.0):
        with pytest.raises(ValueError, match="start"):
            learner.policy_table(bad)
    with pytest.raises(ValueError, match="observe the incentive: pass"):
        learner.policy_table(0)  # these followers' policy depends on the incentive
    with pytest.raises(ValueError, match=r"incentive features must have shape \(8, 8\)"):
        learner.policy_table(0, np.zeros((3, 8)))
    with pytest.raises(ValueError, match="iterations"):
        learner.train(no_incentive(EDRP), -1)


def test_ppo_followers_approach_the_equilibrium_on_mtfg_small() -> None:
    u = no_incentive(MTFG)
    uniform = evaluate_policy(MTFG, uniform_policy(MTFG, MTFG.horizon), u, temperature=0.05)
    learner = FollowerPPO(MTFG, SMALL.replace(n_followers=2000), seed=0, device="cpu")
    history = learner.train(u, 24, evaluate_every=24)
    learned = history[-1]["exploitability"]
    assert learned == pytest.approx(learner.evaluate(u).exploitability)
    assert uniform.exploitability > 4.0
    assert learned < 0.05 * uniform.exploitability  # 0.0065 vs 4.3 (seeds 1-3: 0.008-0.04)
    assert history[-1]["cr"] > 0.93 > 0.34 > uniform.flow.metrics["cr"]


def test_same_seed_same_result_other_seed_other_result() -> None:
    u = np.array([0.0, 0.3])

    def run(seed: int) -> tuple[list[dict], np.ndarray]:
        learner = FollowerPPO(MTFG, SMALL, seed=seed, device="cpu")
        return learner.train(u, 2), learner.realized_table(u)

    (h1, p1), (h2, p2), (_, p3) = run(4), run(4), run(5)
    drop = {"seconds"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in h1] == [
        {k: v for k, v in r.items() if k not in drop} for r in h2
    ]
    np.testing.assert_array_equal(p1, p2)
    assert not np.array_equal(p1, p3)


def test_minibatch_labels_split_the_permutation_as_tensor_split_does() -> None:
    perm = torch.randperm(103, generator=torch.Generator().manual_seed(0))
    labels = minibatch_labels(perm, 4)
    for j, piece in enumerate(perm.tensor_split(4)):
        assert set(torch.nonzero(labels == j).flatten().tolist()) == set(piece.tolist())


def test_grouped_surrogate_equals_the_surrogate_on_the_samples() -> None:
    generator = torch.Generator().manual_seed(0)
    cells = torch.randint(0, 6, (500,), generator=generator)
    cells[:6] = torch.arange(6)  # every cell has a sample
    advantages = torch.randn(500, generator=generator, dtype=torch.float64)
    # Ratios from 0.37 to 2.7: most cells are outside the clip range [0.8, 1.2].
    log_ratio = torch.linspace(-1.0, 1.0, 6, dtype=torch.float64).requires_grad_()
    loss, stats = clipped_surrogate(log_ratio[cells], advantages, 0.2)
    parts = {"positive": advantages.clamp(min=0.0), "negative": advantages.clamp(max=0.0)}
    sums = {k: v.double() for k, v in cell_sums(cells, parts, 6).items()}
    assert sums["count"].sum() == 500
    grouped, grouped_stats = grouped_clipped_surrogate(
        log_ratio, sums["positive"], sums["negative"], sums["count"], 0.2
    )
    torch.testing.assert_close(grouped, loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(
        torch.autograd.grad(grouped, log_ratio)[0],
        torch.autograd.grad(loss, log_ratio)[0],
        rtol=1e-6,
        atol=1e-7,
    )
    for key in ("approx_kl", "clip_frac"):
        assert float(grouped_stats[key]) == pytest.approx(float(stats[key]), rel=1e-6)


def test_the_update_on_cell_sums_equals_ppo_on_the_samples() -> None:
    """Two FollowerPPO iterations against the textbook update that takes the PPO loss sample by
    sample (``benchmarks/bench_follower_update.py``), from the same episodes and permutations."""
    path = Path(__file__).parents[1] / "benchmarks" / "bench_follower_update.py"
    spec = importlib.util.spec_from_file_location("bench_follower_update", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = FollowerPPOConfig(n_followers=300, n_minibatches=3, ent_coef=0.01)
    grouped = FollowerPPO(EDRP, config, seed=3, device="cpu")
    reference = bench.with_per_sample_update(FollowerPPO(EDRP, config, seed=3, device="cpu"))
    u = no_incentive(EDRP)
    rows = grouped.train(u, 2)
    reference.train(u, 2)
    mine, theirs = grouped.network.state_dict(), reference.network.state_dict()
    for key in mine:
        torch.testing.assert_close(mine[key], theirs[key], rtol=1e-5, atol=1e-6)
    assert rows[-1]["approx_kl"] > 0 and 0.0 <= rows[-1]["clip_frac"] <= 1.0


def test_ppo_responder_plugs_into_the_leader_view() -> None:
    responder = PPOResponder(SMALL.replace(n_followers=200), fine_tune_iterations=1, device="cpu")
    env = gymnasium.make("alloc/MTFG-v0", preset="mtfg-small", responder=responder)
    env.reset(seed=0)
    truncated, steps = False, 0
    while not truncated:
        _, reward, terminated, truncated, info = env.step(np.array([0.0, 0.3], dtype=np.float32))
        assert not terminated and np.isfinite(reward)
        assert 0.0 <= info["follower_exploitability"] < 10.0
        steps += 1
    assert steps == MTFG.horizon and 0.0 < info["cr"] <= 1.0
    # warm start: one learner, trained 3 iterations, then fine-tuned 1 per later step
    assert responder.learner.iteration == 3 + (MTFG.horizon - 1)
    assert len(responder.history) == 1 and responder.history[0]["iteration"] == 10


def test_fresh_responses_are_reproducible_from_the_callers_generator() -> None:
    m = MTFG.initial_distribution
    x = MTFG.initial_exogenous
    answers = []
    for _ in range(2):
        responder = PPOResponder(SMALL, reuse_learner=False, device="cpu")
        answers.append(
            responder.respond(
                MTFG,
                np.zeros(2),
                start=4,
                distribution=m,
                exogenous=x,
                rng=np.random.default_rng(3),
            )
        )
    assert answers[0].policy.shape == (MTFG.horizon - 4, MTFG.n_states, MTFG.n_actions)
    np.testing.assert_array_equal(answers[0].policy, answers[1].policy)
    assert answers[0].exploitability == answers[1].exploitability >= 0.0


def test_checkpoint_round_trip_resumes_exactly(tmp_path) -> None:
    u = no_incentive(MTFG)
    learner = FollowerPPO(MTFG, SMALL, seed=2, device="cpu")
    learner.train(u, 2)
    path = tmp_path / "followers.pt"
    learner.save(path)
    assert isinstance(torch.load(path, weights_only=True), dict)
    restored = FollowerPPO.load(path, MTFG, device="cpu")
    assert restored.iteration == 2 and restored.config == SMALL
    np.testing.assert_array_equal(restored.realized_table(u), learner.realized_table(u))
    drop = {"seconds"}
    continued = [{k: v for k, v in r.items() if k not in drop} for r in learner.train(u, 1)]
    resumed = [{k: v for k, v in r.items() if k not in drop} for r in restored.train(u, 1)]
    assert continued == resumed
    with pytest.raises(ValueError, match="S, A, T"):
        FollowerPPO.load(path, EDRP, device="cpu")
    other = FollowerPPO(MTFG, SMALL.replace(hidden_sizes=(8,)), device="cpu")
    with pytest.raises(ValueError, match="hidden_sizes"):
        other.load_state_dict(learner.state_dict())
    blind = FollowerPPO(MTFG, SMALL.replace(observe_incentive=False), device="cpu")
    with pytest.raises(ValueError, match=r"observe_incentive=True; this learner.s is .*False"):
        blind.load_state_dict(learner.state_dict())
    # Files written before the field existed hold followers blind to the incentive.
    legacy = blind.state_dict()
    legacy["config"] = {k: v for k, v in legacy["config"].items() if k != "observe_incentive"}
    ckpt.save(path, legacy)
    assert not FollowerPPO.load(path, MTFG, device="cpu").config.observe_incentive
