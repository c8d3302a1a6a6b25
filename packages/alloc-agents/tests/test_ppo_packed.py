"""The packed dispatch actor and the one-pass pick sampler give today's distribution.

* ``SequentialPicks.log_prob`` is the exact probability of a pick sequence (enumerated here by
  the sequential definition: each pick a softmax over STAY and the orders not yet taken);
* its sampler draws that distribution (chi-square over every sequence of small cases) and its
  mode is the greedy rule;
* the dispatch actor scores only the slots holding a candidate: the scores equal those of every
  slot evaluated densely, for one member (PS), one per agent (NoPS) and routed members (SePS,
  DyPS), and a few PPO iterations end with the same parameters.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from scipy import stats

from alloc_agents.ppo import PPOConfig, train
from alloc_agents.ppo.distributions import SequentialPicks
from alloc_agents.ppo.ride_hailing import CANDIDATE_COLUMNS, DispatchActor, symlog
from alloc_agents.ppo.spaces import AgentLayout
from alloc_envs.ride_hailing import RideHailingParallelEnv


def _exact(scores: list[float], valid: list[bool], n_picks: int, k: int) -> dict[tuple, float]:
    """Every pick sequence (length k, STAY-padded) with its probability, by the definition."""
    out: dict[tuple, float] = {}

    def walk(prefix: tuple, left: frozenset, p: float) -> None:
        if len(prefix) == n_picks:
            out[prefix + (0,) * (k - n_picks)] = out.get(prefix, 0.0) + p
            return
        if not left:  # only STAY is left: probability 1
            walk(prefix + (0,), left, p)
            return
        weights = {0: math.exp(scores[0])} | {j: math.exp(scores[j]) for j in left}
        total = sum(weights.values())
        for j, w in weights.items():
            walk(prefix + (j,), left - {j}, p * w / total)

    walk((), frozenset(j for j in range(1, len(scores)) if valid[j]), 1.0)
    return out


def _repeated(scores: list[float], valid: list[bool], n_picks: int, k: int, n: int):
    """The picks distribution of one case, repeated over ``n`` rows."""
    return SequentialPicks(
        torch.tensor(scores).expand(n, -1),
        torch.tensor(valid).expand(n, -1),
        torch.full((n,), n_picks),
        k,
    )


CASES = [
    ([0.3, 1.0, -0.5, 0.2], [True, True, True, True], 3, 3),
    ([1.5, 0.0, 0.7, -1.0, 0.4], [True, True, False, True, True], 2, 4),
    ([-2.0, 0.5, 0.1], [True, True, True], 3, 3),  # STAY unlikely: orders first
    ([2.5, -1.0, 0.0], [True, True, True], 4, 4),  # STAY likely: long waits
]


@pytest.mark.parametrize(("scores", "valid", "n_picks", "k"), CASES)
def test_log_prob_is_the_exact_sequence_probability(scores, valid, n_picks, k) -> None:
    exact = _exact(scores, valid, n_picks, k)
    assert sum(exact.values()) == pytest.approx(1.0)
    seqs = torch.tensor(list(exact))
    dist = _repeated(scores, valid, n_picks, k, len(seqs))
    np.testing.assert_allclose(
        dist.log_prob(seqs).double().exp().numpy(), list(exact.values()), rtol=1e-5
    )


@pytest.mark.parametrize(("scores", "valid", "n_picks", "k"), CASES)
def test_sampler_draws_the_exact_distribution(scores, valid, n_picks, k) -> None:
    exact = _exact(scores, valid, n_picks, k)
    n = 40_000
    torch.manual_seed(0)
    dist = _repeated(scores, valid, n_picks, k, n)
    draws = dist.sample()
    seen, counts = np.unique(draws.numpy(), axis=0, return_counts=True)
    assert {tuple(s) for s in seen.tolist()} <= set(exact)  # nothing impossible
    index = {s: i for i, s in enumerate(exact)}
    observed = np.zeros(len(exact))
    for s, c in zip(seen.tolist(), counts, strict=True):
        observed[index[tuple(s)]] = c
    expected = np.array(list(exact.values())) * n
    # Pool the rare sequences so that every chi-square cell expects at least 5 draws.
    rare = expected < 5
    observed = np.append(observed[~rare], observed[rare].sum())
    expected = np.append(expected[~rare], expected[rare].sum())
    keep = expected > 0
    assert stats.chisquare(observed[keep], expected[keep]).pvalue > 1e-3
    np.testing.assert_allclose(
        dist.log_prob(draws)[:50].exp().numpy(),
        [exact[tuple(s)] for s in draws[:50].tolist()],
        rtol=1e-5,
    )


@pytest.mark.parametrize(("scores", "valid", "n_picks", "k"), CASES)
def test_sample_with_log_prob_gives_each_draw_its_exact_probability(
    scores, valid, n_picks, k
) -> None:
    exact = _exact(scores, valid, n_picks, k)
    n = 2_000
    torch.manual_seed(1)
    dist = _repeated(scores, valid, n_picks, k, n)
    draws, log_prob = dist.sample_with_log_prob()
    np.testing.assert_allclose(
        log_prob.double().exp().numpy(), [exact[tuple(s)] for s in draws.tolist()], rtol=1e-5
    )


def test_sample_with_log_prob_matches_log_prob_on_random_batches() -> None:
    """Every shape the actor makes: batches (A, B), no order anywhere (S = 1), fewer or more
    picks than orders, no pick at all."""
    generator = torch.Generator().manual_seed(0)
    for n_slots in (1, 2, 5, 9):
        for k in (1, 3, 6):
            scores = 2 * torch.randn(3, 4, n_slots, generator=generator)
            mask = torch.rand(3, 4, n_slots, generator=generator) < 0.6
            n_picks = torch.randint(0, k + 2, (3, 4), generator=generator).float()
            dist = SequentialPicks(scores, mask, n_picks, k)
            draws, log_prob = dist.sample_with_log_prob()
            assert draws.shape == (3, 4, k) and log_prob.shape == (3, 4)
            torch.testing.assert_close(log_prob, dist.log_prob(draws), rtol=0, atol=1e-5)
            if n_slots == 1:  # only STAY: every sequence is certain
                assert (draws == 0).all() and (dist.log_prob(draws) == 0).all()


def _greedy_rule(scores: list[float], valid: list[bool], n_picks: int, k: int) -> list[int]:
    picks, left = [], {j for j in range(1, len(scores)) if valid[j]}
    for _ in range(n_picks):
        if left and math.log(sum(math.exp(scores[j]) for j in left)) > scores[0]:
            best = max(sorted(left), key=lambda j: scores[j])
            picks.append(best)
            left.discard(best)
        else:
            picks.append(0)
    return picks + [0] * (k - n_picks)


def test_mode_is_the_greedy_rule() -> None:
    rng = np.random.default_rng(1)
    scores = np.round(rng.normal(size=(200, 7)), 1)  # ties happen
    valid = rng.random((200, 7)) < 0.7
    n_picks = rng.integers(0, 6, 200)
    dist = SequentialPicks(
        torch.tensor(scores, dtype=torch.float32),
        torch.tensor(valid),
        torch.tensor(n_picks),
        5,
    )
    want = [
        _greedy_rule(list(s), list(v), int(n), 5)
        for s, v, n in zip(scores.astype(np.float32), valid, n_picks, strict=True)
    ]
    assert dist.mode().tolist() == want


# ---------------------------------------------------------------------------------- packed


def _dense_forward(actor: DispatchActor, obs, ids, route) -> SequentialPicks:
    """The actor evaluated on every slot (the layout before packing), for reference."""
    mask = obs["candidate_mask"] > 0
    s = actor.act(actor.state_mlp(actor.state(obs), route, agent=ids))
    x = symlog(obs["candidates"][..., CANDIDATE_COLUMNS])
    h = actor.act(actor.query(s, route).unsqueeze(2) + actor.key(x, route))
    scores = actor.score(h, route).squeeze(-1)
    idle = torch.round(obs["observation"][..., 1])
    return SequentialPicks(scores, mask, idle, actor.max_picks)


def _env() -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=6, max_orders=12)


@pytest.mark.parametrize("members", ["one", "per-agent", "routed"])
def test_packed_scores_equal_the_dense_scores(members: str) -> None:
    env = _env()
    group = AgentLayout.from_env(env).groups[0]
    n_agents = group.n_agents
    n_members = {"one": 1, "per-agent": n_agents, "routed": 3}[members]
    torch.manual_seed(0)
    actor = DispatchActor(group, n_members, 0, (32, 32), "tanh")
    route = torch.arange(n_agents) % 3 if members == "routed" else None
    batch = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        batch.append({k: torch.tensor(v) for k, v in obs.joint.items()})
    obs = {k: torch.stack([b[k] for b in batch], 1).float() for k in batch[0]}
    packed, dense = actor(obs, None, route), _dense_forward(actor, obs, None, route)
    s = packed.scores.shape[-1]
    valid = dense.mask.reshape(-1, dense.n_slots)[:, :s]
    np.testing.assert_allclose(
        packed.scores[valid].detach().numpy(),
        dense.scores[:, :s][valid].detach().numpy(),
        rtol=1e-5,
        atol=1e-6,
    )
    picks = dense.mode()[..., : actor.max_picks]
    np.testing.assert_allclose(
        packed.log_prob(picks).detach().numpy(),
        dense.log_prob(picks).detach().numpy(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_per_copy_routes_score_every_copy_with_its_own_members() -> None:
    """DyPS's per-copy assignments (a route (A, B)): the packed scores of every batch column
    equal that column's scores with its own per-agent route."""
    env = _env()
    group = AgentLayout.from_env(env).groups[0]
    torch.manual_seed(0)
    actor = DispatchActor(group, 3, 0, (32, 32), "tanh")
    batch = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        batch.append({k: torch.tensor(v) for k, v in obs.joint.items()})
    obs = {k: torch.stack([b[k] for b in batch], 1).float() for k in batch[0]}
    route = torch.randint(0, 3, (group.n_agents, 3), generator=torch.Generator().manual_seed(1))
    dist = actor(obs, None, route)
    picks = dist.mode()
    for j in range(3):
        column = actor({k: v[:, j : j + 1] for k, v in obs.items()}, None, route[:, j])
        np.testing.assert_allclose(
            dist.log_prob(picks)[:, j].detach().numpy(),
            column.log_prob(picks[:, j : j + 1])[:, 0].detach().numpy(),
            rtol=1e-5,
            atol=1e-5,
        )


@pytest.mark.parametrize("sharing", ["ps", "nops", "dyps"])
def test_packed_training_ends_with_the_dense_parameters(sharing: str, monkeypatch) -> None:
    config = PPOConfig(n_steps=6, n_epochs=2, hidden_sizes=(32, 32), checkpoint_every=10**6)
    kwargs = {"sharing": sharing, "total_env_steps": 36, "n_envs": 2, "seed": 3}
    kwargs |= {"device": "cpu", "config": config, "progress": False}
    packed = train(_env, **kwargs)
    monkeypatch.setattr(DispatchActor, "forward", _dense_forward)
    dense = train(_env, **kwargs)
    for (name, a), (_, b) in zip(
        packed.model.named_parameters(), dense.model.named_parameters(), strict=True
    ):
        np.testing.assert_allclose(a.detach(), b.detach(), rtol=1e-4, atol=1e-5, err_msg=name)
    assert [h["episode_return"] for h in packed.history] == pytest.approx(
        [h["episode_return"] for h in dense.history], nan_ok=True
    )


def test_all_sequences_are_enumerated() -> None:
    """The oracle above enumerates every sequence: K picks over 3 orders and STAY."""
    exact = _exact([0.0] * 4, [True] * 4, 3, 3)
    assert len(exact) == len(
        [
            p
            for p in itertools.product(range(4), repeat=3)
            if len({x for x in p if x}) == sum(1 for x in p if x)
        ]
    )
