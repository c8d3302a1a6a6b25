"""PSA and SePS: k-means, the SePS VAE separating two agent kinds, option validation, training
end to end (a two-kind env, Ride-Hailing dispatch, mpe2 simple_spread), logs and exact resume
before and after the clustering point."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from alloc_agents import PPOConfig, load_policy, train
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.seps import fit_agent_embeddings, kmeans
from alloc_agents.ppo.sharing import SePSConfig, make_sharing
from alloc_envs.ride_hailing import RideHailingParallelEnv

try:
    from mpe2 import simple_spread_v3
except ImportError:
    simple_spread_v3 = None

TINY = PPOConfig(n_steps=8, n_epochs=2, n_minibatches=2, hidden_sizes=(16, 16))
FAST_SEPS = {"pretrain_fraction": 0.5, "vae_epochs": 30, "vae_lr": 3e-3, "n_clusters": 2}


class TwoKindEnv(ParallelEnv):
    """Four agents, two kinds with different reward functions: kind ``a`` is paid +1 for action
    0, kind ``b`` for action 1 (−1 otherwise). Observations are noise; 5-step episodes."""

    metadata = {"name": "two_kinds_v0"}

    def __init__(self) -> None:
        self.possible_agents = ["a_0", "b_0", "a_1", "b_1"]
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(-1, 1, (2,))

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(2)

    def _obs(self) -> dict[str, Any]:
        return {a: self.rng.uniform(-1, 1, 2).astype(np.float32) for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents, self.t = list(self.possible_agents), 0
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        self.t += 1
        want = {"a": 0, "b": 1}
        rewards = {a: 1.0 if int(actions[a]) == want[a[0]] else -1.0 for a in self.agents}
        done = self.t >= 5
        agents = list(self.agents)
        if done:
            self.agents = []
        return (
            {a: self.rng.uniform(-1, 1, 2).astype(np.float32) for a in agents},
            rewards,
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, done),
            {a: {} for a in agents},
        )


def spread() -> ParallelEnv:
    if simple_spread_v3 is None:
        pytest.skip("mpe2 is not installed (pip install alloc-agents[test])")
    return simple_spread_v3.parallel_env(max_cycles=10)


def dispatch() -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=4, action_mode="dispatch")


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------ k-means, VAE
def test_kmeans_recovers_blobs_seeded_and_canonically_labelled() -> None:
    g = torch.Generator().manual_seed(0)
    centres = torch.tensor([[5.0, 5.0], [-5.0, 0.0], [0.0, -5.0]])
    truth = torch.tensor([2, 0, 1, 2, 0, 1, 1, 0, 2] * 3)
    x = centres[truth] + 0.1 * torch.randn(truth.numel(), 2, generator=g)
    labels, found, inertia = kmeans(x, 3, 10, generator=torch.Generator().manual_seed(1))
    # first-appearance numbering: the first point's blob is cluster 0, and so on
    expected = torch.tensor([{2: 0, 0: 1, 1: 2}[int(t)] for t in truth])
    assert torch.equal(labels, expected)
    assert torch.allclose(found, centres[[2, 0, 1]], atol=0.1)
    again = kmeans(x, 3, 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(again[0], labels) and again[2] == inertia
    assert torch.equal(kmeans(x, 1, 2)[0], torch.zeros(x.shape[0], dtype=torch.long))
    with pytest.raises(ValueError, match="k must be"):
        kmeans(x, x.shape[0] + 1)


def test_vae_embeddings_separate_agent_kinds_by_reward_function() -> None:
    rng = np.random.default_rng(0)
    n, kinds = 2000, np.array([0, 1, 0, 1, 1, 0])
    ids = rng.integers(0, len(kinds), n)
    obs = rng.uniform(-1, 1, (n, 2))
    act = rng.integers(0, 2, n)
    reward = np.where(act == kinds[ids], 1.0, -1.0)
    inputs = torch.as_tensor(np.concatenate([obs, np.eye(2)[act]], 1), dtype=torch.float32)
    targets = torch.as_tensor(
        np.concatenate([rng.uniform(-1, 1, (n, 2)), reward[:, None]], 1), dtype=torch.float32
    )
    cfg = SePSConfig(vae_epochs=10, vae_lr=3e-3)
    mu = fit_agent_embeddings(
        len(kinds), torch.as_tensor(ids), inputs, targets, cfg, torch.Generator().manual_seed(0)
    )
    labels, _, _ = kmeans(mu, 2, generator=torch.Generator().manual_seed(0))
    assert labels.tolist() == kinds.tolist()


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pretrain_fraction", 0.0),
        ("pretrain_fraction", 1.5),
        ("n_clusters", 0),
        ("z_dim", 0),
        ("vae_epochs", 0),
        ("vae_lr", -1.0),
        ("vae_batch_size", 1.5),
        ("kl_weight", float("nan")),
        ("kmeans_n_init", 0),
        ("max_transitions", True),
    ],
)
def test_seps_config_rejects_bad_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        SePSConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        train(TwoKindEnv, sharing="seps", sharing_options={field: value}, total_env_steps=8)


def test_sharing_options_are_checked() -> None:
    with pytest.raises(ValueError, match="unknown SePSConfig field"):
        make_sharing("seps", {"clusters": 2})
    with pytest.raises(ValueError, match="takes no options"):
        train(TwoKindEnv, sharing="psa", sharing_options={"n_clusters": 2}, total_env_steps=8)


# ------------------------------------------------------------------------------ training
def test_seps_clusters_the_two_kinds_end_to_end(tmp_path: Path) -> None:
    result = train(TwoKindEnv, sharing="seps", sharing_options=FAST_SEPS, total_env_steps=256,
                   n_envs=4, seed=0, device="cpu", config=TINY.replace(n_steps=16),
                   log_dir=tmp_path)  # fmt: skip
    record = result.extra["seps"]
    assert record["iteration"] == 2  # ceil(0.5 * 4 iterations)
    assert record["groups"][0]["assignment"] == [0, 1, 0, 1]
    assert json.loads((tmp_path / "seps_clusters.json").read_text()) == record
    gm = result.model.groups[0]
    assert gm.n_members == 2 and gm.assignment.tolist() == [0, 1, 0, 1]
    assert [row["seps_clustered"] for row in result.history] == [0, 1, 1, 1]
    # the saved policy rebuilds with the clusters
    policy = load_policy(tmp_path / "checkpoint.pt", TwoKindEnv())
    assert policy.model.groups[0].assignment.tolist() == [0, 1, 0, 1]


def test_seps_members_start_from_the_pretrained_network() -> None:
    cfg = TINY.replace(n_epochs=1)
    opts = {**FAST_SEPS, "pretrain_fraction": 1.0}  # cluster after the last update
    result = train(TwoKindEnv, sharing="seps", sharing_options=opts, total_env_steps=64,
                   n_envs=2, seed=0, device="cpu", config=cfg)  # fmt: skip
    weight = result.model.groups[0].actor.mlp.out.weight
    assert torch.equal(weight[0], weight[1])


@pytest.mark.parametrize("algorithm", ["ippo", "mappo"])
@pytest.mark.parametrize("sharing", ["psa", "seps"])
@pytest.mark.parametrize("env_fn", [TwoKindEnv, dispatch, spread], ids=["kinds", "rh", "mpe2"])
def test_psa_and_seps_train(env_fn: Any, sharing: str, algorithm: str) -> None:
    steps = 64 if env_fn is dispatch else 320
    result = train(env_fn, algorithm=algorithm, sharing=sharing, total_env_steps=steps,
                   n_envs=2, seed=1, device="cpu", config=TINY,
                   sharing_options=FAST_SEPS if sharing == "seps" else None)  # fmt: skip
    last = result.history[-1]
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl"):
        assert np.isfinite(last[key]), key
    assert result.history[0]["approx_kl"] < 0.05
    gm = result.model.groups[0]
    n_agents = gm.group.n_agents
    if sharing == "psa":
        assert gm.n_members == n_agents and gm.shared_critic is not None
    else:
        assert gm.n_members == 2 and result.extra["seps"]["groups"][0]["n_clusters"] == 2
    env = env_fn()
    obs, _ = env.reset(seed=0)
    assert set(result.policy.act_parallel(obs)) == set(env.agents)


def test_psa_trains_the_shared_critic_and_learns_the_kinds() -> None:
    cfg = PPOConfig(n_steps=20, n_epochs=4, hidden_sizes=(16,), lr=3e-3)
    result = train(TwoKindEnv, sharing="psa", total_env_steps=1600, n_envs=4, seed=0,
                   device="cpu", config=cfg)  # fmt: skip
    assert result.history[-1]["agent_return"] > 3.0  # 5 steps, +1 each when right
    norm = result.model.groups[0].shared_value_norm
    assert float(norm.debiasing_term[0]) > 0


@pytest.mark.parametrize("interrupt", [1, 3], ids=["across-clustering", "after-clustering"])
def test_seps_resume_is_exact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, interrupt: int):
    saved = {}
    real_save = ckpt.save

    def save(path: Path, data: dict[str, Any]) -> None:
        real_save(path, data)
        saved[data["counters"]["iteration"]] = tmp_path / f"it{data['counters']['iteration']}.pt"
        shutil.copy(path, saved[data["counters"]["iteration"]])

    monkeypatch.setattr(ckpt, "save", save)
    kw = dict(sharing="seps", sharing_options=FAST_SEPS, total_env_steps=64, n_envs=2, seed=2,
              device="cpu", config=TINY.replace(checkpoint_every=1))  # fmt: skip
    straight = train(TwoKindEnv, checkpoint=tmp_path / "ckpt.pt", **kw)
    assert straight.extra["seps"]["iteration"] == 2
    path = tmp_path / "resume.pt"
    shutil.copy(saved[interrupt], path)
    resumed = train(TwoKindEnv, checkpoint=path, resume=True, **kw)
    assert resumed.extra["seps"] == straight.extra["seps"]
    keys = ("policy_loss", "value_loss", "episode_return", "seps_clustered")
    for a, b in zip(resumed.history, straight.history, strict=True):
        assert [a[k] for k in keys] == [b[k] for k in keys]
    for name, value in _params(straight.model).items():
        assert torch.equal(value, _params(resumed.model)[name]), name
