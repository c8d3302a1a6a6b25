"""CoPO: the LCF distribution (sampling, clipping, the networks' input feature, one draw per
agent and episode), neighbourhood and global rewards (hand graphs, the default, Ride-Hailing's
hex cells), the coordinated advantage, the sign of the LCF meta-gradient on hand-made batches,
training with every sharing strategy, exact resume, the deployed policy, options and the CLI."""

from __future__ import annotations

import functools
import importlib.util
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pettingzoo
import pytest
import torch
from gymnasium import spaces
from pettingzoo import ParallelEnv

from alloc_agents import CoPOConfig, PPOConfig, load_policy, train
from alloc_agents.cli import main as cli_main
from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.copo import CoPOController
from alloc_agents.ppo.copo_lcf import LCF, coordinated
from alloc_agents.ppo.model import MultiAgentModel
from alloc_agents.ppo.neighbourhoods import Neighbourhoods, env_neighbours
from alloc_agents.ppo.runner import Runner
from alloc_agents.ppo.sharing import SHARING, make_sharing
from alloc_agents.ppo.trainer import collect


def _sibling(name: str):
    """A module of this test folder (the tests run with ``--import-mode=importlib``, so the
    folder is not on ``sys.path``)."""
    path = Path(__file__).with_name(f"{name}.py")
    spec = importlib.util.spec_from_file_location(f"_copo_tests_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


#: The small envs of the training tests: mpe2, Ride-Hailing (dispatch / reposition, 4-step days),
#: and two space groups with an agent that terminates early (HeteroEnv).
_training = _sibling("test_ppo_training")
ENVS, TINY, HeteroEnv, ContextBandit = (
    _training.ENVS,
    _training.TINY,
    _training.HeteroEnv,
    _training.ContextBandit,
)

#: Every registered sharing strategy (ps, ps-id, nops, psa, seps, dyps, role-as-state, ...).
SHARINGS = tuple(SHARING)


def _scalar(x: torch.Tensor) -> float:
    return float(x.detach())


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _setup(env_fn, config: PPOConfig, copo: CoPOConfig, n_envs: int = 2, sharing: str = "ps"):
    """Runner, model, CoPO controller and buffers, as ``train`` builds them (CPU)."""
    torch.manual_seed(0)
    runner = Runner(env_fn, n_envs, seed=0)
    model = MultiAgentModel(runner.layout, make_sharing(sharing), "copo", 0, config, copo)
    controller = CoPOController(copo, config, model, runner, 0, torch.device("cpu"))
    runner.reset_all()
    buffers = [
        GroupBuffer(g, config.n_steps, n_envs, torch.device("cpu"), False, gm.streams, True)
        for g, gm in zip(runner.layout.groups, model.groups, strict=True)
    ]
    return runner, model, controller, buffers


# ------------------------------------------------------------------------------ the LCF
def test_lcf_parameters_sampling_clipping_and_feature() -> None:
    lcf = LCF()
    assert _scalar(lcf.mean) == 0.0 and _scalar(lcf.std) == pytest.approx(0.1)
    phi = lcf.sample((20_000,), _generator())
    assert float(phi.mean()) == pytest.approx(0.0, abs=0.003)
    assert float(phi.std()) == pytest.approx(0.1, rel=0.03)
    wide = LCF(mean=0.9, std=2.0)
    assert _scalar(wide.mean) == pytest.approx(0.9) and _scalar(wide.std) == pytest.approx(2.0)
    phi = wide.sample((20_000,), _generator())
    assert float(phi.min()) == -1.0 and float(phi.max()) == 1.0  # clipped, both ends reached
    assert float((phi == 1.0).float().mean()) == pytest.approx(0.48, abs=0.02)  # P(N > 1)
    torch.testing.assert_close(LCF.feature(torch.tensor([-1.0, 0.0, 0.5, 1.0])),
                               torch.tensor([0.0, 0.5, 0.75, 1.0]))  # fmt: skip
    # μ = tanh(p0) stays inside (−1, 1), σ = exp(clamp(p1, −20, 2))
    with torch.no_grad():
        wide.p.copy_(torch.tensor([50.0, 10.0]))
    assert _scalar(wide.mean) < 1.0 and _scalar(wide.std) == pytest.approx(math.exp(2.0))
    rsampled = LCF(0.2, 0.1).rsample((8,), _generator())
    rsampled.sum().backward()  # differentiable in (p0, p1)


def test_networks_read_the_lcf_feature_as_their_last_input() -> None:
    runner, model, controller, _ = _setup(ENVS["rh-dispatch"], TINY, CoPOConfig())
    gm = model.groups[0]
    lcf = torch.linspace(-1, 1, 36).unsqueeze(1).expand(36, 3)
    inputs = gm.agent_inputs(3, gm.actor_ids, lcf)
    assert inputs is not None and not inputs.one_hot_id and inputs.dense.shape == (36, 3, 1)
    torch.testing.assert_close(inputs.dense[..., -1], (lcf + 1) / 2)
    with pytest.raises(ValueError, match="lcf"):
        gm.agent_inputs(3, gm.actor_ids, None)
    obs = {k: torch.as_tensor(v) for k, v in runner.group_obs()[0].items()}
    with torch.no_grad():
        for layer in gm.critic.mlp.hidden:  # make the LCF column matter for the critics
            layer.weight.normal_()
        values = [gm.value(obs, None, lcf=torch.full((36, 2), x)) for x in (-1.0, 1.0)]
    assert not torch.allclose(*values)
    assert controller.neighbourhoods.table is not None  # Ride-Hailing gives its hex cells


def test_every_agent_draws_one_lcf_per_episode() -> None:
    # HeteroEnv episodes last 7 steps; 16 steps of 2 copies span 3 episodes per copy.
    config = TINY.replace(n_steps=16)
    runner, model, controller, buffers = _setup(HeteroEnv, config, CoPOConfig(lcf_init_std=0.5))
    collect(runner, model, buffers, None, 16, torch.device("cpu"), controller)
    scout_0 = buffers[0].lcf[0]  # (T, E): scout_0 acts at every step
    for e in range(2):
        for start, end in ((0, 7), (7, 14), (14, 16)):
            assert torch.all(scout_0[start:end, e] == scout_0[start, e])
        assert len({float(scout_0[s, e]) for s in (0, 7, 14)}) == 3
    assert scout_0[0, 0] != scout_0[0, 1]  # copies draw their own
    assert buffers[0].lcf[0, 0, 0] != buffers[0].lcf[1, 0, 0]  # agents draw their own
    assert float(buffers[0].lcf.abs().max()) <= 1.0


# ------------------------------------------------------------------------------ rewards
def test_neighbourhood_and_global_rewards_on_a_hand_graph() -> None:
    graph = {"a": ["b", "c"], "b": ["a"], "c": ["a", "d"], "d": []}
    hoods = Neighbourhoods(["a", "b", "c", "d"], graph)
    rewards = np.array([[1.0, 1.0], [2.0, 2.0], [4.0, 4.0], [8.0, 8.0]])
    acting = np.array([[True, True], [True, True], [True, False], [True, True]])
    neighbour, glob = hoods.rewards(rewards, acting)
    # copy 0: a <- mean(b, c) = 3, b <- a = 1, c <- mean(a, d) = 4.5, d has none: 0.
    # copy 1: c is absent: a <- b = 2, c <- mean(a, d) = 4.5 (its own row is masked later).
    np.testing.assert_allclose(neighbour, [[3.0, 2.0], [1.0, 1.0], [4.5, 4.5], [0.0, 0.0]])
    np.testing.assert_allclose(glob[:, 0], 15.0 / 4)
    np.testing.assert_allclose(glob[:, 1], 11.0 / 3)  # mean over the agents that acted
    nobody = hoods.rewards(rewards, np.zeros_like(acting))
    assert not nobody[0].any() and not nobody[1].any()


def test_default_neighbourhood_is_every_other_agent() -> None:
    hoods = Neighbourhoods(["a", "b", "c"], None)
    assert hoods.is_default
    rewards = np.array([[1.0], [2.0], [6.0]])
    neighbour, glob = hoods.rewards(rewards, np.array([[True], [True], [False]]))
    np.testing.assert_allclose(neighbour[:, 0], [2.0, 1.0, 1.5])
    np.testing.assert_allclose(glob[:, 0], 1.5)
    assert env_neighbours(HeteroEnv()) is None


@pytest.mark.parametrize(
    ("graph", "message"),
    [
        ({"x": []}, "unknown agent 'x'"),
        ({"a": ["x"]}, "unknown neighbour 'x'"),
        ({"a": ["a"]}, "lists itself"),
        ({"a": ["b", "b"]}, "twice"),
    ],
)
def test_bad_neighbourhoods_are_clear_errors(graph: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Neighbourhoods(["a", "b"], graph)


def test_ride_hailing_neighbourhoods_through_pettingzoo_make() -> None:
    env = pettingzoo.make("parallel", "alloc/RideHailing-v0", preset="ride-hailing-1")
    hoods = Neighbourhoods.from_env(env, env.possible_agents)
    assert hoods.table is not None and hoods.table.shape == (36, 6)
    degrees = sorted((hoods.table >= 0).sum(1).tolist())
    assert degrees[0] == 2 and degrees[-1] == 6
    rewards = np.zeros((36, 1))
    rewards[7, 0] = 6.0  # cell 7: one unit per neighbour share
    neighbour, _ = hoods.rewards(rewards, np.ones((36, 1), bool))
    around = {int(j) for j in env.unwrapped.scenario.grid.neighbors[7] if j >= 0}
    for cell in range(36):
        degree = int((hoods.table[cell] >= 0).sum())
        assert neighbour[cell, 0] == pytest.approx(6.0 / degree if cell in around else 0.0)


# ------------------------------------------------------------------------------ advantages
def test_coordinated_advantage_and_standardised_global_advantage() -> None:
    _, _, controller, buffers = _setup(ContextBanditCopo, TINY, CoPOConfig())
    buf = buffers[0]
    gen = _generator(3)
    shape = buf.shape
    buf.active[:] = True
    buf.active[0, 0, 0] = False
    buf.lcf = torch.rand(shape, generator=gen) * 2 - 1
    individual = torch.randn(shape, generator=gen)
    neighbour = torch.randn(shape, generator=gen)
    glob = torch.randn(shape, generator=gen) * 3 + 1
    returned = {"neighbour": neighbour, "global": glob}
    buf.advantages = individual.clone()

    def gae(rewards, values, final, last, stream=None, gamma=None):
        assert gamma == (0.5 if stream == "global" else TINY.gamma)
        return returned[stream].clone(), returned[stream] + 1

    controller.config = CoPOConfig(global_gamma=0.5)
    controller.coordinate(0, buf, gae)
    expected = (
        torch.cos(buf.lcf * math.pi / 2) * individual + torch.sin(buf.lcf * math.pi / 2) * neighbour
    )
    expected[0, 0, 0] = 0.0
    torch.testing.assert_close(buf.advantages, expected)
    active = buf.active
    torch.testing.assert_close(controller.batch[0]["mean"], expected[active].mean())
    a_g = buf.streams["global"].advantages
    assert float(a_g[active].mean()) == pytest.approx(0.0, abs=1e-5)
    assert float(a_g[active].std()) == pytest.approx(1.0, abs=1e-4)
    assert float(a_g[0, 0, 0]) == 0.0
    torch.testing.assert_close(buf.streams["neighbour"].returns, neighbour + 1)


# ------------------------------------------------------------------------------ meta-gradient
class ContextBanditCopo(ParallelEnv):
    """Two agents, a constant observation, Discrete(2) actions, reward 0, 4-step episodes (the
    meta-gradient tests fill the buffers by hand)."""

    metadata = {"name": "copo_bandit_v0"}
    possible_agents = ["a_0", "a_1"]

    def observation_space(self, agent: str) -> spaces.Space:
        return spaces.Box(0.0, 1.0, (2,))

    def action_space(self, agent: str) -> spaces.Space:
        return spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        self.agents, self.t = list(self.possible_agents), 0
        return {a: np.ones(2, np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions):
        self.t += 1
        agents, done = self.agents, self.t >= 4
        if done:
            self.agents = []
        obs = {a: np.ones(2, np.float32) for a in agents}
        return (obs, dict.fromkeys(agents, 0.0), dict.fromkeys(agents, False),
                dict.fromkeys(agents, done), {a: {} for a in agents})  # fmt: skip


@pytest.mark.parametrize("global_sign", [1.0, -1.0])
@pytest.mark.parametrize("neighbour_sign", [1.0, -1.0])
def test_meta_gradient_moves_the_lcf_towards_the_global_objective(
    global_sign: float, neighbour_sign: float
) -> None:
    """Action 0 is taken 3 times as often as action 1. With A^G = +1 on action 0 and −3 on
    action 1 (``global_sign`` +1) raising the likelihood of the batch's actions helps the global
    objective: c = ⟨∇L^G, ∇ mean log π⟩ < 0; with ``global_sign`` −1, c > 0. The own advantage
    is 0 and the neighbours' is ``neighbour_sign``, so ∂Ā/∂μ has the sign of ``neighbour_sign``.
    Minimising c · Ā must move μ by −sign(c) · sign(∂Ā/∂μ): towards the neighbours' advantage
    when the global gradient agrees with the batch's, away from it otherwise."""
    config = PPOConfig(n_steps=4, n_epochs=1, n_minibatches=1, hidden_sizes=(8,))
    copo = CoPOConfig(lcf_lr=0.01, lcf_iters=1)
    _, model, controller, buffers = _setup(ContextBanditCopo, config, copo, n_envs=1)
    buf = buffers[0]
    gm = model.groups[0]
    buf.obs["obs"][:] = 1.0
    buf.active[:] = True
    buf.lcf = controller.lcf.sample(buf.shape, _generator(1))
    actions = torch.tensor([0, 0, 0, 1]).view(1, 4, 1).expand(2, 4, 1).clone()
    buf.actions = actions
    with torch.no_grad():
        buf.logp = gm.distribution(
            {"obs": buf.flat(buf.obs["obs"])}, buf.flat(buf.lcf)
        ).log_prob(buf.flat(actions)).reshape(buf.shape)  # fmt: skip
    adv_g = torch.where(actions == 0, 1.0, -3.0) * global_sign
    buf.streams["global"].advantages = adv_g
    individual = torch.zeros(buf.shape)
    neighbour = torch.full(buf.shape, neighbour_sign)
    behaviour = coordinated(buf.lcf, individual, neighbour)
    controller.batch[0] = {
        "individual": individual,
        "neighbour": neighbour,
        "mean": behaviour.mean(),
        "std": behaviour.std(),
    }
    controller.snapshot(model)  # θ_old = θ_new: ρ = 1
    before = _scalar(controller.lcf.mean)
    columns = controller.meta_update(model, buffers)
    moved = _scalar(controller.lcf.mean) - before
    assert np.sign(columns["lcf_coef"]) == -global_sign
    assert np.sign(moved) == global_sign * neighbour_sign
    assert abs(moved) == pytest.approx(0.01, rel=0.05)  # one Adam step of lcf_lr on p0
    assert columns["lcf_mean"] == pytest.approx(_scalar(controller.lcf.mean))


def test_meta_update_needs_no_lcf_iterations_and_leaves_the_lcf_then() -> None:
    result = train(HeteroEnv, algorithm="copo", algorithm_options={"lcf_iters": 0},
                   total_env_steps=16, n_envs=2, seed=0, device="cpu", config=TINY)  # fmt: skip
    assert result.model.lcf is not None
    assert _scalar(result.model.lcf.mean) == 0.0 and math.isnan(result.history[-1]["lcf_coef"])


# ------------------------------------------------------------------------------ training
@pytest.mark.parametrize(
    ("env_name", "sharing"),
    [
        *(("hetero", sharing) for sharing in SHARINGS),
        ("rh-dispatch", "ps"),
        ("rh-dispatch", "dyps"),
    ],
)
def test_copo_trains_with_every_sharing_strategy(
    env_name: str, sharing: str, tmp_path: Path
) -> None:
    result = train(ENVS[env_name], algorithm="copo", sharing=sharing, total_env_steps=32,
                   n_envs=2, seed=1, device="cpu", config=TINY, log_dir=tmp_path)  # fmt: skip
    last = result.history[-1]
    for key in ("policy_loss", "value_loss", "lcf_mean", "lcf_std", "lcf_coef", "lcf_phi_mean",
                "neighbour_reward", "global_reward", "lcf_s"):  # fmt: skip
        assert np.isfinite(last[key]), key
    assert result.history[0]["approx_kl"] < 0.05  # rollout and update inputs agree (the LCF)
    assert last["lcf_mean"] != 0.0 and last["lcf_std"] != pytest.approx(0.1, abs=1e-9)
    header = (tmp_path / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"lcf_mean", "lcf_std", "lcf_coef"} <= set(header)
    if env_name == "rh-dispatch":  # hex neighbourhoods: not the default's team mean
        assert last["neighbour_reward"] != pytest.approx(last["global_reward"], rel=1e-6)
    gm = result.model.groups[0]
    assert set(gm.stream_critics) == {"neighbour", "global"}
    n_critic = sum(p.numel() for p in result.model.critic_parameters())
    assert n_critic >= 3 * sum(p.numel() for p in gm.critic.parameters())
    env = ENVS[env_name]()
    obs, _ = env.reset(seed=0)
    assert set(result.policy.act_parallel(obs)) == set(env.agents)


@pytest.mark.parametrize(
    ("env_name", "sharing", "steps"), [("hetero", "ps", 72), ("rh-dispatch", "dyps", 36)]
)
def test_copo_resume_is_exact(tmp_path: Path, env_name: str, sharing: str, steps: int) -> None:
    # 6-step rollouts: HeteroEnv's 7-step and Ride-Hailing's 4-step episodes straddle iteration
    # boundaries, so the LCFs of unfinished episodes must come back from the checkpoint.
    cfg = TINY.replace(n_steps=6, checkpoint_every=1000)
    kw: dict[str, Any] = dict(algorithm="copo", sharing=sharing, n_envs=2, seed=5, device="cpu",
                              config=cfg, algorithm_options={"lcf_lr": 0.01})  # fmt: skip
    straight = train(ENVS[env_name], total_env_steps=steps, **kw)
    path = tmp_path / "ckpt.pt"
    train(ENVS[env_name], total_env_steps=steps // 2, checkpoint=path, **kw)
    data = torch.load(path, weights_only=True)
    assert set(data["copo"]) == {"optimizer", "generator", "phi", "episode_index"}
    resumed = train(ENVS[env_name], total_env_steps=steps, checkpoint=path, resume=True, **kw)
    keys = ("policy_loss", "value_loss", "lcf_mean", "lcf_std", "lcf_coef", "episode_return")
    for a, b in zip(straight.history, resumed.history, strict=True):
        np.testing.assert_equal([a[k] for k in keys], [b[k] for k in keys])  # nan == nan
    state = straight.model.state_dict()
    for name, value in resumed.model.state_dict().items():
        assert torch.equal(value, state[name]), name
    with pytest.raises(ValueError, match="algorithm_options"):
        train(ENVS[env_name], total_env_steps=steps, checkpoint=path, resume=True,
              **{**kw, "algorithm_options": {"lcf_lr": 0.02}})  # fmt: skip


def test_checkpoint_policy_acts_with_the_lcf_mean(tmp_path: Path) -> None:
    result = train(HeteroEnv, algorithm="copo", total_env_steps=32, n_envs=2, seed=0,
                   device="cpu", config=TINY, log_dir=tmp_path,
                   algorithm_options=CoPOConfig(lcf_lr=0.05, lcf_init_mean=0.3))  # fmt: skip
    mean = _scalar(result.model.lcf.mean)
    assert mean != pytest.approx(0.3, abs=1e-6)
    policy = load_policy(tmp_path / "checkpoint.pt", HeteroEnv())
    assert _scalar(policy.model.lcf.mean) == mean
    assert policy.model.deployed_lcf(0, 3).tolist() == [[mean] * 3] * 2  # two scouts
    env = HeteroEnv()
    obs, _ = env.reset(seed=2)
    a, b = policy.act_parallel(obs), result.policy.act_parallel(obs)
    for agent in a:
        np.testing.assert_array_equal(a[agent], b[agent])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("sharing", ["ps", "dyps"])
def test_copo_on_cuda(sharing: str) -> None:
    result = train(ENVS["rh-dispatch"], algorithm="copo", sharing=sharing, total_env_steps=16,
                   n_envs=2, seed=0, device="cuda", config=TINY)  # fmt: skip
    assert result.model.lcf is not None and result.model.lcf.p.is_cuda
    assert np.isfinite(result.history[-1]["lcf_coef"])


# ------------------------------------------------------------------------------ options
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"lcf_lr": 0.0}, "lcf_lr"),
        ({"lcf_iters": -1}, "lcf_iters"),
        ({"lcf_iters": 1.5}, "lcf_iters"),
        ({"lcf_init_mean": 1.0}, "lcf_init_mean"),
        ({"lcf_init_mean": -1.0}, "lcf_init_mean"),
        ({"lcf_init_std": 0.0}, "lcf_init_std"),
        ({"lcf_init_std": 10.0}, "lcf_init_std"),
        ({"global_gamma": 1.5}, "global_gamma"),
        ({"lcf_minibatch_size": 0}, "lcf_minibatch_size"),
        ({"lcf_rate": 1e-3}, "lcf_rate"),
    ],
)
def test_bad_copo_options_name_the_field(options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        CoPOConfig.from_any(options)
    with pytest.raises(ValueError, match=field):
        train(HeteroEnv, algorithm="copo", algorithm_options=options, total_env_steps=8,
              device="cpu")  # fmt: skip


def test_other_algorithms_take_no_algorithm_options() -> None:
    with pytest.raises(ValueError, match="algorithm 'ippo' takes no algorithm_options"):
        train(HeteroEnv, algorithm="ippo", algorithm_options={"lcf_lr": 1e-3},
              total_env_steps=8, device="cpu")  # fmt: skip


def test_cli_trains_copo_and_checks_its_options(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    base = ["train", "--env", "alloc/RideHailing-v0", "--preset", "ride-hailing-1",
            "--steps", "8", "--n-envs", "1", "--device", "cpu", "--env-arg", "episode_steps=4",
            "--set", "n_steps=4", "--set", "hidden_sizes=(16,)", "--no-progress"]  # fmt: skip
    code = cli_main([*base, "--algorithm", "copo", "--lcf-iters", "1", "--lcf-lr", "0.01",
                     "--copo-opt", "global_gamma=0.99", "--log-dir", str(tmp_path)])  # fmt: skip
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "ps+copo" and set(out["lcf"]) == {"mean", "std"}
    meta = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["meta"]
    assert meta["algorithm_options"]["lcf_iters"] == 1
    assert meta["algorithm_options"]["global_gamma"] == 0.99
    assert cli_main([*base, "--lcf-iters", "2"]) == 2
    assert "--algorithm copo" in capsys.readouterr().err
    assert cli_main([*base, "--algorithm", "copo", "--copo-opt", "lcf_init_std=-1"]) == 2
    assert "lcf_init_std" in capsys.readouterr().err


def test_copo_learns_a_context_bandit() -> None:
    """CoPO is still PPO: with the default neighbourhood (the other agent) and a team reward it
    learns the two-agent contextual bandit of ``test_ppo_training`` (the agents need different
    mappings: NoPS, as the core's test) to ≥ 90% of the optimum, from well below it."""
    from alloc_agents import evaluate

    env_fn = functools.partial(ContextBandit, 1)
    cfg = PPOConfig(n_steps=16, n_epochs=4, n_minibatches=2, lr=3e-3, hidden_sizes=(32,))
    result = train(env_fn, algorithm="copo", sharing="nops", n_envs=4, seed=0, device="cpu",
                   config=cfg, total_env_steps=1600)  # fmt: skip
    scores = evaluate(result.policy, env_fn, episodes=10)
    assert scores["episode_return"] >= 0.9 * 16.0, scores
    assert result.history[0]["episode_return"] < 0.6 * 16.0
