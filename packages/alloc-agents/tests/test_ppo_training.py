"""PPO training end to end: every algorithm × sharing strategy on mpe2, ride-hailing (dispatch
and reposition) and a heterogeneous env with early termination; determinism, exact resumption,
checkpoints, logs, the policy interface, the CLI, and a learning test that can fail."""

from __future__ import annotations

import csv
import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from alloc_agents import PPOConfig, evaluate, load_policy, train
from alloc_agents.cli import main as cli_main
from alloc_agents.ppo import checkpoint as ckpt
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv

try:
    from mpe2 import simple_spread_v3
except ImportError:  # mpe2 comes with alloc-agents[test]; only its tests skip without it
    simple_spread_v3 = None

ALGORITHMS = ("ippo", "mappo")
SHARINGS = ("ps", "ps-id", "nops", "dyps", "role-as-state")
TINY = PPOConfig(n_steps=8, n_epochs=2, n_minibatches=2, hidden_sizes=(16, 16))


# ------------------------------------------------------------------------------ test envs
class HeteroEnv(ParallelEnv):
    """Two scouts (Dict obs with an ``action_mask``, Discrete(3)) and a carrier (Box obs of
    another size, Box(2) actions). ``scout_1`` terminates after 3 steps; everyone is truncated
    after ``max_steps``. No ``state()``: MAPPO falls back to the joint observation."""

    metadata = {"name": "hetero_v0"}

    def __init__(self, max_steps: int = 7) -> None:
        self.possible_agents = ["scout_0", "carrier_0", "scout_1"]
        self.max_steps = max_steps
        self._scout_obs = spaces.Dict(
            {"obs": spaces.Box(-1, 1, (4,)), "action_mask": spaces.Box(0, 1, (3,), np.int8)}
        )
        self._scout_act = spaces.Discrete(3)
        self._carrier_obs = spaces.Box(-1, 1, (6,))
        self._carrier_act = spaces.Box(-1.0, 1.0, (2,))
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return self._scout_obs if agent.startswith("scout") else self._carrier_obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._scout_act if agent.startswith("scout") else self._carrier_act

    def _observe(self) -> dict[str, Any]:
        self.target = self.rng.integers(0, 3)
        self.goal = self.rng.uniform(-1, 1, 2).astype(np.float32)
        out: dict[str, Any] = {}
        for agent in self.agents:
            if agent.startswith("scout"):
                x = np.zeros(4, np.float32)
                x[self.target] = 1.0
                mask = np.ones(3, np.int8)
                mask[(self.target + 1) % 3] = 0
                out[agent] = {"obs": x, "action_mask": mask}
            else:
                out[agent] = np.concatenate([self.goal, np.zeros(4, np.float32)])
        return out

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
            a = actions[agent]
            if agent.startswith("scout"):
                assert a != (self.target + 1) % 3, "a masked action was taken"
                rewards[agent] = float(a == self.target)
            else:
                assert np.all(np.abs(a) <= 1.0), "Box action not clipped to bounds"
                rewards[agent] = -float(np.abs(np.asarray(a) - self.goal).sum())
        terminations = {a: a == "scout_1" and self.t >= 3 for a in self.agents}
        truncations = {a: self.t >= self.max_steps for a in self.agents}
        infos = {a: {"score": float(sum(rewards.values()))} for a in self.agents}
        self.agents = [a for a in self.agents if not (terminations[a] or truncations[a])]
        obs = self._observe()
        return obs, rewards, terminations, truncations, infos


class ContextBandit(ParallelEnv):
    """Two agents see a random context c ∈ {0, 1, 2} and their own index; agent i is right when
    it plays (c + shift · i) mod 3. Both get the team reward (the mean of the two hits). 8 steps,
    then truncation: the optimal team return (sum over agents) is 16."""

    metadata = {"name": "context_bandit_v0"}
    possible_agents = ["a_0", "a_1"]
    steps = 8

    def __init__(self, shift: int = 1) -> None:
        self.shift = shift
        self._obs = spaces.Box(0.0, 1.0, (5,))
        self._act = spaces.Discrete(3)
        self.rng = np.random.default_rng()

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._act

    def _observe(self) -> dict[str, np.ndarray]:
        self.context = int(self.rng.integers(0, 3))
        out = {}
        for i, agent in enumerate(self.possible_agents):
            x = np.zeros(5, np.float32)
            x[self.context] = 1.0
            x[3 + i] = 1.0
            out[agent] = x
        return out

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.t = 0
        return self._observe(), {a: {} for a in self.agents}

    def step(self, actions):
        hits = [
            float(actions[a] == (self.context + self.shift * i) % 3)
            for i, a in enumerate(self.agents)
        ]
        reward = float(np.mean(hits))
        self.t += 1
        done = self.t >= self.steps
        agents = self.agents
        if done:
            self.agents = []
        return (
            self._observe(),
            dict.fromkeys(agents, reward),
            dict.fromkeys(agents, False),
            dict.fromkeys(agents, done),
            {a: {} for a in agents},
        )


def spread() -> ParallelEnv:
    if simple_spread_v3 is None:
        pytest.skip("mpe2 is not installed (pip install alloc-agents[test])")
    return simple_spread_v3.parallel_env(max_cycles=10)


def ride_hailing(mode: str) -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=4, action_mode=mode)


ENVS = {
    "mpe2-spread": spread,
    "rh-dispatch": functools.partial(ride_hailing, "dispatch"),
    "rh-reposition": functools.partial(ride_hailing, "reposition"),
    "hetero": HeteroEnv,
}


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


# ------------------------------------------------------------------------------ training
@pytest.mark.parametrize("sharing", SHARINGS)
@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("env_name", list(ENVS))
def test_training_runs_for_every_algorithm_and_sharing(
    env_name: str, algorithm: str, sharing: str
) -> None:
    result = train(
        ENVS[env_name],
        algorithm=algorithm,
        sharing=sharing,
        total_env_steps=32,
        n_envs=2,
        seed=1,
        device="cpu",
        config=TINY,
    )
    assert len(result.history) == 2
    last = result.history[-1]
    assert last["env_steps"] == 32
    for key in ("policy_loss", "value_loss", "entropy", "approx_kl"):
        assert np.isfinite(last[key]), key
    assert result.history[0]["approx_kl"] < 0.05  # rollout and update log-probs agree
    assert result.history[-1]["episodes"] > 0
    if env_name.startswith("rh"):
        assert "info/gmv" in last and "info/orr" in last
    if env_name == "hetero":
        assert len(result.model.groups) == 2
        # scout_1 terminates after 3 of 7 steps: fewer agent-steps than 3 agents x 32 steps.
        assert last["agent_steps"] < 3 * 32
    env = ENVS[env_name]()
    obs, _ = env.reset(seed=0)
    actions = result.policy.act_parallel(obs)
    assert set(actions) == set(env.agents)
    env.step(actions)


def test_same_seed_gives_identical_losses_and_parameters_on_cpu() -> None:
    runs = [
        train(HeteroEnv, algorithm="mappo", sharing="nops", total_env_steps=48, n_envs=2,
              seed=3, device="cpu", config=TINY)
        for _ in range(2)
    ]  # fmt: skip
    keys = ("policy_loss", "value_loss", "entropy", "episode_return", "explained_variance")
    for a, b in zip(runs[0].history, runs[1].history, strict=True):
        assert [a[k] for k in keys] == [b[k] for k in keys]
    for name, value in _params(runs[0].model).items():
        assert torch.equal(value, _params(runs[1].model)[name]), name
    other = train(HeteroEnv, algorithm="mappo", sharing="nops", total_env_steps=48, n_envs=2,
                  seed=4, device="cpu", config=TINY)  # fmt: skip
    assert other.history[-1]["policy_loss"] != runs[0].history[-1]["policy_loss"]


@pytest.mark.parametrize(
    ("env_name", "algorithm", "sharing", "steps"),
    [
        ("mpe2-spread", "ippo", "ps", 2000),
        ("hetero", "mappo", "nops", 480),
        ("rh-dispatch", "ippo", "ps-id", 60),
        ("hetero", "mappo", "dyps", 120),
        ("rh-dispatch", "ippo", "dyps", 60),
        ("hetero", "mappo", "role-as-state", 120),
        ("rh-dispatch", "ippo", "role-as-state", 60),
    ],
)
def test_resume_is_exact(tmp_path: Path, env_name: str, algorithm: str, sharing: str, steps: int):
    # Rollouts of 25 or 6 steps: episodes (10, 7 and 4 steps long) straddle iteration
    # boundaries, so resuming must rebuild the envs mid-episode.
    cfg = TINY.replace(n_steps=25 if steps >= 1000 else 6, checkpoint_every=1000)
    kw = dict(algorithm=algorithm, sharing=sharing, n_envs=2, seed=5, device="cpu", config=cfg)
    straight = train(ENVS[env_name], total_env_steps=steps, **kw)
    path = tmp_path / "ckpt.pt"
    first = train(ENVS[env_name], total_env_steps=steps // 2, checkpoint=path, **kw)
    assert first.history[-1]["env_steps"] < straight.history[-1]["env_steps"]
    resumed = train(ENVS[env_name], total_env_steps=steps, checkpoint=path, resume=True, **kw)
    assert len(resumed.history) == len(straight.history)
    assert resumed.history[-1]["policy_loss"] == straight.history[-1]["policy_loss"]
    for name, value in _params(straight.model).items():
        assert torch.equal(value, _params(resumed.model)[name]), name


def test_checkpoint_loads_with_weights_only_and_rebuilds_the_policy(tmp_path: Path) -> None:
    result = train(ENVS["rh-reposition"], sharing="ps-id", total_env_steps=16, n_envs=2,
                   seed=0, device="cpu", config=TINY, log_dir=tmp_path)  # fmt: skip
    path = tmp_path / "checkpoint.pt"
    data = torch.load(path, weights_only=True)
    assert data["meta"]["sharing"] == "ps-id" and data["counters"]["env_steps"] == 16
    assert set(data) >= {"model", "optimizer", "rng", "runner", "history"}
    env = ENVS["rh-reposition"]()
    policy = load_policy(path, env)
    obs, _ = env.reset(seed=1)
    a, b = policy.act_parallel(obs), result.policy.act_parallel(obs)
    for agent in a:
        np.testing.assert_array_equal(a[agent], b[agent])
    assert ckpt.load(path)["format"] == ckpt.FORMAT
    with pytest.raises(ValueError, match="n_envs"):
        train(ENVS["rh-reposition"], sharing="ps-id", total_env_steps=32, n_envs=3, seed=0,
              device="cpu", config=TINY, checkpoint=path, resume=True)  # fmt: skip


def test_logs_csv_and_tensorboard(tmp_path: Path) -> None:
    train(ENVS["rh-dispatch"], total_env_steps=24, n_envs=1, seed=0, device="cpu",
          config=TINY.replace(n_steps=3), log_dir=tmp_path)  # fmt: skip
    with (tmp_path / "progress.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [int(r["iteration"]) for r in rows] == list(range(1, 9))
    for column in ("env_steps", "episodes", "episode_return", "agent_return", "info/gmv",
                   "info/orr", "policy_loss", "value_loss", "entropy", "fps"):  # fmt: skip
        assert column in rows[0], column
    assert rows[0]["info/gmv"] == ""  # no episode had finished yet at iteration 1
    assert float(rows[-1]["info/gmv"]) > 0
    assert any((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_policy_interface_gym_view_and_seeded_sampling() -> None:
    result = train(ENVS["rh-dispatch"], total_env_steps=8, n_envs=1, seed=0, device="cpu",
                   config=TINY.replace(n_steps=4))  # fmt: skip
    policy = result.policy
    assert policy.name == "ps+ippo"
    gym_env = RideHailingEnv(preset="ride-hailing-1", episode_steps=4)
    obs, _ = gym_env.reset(seed=0)
    actions = policy.act(obs)  # the joint (agent-major) observation of the Gymnasium view
    assert actions.shape == (36, 50) and actions.dtype == np.int64
    gym_env.step(actions)
    policy.deterministic = False
    policy.reset(seed=7)
    first = policy.act(obs)
    policy.reset(seed=7)
    np.testing.assert_array_equal(policy.act(obs), first)
    scores = evaluate(policy, ENVS["rh-dispatch"], episodes=2)
    assert scores["episode_length"] == 4 and scores["info/gmv"] > 0
    with pytest.raises(ValueError, match="shape"):
        policy.act({k: v[:3] for k, v in obs.items()})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"algorithm": "vdn"}, "algorithm"),
        ({"sharing": "rode"}, "sharing"),
        ({"total_env_steps": 0}, "total_env_steps"),
        ({"n_envs": 0}, "n_envs"),
        ({"seed": -1}, "seed"),
        ({"device": "tpu"}, "device"),
        ({"config": "ride-hailing-9"}, "preset"),
        ({"resume": True}, "resume"),
    ],
)
def test_train_rejects_bad_arguments_naming_them(kwargs: dict[str, Any], field: str) -> None:
    args: dict[str, Any] = {"total_env_steps": 8, "device": "cpu"}
    args.update(kwargs)
    with pytest.raises(ValueError, match=field):
        train(ContextBandit, **args)


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is available")
def test_cuda_without_a_gpu_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="cuda"):
        train(ContextBandit, total_env_steps=8, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("env_name", ["rh-dispatch", "hetero"])
def test_training_on_cuda(env_name: str) -> None:
    result = train(ENVS[env_name], algorithm="mappo", sharing="nops", total_env_steps=16,
                   n_envs=2, seed=0, device="cuda", config=TINY)  # fmt: skip
    assert next(result.model.parameters()).is_cuda
    assert np.isfinite(result.history[-1]["policy_loss"])


@pytest.mark.parametrize(
    ("algorithm", "sharing", "shift"),
    [("ippo", "ps", 0), ("mappo", "nops", 1)],  # shift 1: the agents need different mappings
)
def test_ppo_learns_the_optimal_policy_of_a_context_bandit(
    algorithm: str, sharing: str, shift: int
) -> None:
    env_fn = functools.partial(ContextBandit, shift)
    cfg = PPOConfig(n_steps=16, n_epochs=4, n_minibatches=2, lr=3e-3, hidden_sizes=(32,))
    kw = dict(algorithm=algorithm, sharing=sharing, n_envs=4, seed=0, device="cpu", config=cfg)
    result = train(env_fn, total_env_steps=1600, **kw)
    optimal = 16.0
    scores = evaluate(result.policy, env_fn, episodes=10)
    assert scores["episode_return"] >= 0.9 * optimal, scores
    assert result.history[0]["episode_return"] < 0.6 * optimal  # it did have to learn


def test_cli_trains_logs_and_reports_json(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    log_dir = tmp_path / "run"
    code = cli_main(
        [
            "train",
            "--env", "alloc/RideHailing-v0",
            "--preset", "ride-hailing-1",
            "--steps", "8",
            "--n-envs", "1",
            "--seed", "0",
            "--device", "cpu",
            "--env-arg", "episode_steps=4",
            "--set", "n_steps=4",
            "--set", "hidden_sizes=(16,)",
            "--log-dir", str(log_dir),
            "--eval-episodes", "1",
            "--no-progress",
        ]
    )  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "ps+ippo" and out["env_steps"] == 8
    assert out["eval"]["info/gmv"] > 0
    assert (log_dir / "progress.csv").exists() and (log_dir / "checkpoint.pt").exists()
    bad = cli_main(["train", "--env", "alloc/RideHailing-v0", "--steps", "8",
                    "--set", "gamma=2"])  # fmt: skip
    assert bad == 2 and "gamma" in capsys.readouterr().err
