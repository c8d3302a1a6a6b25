"""API conformance of the ride-hailing environment: Gymnasium / PettingZoo checkers, seeding and
determinism, registration, pickling, info contents, and rejection of bad input.

The generic contract shared by every registered id (checkers, make in a fresh interpreter,
async vector envs, pickling, determinism, end of episode, view agreement) is checked on one
small configuration per id in ``test_registered_envs.py``; here: the variants and specifics.
"""

from __future__ import annotations

import importlib
import pickle
import warnings

import gymnasium
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

import alloc_envs
from alloc_envs.ride_hailing import (
    RideHailingConfig,
    RideHailingEnv,
    RideHailingParallelEnv,
    make_config,
)

ENV_ID = "alloc/RideHailing-v0"
PRESETS = ["ride-hailing-1", "ride-hailing-2"]
MODES = ["dispatch", "reposition"]
#: Orders per episode of the reference simulator's fixed order stream (research note §2.11).
REFERENCE_ORDERS = {"ride-hailing-1": 27_599, "ride-hailing-2": 64_669}
#: (G, observation width) of the presets.
SHAPES = {"ride-hailing-1": (36, 14), "ride-hailing-2": (100, 20)}
#: Warnings that the checkers may emit without pointing at a problem of the environment.
#: (None so far: check_env and parallel_api_test emit nothing on this environment.)
HARMLESS_WARNINGS: tuple[str, ...] = ()


def _real_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    messages = [f"{w.category.__name__}: {w.message}" for w in caught]
    return [m for m in messages if not any(h in m for h in HARMLESS_WARNINGS)]


def _joint_action(env: RideHailingEnv, fill: float | int = 0) -> np.ndarray:
    """A valid joint action: all STAY (dispatch) or all weights ``fill`` (reposition)."""
    cfg = env.config
    if cfg.action_mode == "dispatch":
        return np.full((cfg.n_cells, cfg.max_orders), int(fill), dtype=np.int64)
    return np.full((cfg.n_cells, 7), float(fill), dtype=np.float32)


# ------------------------------------------------------------------ checkers


@pytest.mark.parametrize(
    ("preset", "mode"),
    # ride-hailing-1 dispatch: test_registered_envs.py
    [
        ("ride-hailing-1", "reposition"),
        ("ride-hailing-2", "dispatch"),
        ("ride-hailing-2", "reposition"),
    ],
)
def test_gymnasium_check_env(preset: str, mode: str) -> None:
    env = RideHailingEnv(preset, action_mode=mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env.unwrapped, skip_render_check=True)
    assert _real_warnings(caught) == []


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_made_env_passes_the_passive_checker_without_warnings(mode: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = gymnasium.make(ENV_ID, preset="ride-hailing-1", action_mode=mode)
        env.action_space.seed(0)
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        for _ in range(5):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            assert isinstance(reward, float)
            assert terminated is False and truncated is False
        env.close()
    assert _real_warnings(caught) == []


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_pettingzoo_parallel_api_test(mode: str) -> None:
    """The unmodified PettingZoo checker (it samples from the action spaces: every action is
    valid, so the observation carries no ``action_mask`` for it to pass to ``sample``)."""
    env = RideHailingParallelEnv("ride-hailing-1", action_mode=mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel_api_test(env, num_cycles=200)
    assert _real_warnings(caught) == []


@pytest.mark.parametrize("mode", MODES)
def test_masks_match_the_action_space(mode: str) -> None:
    """Documented layout of the mask: candidate slots 0..K (dispatch), 7 moves (reposition)."""
    env = RideHailingParallelEnv("ride-hailing-1", action_mode=mode)
    obs, _ = env.reset(seed=0)
    k = env.config.max_orders
    for agent in env.agents:
        space = env.action_space(agent)
        assert "action_mask" not in obs[agent]
        mask = obs[agent]["candidate_mask" if mode == "dispatch" else "move_mask"]
        assert mask.dtype == np.int8
        if mode == "dispatch":
            assert space.shape == (k,)
            np.testing.assert_array_equal(space.nvec, k + 1)
            assert mask.shape == (k + 1,)
            assert mask[0] == 1  # STAY is always available
        else:
            assert space.shape == (7,)
            assert mask.shape == (7,)
            assert mask[0] == 1


# ------------------------------------------------------------------ determinism


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_gym_same_seed_same_actions_same_episode(mode: str, rh) -> None:
    env = RideHailingEnv("ride-hailing-1", action_mode=mode)
    first = rh.gym_episode(env, seed=3, action_seed=0)
    assert len(first) == 145
    again = rh.gym_episode(env, seed=3, action_seed=0)
    rh.assert_same(first, again)
    other = rh.gym_episode(env, seed=11, action_seed=0)
    with pytest.raises(AssertionError):
        rh.assert_same(first, other)
    after_others = rh.gym_episode(env, seed=3, action_seed=0)
    rh.assert_same(first, after_others)
    fresh = rh.gym_episode(RideHailingEnv("ride-hailing-1", action_mode=mode), 3, action_seed=0)
    rh.assert_same(first, fresh)


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_gym_unseeded_resets_continue_the_seeded_generator(mode: str, rh) -> None:
    """reset(seed) then reset() ... reproduces the whole sequence of episodes."""
    runs = []
    for _ in range(2):
        env = RideHailingEnv("ride-hailing-1", action_mode=mode)
        episodes = [rh.gym_episode(env, seed=5, action_seed=1, max_steps=30)]
        episodes += [rh.gym_episode(env, seed=None, action_seed=2, max_steps=30) for _ in range(2)]
        runs.append(episodes)
    rh.assert_same(runs[0], runs[1])
    with pytest.raises(AssertionError):  # stochastic demand: episodes differ
        rh.assert_same(runs[0][1][0], runs[0][2][0])


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_parallel_same_seed_same_actions_same_episode(mode: str, rh) -> None:
    env = RideHailingParallelEnv("ride-hailing-1", action_mode=mode)
    first = rh.parallel_episode(env, seed=4, action_seed=0)
    assert len(first) == 145
    rh.parallel_episode(env, seed=8, action_seed=1)
    again = rh.parallel_episode(env, seed=4, action_seed=0)
    rh.assert_same(first, again)
    fresh = rh.parallel_episode(RideHailingParallelEnv("ride-hailing-1", action_mode=mode), 4, 0)
    rh.assert_same(first, fresh)
    env.reset(seed=4)
    follow = [rh.parallel_episode(env, None, 3, max_steps=20) for _ in range(2)]
    env2 = RideHailingParallelEnv("ride-hailing-1", action_mode=mode)
    env2.reset(seed=4)
    rh.assert_same(follow, [rh.parallel_episode(env2, None, 3, max_steps=20) for _ in range(2)])


def test_ride_hailing_2_is_deterministic(rh) -> None:
    env = RideHailingEnv("ride-hailing-2")
    first = rh.gym_episode(env, seed=2, action_seed=0)
    rh.gym_episode(env, seed=9, action_seed=0, max_steps=10)
    rh.assert_same(first, rh.gym_episode(env, seed=2, action_seed=0))
    rh.assert_same(first, rh.gym_episode(RideHailingEnv("ride-hailing-2"), 2, action_seed=0))


def _stream(env) -> tuple[np.ndarray, ...]:
    o = env.scenario.sim.orders
    return o.step, o.origin, o.destination, o.duration, o.price


def test_different_seeds_give_different_order_streams() -> None:
    env = RideHailingEnv("ride-hailing-1")
    streams = []
    for seed in (0, 1, 2):
        env.reset(seed=seed)
        streams.append([a.copy() for a in _stream(env)])
    for i in range(3):
        for j in range(i + 1, 3):
            same = all(
                a.shape == b.shape and np.array_equal(a, b)
                for a, b in zip(streams[i], streams[j], strict=True)
            )
            assert not same
    env.reset(seed=1)
    for a, b in zip(_stream(env), streams[1], strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("preset", PRESETS)
def test_reference_demand_is_the_same_whatever_the_seed(preset: str, rh) -> None:
    env = RideHailingEnv(preset, demand="reference")
    env.reset(seed=0)
    base = [a.copy() for a in _stream(env)]
    assert base[0].shape == (REFERENCE_ORDERS[preset],)
    for seed in (1, 12345, None):
        env.reset(seed=seed)
        for a, b in zip(_stream(env), base, strict=True):
            np.testing.assert_array_equal(a, b)
    fresh = RideHailingParallelEnv(preset, demand="reference")
    fresh.reset(seed=99)
    for a, b in zip(_stream(fresh), base, strict=True):
        np.testing.assert_array_equal(a, b)
    # the whole day's orders are counted by the end of an episode
    trajectory = rh.gym_episode(env, seed=7, action_seed=0)
    assert trajectory[-1][-1]["orders_generated"] == REFERENCE_ORDERS[preset]


@pytest.mark.parametrize("mode", MODES)
def test_reference_demand_trajectories_do_not_depend_on_the_seed(mode: str, rh) -> None:
    env = RideHailingEnv("ride-hailing-1", demand="reference", action_mode=mode)
    first = rh.gym_episode(env, seed=0, action_seed=4, max_steps=40)
    rh.assert_same(first, rh.gym_episode(env, seed=987, action_seed=4, max_steps=40))


def test_faithful_mode_is_deterministic_up_to_the_carried_rho_global(rh) -> None:
    """faithful=True carries rho_global over reset() (research note §2.7, the docstring of
    ``RideHailingSim``): only column 4 of an episode's first observation depends on the past."""
    fresh = rh.gym_episode(RideHailingEnv("ride-hailing-1", faithful=True), 6, action_seed=0)
    env = RideHailingEnv("ride-hailing-1", faithful=True)
    previous = rh.gym_episode(env, seed=13, action_seed=4)
    later = rh.gym_episode(env, seed=6, action_seed=0)
    # everything after the reset is identical
    rh.assert_same(fresh[1:], later[1:])
    rh.assert_same(fresh[0][1], later[0][1])
    obs_fresh, obs_later = fresh[0][0], later[0][0]
    for key in obs_fresh:
        if key != "observation":
            np.testing.assert_array_equal(obs_fresh[key], obs_later[key])
    np.testing.assert_array_equal(
        np.delete(obs_fresh["observation"], 4, axis=1), np.delete(obs_later["observation"], 4, 1)
    )
    # column 4 = |rho - rho_global| with rho_global of the previous episode's last matching
    last_obs = previous[-2][1]["observation"]  # observation the last action was taken on
    rho_global = last_obs[:, 1].sum() / max(1.0, last_obs[:, 2].sum())
    rho = obs_later["observation"][:, 3]
    np.testing.assert_allclose(obs_later["observation"][:, 4], np.abs(rho - rho_global), rtol=1e-6)
    np.testing.assert_allclose(obs_fresh["observation"][:, 4], rho, rtol=1e-6)


# ------------------------------------------------------------------ registration


@pytest.mark.parametrize("preset", PRESETS)
def test_gymnasium_make(preset: str) -> None:
    env = gymnasium.make(ENV_ID, preset=preset)
    assert isinstance(env.unwrapped, RideHailingEnv)
    assert env.unwrapped.config == make_config(preset)
    obs, _ = env.reset(seed=0)
    assert obs["observation"].shape == SHAPES[preset]
    env.close()


@pytest.mark.parametrize("preset", PRESETS)
def test_pettingzoo_make(preset: str) -> None:
    env = pettingzoo.make("parallel", ENV_ID, preset=preset, action_mode="reposition")
    assert isinstance(env, RideHailingParallelEnv)
    assert env.config == make_config(preset, action_mode="reposition")
    g, width = SHAPES[preset]
    assert env.possible_agents == [f"cell_{i}" for i in range(g)]
    obs, infos = env.reset(seed=0)
    assert set(obs) == set(infos) == set(env.possible_agents)
    assert obs["cell_0"]["observation"].shape == (width,)


def test_pettingzoo_make_aec_runs_a_cycle() -> None:
    env = pettingzoo.make("aec", ENV_ID, preset="ride-hailing-1")
    env.reset(seed=0)
    assert env.agent_selection == "cell_0"
    for agent in list(env.agents):
        assert env.agent_selection == agent
        env.step(np.zeros(env.action_space(agent).shape, dtype=np.int64))
    assert env.agents == env.possible_agents


def test_make_vec_sync_autoresets_after_truncation() -> None:
    envs = gymnasium.make_vec(
        ENV_ID, num_envs=2, vectorization_mode="sync", preset="ride-hailing-1"
    )
    try:
        envs.action_space.seed(1)
        envs.reset(seed=0)
        for step in range(1, 147):
            _, rewards, terminated, truncated, info = envs.step(envs.action_space.sample())
            assert not terminated.any()
            assert bool(truncated.all()) is (step == 144)
            if step == 145:  # the autoreset step
                np.testing.assert_array_equal(rewards, 0.0)
                np.testing.assert_array_equal(info["step"], 0)
    finally:
        envs.close()


def test_ansi_render() -> None:
    env = RideHailingEnv("ride-hailing-1", render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert text.startswith("step 0/144")
    assert len(text.splitlines()) == 1 + 6 + 1
    par = RideHailingParallelEnv("ride-hailing-2", render_mode="ansi")
    par.reset(seed=0)
    assert len(par.render().splitlines()) == 1 + 10 + 1
    assert RideHailingEnv("ride-hailing-1").render() is None


def test_importing_twice_does_not_reregister_or_warn() -> None:
    gym_spec = gymnasium.registry[ENV_ID]
    par_spec = pettingzoo.parallel_registry[ENV_ID]
    n_gym, n_par = len(gymnasium.registry), len(pettingzoo.parallel_registry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        importlib.import_module("alloc_envs")
        importlib.reload(alloc_envs)
        alloc_envs.register_environments()
        gymnasium.make("alloc_envs:" + ENV_ID).close()
    assert [str(w.message) for w in caught] == []
    assert gymnasium.registry[ENV_ID] is gym_spec
    assert pettingzoo.parallel_registry[ENV_ID] is par_spec
    assert (len(gymnasium.registry), len(pettingzoo.parallel_registry)) == (n_gym, n_par)
    assert ENV_ID in pettingzoo.aec_registry


# ------------------------------------------------------------------ pickling


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_gym_env_pickles_mid_episode_and_continues_identically(mode: str, rh) -> None:
    env = RideHailingEnv("ride-hailing-1", action_mode=mode)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=21)
    for _ in range(10):
        obs, *_ = env.step(rh.random_joint_action(rng, obs))
    clone = pickle.loads(pickle.dumps(env))
    assert clone is not env
    actions = [rh.random_joint_action(rng, obs)]
    for _ in range(30):
        a, b = env.step(actions[-1]), clone.step(actions[-1])
        rh.assert_same(a, b)
        actions.append(rh.random_joint_action(rng, a[0]))
    # the episode generator continues identically too
    rh.assert_same(rh.gym_episode(env, None, 5, 5), rh.gym_episode(clone, None, 5, 5))


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_parallel_env_pickles_mid_episode_and_continues_identically(mode: str, rh) -> None:
    env = RideHailingParallelEnv("ride-hailing-1", action_mode=mode)
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=22)
    agents = list(env.possible_agents)

    def actions_for(o):
        joint = rh.random_joint_action(rng, rh.joint_from_agents(o, agents))
        return {a: joint[i] for i, a in enumerate(agents)}

    for _ in range(10):
        obs, *_ = env.step(actions_for(obs))
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(env.state(), clone.state())
    assert clone.agents == env.agents
    for _ in range(30):
        act = actions_for(obs)
        a, b = env.step(act), clone.step(act)
        rh.assert_same(a, b)
        obs = a[0]
    rh.assert_same(rh.parallel_episode(env, None, 5, 5), rh.parallel_episode(clone, None, 5, 5))


# ------------------------------------------------------------------ info, rewards, truncation


@pytest.mark.parametrize("mode", MODES)
def test_gym_info_contents(mode: str, rh) -> None:
    env = RideHailingEnv("ride-hailing-1", action_mode=mode)
    trajectory = rh.gym_episode(env, seed=1, action_seed=1)
    _, reset_info = trajectory[0]
    for key in ("gmv", "orr", "orders_generated", "orders_served", "kl_orders_idle"):
        assert key in reset_info
    assert reset_info["gmv"] == 0.0 and reset_info["orders_served"] == 0
    gmv = 0.0
    served = 0
    for _, _, reward, _, _, info in trajectory[1:]:
        for key in (
            "gmv",
            "orr",
            "orders_generated",
            "orders_served",
            "kl_orders_idle",
            "step_gmv",
            "agent_rewards",
        ):
            assert key in info, key
        rewards = info["agent_rewards"]
        assert isinstance(rewards, np.ndarray) and rewards.shape == (36,)
        assert (rewards >= 0).all()
        assert isinstance(reward, float)
        assert reward == pytest.approx(float(rewards.sum()), rel=1e-12, abs=1e-12)
        assert info["step_gmv"] == pytest.approx(reward * env.config.reward_scale, rel=1e-9)
        gmv += info["step_gmv"]
        assert info["gmv"] == pytest.approx(gmv, rel=1e-9)
        assert info["orders_served"] >= served
        served = info["orders_served"]
        assert 0 < info["orders_generated"]
        assert info["orr"] == pytest.approx(served / info["orders_generated"])
        assert np.isfinite(info["kl_orders_idle"]) and info["kl_orders_idle"] >= 0
    assert gmv > 0


@pytest.mark.parametrize("mode", ["reposition"])  # dispatch: test_registered_envs.py
def test_parallel_rewards_equal_gym_agent_rewards(mode: str, rh) -> None:
    gym_env = RideHailingEnv("ride-hailing-1", action_mode=mode)
    par_env = RideHailingParallelEnv("ride-hailing-1", action_mode=mode)
    agents = par_env.possible_agents
    rng = np.random.default_rng(3)
    gym_obs, gym_info = gym_env.reset(seed=17)
    par_obs, par_infos = par_env.reset(seed=17)
    rh.assert_same(gym_obs, rh.joint_from_agents(par_obs, agents))
    for agent in agents:
        assert par_infos[agent] == gym_info
    for _ in range(144):
        joint = rh.random_joint_action(rng, gym_obs)
        gym_obs, reward, _, gym_trunc, info = gym_env.step(joint)
        par_obs, rewards, terms, truncs, infos = par_env.step(
            {a: joint[i] for i, a in enumerate(agents)}
        )
        rh.assert_same(gym_obs, rh.joint_from_agents(par_obs, agents))
        assert [rewards[a] for a in agents] == info["agent_rewards"].tolist()
        assert reward == pytest.approx(sum(rewards.values()), rel=1e-12, abs=1e-12)
        assert all(isinstance(r, float) for r in rewards.values())
        metrics = {k: v for k, v in info.items() if k != "agent_rewards"}
        for agent in agents:
            assert infos[agent] == metrics
        assert set(truncs.values()) == {gym_trunc}
        assert not any(terms.values())


@pytest.mark.parametrize("mode", MODES)
def test_gym_truncates_after_144_steps_and_never_terminates(mode: str) -> None:
    env = RideHailingEnv("ride-hailing-1", action_mode=mode)
    env.reset(seed=0)
    action = _joint_action(env)
    for step in range(1, 145):
        _, _, terminated, truncated, info = env.step(action)
        assert terminated is False
        assert truncated is (step == 144)
        assert info["step"] == step
    with pytest.raises(RuntimeError, match="reset"):
        env.step(action)
    env.reset(seed=0)
    env.step(action)  # a new episode can start


@pytest.mark.parametrize("mode", MODES)
def test_parallel_truncates_after_144_steps(mode: str) -> None:
    env = RideHailingParallelEnv("ride-hailing-1", action_mode=mode)
    env.reset(seed=0)
    shape = env.action_space("cell_0").shape
    dtype = np.int64 if mode == "dispatch" else np.float32
    for step in range(1, 145):
        assert env.agents == env.possible_agents
        actions = {a: np.zeros(shape, dtype=dtype) for a in env.agents}
        _, rewards, terms, truncs, infos = env.step(actions)
        assert set(terms) == set(truncs) == set(rewards) == set(infos) == set(env.possible_agents)
        assert not any(terms.values())
        assert all(truncs.values()) is (step == 144)
    assert env.agents == []
    with pytest.raises(RuntimeError, match="reset"):
        env.step({a: np.zeros(shape, dtype=dtype) for a in env.possible_agents})


@pytest.mark.parametrize("preset", PRESETS)
def test_parallel_state_matches_state_space(preset: str, rh) -> None:
    env = RideHailingParallelEnv(preset)
    with pytest.raises(RuntimeError):
        env.state()
    obs, _ = env.reset(seed=0)
    agents = env.possible_agents
    rng = np.random.default_rng(0)
    for _ in range(3):
        state = env.state()
        assert state.shape == env.state_space.shape
        assert state.dtype == env.state_space.dtype
        assert env.state_space.contains(state)
        joint = rh.joint_from_agents(obs, agents)
        np.testing.assert_array_equal(state, joint["observation"].reshape(-1))
        for agent in agents:
            assert env.observation_space(agent).contains(obs[agent])
        action = rh.random_joint_action(rng, joint)
        obs, *_ = env.step({a: action[i] for i, a in enumerate(agents)})


def test_observations_stay_in_the_observation_space(rh) -> None:
    for mode in MODES:
        env = RideHailingEnv("ride-hailing-1", action_mode=mode, max_orders=4)
        for obs in [rh.gym_episode(env, 0, 0)[0][0]] + [
            s[1] for s in rh.gym_episode(env, 1, 1)[1:]
        ]:
            assert env.observation_space.contains(obs)


# ------------------------------------------------------------------ bad configuration


def test_unknown_preset_raises() -> None:
    with pytest.raises(ValueError, match="preset"):
        RideHailingEnv("ride-hailing-3")
    with pytest.raises(ValueError, match="preset"):
        RideHailingParallelEnv("rh36")
    with pytest.raises(ValueError, match="preset"):
        gymnasium.make(ENV_ID, preset="nope")
    with pytest.raises(ValueError, match="preset"):
        pettingzoo.make("parallel", ENV_ID, preset="nope")


def test_unknown_option_raises() -> None:
    with pytest.raises(ValueError, match="n_drivers"):
        RideHailingEnv("ride-hailing-1", n_drivers=100)
    with pytest.raises(ValueError, match="grid_size"):
        RideHailingParallelEnv(grid_size=3)
    with pytest.raises(ValueError, match="wait_time"):
        make_config("ride-hailing-2", wait_time=1)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("rows", 0),
        ("cols", -3),
        ("rows", 2.5),
        ("rows", True),
        ("drivers_per_cell", -1),
        ("max_trip_steps", 9),  # the default duration/price tables list trips of 1..5 steps
        ("max_trip_steps", 0),
        ("episode_steps", 0),
        ("demand", "x"),
        ("action_mode", "x"),
        ("reward_scale", 0),
        ("reward_scale", -5.0),
        ("reward_scale", float("nan")),
        ("reward_scale", float("inf")),
        ("patience", -1),
        ("max_orders", 0),
        ("demand_seed", -1),
        ("rate_noise", -1),
        ("faithful", "yes"),
        ("price_std", (1.0, 2.0)),
        ("duration_probs", (0.2, 0.2, float("nan"), 0.1, 0.1)),
        ("price_mean", (10.0, -1.0, 1.0, 1.0, 1.0)),
    ],
)
def test_out_of_range_config_raises_naming_the_field(field: str, value) -> None:
    with pytest.raises(ValueError, match=field):
        RideHailingEnv("ride-hailing-1", **{field: value})
    with pytest.raises(ValueError, match=field):
        RideHailingParallelEnv("ride-hailing-2", **{field: value})
    with pytest.raises(ValueError, match=field):
        RideHailingConfig(**{field: value})


@pytest.mark.parametrize(
    ("field", "value", "allowed"),
    [
        ("rows", 0, r"\[1, 4096\]"),
        ("max_trip_steps", 9, r"\[1, 5\]"),
        ("patience", -1, r"\[0, "),
        ("reward_scale", 0, r"\(0"),
        ("demand", "x", "stochastic.*reference"),
        ("action_mode", "x", "dispatch.*reposition"),
    ],
)
def test_config_errors_state_the_allowed_values(field: str, value, allowed: str) -> None:
    with pytest.raises(ValueError, match=allowed):
        make_config("ride-hailing-1", **{field: value})


def test_base_rate_range_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="base_rate_high"):
        make_config("ride-hailing-1", base_rate_low=5, base_rate_high=4)


def test_duration_probs_must_give_mass_to_allowed_trips() -> None:
    with pytest.raises(ValueError, match="duration_probs"):
        make_config("ride-hailing-1", duration_probs=(0.0, 0.0, 0.0, 1.0, 1.0))


def test_bad_render_mode_raises() -> None:
    with pytest.raises(ValueError, match="render_mode"):
        RideHailingEnv(render_mode="human")
    with pytest.raises(ValueError, match="render_mode"):
        RideHailingParallelEnv(render_mode="rgb")


def test_preset_and_config_together_is_an_error() -> None:
    """``build_config``'s docstring: "The config from either ``config`` or ``preset``
    (+ overrides); both at once is an error." Asking for ride-hailing-2 while passing the
    ride-hailing-1 config must not silently give ride-hailing-1."""
    with pytest.raises(ValueError, match=r"preset|config"):
        RideHailingEnv("ride-hailing-2", config=make_config("ride-hailing-1"))


def test_config_argument_with_overrides() -> None:
    cfg = make_config("ride-hailing-1")
    env = RideHailingEnv(config=cfg, action_mode="reposition")
    assert env.config == cfg.replace(action_mode="reposition")
    with pytest.raises(ValueError, match="config"):
        RideHailingEnv(config={"rows": 3})


# ------------------------------------------------------------------ bad actions

G1, K1 = 36, 50


def _dispatch_with(value, dtype=np.float64) -> np.ndarray:
    a = np.zeros((G1, K1), dtype=dtype)
    a[3, 2] = value
    return a


BAD_DISPATCH = {
    "too few picks": (np.zeros((G1, K1 - 1), dtype=np.int64), "shape"),
    "flat": (np.zeros(G1 * K1, dtype=np.int64), "shape"),
    "scalar": (0, "shape"),
    "too few cells": (np.zeros((G1 - 1, K1), dtype=np.int64), "shape"),
    "ragged list": ([[0] * K1] * (G1 - 1) + [[0] * (K1 - 1)], "shape"),
    "nan": (_dispatch_with(np.nan), "NaN"),
    "inf": (_dispatch_with(np.inf), "inf"),
    "-inf": (_dispatch_with(-np.inf), "inf"),
    "-1": (_dispatch_with(-1, np.int64), "range"),
    "K+1": (_dispatch_with(K1 + 1, np.int64), "range"),
    "-1.0": (_dispatch_with(-1.0), "range"),
    "non-integer float": (_dispatch_with(1.5), "integer"),
    "strings": (np.full((G1, K1), "1"), "integer"),
    "complex": (_dispatch_with(1j, np.complex128), "integer"),
}


def _twin_envs(mode: str, **overrides) -> tuple[RideHailingEnv, RideHailingEnv]:
    envs = (
        RideHailingEnv("ride-hailing-1", action_mode=mode, **overrides),
        RideHailingEnv("ride-hailing-1", action_mode=mode, **overrides),
    )
    for env in envs:
        env.reset(seed=31)
    return envs


def _greedy_like(obs) -> np.ndarray:
    """Serve the visible orders in slot order (deterministic valid dispatch action)."""
    mask = obs["candidate_mask"][:, 1:] > 0
    k = mask.shape[1]
    return np.where(np.arange(k) < mask.sum(axis=1, keepdims=True), np.arange(1, k + 1), 0)


@pytest.mark.parametrize("name", list(BAD_DISPATCH))
def test_bad_dispatch_action_raises_and_leaves_the_state_unchanged(name: str, rh) -> None:
    bad, problem = BAD_DISPATCH[name]
    env, twin = _twin_envs("dispatch")
    # one valid step first, so that the state is not the reset state
    obs, *_ = env.step(_greedy_like(env.scenario.observe()))
    twin.step(_greedy_like(twin.scenario.observe()))
    with pytest.raises(ValueError, match=problem):
        env.step(bad)
    action = _greedy_like(obs)
    rh.assert_same(env.step(action), twin.step(action))


def _reposition_with(value) -> np.ndarray:
    a = np.full((G1, 7), 0.5, dtype=np.float64)
    a[5, 1] = value
    return a


BAD_REPOSITION = {
    "wrong shape": (np.zeros((G1, 6), dtype=np.float32), "shape"),
    "transposed": (np.zeros((7, G1), dtype=np.float32), "shape"),
    "negative": (_reposition_with(-0.1), "range"),
    "above one": (_reposition_with(1.5), "range"),
    "nan": (_reposition_with(np.nan), "NaN"),
    "inf": (_reposition_with(np.inf), "inf"),
    "strings": (np.full((G1, 7), "a"), "numeric"),
}


@pytest.mark.parametrize("name", list(BAD_REPOSITION))
def test_bad_reposition_action_raises_and_leaves_the_state_unchanged(name: str, rh) -> None:
    bad, problem = BAD_REPOSITION[name]
    env, twin = _twin_envs("reposition")
    good = np.full((G1, 7), 0.25, dtype=np.float32)
    env.step(good)
    twin.step(good)
    with pytest.raises(ValueError, match=problem):
        env.step(bad)
    rh.assert_same(env.step(good), twin.step(good))


def _par_twins(mode: str) -> tuple[RideHailingParallelEnv, RideHailingParallelEnv]:
    envs = (
        RideHailingParallelEnv("ride-hailing-1", action_mode=mode),
        RideHailingParallelEnv("ride-hailing-1", action_mode=mode),
    )
    for env in envs:
        env.reset(seed=32)
    return envs


def _par_actions(env: RideHailingParallelEnv) -> dict[str, np.ndarray]:
    shape = env.action_space("cell_0").shape
    if env.config.action_mode == "dispatch":
        return {a: np.arange(1, shape[0] + 1) for a in env.agents}
    return {a: np.full(shape, 0.3, dtype=np.float32) for a in env.agents}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("problem", ["missing", "shape", "unknown", "NaN", "range", "no actions"])
def test_bad_parallel_actions_raise_and_leave_the_state_unchanged(
    mode: str, problem: str, rh
) -> None:
    env, twin = _par_twins(mode)
    actions = _par_actions(env)
    rh.assert_same(env.step(actions), twin.step(actions))
    bad = dict(actions)
    if problem == "missing":
        del bad["cell_7"]
        match = "missing.*cell_7"
    elif problem == "no actions":
        bad = {}
        match = "missing"
    elif problem == "shape":
        bad["cell_3"] = np.asarray(actions["cell_3"])[:-1]
        match = "cell_3.*shape"
    elif problem == "unknown":
        bad["cell_999"] = actions["cell_0"]
        match = "unknown.*cell_999"
    elif problem == "NaN":
        a = np.asarray(actions["cell_4"], dtype=np.float64).copy()
        a[0] = np.nan
        bad["cell_4"] = a
        match = "NaN"
    else:
        a = np.asarray(actions["cell_4"]).copy()
        a[1] = 7 if mode == "reposition" else 51
        bad["cell_4"] = a
        match = "range"
    with pytest.raises(ValueError, match=match):
        env.step(bad)
    np.testing.assert_array_equal(env.state(), twin.state())
    assert env.agents == twin.agents
    rh.assert_same(env.step(actions), twin.step(actions))


def test_parallel_unknown_agent_spaces_raise() -> None:
    env = RideHailingParallelEnv("ride-hailing-1")
    with pytest.raises(ValueError, match="cell_36"):
        env.observation_space("cell_36")
    with pytest.raises(ValueError, match="agent"):
        env.action_space("driver_0")
    assert env.observation_space("cell_1") is env.observation_space("cell_1")
    assert env.action_space("cell_1") is env.action_space("cell_1")


@pytest.mark.parametrize("mode", MODES)
def test_time_key_is_the_step_index_in_both_views(mode: str) -> None:
    env = RideHailingEnv("ride-hailing-1", action_mode=mode, episode_steps=5)
    par = RideHailingParallelEnv("ride-hailing-1", action_mode=mode, episode_steps=5)
    obs, _ = env.reset(seed=0)
    par_obs, _ = par.reset(seed=0)
    for t in range(1, 6):
        assert obs["time"].shape == (36, 1)
        np.testing.assert_array_equal(obs["time"], t - 1)
        np.testing.assert_array_equal(par_obs["cell_7"]["time"], [t - 1])
        action = env.action_space.sample()
        obs, *_ = env.step(action)
        par_obs, *_ = par.step({a: action[i] for i, a in enumerate(par.possible_agents)})
    np.testing.assert_array_equal(obs["time"], 5)
    assert env.observation_space.contains(obs)


@pytest.mark.parametrize("preset", PRESETS)
def test_agent_neighbours_are_the_adjacent_hex_cells(preset: str) -> None:
    env = RideHailingParallelEnv(preset=preset)
    neighbours = env.agent_neighbours()
    grid = env.scenario.grid
    index = {a: i for i, a in enumerate(env.possible_agents)}
    assert set(neighbours) == set(env.possible_agents)
    for agent, others in neighbours.items():
        cells = [index[o] for o in others]
        assert 2 <= len(cells) <= 6 and len(set(cells)) == len(cells)
        assert agent not in others
        # exactly the cells at hex distance 1, clockwise from north as in the grid
        assert cells == [int(j) for j in grid.neighbors[index[agent]] if j >= 0]
        assert set(cells) == set(np.flatnonzero(grid.distances[index[agent]] == 1).tolist())
        for other in others:  # symmetric
            assert agent in neighbours[other]
    # reachable through PettingZoo's wrappers
    made = pettingzoo.make("parallel", ENV_ID, preset=preset)
    assert made.unwrapped.agent_neighbours() == neighbours
