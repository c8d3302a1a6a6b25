"""PPO core units: GAE, ValueNorm, action distributions, batched (NoPS) layers, config, sharing."""

from __future__ import annotations

import io
import itertools
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces
from torch import nn

from alloc_agents.ppo import PPOConfig, make_sharing
from alloc_agents.ppo.batched import AgentInputs, BatchedMLP
from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.distributions import (
    DiagGaussian,
    MaskedCategorical,
    MaskedDirichlet,
    SequentialPicks,
)
from alloc_agents.ppo.gae import compute_gae
from alloc_agents.ppo.logger import Progress
from alloc_agents.ppo.model import GroupModel
from alloc_agents.ppo.networks import MLPActor
from alloc_agents.ppo.ride_hailing import DispatchActor
from alloc_agents.ppo.spaces import ActionSpec, AgentLayout, ObsSpec
from alloc_agents.ppo.trainer import compute_advantages
from alloc_agents.ppo.valuenorm import ValueNorm
from alloc_envs.ride_hailing import RideHailingParallelEnv


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ------------------------------------------------------------------------------------- GAE
def test_gae_matches_a_hand_computation_with_truncation_and_termination() -> None:
    gamma, lam = 0.9, 0.8
    # Row 0: truncated at t=1 (final observation worth 10), a new episode from t=2, still
    # running after the last step (bootstrap 7). Row 1: terminated at t=1, then gone.
    rewards = torch.tensor([[1.0, 1.0], [2.0, 1.0], [3.0, 5.0], [4.0, 5.0]])
    values = torch.tensor([[0.5, 2.0], [1.0, 3.0], [1.5, 9.0], [2.0, 9.0]])
    active = torch.tensor([[True, True], [True, True], [True, False], [True, False]])
    terminated = torch.zeros(4, 2, dtype=torch.bool)
    terminated[1, 1] = True
    truncated = torch.zeros(4, 2, dtype=torch.bool)
    truncated[1, 0] = True
    final_values = torch.zeros(4, 2)
    final_values[1, 0] = 10.0
    last_values = torch.tensor([7.0, 123.0])
    adv, ret = compute_gae(
        rewards, values, active, terminated, truncated, final_values, last_values, gamma, lam
    )
    # Row 0: δ3 = 4 + .9*7 - 2 = 8.3; δ2 = 3 + .9*2 - 1.5 = 3.3, A2 = 3.3 + .72*8.3;
    # δ1 = 2 + .9*10 - 1 = 10 (truncated: no recursion); A0 = (1 + .9*1 - .5) + .72*10.
    # Row 1: A1 = 1 - 3 = -2 (terminated: next value 0); A0 = (1 + .9*3 - 2) + .72*(-2).
    expected = torch.tensor([[8.6, 0.26], [10.0, -2.0], [3.3 + 0.72 * 8.3, 0.0], [8.3, 0.0]])
    torch.testing.assert_close(adv, expected)
    torch.testing.assert_close(ret, torch.where(active, expected + values, torch.zeros(4, 2)))


def test_truncation_is_the_end_by_default_and_bootstrapped_on_request() -> None:
    class Identity:
        def denormalize(self, x, members=None):
            return x

    buf = GroupBuffer(_ride_hailing_group()[1], 2, 1, torch.device("cpu"))
    buf.rewards[:] = 1.0
    buf.values[:] = 5.0
    buf.active[:] = True
    buf.truncated[:, 1] = True
    buf.final_values[:, 1] = 10.0
    bootstrap = PPOConfig(gamma=0.5, normalize_advantages=False, truncation_bootstrap=True)
    compute_advantages(Identity(), buf, bootstrap)
    torch.testing.assert_close(buf.advantages[0, 1], torch.tensor([1.0 + 0.5 * 10 - 5]))
    compute_advantages(Identity(), buf, PPOConfig(gamma=0.5, normalize_advantages=False))
    torch.testing.assert_close(buf.advantages[0, 1], torch.tensor([1.0 - 5]))  # the default


# ------------------------------------------------------------------------------- ValueNorm
def test_value_norm_tracks_mean_and_variance_per_member_ignoring_inactive_entries() -> None:
    vn = ValueNorm(2, beta=0.99999)
    x = torch.tensor([[1.0, 3.0, 100.0], [10.0, 30.0, 50.0]])
    active = torch.tensor([[True, True, False], [True, True, True]])
    vn.update(x, None, active)  # 2 agents, 2 members: agent i -> member i
    mean, var = vn.mean_var()
    torch.testing.assert_close(mean, torch.tensor([2.0, 30.0], dtype=torch.float64))
    torch.testing.assert_close(var, torch.tensor([1.0, 1600 / 6], dtype=torch.float64))
    y = torch.randn(2, 5)
    torch.testing.assert_close(vn.denormalize(vn.normalize(y, None), None), y)
    # A second batch is averaged in with (almost) equal weight, as in MAPPO's ValueNorm.
    vn.update(torch.tensor([[3.0], [30.0]]), None, torch.ones(2, 1, dtype=torch.bool))
    assert abs(float(vn.mean_var()[0][0]) - 2.5) < 1e-3


def test_value_norm_shared_member_and_variance_floor() -> None:
    vn = ValueNorm(1)
    vn.update(torch.full((3, 4), 5.0), None, torch.ones(3, 4, dtype=torch.bool))
    mean, var = vn.mean_var()
    assert float(mean) == pytest.approx(5.0) and float(var) == pytest.approx(1e-2)
    route = torch.tensor([0, 0, 0])
    assert torch.allclose(vn.normalize(torch.full((3, 1), 6.0), route), torch.full((3, 1), 10.0))


# --------------------------------------------------------------------------- distributions
def test_masked_categorical_never_picks_masked_entries_and_matches_torch() -> None:
    logits = torch.randn(4, 5)
    mask = torch.tensor([[1, 1, 0, 1, 0]] * 3 + [[0, 0, 0, 0, 0]], dtype=torch.bool)
    dist = MaskedCategorical(logits, mask)
    samples = torch.stack([dist.sample() for _ in range(200)])
    assert not bool((~mask[:3].gather(1, samples[:, :3].T)).any())
    ref = torch.distributions.Categorical(logits=logits[:3, [0, 1, 3]])
    torch.testing.assert_close(dist.entropy()[:3], ref.entropy())
    torch.testing.assert_close(
        dist.log_prob(torch.tensor([3, 1, 0, 2]))[:3], ref.log_prob(torch.tensor([2, 1, 0]))
    )
    # A row with no valid entry (an inactive agent's zero observation) is unmasked, not NaN.
    unmasked = torch.distributions.Categorical(logits=logits[3])
    torch.testing.assert_close(dist.entropy()[3], unmasked.entropy())


def test_multidiscrete_head_sums_independent_components_and_applies_flat_action_mask() -> None:
    obs_space = spaces.Dict(
        {"obs": spaces.Box(-1, 1, (3,)), "action_mask": spaces.Box(0, 1, (5,), np.int8)}
    )
    action = ActionSpec.from_space(spaces.MultiDiscrete([2, 3]))
    actor = MLPActor(ObsSpec.from_space(obs_space), action, 1, 0, (8,), "tanh", 0.0)
    mask = torch.tensor([[[1, 1, 0, 1, 1]]], dtype=torch.int8)  # component 1: value 0 invalid
    obs = {"obs": torch.randn(1, 1, 3), "action_mask": mask}
    dist = actor(obs, None, None)
    a = torch.tensor([[[1, 2]]])
    logits = actor.mlp(obs["obs"], None).reshape(2, 3)
    ref0 = torch.distributions.Categorical(logits=logits[0, :2])
    ref1 = torch.distributions.Categorical(logits=logits[1, 1:3])
    torch.testing.assert_close(
        dist.log_prob(a)[0, 0], ref0.log_prob(torch.tensor(1)) + ref1.log_prob(torch.tensor(1))
    )
    torch.testing.assert_close(dist.entropy()[0, 0], ref0.entropy() + ref1.entropy())
    samples = torch.stack([dist.sample() for _ in range(100)])
    assert int(samples[..., 1].min()) >= 1 and int(samples[..., 0].max()) <= 1


def test_gaussian_matches_torch_and_env_actions_are_clipped_but_buffer_actions_are_not() -> None:
    mean, log_std = torch.randn(3, 2), torch.randn(2)
    dist, ref = DiagGaussian(mean, log_std), torch.distributions.Normal(mean, log_std.exp())
    x = torch.randn(3, 2) * 3
    torch.testing.assert_close(dist.log_prob(x), ref.log_prob(x).sum(-1))
    torch.testing.assert_close(dist.entropy(), ref.entropy().sum(-1))
    action = ActionSpec.from_space(spaces.Box(-1.0, 1.0, (2,)))
    actor = MLPActor(ObsSpec.from_space(spaces.Box(-1, 1, (3,))), action, 1, 0, (8,), "tanh", 0.0)
    raw = torch.tensor([[[2.5, -0.3]]])
    np.testing.assert_allclose(actor.env_action(raw), [[[1.0, -0.3]]], rtol=1e-6)
    assert float(raw[0, 0, 0]) == 2.5


def test_masked_dirichlet_is_the_dirichlet_of_the_valid_moves() -> None:
    alpha = 1.0 + torch.rand(3, 4) * 3
    mask = torch.tensor([[1, 1, 1, 1], [1, 0, 1, 1], [1, 0, 0, 0]], dtype=torch.bool)
    dist = MaskedDirichlet(alpha, mask)
    x = dist.sample()
    assert bool((x[~mask] == 0).all())
    torch.testing.assert_close(x.sum(-1), torch.ones(3))
    full = torch.distributions.Dirichlet(alpha[0])
    torch.testing.assert_close(dist.log_prob(x)[0], full.log_prob(x[0]))
    torch.testing.assert_close(dist.entropy()[0], full.entropy())
    sub = torch.distributions.Dirichlet(alpha[1, [0, 2, 3]])
    torch.testing.assert_close(dist.log_prob(x)[1], sub.log_prob(x[1, [0, 2, 3]]))
    torch.testing.assert_close(dist.entropy()[1], sub.entropy())
    assert float(dist.log_prob(x)[2]) == 0.0 and float(dist.entropy()[2]) == 0.0
    torch.testing.assert_close(dist.mode()[1], alpha[1] * mask[1] / alpha[1, [0, 2, 3]].sum())


def _brute_force_sequences(scores: list[float], mask: list[bool], n_picks: int):
    """Every pick sequence of the dispatch process and its probability, by enumeration."""
    out = {}

    def rec(prefix: tuple[int, ...], prob: float, taken: frozenset[int]) -> None:
        if len(prefix) == n_picks:
            out[prefix] = out.get(prefix, 0.0) + prob
            return
        avail = [s for s in range(len(scores)) if mask[s] and (s == 0 or s not in taken)]
        z = sum(math.exp(scores[s]) for s in avail)
        for s in avail:
            rec(prefix + (s,), prob * math.exp(scores[s]) / z, taken | ({s} if s else set()))

    rec((), 1.0, frozenset())
    return out


@pytest.mark.parametrize("n_picks", [0, 1, 2, 3, 4])
def test_dispatch_log_prob_is_the_sum_over_picks_and_matches_brute_force(n_picks: int) -> None:
    scores = [0.3, 1.2, -0.5, 0.0, 2.0]
    mask = [True, True, False, True, True]  # slot 2 is empty
    k = 4  # picks in the action; the env reads n_picks of them
    truth = _brute_force_sequences(scores, mask, n_picks)
    assert sum(truth.values()) == pytest.approx(1.0)
    seqs = list(truth)
    rows = len(seqs)
    dist = SequentialPicks(
        torch.tensor([scores] * rows),
        torch.tensor([mask] * rows),
        torch.full((rows,), n_picks),
        k,
    )
    picks = torch.tensor([list(s) + [0] * (k - n_picks) for s in seqs])
    expected = torch.tensor([math.log(truth[s]) for s in seqs], dtype=torch.float32)
    torch.testing.assert_close(dist.log_prob(picks), expected, atol=1e-5, rtol=1e-5)
    # Sampling: STAY padding past n_picks, no real order twice, frequencies match.
    big = SequentialPicks(
        torch.tensor([scores] * 4000), torch.tensor([mask] * 4000), torch.full((4000,), n_picks), k
    )
    draws = big.sample()
    assert bool((draws[:, n_picks:] == 0).all())
    for row in draws.tolist():
        real = [p for p in row if p > 0]
        assert len(real) == len(set(real)) and all(mask[p] for p in real)
    counts: dict[tuple[int, ...], int] = {}
    for row in draws[:, :n_picks].tolist():
        counts[tuple(row)] = counts.get(tuple(row), 0) + 1
    for seq, p in truth.items():
        assert abs(counts.get(seq, 0) / 4000 - p) < 0.03
    # The entropy bonus is the first pick's entropy.
    first = torch.distributions.Categorical(logits=torch.tensor([scores[i] for i in (0, 1, 3, 4)]))
    torch.testing.assert_close(big.entropy()[0], first.entropy())


def test_dispatch_mode_dispatches_when_orders_together_outweigh_stay() -> None:
    # STAY beats every order alone (logit 1 vs 0) but not the three orders together (3e^0 > e^1):
    # the mode dispatches the best orders, and stays once STAY outweighs what is left.
    scores = torch.tensor([[1.0, 0.0, 0.2, -0.1, 0.0], [3.0, 0.0, 0.2, -0.1, 0.0]])
    mask = torch.tensor([[True, True, True, True, False]] * 2)
    mode = SequentialPicks(scores, mask, torch.tensor([4, 4]), 4).mode()
    # Row 0: {0.2, 0.0, -0.1} vs 1 -> order 2; {0.0, -0.1} (lse 0.64) < 1 -> STAY from then on.
    assert mode.tolist() == [[2, 0, 0, 0], [0, 0, 0, 0]]
    lower = torch.tensor([[0.5, 0.0, 0.2, -0.1, 0.0]])
    assert SequentialPicks(lower, mask[:1], torch.tensor([4]), 4).mode().tolist() == [[2, 1, 0, 0]]


def test_dispatch_actor_on_a_real_observation_picks_only_min_idle_orders_each_once() -> None:
    env = RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=5)
    obs, _ = env.reset(seed=3)
    for _ in range(2):  # some cells have fewer idle drivers than pending orders after a step
        obs, *_ = env.step({a: np.zeros(50, np.int64) for a in env.agents})
    layout = AgentLayout.from_env(env)
    group = layout.groups[0]
    actor = DispatchActor(group, 1, 0, (16,), "tanh")
    batch = {
        key: torch.as_tensor(np.stack([obs[a][key] for a in group.names])[None].swapaxes(0, 1))
        for key in group.obs.names
    }
    picks = actor(batch, None, None).sample()[:, 0]
    assert picks.shape == (36, 50)
    for i, name in enumerate(group.names):
        idle = int(obs[name]["observation"][1])
        row = picks[i].tolist()
        assert all(p == 0 for p in row[min(idle, 50) :])
        real = [p for p in row if p > 0]
        assert len(real) == len(set(real))
        assert all(obs[name]["candidate_mask"][p] == 1 for p in real)
        assert len(real) <= min(idle, int(obs[name]["candidate_mask"][1:].sum()))
    mode = actor(batch, None, None).mode()
    assert mode.shape == picks.unsqueeze(1).shape


# ------------------------------------------------------------------------ batched networks
def test_nops_batched_mlp_equals_separate_networks_in_outputs_and_gradients() -> None:
    members, batch, d_in = 5, 7, 6
    batched = BatchedMLP(members, d_in, (16, 8), 3, "tanh", out_gain=0.01)
    separate = []
    for m in range(members):
        layers = [nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3)]
        src = [*batched.hidden, batched.out]
        with torch.no_grad():
            for lin, b in zip(layers[::2], src, strict=True):
                lin.weight.copy_(b.weight[m].T)
                lin.bias.copy_(b.bias[m])
        separate.append(nn.Sequential(*layers))
    x = torch.randn(members, batch, d_in)
    y = batched(x, None)
    ref = torch.stack([separate[m](x[m]) for m in range(members)])
    torch.testing.assert_close(y, ref)
    y.square().sum().backward()
    ref.square().sum().backward()
    for m in range(members):
        torch.testing.assert_close(batched.out.weight.grad[m], separate[m][4].weight.grad.T)
    # Routed (grouped) sharing: agents 0, 2 use member 1; agent 1 uses member 4.
    route = torch.tensor([1, 4, 1])
    torch.testing.assert_close(
        batched(x[:3], route), torch.stack([separate[i](x[j]) for j, i in enumerate([1, 4, 1])])
    )


def test_one_member_layer_and_add_rows_equal_plain_linear_algebra() -> None:
    """A one-member layer (bias inside the GEMM) is x W + b for inputs of any rank, and
    ``add_rows`` is ``base[row] + x W + b``, gradients included; several members refuse it."""
    from alloc_agents.ppo.batched import BatchedLinear

    layer = BatchedLinear(1, 6, 4, 1.0)
    with torch.no_grad():
        layer.bias.normal_()
    w, b = layer.weight[0], layer.bias[0]
    x = torch.randn(3, 5, 2, 6)
    torch.testing.assert_close(layer(x), x @ w + b)
    torch.testing.assert_close(layer(x[0, 0, 0]), x[0, 0, 0] @ w + b)  # one row, rank 1
    base = torch.randn(4, 4, requires_grad=True)
    row = torch.tensor([0, 3, 3, 1, 0])
    rows = torch.randn(5, 6)
    got = layer.add_rows(base, row, rows)
    want = base[row] + rows @ w + b
    torch.testing.assert_close(got, want)
    (g_got,) = torch.autograd.grad(got.square().sum(), base)
    (g_want,) = torch.autograd.grad(want.square().sum(), base)
    torch.testing.assert_close(g_got, g_want)
    with pytest.raises(ValueError, match="one member"):
        BatchedLinear(2, 6, 4, 1.0).add_rows(base, row, rows)


def test_per_column_routes_equal_each_column_on_its_own_members() -> None:
    """DyPS's rollouts: agent i in batch column j on member route[i, j] (rows sorted by
    member) = column j evaluated alone with the route route[:, j]; gradients too; the value
    normaliser routes its statistics the same way."""
    torch.manual_seed(0)
    mlp = BatchedMLP(3, 5, (8,), 2, "tanh")
    x = torch.randn(4, 6, 2, 5)  # (A, B, extra, in)
    route = torch.randint(0, 3, (4, 6))
    y = mlp(x, route)
    ref = torch.stack([mlp(x[:, j], route[:, j]) for j in range(6)], 1)
    torch.testing.assert_close(y, ref)
    (grad,) = torch.autograd.grad(y.square().sum(), mlp.out.weight)
    (grad_ref,) = torch.autograd.grad(ref.square().sum(), mlp.out.weight)
    torch.testing.assert_close(grad, grad_ref)
    values, active = torch.randn(4, 6), torch.rand(4, 6) > 0.3
    per_column = ValueNorm(3, beta=0.5)
    per_column.update(values, route, active)
    flat = ValueNorm(3, beta=0.5)  # one agent per (agent, column) pair
    flat.update(values.reshape(-1, 1), route.reshape(-1), active.reshape(-1, 1))
    torch.testing.assert_close(per_column.mean_var(), flat.mean_var())
    torch.testing.assert_close(
        per_column.normalize(values, route),
        flat.normalize(values.reshape(-1, 1), route.reshape(-1)).reshape(4, 6),
    )


def test_a_route_of_few_members_per_agent_equals_each_agent_on_its_member() -> None:
    """SePS's and DyPS's deployed groups: 6 agents on 3 members, the rows sorted into one block
    per member, equal each agent evaluated alone on its member's weights (a per-agent weight
    gather); gradients too, into the shared members."""
    torch.manual_seed(0)
    mlp = BatchedMLP(3, 5, (8,), 2, "tanh")
    x = torch.randn(6, 4, 2, 5)  # (A, B, extra, in)
    route = torch.tensor([2, 0, 2, 1, 0, 2])
    y = mlp(x, route)
    ref = torch.cat([mlp(x[i : i + 1], route[i : i + 1]) for i in range(6)])
    torch.testing.assert_close(y, ref)
    layer = mlp.hidden[0]
    torch.testing.assert_close(
        layer(x, route), torch.cat([layer(x[i : i + 1], route[i : i + 1]) for i in range(6)])
    )
    params = list(mlp.parameters())
    for got, want in zip(
        torch.autograd.grad(y.square().sum(), params),
        torch.autograd.grad(ref.square().sum(), params),
        strict=True,
    ):
        torch.testing.assert_close(got, want)


ID_ROUTES = {
    "shared": (1, lambda: None),
    "one per agent": (5, lambda: None),
    "per agent": (3, lambda: torch.tensor([2, 0, 2, 1, 0])),
    "per agent and column": (3, lambda: torch.randint(0, 3, (5, 4))),
}


@pytest.mark.parametrize("hidden", [(8, 6), ()])
@pytest.mark.parametrize("case", list(ID_ROUTES))
def test_gathered_one_hot_ids_equal_the_concatenated_identity(case: str, hidden) -> None:
    """PS-id's one-hot id is never built: the first layer adds agent i's weight row instead
    (:class:`AgentInputs`), with the values and gradients of the MLP on ``x ++ eye ++ dense``
    for every kind of route, the output layer being the first when there are no hidden ones."""
    n_members, make_route = ID_ROUTES[case]
    a, b, f, d = 5, 4, 3, 2
    mlp = BatchedMLP(n_members, f + a + d, hidden, 2, "tanh")
    with torch.no_grad():
        for p in mlp.parameters():
            p.normal_()
    x, dense, route = torch.randn(a, b, f), torch.randn(a, b, d), make_route()
    got = mlp(x, route, agent=AgentInputs(a, b, True, dense))
    eye = torch.eye(a).unsqueeze(1).expand(-1, b, -1)
    want = mlp(torch.cat([x, eye, dense], -1), route)
    torch.testing.assert_close(got, want)
    params = list(mlp.parameters())
    for g_got, g_want in zip(
        torch.autograd.grad(got.square().sum(), params),
        torch.autograd.grad(want.square().sum(), params),
        strict=True,
    ):
        torch.testing.assert_close(g_got, g_want, rtol=1e-4, atol=1e-4)  # summation order
    with pytest.raises(ValueError, match=r"agent inputs are for \(5, 4\) rows"):
        mlp(x[:, :3], route, agent=AgentInputs(a, b, True, dense))
    with pytest.raises(ValueError, match="do not fit"):
        BatchedMLP(n_members, f + a - 1, hidden, 2)(x, route, agent=AgentInputs(a, b, True))


def _ride_hailing_group():
    env = RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=3)
    return env, AgentLayout.from_env(env).groups[0]


def test_nops_group_model_equals_per_agent_copies_of_a_shared_network() -> None:
    env, group = _ride_hailing_group()
    cfg = PPOConfig(hidden_sizes=(16, 16))
    nops = GroupModel(group, make_sharing("nops"), "ippo", 0, cfg)
    ps = GroupModel(group, make_sharing("ps"), "ippo", 0, cfg)
    obs, _ = env.reset(seed=1)
    batch = {
        key: torch.as_tensor(np.stack([obs[a][key] for a in group.names])[:, None])
        for key in group.obs.names
    }
    picks = nops.distribution(batch).sample()
    logp = nops.distribution(batch).log_prob(picks)
    for i in (0, 17, 35):
        with torch.no_grad():
            for p_ps, p_nops in zip(ps.parameters(), nops.parameters(), strict=True):
                p_ps.copy_(p_nops[i : i + 1])
        one = {k: v[i : i + 1] for k, v in batch.items()}
        torch.testing.assert_close(ps.distribution(one).log_prob(picks[i : i + 1]), logp[i : i + 1])
        torch.testing.assert_close(ps.value(one, None), nops.value(batch, None)[i : i + 1])


def test_group_model_reassign_copies_members_for_dynamic_strategies() -> None:
    env, group = _ride_hailing_group()
    model = GroupModel(group, make_sharing("nops"), "ippo", 0, PPOConfig(hidden_sizes=(8,)))
    obs, _ = env.reset(seed=0)
    batch = {
        key: torch.as_tensor(np.stack([obs[a][key] for a in group.names])[:, None])
        for key in group.obs.names
    }
    with torch.no_grad():
        as_member_0 = model.critic(batch, None, torch.zeros(36, dtype=torch.long))
        as_member_20 = model.critic(batch, None, torch.full((36,), 20))
        assignment = np.zeros(36, dtype=np.int64)
        assignment[18:] = 5
        model.reassign(assignment, copy={5: 20})  # the new group 5 starts from agent 20's weights
        after = model.value(batch, None)
    torch.testing.assert_close(after[:18], as_member_0[:18])
    torch.testing.assert_close(after[18:], as_member_20[18:])
    with pytest.raises(ValueError, match="assignment"):
        model.reassign(np.full(36, 99))


# ----------------------------------------------------------------------------- config etc.
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("gamma", 1.5),
        ("gae_lambda", -0.1),
        ("clip_coef", 0.0),
        ("lr", 0.0),
        ("n_epochs", 0),
        ("n_steps", 2.5),
        ("minibatch_size", 0),
        ("hidden_sizes", ()),
        ("activation", "gelu"),
        ("max_grad_norm", float("nan")),
        ("value_norm", "yes"),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        PPOConfig(**{field: value})


def test_config_replace_round_trip_and_unknown_fields() -> None:
    cfg = PPOConfig().replace(lr=1e-3, hidden_sizes=[32])
    assert cfg.hidden_sizes == (32,) and cfg.critic_learning_rate == 1e-3
    assert PPOConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="learning_rate"):
        PPOConfig().replace(learning_rate=1.0)
    with pytest.raises(ValueError, match="sharing"):
        make_sharing("rode")


def test_space_groups_split_agents_by_identical_spaces() -> None:
    class Env:
        possible_agents = ["a", "b", "c", "d"]

        def observation_space(self, agent):
            return spaces.Box(0, 1, (3 if agent in "ac" else 4,))

        def action_space(self, agent):
            return spaces.Discrete(2)

    layout = AgentLayout.from_env(Env())
    assert [g.names for g in layout.groups] == [("a", "c"), ("b", "d")]
    assert list(itertools.chain(*(g.agents for g in layout.groups))) == [0, 2, 1, 3]


def test_progress_writes_plain_lines_off_a_terminal() -> None:
    stream = io.StringIO()
    bar = Progress(1000, stream=stream, interval_s=0)
    bar.update(250, **{"return": 1.5})
    bar.close()
    first, second = stream.getvalue().splitlines()
    assert first.startswith("train: 0/1,000 env steps (0%), ? steps/s")
    assert second.startswith("train: 250/1,000 env steps (25%), ") and "return 1.5" in second
