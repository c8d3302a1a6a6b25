"""RODE (alloc_agents.rode): k-means roles, the forward model, role-restricted acting, the
two-level TD targets, exact resume, loaders, and a learning test on a task whose roles are known
(two classes of actions with identical effects inside a class)."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from alloc_agents import train
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.ride_hailing import IDLE, symlog
from alloc_agents.ppo.runner import Runner
from alloc_agents.qmix import load_qmix_policy
from alloc_agents.qmix.acting import play_episodes
from alloc_agents.qmix.episodes import ReplayBuffer, collate
from alloc_agents.qmix.orders import order_rows
from alloc_agents.rode import RODEConfig, RODEModel, load_rode_policy, train_rode
from alloc_agents.rode.kmeans import kmeans
from alloc_agents.rode.learner import RODELearner, role_statistics
from alloc_envs.ride_hailing import RideHailingParallelEnv

CPU = torch.device("cpu")
TINY = RODEConfig(
    batch_episodes=4,
    buffer_episodes=32,
    hidden_size=16,
    mixer_embed=8,
    hypernet_embed=16,
    epsilon_anneal_steps=400,
    target_update_episodes=8,
    n_roles=2,
    role_interval=2,
    role_update_steps=240,
    checkpoint_every=1,
)


class ActionClasses(ParallelEnv):
    """Three agents see a phase φ ∈ {0, 1} (one-hot, fixed for the episode) and choose among six
    actions in two classes, {0, 1, 2} and {3, 4, 5}; an agent scores 1 when its action's class
    is φ. Actions of a class have identical effects, so the two classes are the roles a forward
    model can find. ``masked``: an action mask forbids action 2 and 5 on odd steps. The best
    return is ``3 · steps``."""

    metadata = {"name": "action_classes_v0"}
    possible_agents = ["a_0", "a_1", "a_2"]

    def __init__(self, steps: int = 6, masked: bool = False) -> None:
        self.steps, self.masked = steps, masked
        obs = {"obs": spaces.Box(0.0, 1.0, (2,))}
        if masked:
            obs["action_mask"] = spaces.Box(0, 1, (6,), np.int8)
        self._obs = spaces.Dict(obs)
        self._act = spaces.Discrete(6)
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._act

    def state(self) -> np.ndarray:
        return np.eye(2, dtype=np.float32)[self.phase]

    def _mask(self) -> np.ndarray:
        mask = np.ones(6, np.int8)
        if self.t % 2:
            mask[[2, 5]] = 0
        return mask

    def _observe(self) -> dict[str, Any]:
        out = {}
        for a in self.agents:
            out[a] = {"obs": np.eye(2, dtype=np.float32)[self.phase]}
            if self.masked:
                out[a]["action_mask"] = self._mask()
        return out

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t, self.phase = 0, int(self.rng.integers(0, 2))
        return self._observe(), {a: {} for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if self.masked:
            assert all(self._mask()[a] for a in actions.values()), "a masked action was taken"
        self.t += 1
        rewards = {a: float(int(actions[a]) // 3 == self.phase) for a in self.agents}
        done = self.t >= self.steps
        infos = {a: {} for a in self.agents}
        out = self._observe()
        if done:
            self.agents = []
        return out, rewards, dict.fromkeys(rewards, False), dict.fromkeys(rewards, done), infos


def tiny_ride_hailing() -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=4)


def _filled_buffer(env_fn, config: RODEConfig, episodes: int, seed: int = 0):
    torch.manual_seed(seed)
    runner = Runner(env_fn, 2, seed, centralised=True)
    runner.reset_all()
    model = RODEModel(runner.layout, "ps-id", runner.central_dim, config)
    learner = RODELearner(model, config)
    buffer = ReplayBuffer(config.buffer_episodes)
    generator = torch.Generator().manual_seed(seed)
    while len(buffer) < episodes:
        for episode in play_episodes(
            runner, learner.actor(), 1.0, generator, config.reward_scale, False, CPU
        )[0]:
            buffer.add(episode)
    return runner, learner, buffer, generator


# -------------------------------------------------------------------------------- k-means
def test_kmeans_gives_k_non_empty_clusters_and_finds_separated_ones() -> None:
    generator = torch.Generator().manual_seed(0)
    blobs = torch.cat([torch.randn(30, 3) * 0.1 + 5 * k for k in range(4)])
    centres, labels = kmeans(blobs, 4, generator)
    assert centres.shape == (4, 3)
    assert [len(set(labels[30 * k : 30 * k + 30].tolist())) for k in range(4)] == [1] * 4
    assert len(set(labels.tolist())) == 4
    # Many duplicates and exactly K distinct points: every cluster still gets one.
    points = torch.tensor([[0.0, 0.0]] * 20 + [[1.0, 0.0]] + [[0.0, 1.0]] + [[1.0, 1.0]])
    for seed in range(10):
        _, labels = kmeans(points, 4, torch.Generator().manual_seed(seed))
        assert torch.bincount(labels, minlength=4).min() >= 1
    with pytest.raises(ValueError, match="at least 5 distinct points"):
        kmeans(points, 5, generator)


# -------------------------------------------------------------------------- forward model
@pytest.mark.parametrize("env_fn", [ActionClasses, tiny_ride_hailing], ids=["discrete", "rh"])
def test_training_the_action_encoder_reduces_the_forward_models_loss(env_fn) -> None:
    config = TINY.replace(reward_scale=1e-2) if env_fn is tiny_ride_hailing else TINY
    _, learner, buffer, _ = _filled_buffer(env_fn, config, 8)
    batch = collate(list(buffer.episodes), CPU)

    def loss() -> float:
        stats = learner._encoder_step(batch)
        return stats["prediction_obs_loss"] + stats["prediction_reward_loss"]

    first = loss()
    for _ in range(150):
        last = loss()
    assert last < 0.5 * first


# -------------------------------------------------------------------------------- the roles
def test_roles_are_k_non_empty_clusters_of_the_actions_and_of_the_orders() -> None:
    _, learner, buffer, generator = _filled_buffer(ActionClasses, TINY.replace(n_roles=4), 4)
    learner.form_roles(buffer, generator)
    agents = learner.model.groups[0]
    assert bool(agents.formed) and torch.bincount(agents.action_roles, minlength=4).min() >= 1
    # Fewer actions than n_roles: one role per action.
    many = RODEModel(learner.model.layout, "ps", 2, TINY.replace(n_roles=9))
    assert many.groups[0].n_roles == 6

    config = TINY.replace(n_roles=3, reward_scale=1e-2)
    _, learner, buffer, generator = _filled_buffer(tiny_ride_hailing, config, 4)
    learner.form_roles(buffer, generator)
    agents = learner.model.groups[0]
    episode = buffer.episodes[-1]
    features = symlog(torch.as_tensor(order_rows(episode.obs[0], episode.length)))
    with torch.no_grad():
        roles = agents.order_roles(agents.encoder.order_representations(features))
    assert agents.centres.shape[0] == 3 and len(set(roles.tolist())) == 3


@pytest.mark.parametrize("masked", [False, True])
def test_role_policies_never_act_outside_their_role(masked: bool) -> None:
    def env_fn() -> ActionClasses:
        return ActionClasses(masked=masked)

    runner, learner, buffer, generator = _filled_buffer(env_fn, TINY, 4)
    learner.form_roles(buffer, generator)
    agents = learner.model.groups[0]
    episodes, _ = play_episodes(runner, learner.actor(), 1.0, generator, 1.0, False, CPU)
    checked = 0
    for episode in episodes:
        actions, roles = episode.actions[0], episode.per_agent["role"][0]  # (T, A)
        assert (agents.action_roles[torch.as_tensor(actions)].numpy() == roles).all()
        checked += actions.size
    assert checked > 0
    # Roles are chosen every role_interval steps and kept in between.
    assert (roles[1::2] == roles[0::2]).all()


def test_ride_hailing_role_policies_pick_only_their_roles_orders() -> None:
    config = TINY.replace(n_roles=3, reward_scale=1e-2)
    runner, learner, buffer, generator = _filled_buffer(tiny_ride_hailing, config, 2)
    learner.form_roles(buffer, generator)
    agents = learner.model.groups[0]
    episodes, _ = play_episodes(runner, learner.actor(), 1.0, generator, 1e-2, False, CPU)
    picked = 0
    for episode in episodes:
        # The buffer keeps the orders packed: every filled slot's role, in (step, cell, slot).
        mask = torch.as_tensor(episode.obs[0]["candidate_mask"][:-1]) > 0  # (T, A, S)
        features = symlog(torch.as_tensor(order_rows(episode.obs[0], episode.length)))
        with torch.no_grad():
            z = agents.encoder.order_representations(features)
            slot_roles = torch.full(mask.shape, -1, dtype=torch.long)
            slot_roles[..., 1:][mask[..., 1:]] = agents.order_roles(z)
        actions = torch.as_tensor(episode.actions[0])  # (T, A, K) slots, 0 = STAY
        roles = torch.as_tensor(episode.per_agent["role"][0])
        orders = actions > 0
        role_of_pick = slot_roles.gather(2, actions)
        assert (role_of_pick[orders] == roles.unsqueeze(-1).expand_as(actions)[orders]).all()
        picked += int(orders.sum())
    assert picked > 0


def test_target_reuses_the_online_order_codes_only_when_they_are_the_same(monkeypatch) -> None:
    """Once the roles are formed and the target copied, the target's encoder and centres are
    the online ones': its update reuses the online order codes and steps exactly as computing
    its own; an encoder that differs is not reused."""
    config = TINY.replace(n_roles=3, reward_scale=1e-2)
    _, learner, buffer, generator = _filled_buffer(tiny_ride_hailing, config, 2)
    learner.form_roles(buffer, generator)
    learner.sync_target()
    online, target = learner.model.groups[0], learner.target.groups[0]
    assert target.same_order_codes(online)
    batch = collate(list(buffer.episodes), CPU)
    start = copy.deepcopy(learner.state_dict())
    reused = learner.update(batch)
    after_reuse = copy.deepcopy(learner.state_dict()["model"])
    learner.load_state_dict(copy.deepcopy(start))
    calls = []

    def never_same(self, other) -> bool:
        calls.append(self)
        return False

    monkeypatch.setattr(type(target), "same_order_codes", never_same)
    assert learner.update(batch) == reused
    assert calls  # the update asked, and computed the target's own codes
    for name, value in learner.state_dict()["model"].items():
        assert torch.equal(value, after_reuse[name]), name
    monkeypatch.undo()
    with torch.no_grad():
        target.centres.add_(1.0)
    assert not target.same_order_codes(online)
    target.centres.copy_(online.centres)
    with torch.no_grad():
        target.encoder.action_net[0].weight.add_(1.0)
    assert not target.same_order_codes(online)


def test_a_picks_representation_is_the_mean_of_its_counted_orders_or_stays() -> None:
    _, learner, buffer, _ = _filled_buffer(tiny_ride_hailing, TINY.replace(reward_scale=1e-2), 2)
    agents = learner.model.groups[0]
    batch = collate(list(buffer.episodes), CPU)
    t = batch.steps
    obs = {k: v[:, :, :t].flatten(1, 2) for k, v in batch.obs[0].items()}
    orders = batch.orders[0].first_steps(t + 1, t)
    actions = batch.actions[0].flatten(1, 2)  # (A, X, K) slots
    u = agents.action_representation(obs, actions, orders)
    # By hand: every slot's representation laid out densely, STAY's at slot 0.
    z = orders.scatter(agents.encoder.order_representations(orders.features))
    z = torch.cat([agents.encoder.stay.expand(*z.shape[:2], 1, -1), z], dim=2)
    picked = z.gather(2, actions.unsqueeze(-1).expand(-1, -1, -1, z.shape[-1]))
    n = torch.round(obs["observation"][..., IDLE]).long().clamp(0, actions.shape[-1])
    counted = (torch.arange(actions.shape[-1]) < n.unsqueeze(-1)).unsqueeze(-1)
    mean = (picked * counted).sum(2) / n.clamp_min(1).unsqueeze(-1)
    by_hand = torch.where((n > 0).unsqueeze(-1), mean, agents.encoder.stay.expand_as(mean))
    assert int((actions > 0).sum()) > 0 and int((n == 0).sum()) > 0
    torch.testing.assert_close(u, by_hand)
    params = [*agents.encoder.action_net.parameters(), agents.encoder.stay]
    grads = torch.autograd.grad(u.square().sum(), params)
    expected = torch.autograd.grad(by_hand.square().sum(), params)
    for g, h in zip(grads, expected, strict=True):  # sums of the same terms in other orders
        torch.testing.assert_close(g, h, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------------------- role TD target
def test_role_targets_sum_the_intervals_discounted_rewards_and_stop_at_the_end() -> None:
    config = TINY.replace(gamma=0.5, role_interval=4)
    _, learner, buffer, _ = _filled_buffer(lambda: ActionClasses(steps=6), config, 2)
    batch = collate(list(buffer.episodes)[:2], CPU)
    online = learner.unroll(learner.model, batch)
    with torch.no_grad():
        target = learner.unroll(learner.target, batch)
        _, y, filled = learner._role_td(batch, online, target)
        # Decisions at steps 0 and 4; the second interval (steps 4, 5) ends the episode.
        r = batch.reward
        assert filled.all()
        torch.testing.assert_close(y[:, 1], r[:, 4] + 0.5 * r[:, 5])
        # The first bootstraps from the target networks' best role at step 4.
        roles_next = [t[1].map(lambda x: x[:, :, 4]) for t in target]
        utilities = [v.best() for v in roles_next]
        next_tot = learner.target.role_mixer(torch.cat(utilities).T, batch.state[:, 4])
        rewards = sum(0.5**k * r[:, k] for k in range(4))
        if not config.double_q:
            torch.testing.assert_close(y[:, 0], rewards + 0.5**4 * next_tot)
        online_best = online[0][1].map(lambda x: x[:, :, 4].detach()).greedy()
        chosen = roles_next[0].chosen(online_best)
        next_tot = learner.target.role_mixer(chosen.T, batch.state[:, 4])
        torch.testing.assert_close(y[:, 0], rewards + 0.5**4 * next_tot)


# ---------------------------------------------------------------------------- statistics
def test_role_statistics_count_switches_at_decision_steps_only() -> None:
    _, learner, buffer, _ = _filled_buffer(ActionClasses, TINY, 1)
    episode = buffer.episodes[0]
    episode.per_agent["role"][0][:] = np.array(
        [[0, 0, 1], [0, 0, 1], [1, 0, 1], [0, 0, 1]] + [[1, 1, 1]] * 2
    )
    stats = role_statistics([episode], 2, learner.model)
    # Decisions at steps 0, 2, 4: agent 0 goes 0 -> 1 -> 1, agent 1 0 -> 0 -> 1, agent 2 stays.
    assert stats["role_switching"] == pytest.approx(2 / 6)
    assert stats["roles_used"] == 2.0
    assert stats["role_share_0"] == pytest.approx(3 / 9)


# ------------------------------------------------------------------------ resume, loaders
@pytest.mark.parametrize("env_fn", [ActionClasses, tiny_ride_hailing], ids=["discrete", "rh"])
def test_resume_continues_exactly_across_the_role_formation(env_fn, tmp_path) -> None:
    config = TINY.replace(role_update_steps=120, reward_scale=1e-2)
    kwargs = dict(n_envs=2, seed=3, config=config, progress=False, device="cpu")
    total = 240 if env_fn is ActionClasses else 96
    if env_fn is tiny_ride_hailing:
        kwargs["config"] = config.replace(role_update_steps=40)
    straight = train_rode(env_fn, total_env_steps=total, **kwargs)
    part = train_rode(env_fn, total_env_steps=total // 3, log_dir=tmp_path, **kwargs)
    assert part.history[-1]["roles_formed"] == 0.0
    resumed = train_rode(env_fn, total_env_steps=total, log_dir=tmp_path, resume=True, **kwargs)
    timing = ("rollout_s", "update_s", "time_s")

    def rows(result) -> list[dict]:
        return [{k: v for k, v in row.items() if k not in timing} for row in result.history]

    assert rows(resumed) == rows(straight)
    assert resumed.history[-1]["roles_formed"] == 1.0
    for (name, a), b in zip(
        straight.model.state_dict().items(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name


def test_checkpoint_rebuilds_the_greedy_policy_and_loaders_refuse_others(tmp_path) -> None:
    result = train(
        ActionClasses,
        algorithm="rode",
        total_env_steps=96,
        config=TINY.replace(role_update_steps=48),
        log_dir=tmp_path,
        progress=False,
    )
    env = ActionClasses()
    policy = load_rode_policy(tmp_path / "checkpoint.pt", env)
    obs, _ = env.reset(seed=5)
    result.policy.reset()
    for _ in range(6):
        assert policy.act_parallel(obs) == result.policy.act_parallel(obs)
        obs, *_ = env.step(policy.act_parallel(obs))
    with pytest.raises(ckpt.CheckpointError, match="not a QMIX one"):
        load_qmix_policy(tmp_path / "checkpoint.pt", env)


def test_bad_arguments_name_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="n_roles"):
        RODEConfig(n_roles=0)
    with pytest.raises(ValueError, match="role_interval"):
        RODEConfig(role_interval=1.5)
    with pytest.raises(ValueError, match="unknown RODE preset"):
        train_rode(ActionClasses, total_env_steps=10, config="nope")
    with pytest.raises(ValueError, match="RODE sharing"):
        train_rode(ActionClasses, total_env_steps=10, sharing="nops", progress=False)


def test_epsilon_restarts_when_the_roles_form() -> None:
    config = RODEConfig(epsilon_anneal_steps=100, role_update_steps=50)
    assert config.epsilon(0) == 1.0 and config.epsilon(49) < 0.6
    assert config.epsilon(50) == 1.0 and config.epsilon(150) == pytest.approx(0.05)


# --------------------------------------------------------------------------- learning test
@pytest.mark.parametrize("seed", [0, 1])
def test_rode_finds_the_action_classes_as_roles_and_learns_the_task(seed: int) -> None:
    """The forward model sees that the actions of a class have the same effect; k-means then
    makes the two classes the two roles, and the role selector picks the class of the phase."""
    config = TINY.replace(
        role_update_steps=960,
        epsilon_anneal_steps=600,
        buffer_episodes=64,
        batch_episodes=8,
        updates_per_iteration=4,
    )
    result = train_rode(ActionClasses, total_env_steps=2160, n_envs=2, seed=seed, config=config,
                        progress=False, device="cpu")  # fmt: skip
    roles = result.model.groups[0].action_roles.tolist()
    assert roles[:3] == [roles[0]] * 3 and roles[3:] == [roles[3]] * 3 and roles[0] != roles[3]
    env = ActionClasses()
    total = 0.0
    for episode in range(10):
        obs, _ = env.reset(seed=100 + episode)
        result.policy.reset()
        while env.agents:
            obs, rewards, *_ = env.step(result.policy.act_parallel(obs))
            total += sum(rewards.values())
    assert total / 10 >= 0.95 * 18


def test_cli_trains_rode_with_the_presets_configuration(capsys: pytest.CaptureFixture) -> None:
    from alloc_agents.cli import main as cli_main

    code = cli_main(["train", "--env", "alloc/RideHailing-v0", "--preset", "ride-hailing-1",
                     "--algorithm", "rode", "--env-arg", "episode_steps=3", "--steps", "6",
                     "--set", "batch_episodes=2", "--set", "buffer_episodes=4",
                     "--set", "role_update_steps=3", "--device", "cpu",
                     "--no-progress"])  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["method"] == "RODE (ps-id)" and summary["env_steps"] == 6
    assert cli_main(["train", "--env", "alloc/RideHailing-v0", "--algorithm", "rode",
                     "--sharing", "nops", "--steps", "6", "--no-progress"]) == 2  # fmt: skip
    assert "RODE sharing must be one of" in capsys.readouterr().err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("env_fn", [ActionClasses, tiny_ride_hailing], ids=["discrete", "rh"])
def test_training_on_cuda(env_fn) -> None:
    config = TINY.replace(batch_episodes=2, role_update_steps=12, reward_scale=1e-2)
    result = train_rode(env_fn, total_env_steps=36, n_envs=2, seed=0, device="cuda",
                        config=config, progress=False)  # fmt: skip
    assert next(result.model.parameters()).is_cuda
    assert result.history[-1]["roles_formed"] == 1.0
    assert np.isfinite(result.history[-1]["td_loss"])
