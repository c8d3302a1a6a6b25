"""API conformance of the vaccine-allocation environment (``alloc/VaccineAllocation-v0``):
Gymnasium / PettingZoo checkers, seeding and determinism over several episodes, registration,
vector envs, pickling, info contents, truncation, and rejection of bad configs and actions.

The generic contract shared by every registered id (checkers, make in a fresh interpreter,
async vector envs, pickling, determinism, end of episode, view agreement) is checked on one
small configuration per id in ``test_registered_envs.py``; here: the variants and specifics.
"""

from __future__ import annotations

import copy
import warnings

import gymnasium
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from alloc_envs.vaccine import (
    OBSERVATION_COLUMNS,
    STATE_COLUMNS,
    VaccineAllocationEnv,
    VaccineAllocationParallelEnv,
    VaccineConfig,
    make_config,
)

ENV_ID = "alloc/VaccineAllocation-v0"
N = 100  # regions of the default preset
DECISIONS = 62
#: A short episode for the tests that only need a few steps of each kind.
SHORT = {"n_decisions": 6}


def _warnings(fn, *args, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def random_action(rng: np.random.Generator, n: int = N) -> np.ndarray:
    """A random valid joint action: uniform in [-1, 1], some regions off (-1), now and then all."""
    action = rng.uniform(-1.0, 1.0, size=(n, 1))
    action[rng.random((n, 1)) < 0.2] = -1.0
    if rng.random() < 0.1:
        action[:] = -1.0
    return action.astype(np.float32)


def gym_episode(env, seed: int | None, action_seed: int, max_steps: int | None = None) -> list:
    """[reset (obs, info), then (action, obs, reward, terminated, truncated, info) ...]."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    trajectory = [copy.deepcopy((obs, info))]
    n = env.unwrapped.scenario.n_agents
    while True:
        action = random_action(rng, n)
        obs, reward, terminated, truncated, info = env.step(action)
        trajectory.append(copy.deepcopy((action, obs, reward, terminated, truncated, info)))
        if terminated or truncated or (max_steps is not None and len(trajectory) > max_steps):
            return trajectory


# ------------------------------------------------------------------ checkers


# the default configuration: test_registered_envs.py
@pytest.mark.parametrize("overrides", [{"observe_latent": True, "dynamics": "stochastic"}])
def test_gymnasium_check_env(overrides: dict) -> None:
    env = VaccineAllocationEnv(**overrides)
    assert _warnings(check_env, env.unwrapped, skip_render_check=True) == []


@pytest.mark.parametrize("dynamics", ["expected"])  # stochastic: test_registered_envs.py
def test_pettingzoo_parallel_api_test(dynamics: str) -> None:
    env = VaccineAllocationParallelEnv(n_regions=20, population=46_000, dynamics=dynamics)
    assert _warnings(parallel_api_test, env, num_cycles=70) == []


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("dynamics", ["expected"])  # stochastic: test_registered_envs.py
def test_gym_same_seed_same_actions_same_episode(dynamics: str, rh) -> None:
    env = VaccineAllocationEnv(dynamics=dynamics)
    first = gym_episode(env, seed=3, action_seed=0)
    assert len(first) == DECISIONS + 1
    rh.assert_same(first, gym_episode(env, seed=3, action_seed=0))
    other = gym_episode(env, seed=11, action_seed=0, max_steps=5)
    with pytest.raises(AssertionError):
        rh.assert_same(first[:6], other)
    rh.assert_same(first, gym_episode(env, seed=3, action_seed=0))
    rh.assert_same(first, gym_episode(VaccineAllocationEnv(dynamics=dynamics), 3, action_seed=0))


@pytest.mark.parametrize("dynamics", ["expected"])  # stochastic: test_registered_envs.py
def test_unseeded_resets_continue_the_seeded_generator(dynamics: str, rh) -> None:
    runs = []
    for _ in range(2):
        env = VaccineAllocationEnv(dynamics=dynamics, **SHORT)
        episodes = [gym_episode(env, seed=5, action_seed=1)]
        episodes += [gym_episode(env, seed=None, action_seed=2) for _ in range(2)]
        runs.append(episodes)
    rh.assert_same(runs[0], runs[1])
    with pytest.raises(AssertionError):  # a new initial seeding every episode
        rh.assert_same(runs[0][1][0], runs[0][2][0])


@pytest.mark.parametrize("dynamics", ["expected", "stochastic"])
def test_different_seeds_give_different_epidemics(dynamics: str) -> None:
    env = VaccineAllocationEnv(dynamics=dynamics)
    seen = []
    for seed in (0, 1, 2):
        env.reset(seed=seed)
        seen.append(env.scenario.sim.E[0].copy())
    for i in range(3):
        for j in range(i + 1, 3):
            assert not np.array_equal(seen[i], seen[j])


def test_the_city_does_not_depend_on_the_episode_seed_but_on_city_seed() -> None:
    a, b = VaccineAllocationEnv(), VaccineAllocationEnv()
    a.reset(seed=0)
    b.reset(seed=1)
    np.testing.assert_array_equal(a.scenario.city.population, b.scenario.city.population)
    np.testing.assert_array_equal(a.scenario.city.kernel, b.scenario.city.kernel)
    c = VaccineAllocationEnv(city_seed=1)
    assert not np.array_equal(a.scenario.city.population, c.scenario.city.population)


# ------------------------------------------------------------------ registration


def test_gymnasium_make_selects_the_preset() -> None:
    env = gymnasium.make(ENV_ID)
    assert isinstance(env.unwrapped, VaccineAllocationEnv)
    assert env.unwrapped.config == make_config("medical-small")
    obs, _ = env.reset(seed=0)
    assert obs["observation"].shape == (N, len(OBSERVATION_COLUMNS))
    env.close()
    env = gymnasium.make(ENV_ID, preset="medical-small", reward_mode="confirmed_sqrt")
    assert env.unwrapped.config == make_config("medical-small", reward_mode="confirmed_sqrt")


def test_pettingzoo_make_parallel_and_aec() -> None:
    env = pettingzoo.make("parallel", ENV_ID, preset="medical-small")
    assert isinstance(env, VaccineAllocationParallelEnv)
    assert env.possible_agents == [f"region_{i}" for i in range(N)]
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == set(env.possible_agents)
    assert obs["region_0"]["observation"].shape == (len(OBSERVATION_COLUMNS),)
    aec = pettingzoo.make("aec", ENV_ID, n_regions=5, population=12_000)
    aec.reset(seed=0)
    for agent in list(aec.agents):
        assert aec.agent_selection == agent
        aec.step(np.zeros(1, dtype=np.float32))
    assert aec.agents == aec.possible_agents


def test_paper_scale_preset_builds_and_steps() -> None:
    env = VaccineAllocationEnv("medical")
    assert env.config.n_regions == 3130
    assert env.scenario.city.population.sum() == 7_191_638
    assert env.scenario.sim.budget == 71_916  # 1 % of the population per day (note A.2)
    obs, _ = env.reset(seed=0)
    assert obs["observation"].shape == (3130, len(OBSERVATION_COLUMNS))
    obs, reward, _, _, info = env.step(np.zeros((3130, 1), dtype=np.float32))
    assert info["doses_given"] == pytest.approx(71_916)
    assert env.observation_space.contains(obs) and np.isfinite(reward)


def test_make_vec_sync_autoresets_after_truncation() -> None:
    envs = gymnasium.make_vec(ENV_ID, num_envs=2, vectorization_mode="sync", **SHORT)
    try:
        envs.action_space.seed(1)
        envs.reset(seed=0)
        for step in range(1, 9):
            _, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
            assert not terminated.any()
            assert bool(truncated.all()) is (step == 6)
            if step == 7:  # the autoreset step
                np.testing.assert_array_equal(rewards, 0.0)
                np.testing.assert_array_equal(info["decision"], 0)
    finally:
        envs.close()


def test_ansi_render() -> None:
    env = VaccineAllocationEnv(render_mode="ansi")
    env.reset(seed=0)
    env.step(np.zeros((N, 1), dtype=np.float32))
    text = env.render()
    assert text.startswith("day 2/63  decision 1/62")
    assert "averted" in text and "region_" in text
    assert VaccineAllocationEnv().render() is None
    par = VaccineAllocationParallelEnv(render_mode="ansi")
    par.reset(seed=0)
    assert par.render().startswith("day 1/63")


# ------------------------------------------------------------------ pickling


# ------------------------------------------------------------------ info, rewards, truncation

METRICS = (
    "day", "decision", "infections", "confirmed", "deaths", "doses_given", "doses_offered",
    "doses_unused", "vaccinated_share", "infections_no_vaccine", "infections_averted",
    "infections_averted_pct", "confirmed_no_vaccine", "confirmed_averted",
    "confirmed_averted_pct", "deaths_no_vaccine", "deaths_averted", "deaths_averted_pct",
    "deaths_averted_eventual",
)  # fmt: skip


def test_gym_info_contents() -> None:
    env = VaccineAllocationEnv()
    trajectory = gym_episode(env, seed=1, action_seed=1)
    _, reset_info = trajectory[0]
    assert set(reset_info) == set(METRICS)
    assert reset_info["day"] == 1 and reset_info["decision"] == 0
    assert reset_info["infections_averted"] == 0.0 and reset_info["doses_given"] == 0.0
    given = 0.0
    for t, (_, _, reward, _, _, info) in enumerate(trajectory[1:], start=1):
        assert set(info) == {*METRICS, "step_doses", "step_infections", "agent_rewards"}
        assert info["decision"] == t and info["day"] == t + 1
        rewards = info["agent_rewards"]
        assert rewards.shape == (N,) and rewards.dtype == np.float64 and np.all(rewards <= 0)
        assert reward == pytest.approx(float(rewards.sum()), rel=1e-12, abs=1e-12)
        assert reward == pytest.approx(-info["step_infections"] / 100.0, rel=1e-9, abs=1e-12)
        given += info["step_doses"]
        assert info["doses_given"] == pytest.approx(given, rel=1e-12)
        assert info["doses_offered"] == pytest.approx(2298.0 * t)
        assert info["doses_given"] <= info["doses_offered"] + 1e-6
        assert info["infections_averted"] == pytest.approx(
            info["infections_no_vaccine"] - info["infections"]
        )
    assert trajectory[-1][-1]["infections_averted"] > 0


def test_counterfactual_off_drops_the_averted_metrics() -> None:
    env = VaccineAllocationEnv(counterfactual=False, **SHORT)
    _, info = env.reset(seed=0)
    assert not any("averted" in key or "no_vaccine" in key for key in info)
    assert env.scenario.sim.S.shape == (1, N)


def test_gym_truncates_after_the_62nd_decision_and_never_terminates() -> None:
    env = VaccineAllocationEnv()
    env.reset(seed=0)
    action = np.zeros((N, 1), dtype=np.float32)
    for step in range(1, DECISIONS + 1):
        _, _, terminated, truncated, info = env.step(action)
        assert terminated is False
        assert truncated is (step == DECISIONS)
    assert info["day"] == 63 and env.scenario.sim.hour == 63 * 24
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)
    env.reset(seed=0)
    env.step(action)


@pytest.mark.parametrize("latent", [False, True])
def test_state_and_agent_states(latent: bool) -> None:
    env = VaccineAllocationParallelEnv(observe_latent=latent, **SHORT)
    with pytest.raises(RuntimeError):
        env.state()
    obs, _ = env.reset(seed=0)
    width = len(OBSERVATION_COLUMNS) + 2 * latent
    g = len(STATE_COLUMNS) + 2 * latent
    assert env.state_space.shape == (g,)
    for _ in range(3):
        state = env.state()
        assert state.dtype == np.float32 and env.state_space.contains(state)
        assert all(env.observation_space(a).contains(obs[a]) for a in env.agents)
        per_agent = env.scenario.agent_states()
        assert per_agent.shape == (N, width + g)
        np.testing.assert_array_equal(per_agent[:, width:], np.broadcast_to(state, (N, g)))
        obs, *_ = env.step({a: np.full(1, 0.5, np.float32) for a in env.agents})


def test_observations_stay_in_the_space_over_whole_episodes() -> None:
    for overrides in ({}, {"dynamics": "stochastic", "observe_latent": True, "acceptance": 0.3}):
        env = VaccineAllocationEnv(**overrides)
        trajectory = gym_episode(env, seed=2, action_seed=2)
        assert env.observation_space.contains(trajectory[0][0])
        assert all(env.observation_space.contains(step[1]) for step in trajectory[1:])


# ------------------------------------------------------------------ bad configuration


def test_unknown_preset_and_option_raise() -> None:
    with pytest.raises(ValueError, match="preset"):
        VaccineAllocationEnv("medical-large")
    with pytest.raises(ValueError, match="preset"):
        gymnasium.make(ENV_ID, preset="nope")
    with pytest.raises(ValueError, match="preset"):
        pettingzoo.make("parallel", ENV_ID, preset="nope")
    with pytest.raises(ValueError, match="n_agents"):
        VaccineAllocationEnv(n_agents=10)


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("n_regions", 1, r"\[2, 5000\]"),
        ("n_regions", 2.5, "integer"),
        ("n_regions", True, "integer"),
        ("population", 10, "population"),
        ("budget_fraction", -0.01, r"\[0.0, 1.0\]"),
        ("budget_fraction", float("nan"), "finite"),
        ("efficacy", 1.5, r"\[0.0, 1.0\]"),
        ("acceptance", float("inf"), "finite"),
        ("beta_home", -1.0, "beta_home"),
        ("latent_hours", 0.5, r"\[1.0"),
        ("logit_scale", 0, r"\(0.0"),
        ("reward_scale", 0.0, r"\(0.0"),
        ("reward_mode", "deaths", "infections.*confirmed_sqrt"),
        ("dynamics", "ode", "expected.*stochastic"),
        ("overflow", "drop", "redistribute.*waste"),
        ("n_decisions", 0, r"\[1, "),
        ("warmup_days", -1, r"\[0, "),
        ("trend_end_day", 5.0, "trend_end_day"),
        ("observe_latent", "yes", "bool"),
        ("counterfactual", 1, "bool"),
        ("kernel_top_k", 0, "kernel_top_k"),
        ("city_seed", -1, "city_seed"),
    ],
)
def test_out_of_range_config_raises_naming_the_field(field: str, value, allowed: str) -> None:
    for make in (VaccineAllocationEnv, VaccineAllocationParallelEnv, VaccineConfig):
        with pytest.raises(ValueError, match=field):
            make(**{field: value})
    with pytest.raises(ValueError, match=allowed):
        make_config("medical-small", **{field: value})


def test_preset_and_config_together_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"preset.*config"):
        VaccineAllocationEnv("medical", config=make_config("medical-small"))
    env = VaccineAllocationEnv(config=make_config("medical-small"), reward_mode="confirmed_linear")
    assert env.config == make_config("medical-small", reward_mode="confirmed_linear")
    with pytest.raises(ValueError, match="config"):
        VaccineAllocationEnv(config={"n_regions": 3})
    with pytest.raises(ValueError, match="city"):
        VaccineAllocationEnv(city=42)


def test_bad_render_mode_raises() -> None:
    with pytest.raises(ValueError, match="render_mode"):
        VaccineAllocationEnv(render_mode="human")
    with pytest.raises(ValueError, match="render_mode"):
        VaccineAllocationParallelEnv(render_mode="rgb")


# ------------------------------------------------------------------ bad actions


def _with(value, dtype=np.float64) -> np.ndarray:
    action = np.zeros((N, 1), dtype=dtype)
    action[7, 0] = value
    return action


BAD_ACTIONS = {
    "too few regions": (np.zeros((N - 1, 1), np.float32), "shape"),
    "two columns": (np.zeros((N, 2), np.float32), "shape"),
    "transposed": (np.zeros((1, N), np.float32), "shape"),
    "scalar": (0.0, "shape"),
    "ragged list": ([[0.0]] * (N - 1) + [[0.0, 1.0]], "shape"),
    "nan": (_with(np.nan), "NaN"),
    "inf": (_with(np.inf), "inf"),
    "-inf": (_with(-np.inf), "inf"),
    "above 1": (_with(1.5), "range.*region 7"),
    "below -1": (_with(-1.0001), "range.*region 7"),
    "strings": (np.full((N, 1), "1"), "numeric"),
    "complex": (_with(1j, np.complex128), "numeric"),
    "object": (np.array([[None]] * N), "numeric"),
}


@pytest.mark.parametrize("name", list(BAD_ACTIONS))
def test_bad_action_raises_and_leaves_the_state_unchanged(name: str, rh) -> None:
    bad, problem = BAD_ACTIONS[name]
    env, twin = VaccineAllocationEnv(**SHORT), VaccineAllocationEnv(**SHORT)
    good = np.full((N, 1), 0.5, dtype=np.float32)
    for e in (env, twin):
        e.reset(seed=31)
        e.step(good)
    with pytest.raises(ValueError, match=problem):
        env.step(bad)
    rh.assert_same(env.step(good), twin.step(good))


def test_flat_action_is_accepted_as_one_column(rh) -> None:
    env, twin = VaccineAllocationEnv(**SHORT), VaccineAllocationEnv(**SHORT)
    env.reset(seed=0)
    twin.reset(seed=0)
    action = np.linspace(-1, 1, N, dtype=np.float32)
    rh.assert_same(env.step(action), twin.step(action[:, None]))


@pytest.mark.parametrize("problem", ["missing", "shape", "unknown", "NaN", "range"])
def test_bad_parallel_actions_raise_and_leave_the_state_unchanged(problem: str, rh) -> None:
    env, twin = VaccineAllocationParallelEnv(**SHORT), VaccineAllocationParallelEnv(**SHORT)
    actions = {a: np.full(1, 0.2, np.float32) for a in env.possible_agents}
    for e in (env, twin):
        e.reset(seed=32)
        e.step(actions)
    bad = dict(actions)
    if problem == "missing":
        del bad["region_7"]
        match = "missing.*region_7"
    elif problem == "shape":
        bad["region_3"] = np.zeros(2, np.float32)
        match = "region_3.*shape"
    elif problem == "unknown":
        bad["region_999"] = actions["region_0"]
        match = "unknown.*region_999"
    elif problem == "NaN":
        bad["region_4"] = np.array([np.nan])
        match = "NaN.*region 4"
    else:
        bad["region_4"] = np.array([3.0])
        match = "range.*region 4"
    with pytest.raises(ValueError, match=match):
        env.step(bad)
    np.testing.assert_array_equal(env.state(), twin.state())
    rh.assert_same(env.step(actions), twin.step(actions))


def test_parallel_unknown_agent_spaces_raise() -> None:
    env = VaccineAllocationParallelEnv()
    with pytest.raises(ValueError, match="region_100"):
        env.observation_space("region_100")
    with pytest.raises(ValueError, match="agent"):
        env.action_space("cell_0")
    assert env.action_space("region_1") is env.action_space("region_2")
    assert env.action_space("region_1").shape == (1,)
