"""API conformance of the RWARE adapter (``alloc/RWARE-v0``): Gymnasium / PettingZoo checkers,
seeding and determinism over several episodes, truncation, pickling, vector envs, registration
in a fresh interpreter (without pyglet), and rejection of bad input.

The generic contract shared by every registered id (checkers, make in a fresh interpreter,
async vector envs, pickling, determinism, end of episode, view agreement) is checked on one
small configuration per id in ``test_registered_envs.py``; here: the variants and specifics.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pettingzoo
import pytest

pytest.importorskip("rware", reason="needs alloc-envs[third-party]")


from alloc_envs.third_party.rollouts import (
    gym_episode,
)
from alloc_envs.third_party.rware_config import RWAREConfig, make_rware_config
from alloc_envs.third_party.rware_env import RWAREEnv, RWAREParallelEnv

ENV_ID = "alloc/RWARE-v0"
PRESETS = ["rware-1", "rware-2"]
N_AGENTS = {"rware-1": 8, "rware-2": 16}
#: Short episodes keep the multi-episode tests fast (upstream's step is ~1 ms).
SHORT = 40


# ------------------------------------------------------------------ checkers


@pytest.mark.parametrize("preset", PRESETS)
def test_spaces(preset: str) -> None:
    n = N_AGENTS[preset]
    env = RWAREParallelEnv(preset)
    obs, _ = env.reset(seed=0)
    assert env.possible_agents == [f"agent_{i}" for i in range(n)]
    for agent in env.agents:
        assert env.observation_space(agent) is env.observation_space(agent)
        assert env.action_space(agent) == gymnasium.spaces.Discrete(5)
        assert set(obs[agent]) == {"observation"}  # every action is valid: no mask
        assert obs[agent]["observation"].shape == (91,)
        assert env.observation_space(agent).contains(obs[agent])
    state = env.state()
    assert state.shape == (n * 91,) and env.state_space.contains(state)
    gym_env = RWAREEnv(preset)
    assert gym_env.action_space == gymnasium.spaces.MultiDiscrete([5] * n)
    assert gym_env.reset(seed=0)[0]["observation"].shape == (n, 91)


def test_observations_stay_in_the_space_over_an_episode() -> None:
    env = RWAREEnv("rware-2", time_limit=60)
    for step in gym_episode(env, seed=2, action_seed=2)[1:]:
        assert env.observation_space.contains(step[1])


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("preset", ["rware-2"])  # rware-1: test_registered_envs.py
def test_gym_same_seed_same_episode_on_the_same_and_on_a_fresh_instance(preset: str, rh) -> None:
    env = RWAREEnv(preset, time_limit=SHORT)
    first = gym_episode(env, seed=3, action_seed=0)
    assert len(first) == SHORT + 1
    rh.assert_same(first, gym_episode(env, seed=3, action_seed=0))
    other = gym_episode(env, seed=11, action_seed=0)
    with pytest.raises(AssertionError):
        rh.assert_same(first[0], other[0])
    gym_episode(env, seed=None, action_seed=7)
    rh.assert_same(first, gym_episode(env, seed=3, action_seed=0))  # after other episodes
    rh.assert_same(first, gym_episode(RWAREEnv(preset, time_limit=SHORT), 3, action_seed=0))


def test_different_seeds_give_different_layouts() -> None:
    env = RWAREEnv("rware-1")
    layouts = [env.reset(seed=s)[0]["observation"].copy() for s in range(5)]
    colours = []
    for s in range(5):
        env.reset(seed=s)
        colours.append(env.scenario.warehouse.shelf_colors.copy())
    for i in range(5):
        for j in range(i + 1, 5):
            assert not np.array_equal(layouts[i], layouts[j])
            assert not np.array_equal(colours[i], colours[j])


# ------------------------------------------------------------------ time limit


def test_truncates_at_500_steps_and_never_terminates() -> None:
    env = RWAREEnv("rware-1")
    env.reset(seed=0)
    noop = np.zeros(8, dtype=np.int64)
    for step in range(1, 501):
        _, _, terminated, truncated, info = env.step(noop)
        assert terminated is False
        assert truncated is (step == 500)
    assert info["step"] == 500
    with pytest.raises(RuntimeError, match="reset"):
        env.step(noop)
    env.reset(seed=0)
    env.step(noop)


# ------------------------------------------------------------------ pickling and vector envs


# ------------------------------------------------------------------ registration and rendering


def test_registered_in_both_registries() -> None:
    assert ENV_ID in gymnasium.registry
    assert ENV_ID in pettingzoo.parallel_registry and ENV_ID in pettingzoo.aec_registry
    assert gymnasium.make(ENV_ID, preset="rware-2").unwrapped.config == make_rware_config("rware-2")
    par = pettingzoo.make("parallel", ENV_ID, preset="rware-2")
    assert len(par.possible_agents) == 16
    aec = pettingzoo.make("aec", ENV_ID)
    aec.reset(seed=0)
    assert len(aec.agents) == 8


def test_render_ansi() -> None:
    env = RWAREEnv("rware-1", render_mode="ansi")
    assert "reset" in env.render()
    env.reset(seed=0)
    lines = env.render().splitlines()
    assert len(lines) == 20 + 1 and all(len(line) == 10 for line in lines[:20])
    grid = "".join(lines[:20])
    assert grid.count("=") + sum(ch.isdigit() for ch in grid) >= 8  # robots may hide a goal
    assert sum(ch.isupper() for ch in grid) <= 4  # requested shelves (robots may hide some)
    assert RWAREEnv().render() is None
    with pytest.raises(ValueError, match="render_mode"):
        RWAREEnv(render_mode="human")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"shelf_columns": 2}, "shelf_columns"),
        ({"shelf_rows": 0}, "shelf_rows"),
        ({"column_height": 0}, "column_height"),
        ({"n_agents": 0}, "n_agents"),
        ({"n_colors": 5}, "n_colors"),
        ({"n_colors": 0}, "n_colors"),
        ({"request_queue_size": 5}, "request_queue_size"),
        ({"request_queue_size": 80}, "request_queue_size"),
        ({"agent_colors": (0, 1)}, "agent_colors"),
        ({"agent_colors": (0, 1, 2, 0, 0, 0, 0, 0)}, r"agent_colors\[2\]"),
        ({"agent_colors": (0,) * 8}, "every colour"),
        ({"sensor_range": 0}, "sensor_range"),
        ({"time_limit": 0}, "time_limit"),
        ({"reward": "shared"}, "reward"),
        ({"permute_observations": 1}, "permute_observations"),
        ({"roll_actions": "no"}, "roll_actions"),
        ({"type_seed": -1}, "type_seed"),
        ({"max_steps": 10}, "max_steps"),
    ],
)
def test_bad_config_raises_naming_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        RWAREEnv("rware-1", **overrides)
    with pytest.raises(ValueError, match=field):
        RWAREParallelEnv("rware-1", **overrides)


def test_bad_preset_and_config_combinations() -> None:
    with pytest.raises(ValueError, match="preset"):
        RWAREEnv("rware-3")
    with pytest.raises(ValueError, match="preset"):
        gymnasium.make(ENV_ID, preset="lbf-1")
    with pytest.raises(ValueError, match="config"):
        RWAREEnv("rware-2", config=make_rware_config("rware-1"))
    env = RWAREEnv(config=RWAREConfig(n_agents=3, n_colors=3, request_queue_size=3), time_limit=9)
    assert env.config.time_limit == 9 and env.agent_types == (0, 1, 2)


N1 = 8
BAD_ACTIONS = {
    "too short": (np.zeros(N1 - 1, dtype=np.int64), "shape"),
    "2-d": (np.zeros((1, N1), dtype=np.int64), "shape"),
    "nan": (np.array([0, 1, np.nan, 0, 0, 0, 0, 0]), "agent_2.*NaN"),
    "-inf": (np.array([0, 1, 0, 0, 0, 0, 0, -np.inf]), "agent_7.*inf"),
    "negative": (np.array([0, -1, 0, 0, 0, 0, 0, 0]), "agent_1.*range"),
    "too large": (np.array([0, 0, 0, 0, 0, 5, 0, 0]), "agent_5.*range"),
    "fraction": (np.array([0, 0, 0, 2.5, 0, 0, 0, 0]), "agent_3.*integer"),
    "objects": (np.array([None] * N1), "integer"),
}


@pytest.mark.parametrize("name", list(BAD_ACTIONS))
def test_bad_joint_action_raises_and_leaves_the_state_unchanged(name: str, rh) -> None:
    bad, problem = BAD_ACTIONS[name]
    env, twin = RWAREEnv("rware-1"), RWAREEnv("rware-1")
    for e in (env, twin):
        e.reset(seed=31)
        e.step(np.arange(N1) % 5)
    with pytest.raises(ValueError, match=problem):
        env.step(bad)
    action = (np.arange(N1) + 2) % 5
    rh.assert_same(env.step(action), twin.step(action))


@pytest.mark.parametrize("problem", ["missing", "unknown", "shape", "NaN", "range"])
def test_bad_parallel_actions_raise_and_leave_the_state_unchanged(problem: str, rh) -> None:
    env, twin = RWAREParallelEnv("rware-1"), RWAREParallelEnv("rware-1")
    for e in (env, twin):
        e.reset(seed=32)
    actions = {a: i % 5 for i, a in enumerate(env.possible_agents)}
    rh.assert_same(env.step(actions), twin.step(actions))
    bad = dict(actions)
    if problem == "missing":
        del bad["agent_3"]
        match = "missing.*agent_3"
    elif problem == "unknown":
        bad["robot_0"] = 0
        match = "unknown.*robot_0"
    elif problem == "shape":
        bad["agent_2"] = np.array([1])
        match = "agent_2.*shape"
    elif problem == "NaN":
        bad["agent_4"] = np.nan
        match = "agent_4.*NaN"
    else:
        bad["agent_1"] = -2
        match = "agent_1.*range"
    with pytest.raises(ValueError, match=match):
        env.step(bad)
    np.testing.assert_array_equal(env.state(), twin.state())
    rh.assert_same(env.step(actions), twin.step(actions))
