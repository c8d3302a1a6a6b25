"""Plain stable-baselines3 on the Gymnasium view of every ``alloc`` id (issue 20 B).

A researcher types ``PPO("MultiInputPolicy", env).learn(...)`` with no help from
``alloc_agents``. On every Gymnasium view, wrapped in the documented
``alloc_envs.wrappers.FlatJointView``, that trains; on the raw views it trains too, except
Ride-Hailing in dispatch mode, whose 2-D ``MultiDiscrete`` action SB3 cannot build a policy for
(the case the wrapper exists for; the raw view gives a clear error when it receives the flat
action instead). Tiny configurations and 32 steps keep it fast. Skips without stable-baselines3
(``pip install 'alloc-agents[sb3]'``)."""

from __future__ import annotations

import importlib.util
import warnings
from typing import Any

import gymnasium
import numpy as np
import pytest

import alloc_envs  # noqa: F401  (registers the alloc/ ids)
from alloc_envs.registration import ENVIRONMENTS
from alloc_envs.wrappers import FlatJointView

RH = "alloc/RideHailing-v0"
TINY_RH = {"rows": 3, "cols": 3, "max_orders": 4, "episode_steps": 8}

#: name -> (id, keyword arguments): every id, and every option that changes the spaces (the
#: action mode; the fidelity of the Stackelberg leader view keeps them, N followers included).
VIEWS: dict[str, tuple[str, dict[str, Any]]] = {
    "rh-dispatch": (RH, TINY_RH),
    "rh-reposition": (RH, {**TINY_RH, "action_mode": "reposition"}),
    "vaccine": ("alloc/VaccineAllocation-v0", {"n_regions": 8, "population": 16_000}),
    "hidden-types": ("alloc/HiddenTypes-v0", {"n_agents": 6, "episode_steps": 5}),
    "edrp-v0": ("alloc/EDRP-v0", {"preset": "edrp-small"}),
    "edrp-v1-n-agent": ("alloc/EDRP-v1", {"preset": "edrp-small", "n_followers": 30}),
    "mtfg": ("alloc/MTFG-v0", {"preset": "mtfg-small"}),
    "lbf": ("alloc/LBF-v0", {"preset": "lbf-1", "time_limit": 10}),
    "rware": ("alloc/RWARE-v0", {"preset": "rware-1", "time_limit": 10}),
}
REQUIRES = {"alloc/LBF-v0": "lbforaging", "alloc/RWARE-v0": "rware"}
#: Views whose raw Gymnasium spaces SB3 cannot train on (they need FlatJointView).
NEEDS_WRAPPER = {"rh-dispatch"}


def test_every_registered_id_is_covered() -> None:
    assert {env_id for env_id, _ in VIEWS.values()} == set(ENVIRONMENTS)


def _params(raw: bool) -> list[Any]:
    params = []
    for name, (env_id, kwargs) in VIEWS.items():
        marks = []
        module = REQUIRES.get(env_id)
        if module is not None and importlib.util.find_spec(module) is None:
            marks.append(pytest.mark.skip(reason="needs alloc-envs[third-party]"))
        if raw and name in NEEDS_WRAPPER:
            marks.append(
                pytest.mark.xfail(
                    raises=TypeError,
                    strict=False,
                    reason="SB3 supports 1-D MultiDiscrete only: use FlatJointView",
                )
            )
        params.append(pytest.param(env_id, kwargs, id=name, marks=marks))
    return params


def _learn(env: gymnasium.Env) -> Any:
    sb3 = pytest.importorskip("stable_baselines3")
    policy = (
        "MultiInputPolicy"
        if isinstance(env.observation_space, gymnasium.spaces.Dict)
        else "MlpPolicy"
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # SB3's advice on n_steps, batch sizes
        model = sb3.PPO(policy, env, n_steps=16, batch_size=16, n_epochs=1, seed=0, device="cpu")
        model.learn(32)
    assert model.num_timesteps == 32
    return model


@pytest.mark.parametrize(("env_id", "kwargs"), _params(raw=False))
def test_plain_sb3_ppo_learns_on_the_wrapped_view(env_id: str, kwargs: dict[str, Any]) -> None:
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.env_checker import check_env

    env = FlatJointView(gymnasium.make(env_id, **kwargs))
    check_env(env, warn=False)
    model = _learn(env)
    # the trained policy's action is the unwrapped view's action after the wrapper's conversion
    obs, _ = env.reset(seed=1)
    action, _ = model.predict(obs, deterministic=True)
    joint = env.joint.action(action)
    assert env.unwrapped.action_space.contains(joint)


@pytest.mark.parametrize(("env_id", "kwargs"), _params(raw=True))
def test_plain_sb3_ppo_learns_on_the_raw_view(env_id: str, kwargs: dict[str, Any]) -> None:
    _learn(gymnasium.make(env_id, **kwargs))


def test_a_flat_dispatch_action_names_the_wrapper() -> None:
    env = gymnasium.make(RH, **TINY_RH)
    env.reset(seed=0)
    flat = np.zeros(9 * 4, dtype=np.int64)
    with pytest.raises(ValueError, match=r"alloc_envs\.wrappers\.FlatJointView"):
        env.step(flat)
    wrapped = FlatJointView(env)
    assert wrapped.action_space == gymnasium.spaces.MultiDiscrete(np.full(36, 5))
    wrapped.reset(seed=0)
    wrapped.step(flat)
