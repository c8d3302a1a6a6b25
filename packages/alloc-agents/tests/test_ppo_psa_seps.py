"""PSA and SePS: k-means, the Davies–Bouldin index and SePS's choice of K by it, the SePS VAE
separating two agent kinds, option validation (Python and CLI), training end to end (a two-kind
env, a three-kind env with K chosen automatically, Ride-Hailing dispatch, mpe2 simple_spread),
logs and exact resume before and after the clustering point."""

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
from alloc_agents.cli import main as cli_main
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.seps import (
    AgentVAE,
    SePSPhase,
    davies_bouldin,
    fit_agent_embeddings,
    kmeans,
    select_clusters,
)
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
    #: The action that pays, per kind (the first letter of the agent's name).
    want = {"a": 0, "b": 1}
    agent_names = ("a_0", "b_0", "a_1", "b_1")

    def __init__(self) -> None:
        self.possible_agents = list(self.agent_names)
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(-1, 1, (2,))

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(len(self.want))

    def _obs(self) -> dict[str, Any]:
        return {a: self.rng.uniform(-1, 1, 2).astype(np.float32) for a in self.agents}

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents, self.t = list(self.possible_agents), 0
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        self.t += 1
        rewards = {a: 1.0 if int(actions[a]) == self.want[a[0]] else -1.0 for a in self.agents}
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


class ThreeKindEnv(TwoKindEnv):
    """Nine agents of three kinds (paid for action 0, 1 or 2), interleaved."""

    metadata = {"name": "three_kinds_v0"}
    want = {"a": 0, "b": 1, "c": 2}
    agent_names = tuple(f"{kind}_{i}" for i in range(3) for kind in "abc")


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


def test_vae_encoder_reads_an_agents_weight_column_as_the_one_hot_id_would() -> None:
    """q(z | id) gathers the agent's column of the first layer instead of multiplying a
    one-hot: the encoder's plain forward on the one-hot ids gives the same (μ, log σ²) and
    gradients, bit for bit (a one-hot product adds exact zeros)."""
    torch.manual_seed(0)
    vae = AgentVAE(7, 3, 2, z_dim=4, hidden=16)
    ids = torch.tensor([6, 0, 3, 3, 1])
    mu, logvar = vae.encode(ids)
    out = vae.encoder(torch.eye(7)[ids])
    assert torch.equal(torch.cat([mu, logvar], -1), out)
    (got,) = torch.autograd.grad((mu.sum() + logvar.square().sum()), vae.encoder[0].weight)
    (want,) = torch.autograd.grad(
        out[:, :4].sum() + out[:, 4:].square().sum(), vae.encoder[0].weight
    )
    assert torch.equal(got, want)


# ------------------------------------------------------------------------------ validation
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pretrain_fraction", 0.0),
        ("pretrain_fraction", 1.5),
        ("n_clusters", 0),
        ("n_clusters", "many"),
        ("n_clusters", 2.5),
        ("max_clusters", 1),
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


# ------------------------------------------------------------------------------ choosing K
def test_davies_bouldin_matches_a_hand_computation() -> None:
    # 1-D clusters A = {0, 2}, B = {10, 14}, C = {30, 30}: centroids 1, 12, 30; scatters (mean
    # distance to the centroid) 1, 2, 0; centroid distances d_AB 11, d_AC 29, d_BC 18.
    # R_AB = 3/11, R_AC = 1/29, R_BC = 2/18; per cluster the worst: A 3/11, B 3/11, C 1/9.
    x = np.array([[0.0], [2.0], [10.0], [14.0], [30.0], [30.0]])
    labels = np.array([0, 0, 1, 1, 2, 2])
    assert davies_bouldin(x, labels) == pytest.approx((3 / 11 + 3 / 11 + 1 / 9) / 3)
    assert davies_bouldin(x[:4], labels[:4]) == pytest.approx(3 / 11)
    # label values and order do not matter; torch tensors are accepted
    assert davies_bouldin(torch.as_tensor(x), torch.tensor([7, 7, 3, 3, 5, 5])) == pytest.approx(
        davies_bouldin(x, labels)
    )
    # 2-D: Euclidean distances. A = {(0,0), (0,2)}, B = {(3,4), (3,6)}: s = 1, 1; d = 5
    x2 = np.array([[0.0, 0.0], [0.0, 2.0], [3.0, 4.0], [3.0, 6.0]])
    assert davies_bouldin(x2, [0, 0, 1, 1]) == pytest.approx(2 / 5)
    assert davies_bouldin(np.array([[0.0], [0.0], [1.0], [1.0]]), [0, 0, 1, 1]) == 0.0
    with pytest.raises(ValueError, match=r"2\.\.3 clusters"):
        davies_bouldin(x2, [0, 0, 0, 0])
    with pytest.raises(ValueError, match=r"2\.\.3 clusters"):
        davies_bouldin(x2, [0, 1, 2, 3])


def test_select_clusters_picks_the_true_number_of_well_separated_blobs() -> None:
    centres = torch.tensor([[5.0, 5.0], [-5.0, 0.0], [0.0, -5.0], [6.0, -6.0]])
    for n_blobs in (2, 3, 4):
        truth = torch.arange(n_blobs).repeat(6)
        g = torch.Generator().manual_seed(n_blobs)
        x = centres[truth] + 0.3 * torch.randn(truth.numel(), 2, generator=g)
        k, labels, scores = select_clusters(x, range(2, 10), 10, torch.Generator().manual_seed(0))
        assert k == n_blobs, scores
        assert list(scores) == [str(k) for k in range(2, 10)]
        assert scores[str(k)] == min(s for s in scores.values() if s is not None)
        assert len({(int(t), int(c)) for t, c in zip(truth, labels, strict=True)}) == n_blobs
    # identical points: no K gives two clusters -> K = 1, every score undefined
    k, labels, scores = select_clusters(torch.zeros(5, 3), range(2, 5), 3)
    assert k == 1 and labels.tolist() == [0] * 5 and set(scores.values()) == {None}


def test_auto_members_and_validation() -> None:
    auto = SePSConfig(n_clusters="auto", max_clusters=4)
    assert SePSConfig(n_clusters=None).n_clusters == "auto" and auto.auto
    assert [auto.n_members(a) for a in (1, 2, 3, 4, 5, 9)] == [1, 1, 2, 3, 4, 4]
    assert [SePSConfig(n_clusters=3).n_members(a) for a in (1, 2, 5)] == [1, 2, 3]


AUTO_SEPS = {**FAST_SEPS, "n_clusters": "auto", "max_clusters": 4, "kl_weight": 0.1}


def test_seps_chooses_k_by_davies_bouldin_end_to_end(tmp_path: Path) -> None:
    result = train(ThreeKindEnv, sharing="seps", sharing_options=AUTO_SEPS, total_env_steps=256,
                   n_envs=4, seed=0, device="cpu", config=TINY.replace(n_steps=16),
                   log_dir=tmp_path)  # fmt: skip
    group = result.extra["seps"]["groups"][0]
    assert group["k_selection"] == "davies-bouldin"
    scores = group["davies_bouldin"]
    assert list(scores) == ["2", "3", "4"]  # 2 .. min(9 agents - 1, max_clusters)
    assert group["n_clusters"] == 3 and scores["3"] == min(scores.values())
    assert group["assignment"] == [0, 1, 2] * 3  # the three kinds
    mu = np.array(group["embeddings"])
    assert davies_bouldin(mu, group["assignment"]) == pytest.approx(scores["3"])
    assert json.loads((tmp_path / "seps_clusters.json").read_text()) == result.extra["seps"]
    gm = result.model.groups[0]
    assert gm.n_members == 4 and gm.assignment.tolist() == [0, 1, 2] * 3  # member 3 unused
    phase = SePSPhase(SePSConfig(n_clusters="auto"), 4, 0)
    assert phase.columns() == {}
    phase.result = result.extra["seps"]
    assert phase.columns() == {"seps_k": 3.0}


def test_seps_auto_keeps_one_network_for_groups_of_two() -> None:
    class Pair(TwoKindEnv):
        agent_names = ("a_0", "b_0")

    result = train(Pair, sharing="seps", sharing_options=AUTO_SEPS, total_env_steps=64,
                   n_envs=2, seed=0, device="cpu", config=TINY)  # fmt: skip
    group = result.extra["seps"]["groups"][0]
    assert group["n_clusters"] == 1 and group["davies_bouldin"] == {}
    assert result.model.groups[0].n_members == 1


# ------------------------------------------------------------------------------ CLI
def test_cli_passes_seps_options_and_reports_the_clustering(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["train", "--env", "alloc/RideHailing-v0", "--preset", "ride-hailing-1",
            "--sharing", "seps", "--steps", "16", "--n-envs", "1", "--device", "cpu",
            "--env-arg", "episode_steps=4", "--set", "n_steps=4", "--set", "hidden_sizes=(8,)",
            "--seps-clusters", "auto", "--seps-max-clusters", "3",
            "--seps-pretrain-fraction", "0.5", "--seps-z-dim", "4",
            "--seps-opt", "vae_epochs=2", "--log-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert cli_main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    group = out["seps"]["groups"][0]
    assert out["seps"]["iteration"] == 2 and "embeddings" not in group
    assert group["k_selection"] == "davies-bouldin" and list(group["davies_bouldin"]) == ["2", "3"]
    assert 1 <= group["n_clusters"] <= 3
    saved = ckpt.load(tmp_path / "checkpoint.pt")["meta"]["sharing_options"]
    assert saved == {**SePSConfig().to_dict(), "n_clusters": "auto", "max_clusters": 3,
                     "pretrain_fraction": 0.5, "z_dim": 4, "vae_epochs": 2}  # fmt: skip
    record = json.loads((tmp_path / "seps_clusters.json").read_text())
    assert len(record["groups"][0]["embeddings"][0]) == 4  # z_dim


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--seps-clusters", "3"], "need --sharing seps"),
        (["--sharing", "seps", "--seps-pretrain-fraction", "0"], "pretrain_fraction"),
        (["--sharing", "seps", "--seps-max-clusters", "1"], "max_clusters"),
        (["--sharing", "seps", "--seps-z-dim", "0"], "z_dim"),
        (["--sharing", "seps", "--seps-opt", "vae_lr=-1"], "vae_lr"),
        (["--sharing", "seps", "--seps-opt", "clusters=3"], "unknown SePSConfig field"),
        (["--sharing", "seps", "--seps-opt", "vae_epochs"], "--seps-opt must be key=value"),
        (["--sharing", "seps", "--seps-clusters", "2", "--seps-opt", "n_clusters=3"], "twice"),
    ],
)
def test_cli_rejects_bad_seps_options(
    extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    code = cli_main(["train", "--env", "alloc/RideHailing-v0", "--steps", "8", *extra])
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("value", ["0", "-2", "few", "2.5"])
def test_cli_seps_clusters_must_be_a_positive_int_or_auto(
    value: str, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(SystemExit) as exc:
        cli_main(["train", "--env", "alloc/RideHailing-v0", "--sharing", "seps",
                  "--seps-clusters", value])  # fmt: skip
    assert exc.value.code == 2 and "positive integer or 'auto'" in capsys.readouterr().err
