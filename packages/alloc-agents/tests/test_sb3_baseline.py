"""The stable-baselines3 single-controller baseline on the Gymnasium joint view: space
conversion round trips, SB3's ``check_env`` on the wrapped views, a tiny training run whose
policy acts validly through the Policy interface, save / load, and seeded determinism. The SB3
tests skip when stable-baselines3 is not installed (``pip install alloc-agents[sb3]``)."""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
import torch
from gymnasium import spaces

import alloc_envs  # noqa: F401  (registers the alloc/ ids)
from alloc_agents.baselines.sb3 import (
    JointSpaces,
    SB3JointView,
    check_finite,
    joint_action_size,
    load_sb3_policy,
    require_sb3,
    train_sb3_ppo,
)

RH = "alloc/RideHailing-v0"
DISPATCH = {"episode_steps": 12}
REPOSITION = {"episode_steps": 12, "action_mode": "reposition"}
TINY = {"n_steps": 64, "batch_size": 64, "n_epochs": 1, "policy_kwargs": {"net_arch": [16]}}


def _sb3():
    return pytest.importorskip("stable_baselines3")


def _third_party(name: str) -> None:
    pytest.importorskip(name, reason="alloc-envs[third-party] is not installed")


# ------------------------------------------------------------------------------ spaces
def test_dispatch_spaces_flatten_and_actions_round_trip() -> None:
    env = gymnasium.make(RH, **DISPATCH)
    joint = JointSpaces(env.observation_space, env.action_space)
    obs_space = joint.observation_space
    assert isinstance(obs_space, spaces.Dict) and joint.dict_observation
    assert obs_space["candidates"].shape == (36 * 51 * 9,)
    assert obs_space["candidate_mask"].dtype == np.float32  # int8 mask -> float features
    assert joint.action_space == spaces.MultiDiscrete(np.full(36 * 50, 51))
    assert joint_action_size(env) == 36 * 50 * 51
    obs, _ = env.reset(seed=0)
    flat = joint.observation(obs)
    assert obs_space.contains(flat)
    np.testing.assert_array_equal(flat["candidates"], obs["candidates"].reshape(-1))
    action = env.action_space.sample()
    back = joint.action(action.reshape(-1))
    assert back.shape == (36, 50) and back.dtype == env.action_space.dtype
    np.testing.assert_array_equal(back, action)
    assert env.action_space.contains(joint.action(joint.action_space.sample()))


def test_box_actions_are_rescaled_to_minus_one_one_and_back() -> None:
    env = gymnasium.make(RH, **REPOSITION)  # Box(0, 1, (36, 7))
    joint = JointSpaces(env.observation_space, env.action_space)
    assert joint.action_space == spaces.Box(-1.0, 1.0, (36 * 7,), dtype=np.float32)
    np.testing.assert_array_equal(joint.action(-np.ones(252)), np.zeros((36, 7)))
    np.testing.assert_array_equal(joint.action(np.ones(252)), np.ones((36, 7)))
    np.testing.assert_allclose(joint.action(np.zeros(252)), np.full((36, 7), 0.5))
    assert env.action_space.contains(joint.action(np.full(252, 7.0)))  # clipped into range
    keep = JointSpaces(env.observation_space, env.action_space, rescale_box_actions=False)
    assert keep.action_space == spaces.Box(0.0, 1.0, (252,), dtype=np.float32)


def test_unsupported_spaces_are_a_clear_error() -> None:
    nested = spaces.Dict({"a": spaces.Dict({"b": spaces.Discrete(2)})})
    with pytest.raises(ValueError, match="nested"):
        JointSpaces(nested, spaces.Discrete(2))
    with pytest.raises(ValueError, match="action space Tuple"):
        JointSpaces(spaces.Box(0, 1, (2,)), spaces.Tuple([spaces.Discrete(2)]))
    shifted = JointSpaces(
        spaces.Discrete(3, start=-1), spaces.MultiDiscrete([[3, 3]], start=[[-1, 0]])
    )
    assert shifted.observation(-1) == 0
    assert shifted.action_space == spaces.MultiDiscrete([3, 3])
    np.testing.assert_array_equal(shifted.action(np.array([0, 2])), [[-1, 2]])


def test_missing_stable_baselines3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "stable_baselines3", None)
    with pytest.raises(ImportError, match=r"alloc-agents\[sb3\]"):
        require_sb3()
    with pytest.raises(ImportError, match=r"alloc-agents\[sb3\]"):
        train_sb3_ppo(RH, env_kwargs=DISPATCH, total_timesteps=8)


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [
        (RH, DISPATCH),
        (RH, REPOSITION),
        ("alloc/VaccineAllocation-v0", {}),
        ("alloc/LBF-v0", {}),
        ("alloc/RWARE-v0", {}),
    ],
    ids=["rh-dispatch", "rh-reposition", "vaccine", "lbf", "rware"],
)
def test_sb3_check_env_passes_on_the_wrapped_joint_views(env_id: str, kwargs: dict) -> None:
    _sb3()
    if env_id == "alloc/LBF-v0":
        _third_party("lbforaging")
    if env_id == "alloc/RWARE-v0":
        _third_party("rware")
    from stable_baselines3.common.env_checker import check_env

    env = SB3JointView(gymnasium.make(env_id, **kwargs))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SB3 warns about spaces it handles badly
        check_env(env)


# ------------------------------------------------------------------------------ distribution
def test_uniform_multicategorical_equals_sb3_multicategorical() -> None:
    _sb3()
    from stable_baselines3.common.distributions import MultiCategoricalDistribution

    from alloc_agents.baselines._sb3_policies import UniformMultiCategorical

    dims = [5] * 7
    logits = torch.randn(3, 35, generator=torch.Generator().manual_seed(0))
    actions = torch.randint(0, 5, (3, 7), generator=torch.Generator().manual_seed(1))
    ref = MultiCategoricalDistribution(dims).proba_distribution(logits)
    ours = UniformMultiCategorical(dims).proba_distribution(logits)
    torch.testing.assert_close(ours.log_prob(actions), ref.log_prob(actions))
    torch.testing.assert_close(ours.entropy(), ref.entropy())
    assert torch.equal(ours.mode(), ref.mode())
    assert ours.sample().shape == (3, 7)
    with pytest.raises(ValueError, match="same size"):
        UniformMultiCategorical([2, 3])


# ------------------------------------------------------------------------------ training
def test_tiny_training_run_gives_a_policy_with_valid_joint_actions(tmp_path: Path) -> None:
    _sb3()
    from alloc_agents.baselines._sb3_policies import UniformMultiCategorical

    model, policy = train_sb3_ppo(RH, env_kwargs=DISPATCH, total_timesteps=128, seed=0,
                                  device="cpu", log_dir=tmp_path, **TINY)  # fmt: skip
    assert model.num_timesteps == 128
    assert isinstance(model.policy.action_dist, UniformMultiCategorical)
    env = gymnasium.make(RH, **DISPATCH)
    obs, _ = env.reset(seed=3)
    policy.reset(seed=3)
    action = policy.act(obs)
    assert action.shape == (36, 50) and env.action_space.contains(action)
    env.step(action)  # the env accepts it
    policy.deterministic = False
    policy.reset(seed=4)
    sampled = policy.act(obs)
    policy.reset(seed=4)
    np.testing.assert_array_equal(policy.act(obs), sampled)  # seeded sampling
    # the per-episode monitor logs GMV; the saved model and statistics reload
    monitor = (tmp_path / "monitor_0.monitor.csv").read_text()
    assert "gmv" in monitor.splitlines()[1]
    assert (tmp_path / "progress.csv").exists()
    loaded = load_sb3_policy(tmp_path, gymnasium.make(RH, **DISPATCH))
    policy.deterministic = True
    np.testing.assert_array_equal(loaded.act(obs), policy.act(obs))


def test_same_seed_gives_identical_parameters() -> None:
    _sb3()

    def run(seed: int) -> dict[str, torch.Tensor]:
        model, _ = train_sb3_ppo(RH, env_kwargs=REPOSITION, total_timesteps=128, seed=seed,
                                 device="cpu", **TINY)  # fmt: skip
        return {k: v.clone() for k, v in model.policy.state_dict().items()}

    first, second, other = run(1), run(1), run(2)
    for name, value in first.items():
        assert torch.equal(value, second[name]), name
    assert any(not torch.equal(v, other[k]) for k, v in first.items())


def test_diverged_training_is_an_error_not_a_silent_policy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _sb3()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    model, _ = train_sb3_ppo(RH, env_kwargs=REPOSITION, total_timesteps=64, seed=0, **TINY)
    assert list(tmp_path.iterdir()) == []  # no log_dir: nothing written to the temp directory
    check_finite(model)
    with torch.no_grad():
        model.policy.action_net.weight[0, 0] = float("nan")
    with pytest.raises(RuntimeError, match=r"diverged: non-finite parameters \(action_net"):
        check_finite(model)


def test_train_rejects_bad_arguments() -> None:
    _sb3()
    with pytest.raises(ValueError, match="total_timesteps"):
        train_sb3_ppo(RH, env_kwargs=DISPATCH, total_timesteps=0)
    with pytest.raises(ValueError, match="unknown Gymnasium id"):
        train_sb3_ppo("alloc/Nope-v0", total_timesteps=8)
    with pytest.raises(ValueError, match="device"):
        train_sb3_ppo(RH, env_kwargs=DISPATCH, total_timesteps=8, device="tpu")
