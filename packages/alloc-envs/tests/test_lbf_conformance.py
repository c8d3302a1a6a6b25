"""API conformance of the LBF adapter (``alloc/LBF-v0``): Gymnasium / PettingZoo checkers,
seeding and determinism over several episodes, termination vs truncation, persistent levels,
pickling, vector envs, and rejection of bad input.

The generic contract shared by every registered id (checkers, make in a fresh interpreter,
async vector envs, pickling, determinism, end of episode, view agreement) is checked on one
small configuration per id in ``test_registered_envs.py``; here: the variants and specifics.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pettingzoo
import pytest

pytest.importorskip("lbforaging", reason="needs alloc-envs[third-party]")


from alloc_envs.third_party.lbf_config import LBFConfig, make_lbf_config
from alloc_envs.third_party.lbf_env import LBFEnv, LBFParallelEnv
from alloc_envs.third_party.rollouts import (
    gym_episode,
    joint_from_agents,
    random_joint_action,
)

ENV_ID = "alloc/LBF-v0"
PRESETS = ["lbf-1", "lbf-2"]
#: (N agents, F foods) of the presets.
SIZES = {"lbf-1": (6, 4), "lbf-2": (12, 10)}


# ------------------------------------------------------------------ checkers


@pytest.mark.parametrize("preset", PRESETS)
def test_spaces_and_masks(preset: str) -> None:
    n, f = SIZES[preset]
    env = LBFParallelEnv(preset)
    obs, _ = env.reset(seed=0)
    assert env.possible_agents == [f"agent_{i}" for i in range(n)]
    upstream = env.scenario.env
    for i, agent in enumerate(env.agents):
        space = env.observation_space(agent)
        assert space is env.observation_space(agent)
        assert env.action_space(agent) == gymnasium.spaces.Discrete(6)
        assert obs[agent]["observation"].shape == (3 * (f + n),)
        mask = obs[agent]["action_mask"]
        assert mask.dtype == np.int8 and mask.shape == (6,)
        assert mask[0] == 1  # NONE is always valid
        valid = {a.value for a in upstream._valid_actions[upstream.players[i]]}
        assert set(np.flatnonzero(mask).tolist()) == valid
        for seed in range(5):  # a PettingZoo sampling mask: only valid actions come out
            space_a = env.action_space(agent)
            space_a.seed(seed)
            assert mask[space_a.sample(mask=mask)] == 1
        assert space.contains(obs[agent])
    gym_env = LBFEnv(preset)
    assert gym_env.action_space == gymnasium.spaces.MultiDiscrete([6] * n)
    gym_obs, _ = gym_env.reset(seed=0)
    assert gym_obs["observation"].shape == (n, 3 * (f + n))
    assert gym_obs["action_mask"].shape == (n, 6)


def test_observations_and_state_stay_in_their_spaces() -> None:
    env = LBFParallelEnv("lbf-2")
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(1)
    agents = env.possible_agents
    while env.agents:
        for agent in agents:
            assert env.observation_space(agent).contains(obs[agent])
        state = env.state()
        assert state.shape == env.state_space.shape and env.state_space.contains(state)
        joint = random_joint_action(rng, joint_from_agents(obs, agents), 6)
        obs, *_ = env.step({a: joint[i] for i, a in enumerate(agents)})


def test_state_lists_foods_then_agents() -> None:
    env = LBFParallelEnv("lbf-1")
    obs, _ = env.reset(seed=3)
    state = env.state().reshape(-1, 3)
    upstream = env.scenario.env
    rows, cols = np.nonzero(upstream.field)
    np.testing.assert_array_equal(state[: rows.size, :2], np.stack([rows, cols], 1))
    for i, player in enumerate(upstream.players):
        np.testing.assert_array_equal(state[4 + i], [*player.position, player.level])
        # the agent sees itself first, in absolute coordinates (full sight)
        np.testing.assert_array_equal(obs[f"agent_{i}"]["observation"][12:15], state[4 + i])


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("preset", ["lbf-2"])  # lbf-1: test_registered_envs.py
def test_gym_same_seed_same_episode_on_the_same_and_on_a_fresh_instance(preset: str, rh) -> None:
    env = LBFEnv(preset)
    first = gym_episode(env, seed=3, action_seed=0)
    assert len(first) > 5
    rh.assert_same(first, gym_episode(env, seed=3, action_seed=0))
    other = gym_episode(env, seed=11, action_seed=0)
    with pytest.raises(AssertionError):
        rh.assert_same(first[0], other[0])
    gym_episode(env, seed=None, action_seed=7)
    rh.assert_same(first, gym_episode(env, seed=3, action_seed=0))  # after other episodes
    rh.assert_same(first, gym_episode(LBFEnv(preset), seed=3, action_seed=0))


def test_different_seeds_give_different_layouts() -> None:
    env = LBFEnv("lbf-1")
    layouts = [env.reset(seed=s)[0]["observation"].copy() for s in range(6)]
    for i in range(6):
        for j in range(i + 1, 6):
            assert not np.array_equal(layouts[i], layouts[j])


# ------------------------------------------------------------------ end of episodes


def test_time_limit_is_truncation_not_termination() -> None:
    env = LBFEnv("lbf-1")
    env.reset(seed=0)
    stay = np.zeros(6, dtype=np.int64)  # NONE: the food stays where it is
    for step in range(1, 51):
        _, _, terminated, truncated, info = env.step(stay)
        assert terminated is False
        assert truncated is (step == 50)
        assert info["step"] == step and info["foods_collected"] == 0
    with pytest.raises(RuntimeError, match="reset"):
        env.step(stay)
    env.reset(seed=0)
    env.step(stay)

    par = LBFParallelEnv("lbf-1", time_limit=7)
    par.reset(seed=0)
    for step in range(1, 8):
        _, _, terms, truncs, _ = par.step(dict.fromkeys(par.agents, 0))
        assert not any(terms.values()) and all(truncs.values()) is (step == 7)
    assert par.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        par.step(dict.fromkeys(par.possible_agents, 0))


#: One food of level 1 on a 5x5 field: an agent that loads whenever it can clears it quickly.
EASY = {"grid_size": 5, "n_agents": 2, "n_foods": 1, "agent_levels": (1, 2), "max_food_level": 1}


def _load_when_possible(env: LBFEnv, seed: int) -> list[tuple[float, bool, bool, dict]]:
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    steps = []
    while True:
        action = random_joint_action(rng, obs, 6)
        action[obs["action_mask"][:, 5] == 1] = 5
        obs, reward, terminated, truncated, info = env.step(action)
        steps.append((reward, terminated, truncated, info))
        if terminated or truncated:
            return steps


def test_collecting_all_food_terminates_with_team_return_one() -> None:
    steps = _load_when_possible(LBFEnv(**EASY, time_limit=200), seed=0)
    _, terminated, truncated, info = steps[-1]
    assert terminated is True and truncated is False
    assert len(steps) < 200
    assert info["foods_collected"] == info["foods_spawned"] == 1
    assert sum(s[0] for s in steps) == pytest.approx(1.0)  # normalised rewards
    # the food ends the episode on the last allowed step: terminated, not truncated
    last = _load_when_possible(LBFEnv(**EASY, time_limit=len(steps)), seed=0)
    assert len(last) == len(steps) and last[-1][1:3] == (True, False)


def test_parallel_agents_all_terminate_together() -> None:
    env = LBFParallelEnv(**EASY, time_limit=200)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    while env.agents:
        joint = random_joint_action(rng, joint_from_agents(obs, env.possible_agents), 6)
        actions = {a: 5 if obs[a]["action_mask"][5] else joint[i] for i, a in enumerate(env.agents)}
        obs, _, terms, truncs, _ = env.step(actions)
    assert all(terms.values()) and not any(truncs.values())


# ------------------------------------------------------------------ pickling and vector envs


# ------------------------------------------------------------------ persistent levels (types)


def test_agent_levels_persist_across_resets() -> None:
    env = LBFEnv("lbf-2")
    assert env.agent_types == (1,) * 6 + (2,) * 6
    f = SIZES["lbf-2"][1]
    for seed in [*range(10), None, None]:
        obs, _ = env.reset(seed=seed)
        self_levels = obs["observation"][:, 3 * f + 2]  # each agent sees itself first
        np.testing.assert_array_equal(self_levels, env.agent_types)
        assert [p.level for p in env.scenario.env.players] == list(env.agent_types)
    custom = LBFEnv("lbf-1", agent_levels=[3, 1, 2, 1, 1, 2])
    assert custom.agent_types == (3, 1, 2, 1, 1, 2)
    custom.reset(seed=0)
    assert [p.level for p in custom.scenario.env.players] == [3, 1, 2, 1, 1, 2]


def test_upstream_levels_are_reshuffled_ours_are_not() -> None:
    """The upstream problem the adapter fixes: per-player levels are permuted at every reset."""
    from lbforaging.foraging import ForagingEnv

    levels = [1, 1, 1, 2, 2, 2]
    raw = ForagingEnv(6, levels, levels, 1, None, (10, 10), 4, 10, 50, False)
    seen = set()
    for seed in range(10):
        raw.reset(seed=seed)
        seen.add(tuple(p.level for p in raw.players))
    assert len(seen) > 1
    env = LBFEnv("lbf-1", agent_levels=tuple(levels))
    ours = set()
    for seed in range(10):
        env.reset(seed=seed)
        ours.add(tuple(p.level for p in env.scenario.env.players))
    assert ours == {tuple(levels)}


def test_reset_is_history_free_and_matches_a_fresh_upstream_instance() -> None:
    """Upstream's same-instance ``reset(seed)`` depends on the previous episode; ours equals the
    layout of a fresh upstream instance with the same level lists, whatever ran before."""
    from lbforaging.foraging import ForagingEnv

    levels = [1, 1, 1, 2, 2, 2]

    def fresh_upstream(seed: int) -> ForagingEnv:
        raw = ForagingEnv(6, levels, levels, 1, None, (10, 10), 4, 10, 50, False)
        raw.reset(seed=seed)
        return raw

    raw = fresh_upstream(5)
    first = [p.position for p in raw.players]
    raw.reset(seed=5)
    assert [p.position for p in raw.players] != first  # the upstream bug

    env = LBFEnv("lbf-1")
    for history in (0, 1, 2):
        gym_episode(env, seed=history, action_seed=history)
        env.reset(seed=5)
        ours = env.scenario.env
        assert [p.position for p in ours.players] == first
        np.testing.assert_array_equal(ours.field, fresh_upstream(5).field)


# ------------------------------------------------------------------ registration and rendering


def test_registered_in_both_registries() -> None:
    assert ENV_ID in gymnasium.registry
    assert ENV_ID in pettingzoo.parallel_registry and ENV_ID in pettingzoo.aec_registry
    env = gymnasium.make(ENV_ID, preset="lbf-2")
    assert env.unwrapped.config == make_lbf_config("lbf-2")
    par = pettingzoo.make("parallel", ENV_ID, preset="lbf-2")
    assert len(par.possible_agents) == 12
    aec = pettingzoo.make("aec", ENV_ID)
    aec.reset(seed=0)
    assert len(aec.agents) == 6


def test_render_ansi() -> None:
    env = LBFEnv("lbf-1", render_mode="ansi")
    assert "reset" in env.render()
    env.reset(seed=0)
    lines = env.render().splitlines()
    assert len(lines) == 10 + 1 and all(len(line) == 10 for line in lines[:10])
    assert sum(ch.isalpha() for line in lines[:10] for ch in line) == 6
    assert LBFEnv().render() is None
    with pytest.raises(ValueError, match="render_mode"):
        LBFEnv(render_mode="human")
    with pytest.raises(ValueError, match="render_mode"):
        LBFParallelEnv(render_mode="rgb")


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"grid_size": 2}, "grid_size"),
        ({"grid_size": 4.5}, "grid_size"),
        ({"n_agents": 0}, "n_agents"),
        ({"n_foods": 0}, "n_foods"),
        ({"n_foods": 65}, "n_foods"),
        ({"agent_levels": (1, 2)}, "agent_levels"),
        ({"agent_levels": (1, 1, 1, 2, 2, 0)}, r"agent_levels\[5\]"),
        ({"min_food_level": 0}, "min_food_level"),
        ({"max_food_level": 0}, "max_food_level"),
        ({"min_food_level": 4}, "min_food_level"),
        ({"sight": 0}, "sight"),
        ({"time_limit": 0}, "time_limit"),
        ({"penalty": -1.0}, "penalty"),
        ({"penalty": float("nan")}, "penalty"),
        ({"force_coop": "yes"}, "force_coop"),
        ({"normalize_reward": 1}, "normalize_reward"),
        ({"n_drivers": 3}, "n_drivers"),
    ],
)
def test_bad_config_raises_naming_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LBFEnv("lbf-1", **overrides)
    with pytest.raises(ValueError, match=field):
        LBFParallelEnv("lbf-1", **overrides)


def test_bad_preset_and_config_combinations() -> None:
    with pytest.raises(ValueError, match="preset"):
        LBFEnv("lbf-3")
    with pytest.raises(ValueError, match="preset"):
        gymnasium.make(ENV_ID, preset="rware-1")
    with pytest.raises(ValueError, match="preset"):
        pettingzoo.make("parallel", ENV_ID, preset="nope")
    with pytest.raises(ValueError, match="config"):
        LBFEnv("lbf-2", config=make_lbf_config("lbf-1"))
    with pytest.raises(ValueError, match="config"):
        LBFEnv(config={"grid_size": 5})
    env = LBFEnv(config=LBFConfig(grid_size=8, n_agents=3, n_foods=2), time_limit=9)
    assert env.config.time_limit == 9 and env.agent_types == (1, 2, 2)


N1 = 6
BAD_ACTIONS = {
    "too short": (np.zeros(N1 - 1, dtype=np.int64), "shape"),
    "2-d": (np.zeros((N1, 1), dtype=np.int64), "shape"),
    "scalar": (0, "shape"),
    "ragged": ([[0], [0, 1]], "shape|array"),
    "nan": (np.array([0, 1, np.nan, 0, 0, 0]), "agent_2.*NaN"),
    "inf": (np.array([0, 1, 0, np.inf, 0, 0]), "agent_3.*inf"),
    "negative": (np.array([0, -1, 0, 0, 0, 0]), "agent_1.*range"),
    "too large": (np.array([0, 0, 0, 0, 0, 6]), "agent_5.*range"),
    "fraction": (np.array([0, 0.5, 0, 0, 0, 0]), "agent_1.*integer"),
    "strings": (np.array(["1"] * N1), "integer"),
    "booleans": (np.ones(N1, dtype=bool), "integer"),
}


@pytest.mark.parametrize("name", list(BAD_ACTIONS))
def test_bad_joint_action_raises_and_leaves_the_state_unchanged(name: str, rh) -> None:
    bad, problem = BAD_ACTIONS[name]
    env, twin = LBFEnv("lbf-1"), LBFEnv("lbf-1")
    for e in (env, twin):
        e.reset(seed=31)
        e.step(np.array([1, 2, 3, 4, 0, 5]))
    with pytest.raises(ValueError, match=problem):
        env.step(bad)
    action = np.array([4, 3, 2, 1, 5, 0])
    rh.assert_same(env.step(action), twin.step(action))
    np.testing.assert_array_equal(env.scenario.state(), twin.scenario.state())


@pytest.mark.parametrize("problem", ["missing", "unknown", "shape", "NaN", "range", "not a dict"])
def test_bad_parallel_actions_raise_and_leave_the_state_unchanged(problem: str, rh) -> None:
    env, twin = LBFParallelEnv("lbf-1"), LBFParallelEnv("lbf-1")
    for e in (env, twin):
        e.reset(seed=32)
    actions = {a: i % 6 for i, a in enumerate(env.possible_agents)}
    rh.assert_same(env.step(actions), twin.step(actions))
    bad: dict | list = dict(actions)
    if problem == "missing":
        del bad["agent_3"]
        match = "missing.*agent_3"
    elif problem == "unknown":
        bad["agent_99"] = 0
        match = "unknown.*agent_99"
    elif problem == "shape":
        bad["agent_2"] = [1, 2]
        match = "agent_2.*shape"
    elif problem == "NaN":
        bad["agent_4"] = float("nan")
        match = "agent_4.*NaN"
    elif problem == "range":
        bad["agent_1"] = 9
        match = "agent_1.*range"
    else:
        bad = list(actions.values())
        match = "dict"
    with pytest.raises(ValueError, match=match):
        env.step(bad)
    np.testing.assert_array_equal(env.state(), twin.state())
    assert env.agents == twin.agents
    rh.assert_same(env.step(actions), twin.step(actions))


def test_unknown_agent_spaces_raise() -> None:
    env = LBFParallelEnv("lbf-1")
    with pytest.raises(ValueError, match="agent_6"):
        env.observation_space("agent_6")
    with pytest.raises(ValueError, match="cell_0"):
        env.action_space("cell_0")
