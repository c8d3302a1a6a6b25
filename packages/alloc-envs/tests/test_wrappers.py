"""``alloc_envs.wrappers.FlatJointView`` on the Gymnasium view of every registered id: 1-D
spaces only (what stable-baselines3 takes), observations in them, flat actions turned into valid
joint actions, the view's rewards, infos and rendering passed through. numpy only: the test that
plain stable-baselines3 trains on the wrapped views is ``tests/test_sb3_plain.py``."""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium import spaces

import alloc_envs  # noqa: F401  (registers the alloc/ ids)
from alloc_envs.registration import ENVIRONMENTS
from alloc_envs.wrappers import FlatJointView, JointSpaces

CASES: dict[str, dict[str, Any]] = {
    "alloc/RideHailing-v0": {"rows": 3, "cols": 3, "max_orders": 4, "episode_steps": 6},
    "alloc/VaccineAllocation-v0": {"n_regions": 8, "population": 16_000, "n_decisions": 4},
    "alloc/LBF-v0": {"preset": "lbf-1", "time_limit": 6},
    "alloc/RWARE-v0": {"preset": "rware-1", "time_limit": 6},
    "alloc/EDRP-v0": {"preset": "edrp-small"},
    "alloc/EDRP-v1": {"preset": "edrp-small", "n_followers": 30},
    "alloc/MTFG-v0": {"preset": "mtfg-small"},
    "alloc/HiddenTypes-v0": {"n_agents": 6, "n_types": 3, "episode_steps": 4},
}
REQUIRES = {"alloc/LBF-v0": "lbforaging", "alloc/RWARE-v0": "rware"}
REPOSITION = {**CASES["alloc/RideHailing-v0"], "action_mode": "reposition"}
EXTRA = {"RideHailing-reposition": ("alloc/RideHailing-v0", REPOSITION)}


def test_every_registered_id_has_a_case() -> None:
    assert set(CASES) == set(ENVIRONMENTS)


def _params() -> list[Any]:
    params = []
    for env_id, kwargs in CASES.items():
        module = REQUIRES.get(env_id)
        skip = module is not None and importlib.util.find_spec(module) is None
        marks = [pytest.mark.skip(reason="needs alloc-envs[third-party]")] if skip else []
        params.append(pytest.param(env_id, kwargs, id=env_id.split("/")[1], marks=marks))
    params += [pytest.param(i, k, id=name) for name, (i, k) in EXTRA.items()]
    return params


def _flat(space: spaces.Space) -> bool:
    return len(space.shape) <= 1 if space.shape is not None else False


@pytest.mark.parametrize(("env_id", "kwargs"), _params())
def test_flat_view_has_flat_spaces_and_plays_valid_joint_actions(
    env_id: str, kwargs: dict[str, Any]
) -> None:
    view = gymnasium.make(env_id, render_mode="ansi", **kwargs)
    env = FlatJointView(view)
    assert _flat(env.action_space)
    obs_spaces = (
        env.observation_space.spaces.values()
        if isinstance(env.observation_space, spaces.Dict)
        else [env.observation_space]
    )
    assert all(_flat(s) for s in obs_spaces)
    env.action_space.seed(0)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for _ in range(3):
        action = env.action_space.sample()
        joint = env.joint.action(action)
        assert view.unwrapped.action_space.contains(joint)
        obs, reward, terminated, truncated, _ = env.step(action)
        assert env.observation_space.contains(obs) and isinstance(reward, float)
        if terminated or truncated:
            break
    assert isinstance(env.render(), str)  # the view's rendering, passed through
    env.close()


def test_box_actions_rescale_to_the_views_bounds() -> None:
    view = gymnasium.make("alloc/EDRP-v1", preset="edrp-small")  # Box(0, 0.75, (8,))
    joint = JointSpaces(view.observation_space, view.action_space)
    assert joint.action_space == spaces.Box(-1.0, 1.0, (8,), dtype=np.float32)
    np.testing.assert_allclose(joint.action(-np.ones(8)), np.zeros(8))
    np.testing.assert_allclose(joint.action(np.ones(8)), np.full(8, 0.75))
    keep = FlatJointView(view, rescale_box_actions=False)
    assert keep.action_space == spaces.Box(0.0, 0.75, (8,), dtype=np.float32)


def test_dispatch_action_flattens_agent_major_and_the_view_names_the_wrapper() -> None:
    view = gymnasium.make("alloc/RideHailing-v0", **CASES["alloc/RideHailing-v0"])
    env = FlatJointView(view)
    assert env.action_space == spaces.MultiDiscrete(np.full(9 * 4, 5))
    flat = np.arange(36) % 5
    np.testing.assert_array_equal(env.joint.action(flat), flat.reshape(9, 4))
    view.reset(seed=0)
    with pytest.raises(ValueError, match=r"must have shape \(9, 4\), got \(36,\).*FlatJointView"):
        view.step(flat)
    with pytest.raises(ValueError, match=r"must have shape \(9, 4\), got \(3, 12\)$"):
        view.step(flat.reshape(3, 12))
