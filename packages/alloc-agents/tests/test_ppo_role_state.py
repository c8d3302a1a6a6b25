"""Role-As-State: the role really is an input of the actor and the critic (every actor kind),
it is fixed for a rollout and its PPO update and refreshed after, it is saved with the policy,
options and CLI errors. Training on every test env and exact resume are in
``test_ppo_training.py`` (``role-as-state`` is one of its sharing strategies)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from alloc_agents import PPOConfig, RoleAsStateConfig, load_policy, train
from alloc_agents.cli import main as cli_main
from alloc_agents.ppo.model import GroupModel
from alloc_agents.ppo.runner import Runner
from alloc_agents.ppo.sharing import make_sharing
from alloc_envs.ride_hailing import RideHailingParallelEnv

try:
    from mpe2 import simple_spread_v3
except ImportError:  # mpe2 comes with alloc-agents[test]; only its tests skip without it
    simple_spread_v3 = None

TINY = PPOConfig(n_steps=8, n_epochs=1, hidden_sizes=(16, 16))
SMALL = {"role_dim": 8, "vlstm_hidden": 8, "vlstm_sequences": 4}


def spread() -> Any:
    if simple_spread_v3 is None:
        pytest.skip("mpe2 is not installed (pip install alloc-agents[test])")
    return simple_spread_v3.parallel_env(max_cycles=10)


def ride_hailing(mode: str = "dispatch") -> RideHailingParallelEnv:
    return RideHailingParallelEnv(preset="ride-hailing-1", episode_steps=4, action_mode=mode)


#: One env per actor kind: the generic MLP (Discrete), the dispatch scorer, the Dirichlet.
ENVS = {
    "mpe2-spread": spread,
    "rh-dispatch": ride_hailing,
    "rh-reposition": functools.partial(ride_hailing, "reposition"),
}
#: The action head's parameters: (A, B, ...) per agent.
HEADS = {"mpe2-spread": "logits", "rh-dispatch": "scores", "rh-reposition": "alpha"}


def _train(env_fn: Any, algorithm: str = "ippo", steps: int = 16, **kwargs: Any):
    return train(env_fn, algorithm=algorithm, sharing="role-as-state", sharing_options=SMALL,
                 total_env_steps=steps, n_envs=2, seed=0, device="cpu", config=TINY,
                 **kwargs)  # fmt: skip


@pytest.mark.parametrize("algorithm", ["ippo", "mappo"])
@pytest.mark.parametrize("env_name", list(ENVS))
def test_the_actor_and_the_critic_read_each_agents_role(env_name: str, algorithm: str) -> None:
    env_fn = ENVS[env_name]
    gm = _train(env_fn, algorithm).model.groups[0]
    runner = Runner(env_fn, 1, 0, centralised=algorithm == "mappo")
    runner.reset_all()
    obs = {k: torch.as_tensor(v) for k, v in runner.group_obs()[0].items()}
    central = None if algorithm == "ippo" else torch.as_tensor(runner.central())

    def outputs() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            dist = gm.distribution(obs)
            logits = getattr(dist, HEADS[env_name])
            return logits.reshape(gm.group.n_agents, -1), gm.value(obs, central)

    logits, values = outputs()
    changed = gm.roles.clone()
    changed[1] += 0.5  # agent 1's role only
    gm.set_roles(changed)
    new_logits, new_values = outputs()
    for before, after in ((logits, new_logits), (values, new_values)):
        assert not torch.allclose(before[1], after[1])
        keep = [i for i in range(gm.group.n_agents) if i != 1]
        torch.testing.assert_close(before[keep], after[keep], rtol=0, atol=0)


def test_roles_are_fixed_for_a_rollout_and_its_update_then_refreshed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[tuple[bool, torch.Tensor]] = []
    distribution = GroupModel.distribution

    def spy(self: GroupModel, *args: Any, **kwargs: Any) -> Any:
        seen.append((self.training, self.roles.clone()))
        return distribution(self, *args, **kwargs)

    monkeypatch.setattr(GroupModel, "distribution", spy)
    result = _train(ride_hailing, steps=48)
    # One block per iteration: the rollout's calls (eval mode), then the update's (train mode).
    blocks: list[list[tuple[bool, torch.Tensor]]] = []
    for training, roles in seen:
        if not training and (not blocks or blocks[-1][-1][0]):
            blocks.append([])
        blocks[-1].append((training, roles))
    assert len(blocks) == len(result.history) == 3
    starts = [block[0][1] for block in blocks]
    for block, start in zip(blocks, starts, strict=True):
        assert sum(not training for training, _ in block) == TINY.n_steps
        assert all(torch.equal(roles, start) for _, roles in block)
    assert not starts[0].any()  # no trajectory yet: zeros
    final = result.model.groups[0].roles
    for earlier, later in zip(starts, [*starts[1:], final], strict=True):
        assert not torch.equal(earlier, later)
    assert bool(final.std(0).gt(0).any())  # the agents' roles differ
    for row in result.history:
        assert row["approx_kl"] < 1e-3  # the update's first log-probs are the rollout's
        for key in ("role_vlstm_loss", "role_spread", "role_shift"):
            assert np.isfinite(row[key]), key


def test_the_checkpoint_keeps_the_roles_and_rebuilds_the_policy(tmp_path: Path) -> None:
    result = _train(ride_hailing, log_dir=tmp_path)
    data = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert data["meta"]["sharing_options"] == RoleAsStateConfig(**SMALL).to_dict()
    assert set(data["role_state"]) == {"parts", "optimizers", "generator"}
    roles = result.model.groups[0].roles
    assert torch.equal(data["model"]["groups.0.roles"], roles) and roles.any()
    env = ride_hailing()
    policy = load_policy(tmp_path / "checkpoint.pt", env)
    obs, _ = env.reset(seed=1)
    a, b = policy.act_parallel(obs), result.policy.act_parallel(obs)
    assert all(np.array_equal(a[agent], b[agent]) for agent in a)
    header = (tmp_path / "progress.csv").read_text().splitlines()[0].split(",")
    assert {"role_vlstm_loss", "role_spread", "role_shift"} <= set(header)


@pytest.mark.parametrize(
    ("field", "value"),
    [("role_dim", 0), ("vlstm_z_dim", 1.5), ("vlstm_hidden", True), ("vlstm_lr", 0.0),
     ("vlstm_lr", float("nan")), ("vlstm_sequences", -1)],
)  # fmt: skip
def test_bad_options_are_value_errors_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field):
        RoleAsStateConfig(**{field: value})
    with pytest.raises(ValueError, match=field):
        make_sharing("role-as-state", {field: value})


def test_options_of_other_strategies_and_bad_roles_are_value_errors() -> None:
    with pytest.raises(ValueError, match="unknown RoleAsStateConfig field"):
        make_sharing("role-as-state", {"n_groups": 2})
    with pytest.raises(ValueError, match="takes no options"):
        train(ride_hailing, sharing="ps", sharing_options=SMALL, total_env_steps=8)
    gm = _train(ride_hailing, steps=8).model.groups[0]
    with pytest.raises(ValueError, match=r"shape \(36, 8\)"):
        gm.set_roles(torch.zeros(36, 3))
    with pytest.raises(ValueError, match="finite"):
        gm.set_roles(torch.full((36, 8), float("nan")))
    plain = train(ride_hailing, sharing="ps", total_env_steps=8, n_envs=1, device="cpu",
                  config=TINY).model.groups[0]  # fmt: skip
    with pytest.raises(ValueError, match="read no roles"):
        plain.set_roles(torch.zeros(36, 8))


def test_cli_passes_the_options(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    argv = ["train", "--env", "alloc/RideHailing-v0", "--preset", "ride-hailing-1",
            "--sharing", "role-as-state", "--steps", "8", "--n-envs", "1", "--device", "cpu",
            "--env-arg", "episode_steps=4", "--set", "n_steps=4", "--set", "hidden_sizes=(8,)",
            "--role-as-state-dim", "4", "--role-as-state-opt", "vlstm_sequences=8",
            "--log-dir", str(tmp_path), "--no-progress"]  # fmt: skip
    assert cli_main(argv) == 0
    assert json.loads(capsys.readouterr().out)["method"] == "role-as-state+ippo"
    saved = torch.load(tmp_path / "checkpoint.pt", weights_only=True)["meta"]["sharing_options"]
    assert saved == RoleAsStateConfig(role_dim=4, vlstm_sequences=8).to_dict()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--role-as-state-dim", "4"], "need --sharing role-as-state"),
        (["--sharing", "dyps", "--role-as-state-opt", "vlstm_lr=0.1"], "need --sharing role-as"),
        (["--sharing", "role-as-state", "--role-as-state-dim", "0"], "role_dim"),
        (["--sharing", "role-as-state", "--role-as-state-opt", "vlstm_lr=0"], "vlstm_lr"),
        (["--sharing", "role-as-state", "--role-as-state-opt", "n_groups=2"], "unknown"),
        (["--sharing", "role-as-state", "--role-as-state-dim", "4", "--role-as-state-opt",
          "role_dim=8"], "twice"),
    ],
)  # fmt: skip
def test_cli_rejects_bad_options(
    extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    code = cli_main(["train", "--env", "alloc/RideHailing-v0", "--steps", "8", *extra])
    assert code == 2 and message in capsys.readouterr().err
