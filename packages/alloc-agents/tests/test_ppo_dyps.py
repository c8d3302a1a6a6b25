"""DyPS: the role models (VLSTM, CVAE), Eq. 13's group selection and its ablations, the
selector's actor-critic update, option validation (Python and CLI), and the group log. Training
end to end and exact resume are in ``test_ppo_training.py`` (``dyps`` is one of its sharing
strategies)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from alloc_agents import PPOConfig, train
from alloc_agents.cli import main as cli_main
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.dyps import DyPSController, GroupSelector
from alloc_agents.ppo.dyps_oracle import (
    RH1_AGENTS,
    RH1_UPDATES,
    oracle_probs,
    oracle_scores,
    ride_hailing_like_inputs,
)
from alloc_agents.ppo.model import MultiAgentModel
from alloc_agents.ppo.roles import VLSTM, GroupCVAE, compact_action_dim, compact_action_features
from alloc_agents.ppo.sharing import DYPS_TABLE6, DyPSConfig, make_sharing
from alloc_agents.ppo.spaces import ActionSpec, AgentLayout
from alloc_envs.hidden_types.parallel_env import HiddenTypesParallelEnv as _HiddenTypes

TINY = PPOConfig(n_steps=8, n_epochs=1, hidden_sizes=(16, 16))
FAST = {"cvae_steps": 2, "vlstm_sequences": 4, "role_dim": 8, "vlstm_hidden": 8}


class FourAgents(ParallelEnv):
    """Four agents, Discrete(2) actions, noise observations, team reward = mean of actions;
    4-step episodes."""

    metadata = {"name": "four_agents_v0"}
    possible_agents = [f"a_{i}" for i in range(4)]

    def __init__(self) -> None:
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(-1, 1, (3,))

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(2)

    def _obs(self) -> dict[str, Any]:
        return {a: self.rng.uniform(-1, 1, 3).astype(np.float32) for a in self.agents}

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents, self.t = list(self.possible_agents), 0
        return self._obs(), {a: {} for a in self.agents}

    def step(self, actions):
        reward = float(np.mean([actions[a] for a in self.agents]))
        self.t += 1
        agents, done = self.agents, self.t >= 4
        obs = self._obs()
        if done:
            self.agents = []
        return (obs, dict.fromkeys(agents, reward), dict.fromkeys(agents, False),
                dict.fromkeys(agents, done), {a: {} for a in agents})  # fmt: skip


# ------------------------------------------------------------------------------ selection
def test_group_selection_is_eq_13_on_conditioned_inputs_and_the_ablations_ignore_what_they_drop(
) -> None:  # fmt: skip
    torch.manual_seed(0)
    n_agents, n_groups = 5, 3
    roles, latents = 5.0 + torch.randn(n_agents, 8), 2.0 + torch.randn(n_groups, 16)
    raw = GroupSelector(DyPSConfig(role_dim=8, conditioning="raw"), n_agents, n_groups)
    x = torch.cat([torch.eye(n_agents), roles], -1)
    torch.testing.assert_close(raw.logits(roles, latents), x @ raw.weight @ latents.T)
    full = GroupSelector(DyPSConfig(role_dim=8), n_agents, n_groups)
    h, z = roles - roles.mean(0), latents - latents.mean(0)
    h, z = h / h.pow(2).sum(-1).mean().sqrt(), z / z.pow(2).sum(-1).mean().sqrt()
    x = torch.cat([torch.eye(n_agents), h], -1)
    torch.testing.assert_close(full.logits(roles, latents), x @ full.weight @ z.T)
    # A shift common to every agent's role or every group's latent changes nothing.
    torch.testing.assert_close(full.logits(roles + 3.0, latents - 1.0), full.logits(roles, latents))
    assert full.critic is None and raw.critic is None  # agent credit: no critic
    team = GroupSelector(DyPSConfig(role_dim=8, credit="team"), n_agents, n_groups)
    assert team.value(roles, latents).shape == ()
    other_roles, other_latents = torch.randn(n_agents, 8), torch.randn(n_groups, 16)
    for variant, reads_roles, reads_latents in [
        ("full", True, True),
        ("no-vlstm", False, True),
        ("no-cvae", True, False),
        ("no-repr", False, False),
    ]:
        sel = GroupSelector(DyPSConfig(role_dim=8, variant=variant), n_agents, n_groups)
        base = sel.logits(roles, latents)
        assert base.shape == (n_agents, n_groups)
        assert not torch.equal(base, sel.logits(other_roles, latents)) == reads_roles
        assert not torch.equal(base, sel.logits(other_roles, other_latents)) == (
            reads_roles or reads_latents
        )


def _oracle(n_groups: int, updates: int = RH1_UPDATES, **options: Any) -> dict[str, Any]:
    """The oracle test (:mod:`alloc_agents.ppo.dyps_oracle`) on Ride-Hailing-like inputs."""
    roles, latents, targets = ride_hailing_like_inputs(n_groups)
    config = DyPSConfig(n_groups=n_groups, **{**FAST, "role_dim": 64}, **options)
    return oracle_scores(oracle_probs(config, roles, latents, targets, updates), targets)


@pytest.mark.parametrize("n_groups", [2, 4])
def test_noise_free_oracle_is_learned_within_a_ride_hailing_1_run(n_groups: int) -> None:
    """Within the 42 updates of a 30k-step Ride-Hailing (1) run, on inputs conditioned like
    Ride-Hailing's, the selector puts >= 95% of the agents' most probable group on their target
    with mean target probability >= 0.9. The paper's Table 6 setting does not move."""
    scores = _oracle(n_groups)
    assert scores["accuracy"] >= 0.95 and scores["target_prob"] >= 0.9
    assert _oracle(n_groups, **DYPS_TABLE6)["target_prob"] < 1 / n_groups + 0.05


def test_deployment_puts_every_agent_on_its_most_probable_group() -> None:
    roles = ride_hailing_like_inputs(4)[0]
    config = DyPSConfig(n_groups=4, **{**FAST, "role_dim": 64})
    layout = AgentLayout.from_env(_HiddenTypes(n_agents=RH1_AGENTS))
    model = MultiAgentModel(layout, make_sharing("dyps", config), "ippo", 0, TINY)
    ctrl = DyPSController(config, model, seed=0, device=torch.device("cpu"), n_envs=3)
    ctrl.parts[0].roles.copy_(roles)
    ctrl.select(model)
    gm = model.groups[0]
    assert gm.rollout_members.shape == (RH1_AGENTS, 3)  # one draw per env copy
    (probs,) = ctrl.deploy(model)
    assert torch.equal(gm.assignment, probs.argmax(-1)) and gm.rollout_members is None


def test_no_herding_with_balanced_targets() -> None:
    """Balanced oracle targets over M = 4 groups: every group ends with its quarter of the
    agents (within one), with the agent credit (42 updates) and with the paper's team credit
    (one number for all agents; 420 updates). On raw Eq. 13 inputs (the paper's Table 6
    setting), whose large common role component moves every agent's logits together, the
    agents herd: one group is the most probable for >= 80% of them."""
    quarter = RH1_AGENTS // 4
    team = {"credit": "team", "selector_critic_lr": 3e-2}
    for options, updates in (({}, RH1_UPDATES), (team, 10 * RH1_UPDATES)):
        scores = _oracle(4, updates, **options)
        assert quarter - 1 <= min(scores["sizes"]) <= max(scores["sizes"]) <= quarter + 1
        assert scores["accuracy"] >= 0.95
    assert max(_oracle(4, **DYPS_TABLE6)["sizes"]) >= 0.8 * RH1_AGENTS


# ------------------------------------------------------------------------------ role models
def _sequences(b: int = 6, t: int = 12, s: int = 3, u: int = 2, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    states = torch.randn(b, t + 1, s, generator=g)
    actions = torch.rand(b, t, u, generator=g)
    rewards = states[:, 1:, 0] * 0.5
    return states[:, :-1], actions, rewards, states[:, 1:]


def test_vlstm_role_is_the_state_after_the_last_fed_step_and_resets_between_episodes() -> None:
    torch.manual_seed(0)
    vlstm = VLSTM(3, 2, role_dim=8, z_dim=4, hidden=8)
    s, u, r, s2 = _sequences()
    b, t = r.shape
    ones, zeros = torch.ones(b, t, dtype=torch.bool), torch.zeros(b, t, dtype=torch.bool)
    with torch.no_grad():
        _, role_7 = vlstm.run(s[:, :7], u[:, :7], r[:, :7], s2[:, :7], ones[:, :7], ones[:, :7],
                              zeros[:, :7], sample=False)  # fmt: skip
        feed = ones.clone()
        feed[:, 7:] = False  # the agent is gone after step 6
        _, role = vlstm.run(s, u, r, s2, feed, feed, zeros, sample=False)
        torch.testing.assert_close(role, role_7)
        reset = zeros.clone()
        reset[:, 4] = True  # an episode ends after step 4: the role is that of steps 5..
        _, after = vlstm.run(s, u, r, s2, ones, ones, reset, sample=False)
        _, fresh = vlstm.run(s[:, 5:], u[:, 5:], r[:, 5:], s2[:, 5:], ones[:, 5:], ones[:, 5:],
                             zeros[:, 5:], sample=False)  # fmt: skip
        torch.testing.assert_close(after, fresh)


def test_vlstm_loss_is_eq_12_step_by_step() -> None:
    """The batched ELBO terms equal Eq. 12 written out step by step (prior and decoder at the
    state before each step), on the learn steps only; the roles do not depend on the loss."""
    from alloc_agents.ppo.roles import _gaussian, gaussian_kl, gaussian_nll

    torch.manual_seed(0)
    vlstm = VLSTM(3, 2, role_dim=8, z_dim=4, hidden=8)
    s, u, r, s2 = _sequences(b=5, t=9)
    feed = torch.rand(r.shape) < 0.8
    learn = feed & (torch.rand(r.shape) < 0.7)
    reset = torch.zeros_like(feed)
    reset[:, 4] = True
    with torch.no_grad():
        loss, role = vlstm.run(s, u, r, s2, feed, learn, reset, sample=False)
        _, role_only = vlstm.run(s, u, r, s2, feed, learn, reset, sample=False, with_loss=False)
        torch.testing.assert_close(role_only, role, rtol=0, atol=0)
        h = c = torch.zeros(5, 8)
        total = torch.zeros(())
        for t in range(9):
            mu_p, lv_p = _gaussian(vlstm.prior(h))
            mu_q, lv_q = _gaussian(vlstm.inference(torch.cat([s[:, t], h], -1)))
            mu_e, lv_e = _gaussian(vlstm.decoder(torch.cat([mu_q, h], -1)))
            target = torch.cat([s2[:, t], r[:, t, None]], -1)
            step = gaussian_nll(target, mu_e, lv_e) + gaussian_kl(mu_q, lv_q, mu_p, lv_p)
            total = total + (step * learn[:, t]).sum()
            x = torch.cat([mu_q, s[:, t], u[:, t], r[:, t, None]], -1)
            h_new, c_new = vlstm.cell(x, (h, c))
            fed = feed[:, t, None] & ~reset[:, t, None]
            h = torch.where(fed, h_new, torch.where(reset[:, t, None], 0.0, h))
            c = torch.where(fed, c_new, torch.where(reset[:, t, None], 0.0, c))
        torch.testing.assert_close(loss, total / learn.sum())


def test_vlstm_elbo_training_lowers_the_loss_on_predictable_dynamics() -> None:
    torch.manual_seed(0)
    vlstm = VLSTM(3, 2, role_dim=16, z_dim=4, hidden=32)
    s, u, r, s2 = _sequences(b=16, t=10)
    s2 = s.roll(1, dims=-1)  # s' is a fixed function of s
    r = s[..., 0]
    ones = torch.ones(r.shape, dtype=torch.bool)
    zeros = torch.zeros_like(ones)
    opt = torch.optim.Adam(vlstm.parameters(), lr=3e-3)
    losses = []
    g = torch.Generator().manual_seed(1)
    for _ in range(150):
        loss, _ = vlstm.run(s, u, r, s2, ones, ones, zeros, sample=True, generator=g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-10:]) < np.mean(losses[:10]) - 1.0


def test_cvae_latents_tell_groups_apart_by_the_actions_they_produce() -> None:
    torch.manual_seed(0)
    cvae = GroupCVAE(2, state_dim=3, action_dim=2, z_dim=4, hidden=32)
    groups = torch.randint(0, 2, (512,))
    states = torch.randn(512, 3)
    actions = torch.nn.functional.one_hot(groups, 2).float()  # group m always plays action m
    opt = torch.optim.Adam(cvae.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    first = float(cvae.loss(groups, states, actions, 1e-4, g).detach())
    for _ in range(300):
        loss = cvae.loss(groups, states, actions, 1e-4, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss.detach()) < first / 2
    with torch.no_grad():
        z = cvae.latents()
        decoded = cvae.decoder(torch.cat([z, torch.zeros(2, 3)], -1))
    assert decoded.argmax(-1).tolist() == [0, 1]


def test_compact_action_features() -> None:
    picks = ActionSpec("multidiscrete", (4,), nvec=(3,) * 4, starts=(0,) * 4)
    x = compact_action_features(picks, torch.tensor([[0, 0, 2, 1], [1, 1, 1, 1]]))
    torch.testing.assert_close(x, torch.tensor([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]]))
    assert compact_action_dim(picks) == 3
    discrete = ActionSpec("discrete", (), n=4)
    assert compact_action_features(discrete, torch.tensor([2])).tolist() == [[0, 0, 1, 0]]
    assert compact_action_dim(discrete) == 4


# ------------------------------------------------------------------------------ options, logs
@pytest.mark.parametrize(
    ("field", "value"),
    [("n_groups", 0), ("variant", "no-lstm"), ("selector_lr", 0.0), ("cvae_steps", -1),
     ("selector_entropy", -0.1), ("reward_beta", 1.0), ("role_dim", 2.5), ("credit", "own"),
     ("conditioning", "centred"), ("selector_steps", 0), ("warmup_iterations", -1)],
)  # fmt: skip
def test_dyps_config_rejects_bad_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        DyPSConfig(**{field: value})
    with pytest.raises(ValueError, match="unknown DyPSConfig field"):
        make_sharing("dyps", {"groups": 3})


@pytest.mark.parametrize("variant", ["full", "no-cvae", "no-vlstm", "no-repr"])
def test_every_variant_trains_and_logs_the_groups_of_every_iteration(
    tmp_path: Path, variant: str
) -> None:
    options = {"n_groups": 3, "variant": variant, **FAST}
    result = train(FourAgents, sharing="dyps", sharing_options=options, total_env_steps=48,
                   n_envs=2, seed=0, device="cpu", config=TINY, log_dir=tmp_path)  # fmt: skip
    assert len(result.history) == 3
    lines = (tmp_path / "dyps_groups.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert records == result.extra["dyps"]
    assert [r["iteration"] for r in records] == [1, 2, 3]
    for i, (row, record) in enumerate(zip(result.history, records, strict=True)):
        assignment = record["groups"][0]["assignment"]
        assert len(assignment) == 4 and set(assignment) <= {0, 1, 2}
        sampled = np.asarray(record["groups"][0]["sampled"])  # one draw per env copy
        assert sampled.shape == (2, 4) and set(sampled.ravel()) <= {0, 1, 2}
        sizes = [row.get(f"dyps_size/{m}", 0.0) for m in range(3)]
        assert sizes == [assignment.count(m) for m in range(3)]
        assert np.isfinite(row["dyps_vlstm_loss"]) and np.isfinite(row["dyps_cvae_loss"])
        assert 0 <= row["dyps_entropy_ratio"] <= 1
        assert row["dyps_members_argmax"] == len(set(assignment))
        assert row["dyps_members_sampled"] == np.mean([len(set(r)) for r in sampled])
        assert row["dyps_latent_spread"] >= 0 and 0 <= row["dyps_role_spread"] <= 1
        if i:
            before = records[i - 1]["groups"][0]
            assert row["dyps_switched"] == (np.asarray(before["sampled"]) != sampled).mean()
            changed = np.asarray(before["assignment"]) != np.asarray(assignment)
            assert row["dyps_switched_argmax"] == changed.mean()
    # The final model acts with every agent's most probable group, not the last draw.
    last = records[-1]["groups"][0]["assignment"]
    assert result.model.groups[0].assignment.tolist() == last
    assert result.model.groups[0].rollout_members is None


def test_warm_up_keeps_the_agents_on_a_balanced_partition_and_the_selector_still() -> None:
    options = {"n_groups": 2, "warmup_iterations": 2, **FAST}
    result = train(FourAgents, sharing="dyps", sharing_options=options, total_env_steps=48,
                   n_envs=2, seed=0, device="cpu", config=TINY)  # fmt: skip
    records = result.extra["dyps"]
    first, second = (np.asarray(r["groups"][0]["sampled"]) for r in records[:2])
    assert np.array_equal(first, second) and (first == first[0]).all()  # one fixed partition
    assert sorted(np.bincount(first[0], minlength=2)) == [2, 2]
    assert [row["dyps_warmup"] for row in result.history] == [1.0, 1.0, 0.0]
    assert all(row["dyps_entropy_ratio"] > 0.999 for row in result.history[:2])  # no update


# ------------------------------------------------------------------------------ command line
def test_cli_passes_dyps_options_and_reports_the_groups(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    argv = ["train", "--env", "alloc/RideHailing-v0", "--preset", "ride-hailing-1",
            "--sharing", "dyps", "--steps", "8", "--n-envs", "1", "--device", "cpu",
            "--env-arg", "episode_steps=4", "--set", "n_steps=4", "--set", "hidden_sizes=(8,)",
            "--dyps-groups", "3", "--dyps-variant", "no-vlstm", "--dyps-opt", "cvae_steps=1",
            "--log-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert cli_main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dyps"]["iteration"] == 2
    assert set(out["dyps"]["groups"][0]["assignment"]) <= {0, 1, 2}
    saved = ckpt.load(tmp_path / "checkpoint.pt")["meta"]["sharing_options"]
    assert saved == {**DyPSConfig().to_dict(), "n_groups": 3, "variant": "no-vlstm",
                     "cvae_steps": 1}  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--dyps-groups", "3"], "need --sharing dyps"),
        (["--sharing", "seps", "--dyps-opt", "cvae_steps=1"], "need --sharing dyps"),
        (["--sharing", "dyps", "--dyps-groups", "0"], "n_groups"),
        (["--sharing", "dyps", "--dyps-opt", "selector_lr=0"], "selector_lr"),
        (["--sharing", "dyps", "--dyps-opt", "groups=3"], "unknown DyPSConfig field"),
        (["--sharing", "dyps", "--dyps-groups", "2", "--dyps-opt", "n_groups=3"], "twice"),
    ],
)
def test_cli_rejects_bad_dyps_options(
    extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    code = cli_main(["train", "--env", "alloc/RideHailing-v0", "--steps", "8", *extra])
    assert code == 2 and message in capsys.readouterr().err
