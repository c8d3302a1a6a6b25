"""QMIX: the mixer is monotonic, the TD target reads the target networks and stops at terminal
steps, greedy picks are the exact maximum, exploration stays inside the valid actions, a resumed
run is the uninterrupted one, the greedy policy loads from its checkpoint, and QMIX learns a
task whose answer is known (and that parameter sharing without ids cannot solve)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo import ParallelEnv

from alloc_agents import load_policy
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.runner import Runner
from alloc_agents.qmix import QMIXConfig, load_qmix_policy, train_qmix
from alloc_agents.qmix.acting import QMIXActor, play_episodes
from alloc_agents.qmix.action_values import DiscreteValues, PickValues
from alloc_agents.qmix.episodes import collate
from alloc_agents.qmix.learner import QMIXLearner, masked_mean_square
from alloc_agents.qmix.learner import step_rows as learner_step_rows
from alloc_agents.qmix.mixer import QMixer
from alloc_agents.qmix.model import QMIXModel
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv

TINY = QMIXConfig(
    batch_episodes=4,
    buffer_episodes=16,
    hidden_size=16,
    mixer_embed=8,
    hypernet_embed=16,
    epsilon_anneal_steps=200,
    target_update_episodes=4,
    checkpoint_every=1,
)


class MatchContext(ParallelEnv):
    """Two agents see a context c ∈ {0, 1, 2} (one-hot) and an action mask that forbids
    (c + 2) mod 3; agent i scores 1 when it plays (c + i) mod 3. Both are truncated after
    ``steps`` steps, except ``a_1``, which terminates after ``a1_steps`` (it leaves early).
    With ``state()``: the context. The best team return is ``steps + a1_steps``; one network
    without agent ids cannot tell the agents apart and gets at most half of it."""

    metadata = {"name": "match_context_v0"}
    possible_agents = ["a_0", "a_1"]

    def __init__(self, steps: int = 6, a1_steps: int = 4) -> None:
        self.steps, self.a1_steps = steps, a1_steps
        self._obs = spaces.Dict(
            {"obs": spaces.Box(0.0, 1.0, (3,)), "action_mask": spaces.Box(0, 1, (3,), np.int8)}
        )
        self._act = spaces.Discrete(3)
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._act

    def state(self) -> np.ndarray:
        return np.eye(3, dtype=np.float32)[self.c]

    def _observe(self) -> dict[str, Any]:
        self.c = int(self.rng.integers(0, 3))
        mask = np.ones(3, np.int8)
        mask[(self.c + 2) % 3] = 0
        return {a: {"obs": np.eye(3, dtype=np.float32)[self.c], "action_mask": mask.copy()}
                for a in self.agents}  # fmt: skip

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t = 0
        return self._observe(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        self.t += 1
        rewards = {}
        for agent in self.agents:
            assert actions[agent] != (self.c + 2) % 3, "a masked action was taken"
            rewards[agent] = float(actions[agent] == (self.c + int(agent[-1])) % 3)
        terminations = {a: a == "a_1" and self.t >= self.a1_steps for a in self.agents}
        truncations = {a: self.t >= self.steps and not terminations[a] for a in self.agents}
        infos = {a: {"hits": float(sum(rewards.values()))} for a in self.agents}
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        return self._observe(), rewards, terminations, truncations, infos


def tiny_ride_hailing() -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=3)


# ------------------------------------------------------------------------------- the mixer
@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), n_agents=st.integers(1, 6))
def test_mixer_is_monotonic_in_every_agents_utility(seed: int, n_agents: int) -> None:
    torch.manual_seed(seed)
    mixer = QMixer(n_agents, state_dim=5, embed=8, hypernet_embed=16)
    q = (torch.randn(64, n_agents) * 10).requires_grad_(True)
    state = torch.randn(64, 5) * 100
    (gradient,) = torch.autograd.grad(mixer(q, state).sum(), q)
    assert (gradient >= 0).all()
    raised = q.detach().clone()
    raised[:, seed % n_agents] += torch.rand(64) * 5
    assert (mixer(raised, state) >= mixer(q.detach(), state) - 1e-5).all()


# ------------------------------------------------------------------------- action values
def _brute_force_best(q: np.ndarray, valid: np.ndarray, n_picks: int) -> float:
    """max over every pick sequence of the mean of the counted picks' utilities."""
    if n_picks == 0:
        return 0.0
    orders = [j for j in range(1, len(q)) if valid[j]]
    best = -np.inf
    for k in range(min(len(orders), n_picks) + 1):
        for chosen in itertools.combinations(orders, k):
            best = max(best, (sum(q[list(chosen)]) + (n_picks - k) * q[0]) / n_picks)
    return best


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31 - 1))
def test_greedy_picks_are_the_exact_maximum_and_random_picks_are_valid(seed: int) -> None:
    rng = np.random.default_rng(seed)
    slots, max_picks = 7, 4
    q = torch.as_tensor(rng.normal(size=(5, slots)), dtype=torch.float32)
    valid = torch.as_tensor(rng.random((5, slots)) < 0.6)
    n_picks = torch.as_tensor(rng.integers(0, max_picks + 1, 5))
    values = PickValues(q, valid, n_picks, max_picks)
    greedy = values.greedy()
    random = values.random(torch.Generator().manual_seed(seed))
    for row in range(5):
        want = _brute_force_best(q[row].numpy(), values.valid[row].numpy(), int(n_picks[row]))
        assert float(values.chosen(greedy)[row]) == pytest.approx(want, abs=1e-5)
        for picks in (greedy[row], random[row]):
            orders = [int(p) for p in picks[: int(n_picks[row])] if p > 0]
            assert all(values.valid[row, p] for p in orders)
            assert len(orders) == len(set(orders))  # an order is taken once
            assert (picks[int(n_picks[row]) :] == 0).all()  # uncounted positions stay


def test_discrete_values_respect_the_mask() -> None:
    q = torch.tensor([[5.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    valid = torch.tensor([[False, True, True], [False, False, False]])
    values = DiscreteValues(q, valid)
    assert values.greedy().tolist() == [1, 0]  # a row with no valid action: all count
    draws = torch.stack([values.random(torch.Generator().manual_seed(s)) for s in range(50)])
    assert (draws[:, 0] != 0).all() and set(draws[:, 1].tolist()) == {0, 1, 2}


# ---------------------------------------------------------------------------- the TD target
def _batch_and_learner(config: QMIXConfig, seed: int = 0):
    torch.manual_seed(seed)
    runner = Runner(MatchContext, 3, seed, centralised=True)
    runner.reset_all()
    model = QMIXModel(runner.layout, "ps-id", runner.central_dim, config)
    generator = torch.Generator().manual_seed(seed)
    episodes, _ = play_episodes(
        runner, QMIXActor(model), 1.0, generator, 1.0, False, torch.device("cpu")
    )
    return collate(episodes, torch.device("cpu")), QMIXLearner(model, config)


@pytest.mark.parametrize("double_q", [True, False])
def test_td_target_reads_the_target_networks_and_stops_at_terminal_steps(double_q: bool):
    batch, learner = _batch_and_learner(TINY.replace(double_q=double_q, gamma=0.9))
    assert batch.terminal.any() and (batch.terminal.sum(1) == 1).all()
    before = learner.targets(batch)
    # At a terminal step the target is the reward alone, whatever the networks.
    assert torch.equal(before[batch.terminal], batch.reward[batch.terminal])
    # The target networks set the other targets: perturbing them moves every one.
    with torch.no_grad():
        for p in learner.target.parameters():
            p.add_(torch.randn_like(p))
    after = learner.targets(batch)
    live = batch.filled & ~batch.terminal
    assert (after[live] != before[live]).all()
    assert torch.equal(after[batch.terminal], before[batch.terminal])
    # The online mixer never enters the target; the online agents only choose (double Q).
    with torch.no_grad():
        for p in learner.model.mixer.parameters():
            p.add_(torch.randn_like(p))
    assert torch.equal(learner.targets(batch), after)
    # By hand: y = r + γ · mixer⁻(Q⁻_i(o', a'_i); s').
    t = batch.steps
    utilities = []
    for g, obs in enumerate(batch.obs):
        chooser = (learner.model if double_q else learner.target).unroll(g, obs)
        target = learner.target.unroll(g, obs)
        nxt = chooser.map(lambda x: x[:, :, 1 : t + 1]).greedy()
        u = target.map(lambda x: x[:, :, 1 : t + 1]).chosen(nxt) * batch.acting[g][:, :, 1:]
        utilities.append(u)
    u = torch.cat(utilities).permute(1, 2, 0)
    mixed = learner.target.mixer(u.reshape(-1, u.shape[-1]), batch.state[:, 1:].reshape(-1, 3))
    by_hand = batch.reward + 0.9 * (~batch.terminal) * mixed.reshape(batch.reward.shape)
    torch.testing.assert_close(after[batch.filled], by_hand[batch.filled])


@pytest.mark.parametrize("double_q", [True, False])
def test_scoring_only_the_picked_orders_gives_the_loss_and_gradient_of_scoring_all(double_q):
    config = TINY.replace(double_q=double_q, gamma=0.9)
    torch.manual_seed(1)
    runner = Runner(
        lambda: RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=6),
        2,
        1,
        centralised=True,
    )
    runner.reset_all()
    model = QMIXModel(runner.layout, "ps", runner.central_dim, config)
    episodes, _ = play_episodes(
        runner,
        QMIXActor(model),
        0.5,
        torch.Generator().manual_seed(1),
        1.0,
        False,
        torch.device("cpu"),
    )
    batch = collate(episodes, torch.device("cpu"))
    learner = QMIXLearner(model, config)
    with torch.no_grad():  # a target unlike the online networks
        for p in learner.target.parameters():
            p.add_(0.1 * torch.randn_like(p))
    (orders,) = batch.orders
    taken = orders.picked(learner_step_rows(batch.actions[0], 0))
    assert 0 < int(taken.sum()) < taken.numel()  # the batch scores a strict subset
    # By hand, every order scored: Q_tot and y as the module docstring writes them.
    t = batch.steps
    (online,) = learner.unroll_online(batch)
    q_by_hand = learner.model.mixer(
        (online.map(lambda x: x[:, :, :t]).chosen(batch.actions[0]) * batch.acting[0][:, :, :t])
        .permute(1, 2, 0)
        .reshape(-1, online.q.shape[0]),
        batch.state[:, :t].reshape(-1, batch.state.shape[-1]),
    ).reshape(batch.reward.shape)
    with torch.no_grad():
        target = learner.target.unroll(0, batch.obs[0], orders).map(lambda x: x[:, :, 1:])
        chooser = online.map(lambda x: x[:, :, 1:].detach()) if double_q else target
        u = target.chosen(chooser.greedy()) * batch.acting[0][:, :, 1:]
        mix = learner.target.mixer(
            u.permute(1, 2, 0).reshape(-1, u.shape[0]),
            batch.state[:, 1:].reshape(-1, batch.state.shape[-1]),
        )
        y_by_hand = batch.reward + 0.9 * (~batch.terminal) * mix.reshape(batch.reward.shape)
    q_tot, y = learner.q_tot(batch), learner.targets(batch)
    torch.testing.assert_close(q_tot, q_by_hand)
    torch.testing.assert_close(y, y_by_hand)
    params = list(learner.model.parameters())
    grads = torch.autograd.grad(masked_mean_square(q_tot - y, batch.filled), params)
    by_hand = torch.autograd.grad(
        masked_mean_square(q_by_hand - y_by_hand, batch.filled), params, allow_unused=True
    )
    for g, h in zip(grads, by_hand, strict=True):
        torch.testing.assert_close(g, torch.zeros_like(g) if h is None else h)


def test_agents_that_left_contribute_nothing_to_the_mix() -> None:
    batch, learner = _batch_and_learner(TINY)
    a1_index = 1  # the second agent of the one space group: a_1 leaves after 4 of 6 steps
    acting = batch.acting[0][a1_index]
    assert acting[:, :4].all() and not acting[:, 4:].any()
    q_tot = learner.q_tot(batch)
    with torch.no_grad():  # a_1's actions after it left do not matter
        batch.actions[0][a1_index, :, 4:] = (batch.actions[0][a1_index, :, 4:] + 1) % 3
    torch.testing.assert_close(learner.q_tot(batch), q_tot)


# ------------------------------------------------------------------- training end to end
def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("make_env", [MatchContext, tiny_ride_hailing], ids=["discrete", "picks"])
def test_resume_is_exact(tmp_path: Path, make_env) -> None:
    steps = 60 if make_env is MatchContext else 24
    kw = dict(n_envs=2, seed=3, device="cpu", config=TINY, progress=False)
    straight = train_qmix(make_env, total_env_steps=steps, **kw)
    path = tmp_path / "ckpt.pt"
    first = train_qmix(make_env, total_env_steps=steps // 2, checkpoint=path, **kw)
    assert first.history[-1]["env_steps"] < straight.history[-1]["env_steps"]
    resumed = train_qmix(make_env, total_env_steps=steps, checkpoint=path, resume=True, **kw)
    assert [r["episode_return"] for r in resumed.history] == [
        r["episode_return"] for r in straight.history
    ]
    assert resumed.history[-1]["td_loss"] == straight.history[-1]["td_loss"]
    for name, value in _params(straight.model).items():
        assert torch.equal(value, _params(resumed.model)[name]), name


def test_checkpoint_rebuilds_the_greedy_policy_and_refuses_other_runs(tmp_path: Path) -> None:
    result = train_qmix(tiny_ride_hailing, total_env_steps=12, n_envs=1, seed=0, device="cpu",
                        config=TINY, log_dir=tmp_path, progress=False)  # fmt: skip
    path = tmp_path / "checkpoint.pt"
    assert torch.load(path, weights_only=True)["meta"]["algorithm"] == "qmix"
    env = tiny_ride_hailing()
    policy = load_qmix_policy(path, env)
    obs, _ = env.reset(seed=1)
    a, b = policy.act_parallel(obs), result.policy.act_parallel(obs)
    for agent in a:
        np.testing.assert_array_equal(a[agent], b[agent])
    gym_env = RideHailingEnv(preset="ride-hailing-1", episode_steps=3)
    gym_obs, _ = gym_env.reset(seed=0)
    actions = result.policy.act(gym_obs)
    assert actions.shape == (36, 50) and actions.dtype == np.int64
    gym_env.step(actions)  # valid picks
    with pytest.raises(ckpt.CheckpointError, match="load_qmix_policy"):
        load_policy(path, env)  # the PPO loader names the right one
    ppo_like = tmp_path / "ppo.pt"
    ckpt.save(ppo_like, {"meta": {"algorithm": "ippo"}})
    with pytest.raises(ckpt.CheckpointError, match="not a QMIX one"):
        load_qmix_policy(ppo_like, env)
    with pytest.raises(ckpt.CheckpointError, match="seed"):
        train_qmix(tiny_ride_hailing, total_env_steps=24, n_envs=1, seed=1, device="cpu",
                   config=TINY, checkpoint=path, resume=True, progress=False)  # fmt: skip
    # A checkpoint of the older layout (no "learner" entry) is refused by name, not KeyError.
    data = torch.load(path, weights_only=True)
    old = tmp_path / "old.pt"
    ckpt.save(old, {**{k: v for k, v in data.items() if k != "learner"}, "model": {}})
    with pytest.raises(ckpt.CheckpointError, match=r"old\.pt.*older alloc-agents"):
        load_qmix_policy(old, env)
    with pytest.raises(ckpt.CheckpointError, match="older alloc-agents"):
        train_qmix(tiny_ride_hailing, total_env_steps=24, n_envs=1, seed=0, device="cpu",
                   config=TINY, checkpoint=old, resume=True, progress=False)  # fmt: skip


def test_logs_the_update_and_the_episodes(tmp_path: Path) -> None:
    result = train_qmix(MatchContext, total_env_steps=60, n_envs=2, seed=0, device="cpu",
                        config=TINY, log_dir=tmp_path, progress=False)  # fmt: skip
    last = result.history[-1]
    assert last["episodes"] == 10 and last["env_steps"] == 60
    for column in ("episode_return", "info/hits", "epsilon", "td_loss", "q_tot", "grad_norm"):
        assert column in last, column
    assert (tmp_path / "progress.csv").read_text().count("\n") == len(result.history) + 1


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sharing": "dyps"}, "sharing"),
        ({"total_env_steps": 0}, "total_env_steps"),
        ({"n_envs": 0}, "n_envs"),
        ({"config": "ride-hailing-9"}, "preset"),
        ({"config": {"batch_episodes": 8, "buffer_episodes": 4}}, "buffer_episodes"),
        ({"config": {"epsilon_finish": 2.0}}, "epsilon_finish"),
        ({"resume": True}, "resume"),
    ],
)
def test_train_rejects_bad_arguments_naming_them(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"total_env_steps": 8, "device": "cpu", "progress": False}
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        train_qmix(MatchContext, **args)


def test_refuses_continuous_actions_naming_the_agents() -> None:
    with pytest.raises(ValueError, match=r"Discrete.*agents"):
        train_qmix(lambda: RideHailingParallelEnv(preset="ride-hailing-1", action_mode="reposition",
                                                  episode_steps=2),
                   total_env_steps=2, device="cpu", progress=False)  # fmt: skip


def _greedy_return(policy, episodes: int = 20) -> float:
    env, total = MatchContext(), 0.0
    for k in range(episodes):
        obs, _ = env.reset(seed=1000 + k)
        policy.reset()
        while env.agents:
            obs, rewards, *_ = env.step(policy.act_parallel(obs))
            total += sum(rewards.values())
    return total / episodes


@pytest.mark.parametrize(("sharing", "recurrent"), [("ps-id", False), ("nops", True)])
def test_qmix_learns_the_context_task_that_shared_networks_without_ids_cannot(
    sharing: str, recurrent: bool
) -> None:
    config = TINY.replace(buffer_episodes=200, batch_episodes=16, lr=3e-3, recurrent=recurrent,
                          epsilon_anneal_steps=600, target_update_episodes=20)  # fmt: skip
    kw = dict(total_env_steps=2_400, n_envs=2, seed=0, device="cpu", config=config, progress=False)
    learned = _greedy_return(train_qmix(MatchContext, sharing=sharing, **kw).policy)
    assert learned >= 9.5  # of 10 (6 + 4 steps)
    if not recurrent:  # one network without ids answers one agent's context at a time
        assert _greedy_return(train_qmix(MatchContext, sharing="ps", **kw).policy) <= 6.5


def test_cli_trains_qmix_with_the_presets_configuration(capsys: pytest.CaptureFixture) -> None:
    from alloc_agents.cli import main as cli_main

    code = cli_main(["train", "--env", "alloc/RideHailing-v0", "--preset", "ride-hailing-1",
                     "--algorithm", "qmix", "--env-arg", "episode_steps=3", "--steps", "6",
                     "--set", "batch_episodes=2", "--set", "buffer_episodes=4",
                     "--device", "cpu", "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "QMIX (ps-id)" and summary["env_steps"] == 6
    assert cli_main(["train", "--env", "alloc/RideHailing-v0", "--algorithm", "qmix",
                     "--sharing", "dyps", "--steps", "6", "--no-progress"]) == 2  # fmt: skip
    assert "QMIX sharing must be one of" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("make_env", [MatchContext, tiny_ride_hailing], ids=["discrete", "picks"])
def test_training_on_cuda(make_env) -> None:
    result = train_qmix(make_env, total_env_steps=24, n_envs=2, seed=0, device="cuda",
                        config=TINY.replace(batch_episodes=2), progress=False)  # fmt: skip
    assert next(result.model.parameters()).is_cuda
    assert np.isfinite(result.history[-1]["td_loss"])
