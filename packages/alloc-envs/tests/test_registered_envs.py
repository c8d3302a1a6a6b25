"""The generic Gymnasium / PettingZoo contract, checked for every id of
``alloc_envs.registration.ENVIRONMENTS`` on a small, fast configuration of each: the checkers
without warnings, ``gymnasium.make`` (in process and, with the ``alloc_envs:`` prefix, in a fresh
interpreter), async vector envs, pickling mid-episode, multi-episode determinism, the end of an
episode, and agreement of the PettingZoo and Gymnasium views where the Gymnasium view is the
joint action of the PettingZoo agents (not for the Stackelberg ids, whose Gymnasium view is the
leader's and whose PettingZoo agents are the followers). Scenario-specific behaviour
(presets, dynamics, error messages, reference figures) stays in the per-scenario test files."""

from __future__ import annotations

import copy
import importlib
import importlib.util
import pickle
import subprocess
import sys
import textwrap
import warnings
from dataclasses import dataclass
from typing import Any

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test, parallel_seed_test

from alloc_envs.registration import ENVIRONMENT_KWARGS, ENVIRONMENTS


@dataclass(frozen=True)
class Case:
    """A small configuration of one registered id."""

    kwargs: dict[str, Any]
    #: Upper bound on the length of an episode (its exact length when ``fixed_length``).
    max_steps: int
    #: True when an episode never terminates and is truncated after exactly ``max_steps``.
    fixed_length: bool = True
    #: Optional dependency the id needs (the third-party adapters).
    requires: str | None = None
    #: True when the Gymnasium view acts jointly for the PettingZoo agents; False when the two
    #: views are different players (Stackelberg ids: the leader vs the followers).
    joint_views: bool = True


def make_warnings(env_id: str) -> list[str]:
    """The warnings ``gymnasium.make(env_id)`` must give: Gymnasium's notice when a newer
    version of the id is registered (and nothing else)."""
    name, version = env_id.rsplit("-v", 1)
    if f"{name}-v{int(version) + 1}" not in ENVIRONMENTS:
        return []
    return [
        f"DeprecationWarning: \x1b[33mWARN: The environment {env_id} is out of date. You should "
        f"consider upgrading to version `v{int(version) + 1}`.\x1b[0m"
    ]


CASES: dict[str, Case] = {
    "alloc/RideHailing-v0": Case({"preset": "ride-hailing-1", "episode_steps": 12}, 12),
    "alloc/VaccineAllocation-v0": Case(
        {"n_regions": 10, "population": 23_000, "n_decisions": 6, "dynamics": "stochastic"}, 6
    ),
    "alloc/LBF-v0": Case(
        {"preset": "lbf-1", "time_limit": 12}, 12, fixed_length=False, requires="lbforaging"
    ),
    "alloc/RWARE-v0": Case({"preset": "rware-1", "time_limit": 10}, 10, requires="rware"),
    "alloc/EDRP-v0": Case({"preset": "edrp-small", "n_followers": 40}, 8, joint_views=False),
    "alloc/EDRP-v1": Case(
        {"preset": "edrp-small", "n_followers": 40, "reach_hops": 2}, 8, joint_views=False
    ),
    "alloc/MTFG-v0": Case({"preset": "mtfg-small", "n_followers": 40}, 8, joint_views=False),
    "alloc/HiddenTypes-v0": Case({"n_agents": 6, "n_types": 3, "episode_steps": 5}, 5),
}


def test_every_registered_id_has_a_case() -> None:
    assert set(CASES) == set(ENVIRONMENTS)


def _skip_without(module: str | None) -> list[Any]:
    """A skip mark when the optional ``module`` is not installed."""
    if module is None or importlib.util.find_spec(module) is not None:
        return []
    return [pytest.mark.skip(reason="needs alloc-envs[third-party]")]


def _params(joint_views_only: bool = False) -> list[Any]:
    return [
        pytest.param(env_id, id=env_id.split("/")[1], marks=_skip_without(case.requires))
        for env_id, case in CASES.items()
        if case.joint_views or not joint_views_only
    ]


parametrize_ids = pytest.mark.parametrize("env_id", _params())
#: The ids whose Gymnasium view is the joint action of the PettingZoo agents.
parametrize_joint_ids = pytest.mark.parametrize("env_id", _params(joint_views_only=True))


def _load(entry_point: str) -> Any:
    module, name = entry_point.split(":")
    return getattr(importlib.import_module(module), name)


def make_gym(env_id: str) -> Any:
    return _load(ENVIRONMENTS[env_id][0])(
        **ENVIRONMENT_KWARGS.get(env_id, {}), **CASES[env_id].kwargs
    )


def make_parallel(env_id: str) -> Any:
    return _load(ENVIRONMENTS[env_id][1])(
        **ENVIRONMENT_KWARGS.get(env_id, {}), **CASES[env_id].kwargs
    )


def _caught(fn, *args, **kwargs) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args, **kwargs)
    return [f"{w.category.__name__}: {w.message}" for w in caught]


def random_action(
    rng: np.random.Generator, space: gymnasium.Space, obs: dict[str, np.ndarray]
) -> np.ndarray:
    """A random valid joint action of the Gymnasium view: uniform over the action space, and over
    the unmasked actions when the observation has an ``action_mask`` (agent-major, (N, n))."""
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        if "action_mask" in obs:
            mask = np.asarray(obs["action_mask"]) > 0
            return (rng.random(mask.shape) * mask).argmax(axis=-1).astype(space.dtype)
        return (rng.random(space.nvec.shape) * space.nvec).astype(space.dtype)
    assert isinstance(space, gymnasium.spaces.Box), space
    return rng.uniform(space.low, space.high, size=space.shape).astype(space.dtype)


def joint_from_agents(par_obs: dict[str, dict[str, np.ndarray]], agents: list[str]) -> dict:
    return {k: np.stack([par_obs[a][k] for a in agents]) for k in par_obs[agents[0]]}


def gym_episode(env, seed: int | None, action_seed: int, max_steps: int | None = None) -> list:
    """[reset (obs, info), then (action, obs, reward, terminated, truncated, info) ...]."""
    rng = np.random.default_rng(action_seed)
    obs, info = env.reset(seed=seed)
    trajectory = [copy.deepcopy((obs, info))]
    while True:
        action = random_action(rng, env.action_space, obs)
        obs, reward, terminated, truncated, info = env.step(action)
        trajectory.append(copy.deepcopy((action, obs, reward, terminated, truncated, info)))
        if terminated or truncated or (max_steps is not None and len(trajectory) > max_steps):
            return trajectory


def parallel_episode(env, seed: int | None, action_seed: int, max_steps: int | None = None):
    """Like :func:`gym_episode` for the PettingZoo parallel view (a joint action split per agent,
    drawn from the joint action space of the Gymnasium view of the same id)."""
    rng = np.random.default_rng(action_seed)
    obs, infos = env.reset(seed=seed)
    agents = list(env.possible_agents)
    trajectory = [copy.deepcopy((obs, infos))]
    space = _joint_space(env)
    while env.agents:
        joint = random_action(rng, space, joint_from_agents(obs, agents))
        out = env.step({a: joint[i] for i, a in enumerate(agents)})
        trajectory.append(copy.deepcopy((joint, *out)))
        obs = out[0]  # the next action is drawn with the new observation's action_mask
        if max_steps is not None and len(trajectory) > max_steps:
            break
    return trajectory


def _joint_space(par_env) -> gymnasium.Space:
    """The joint action space: agent-major stack of the (identical) per-agent spaces."""
    agents = par_env.possible_agents
    space = par_env.action_space(agents[0])
    if isinstance(space, gymnasium.spaces.Discrete):
        return gymnasium.spaces.MultiDiscrete([int(space.n)] * len(agents))
    if isinstance(space, gymnasium.spaces.MultiDiscrete):
        return gymnasium.spaces.MultiDiscrete(np.stack([space.nvec] * len(agents)))
    low = np.stack([space.low] * len(agents))
    return gymnasium.spaces.Box(low, np.stack([space.high] * len(agents)), dtype=space.dtype)


def assert_same(a: Any, b: Any, path: str = "") -> None:
    """Exact, recursive equality (arrays compared exactly, dtypes included)."""
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), path
        for key in a:
            assert_same(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        assert np.asarray(a).dtype == np.asarray(b).dtype, path
        np.testing.assert_array_equal(a, b, err_msg=path)
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _observations(trajectory: list) -> list:
    return [trajectory[0][0]] + [step[1] for step in trajectory[1:]]


# ------------------------------------------------------------------ checkers


@parametrize_ids
def test_gymnasium_check_env_without_warnings(env_id: str) -> None:
    assert _caught(check_env, make_gym(env_id).unwrapped, skip_render_check=True) == []


@parametrize_ids
def test_pettingzoo_parallel_api_test_without_warnings(env_id: str) -> None:
    num_cycles = 3 * CASES[env_id].max_steps
    assert _caught(parallel_api_test, make_parallel(env_id), num_cycles=num_cycles) == []


@parametrize_ids
def test_pettingzoo_parallel_seed_test(env_id: str) -> None:
    """PettingZoo's seed test: two instances reset with one seed and fed the same sampled actions
    (sampled without the action mask) give identical episodes."""
    parallel_seed_test(lambda: make_parallel(env_id), num_cycles=CASES[env_id].max_steps)


#: Further third-party presets whose spaces differ from the cases above: the two checkers run on
#: them too (ride-hailing's other presets and modes: test_ride_hailing_conformance.py).
OTHER_PRESETS: list[Any] = [
    pytest.param("alloc/RideHailing-v0", {"preset": "ride-hailing-2"}, id="ride-hailing-2"),
    pytest.param(
        "alloc/LBF-v0", {"preset": "lbf-2"}, id="lbf-2", marks=_skip_without("lbforaging")
    ),
    pytest.param(
        "alloc/RWARE-v0",
        {"preset": "rware-2", "time_limit": 40},
        id="rware-2",
        marks=_skip_without("rware"),
    ),
]


@pytest.mark.parametrize(("env_id", "kwargs"), OTHER_PRESETS)
def test_checkers_pass_on_the_other_presets(env_id: str, kwargs: dict[str, Any]) -> None:
    gym_env = _load(ENVIRONMENTS[env_id][0])(**kwargs)
    assert _caught(check_env, gym_env.unwrapped, skip_render_check=True) == []
    par_env = _load(ENVIRONMENTS[env_id][1])(**kwargs)
    assert _caught(parallel_api_test, par_env, num_cycles=100) == []


@parametrize_ids
def test_made_env_passes_the_passive_checker_without_warnings(env_id: str) -> None:
    """``gymnasium.make`` (passive checker, order enforcing wrappers) over two episodes."""
    case = CASES[env_id]

    def run() -> None:
        env = gymnasium.make(env_id, **case.kwargs)
        env.action_space.seed(0)
        obs, _ = env.reset(seed=0)
        assert env.observation_space.contains(obs)
        step = 0
        for _ in range(2 * case.max_steps):
            obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
            step += 1
            assert env.observation_space.contains(obs)
            assert isinstance(reward, float)
            assert isinstance(terminated, bool) and isinstance(truncated, bool)
            assert step <= case.max_steps
            if case.fixed_length:
                assert terminated is False and truncated is (step == case.max_steps)
            if terminated or truncated:
                obs, _ = env.reset()
                step = 0
        env.close()

    assert _caught(run) == make_warnings(env_id)


@parametrize_ids
def test_gymnasium_make_with_module_prefix_in_a_fresh_interpreter(env_id: str, tmp_path) -> None:
    """``alloc_envs:<id>`` works without importing alloc_envs first, warns about nothing (but a
    newer version), and loads no rendering backend (pyglet: headless CI has no display)."""
    cls = ENVIRONMENTS[env_id][0].split(":")[1]
    script = textwrap.dedent(
        f"""
        import sys, warnings
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import gymnasium
            assert "alloc_envs" not in sys.modules
            env = gymnasium.make("alloc_envs:{env_id}", **{CASES[env_id].kwargs!r})
            obs, info = env.reset(seed=0)
            assert env.observation_space.contains(obs)
            obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
            assert env.observation_space.contains(obs)
            env.close()
        assert "pyglet" not in sys.modules, "pyglet imported"
        print(type(env.unwrapped).__name__, terminated, truncated)
        print("WARNINGS", [str(w.message) for w in caught])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = [message.split(": ", 1)[1] for message in make_warnings(env_id)]
    assert result.stdout.splitlines() == [f"{cls} False False", f"WARNINGS {expected}"]


@parametrize_ids
def test_make_vec_async_matches_single_envs_and_autoresets(env_id: str) -> None:
    """Each sub-env of an async vector env is the single env with its seed (same actions, same
    results) until its episode ends; then it autoresets and runs on."""
    case = CASES[env_id]
    envs = gymnasium.make_vec(env_id, num_envs=2, vectorization_mode="async", **case.kwargs)
    singles = [make_gym(env_id) for _ in range(2)]
    try:
        obs, _ = envs.reset(seed=[1, 2])
        single_obs = [s.reset(seed=i + 1)[0] for i, s in enumerate(singles)]
        for i in range(2):
            assert_same({k: v[i] for k, v in obs.items()}, single_obs[i])
        differ = any(not np.array_equal(v[0], v[1]) for v in obs.values())
        rng = np.random.default_rng(0)
        live = [True, True]
        ends = np.zeros(2, dtype=int)
        steps = 2 * case.max_steps + 2
        for _ in range(steps):
            actions = [
                random_action(rng, s.action_space, o)
                for s, o in zip(singles, single_obs, strict=True)
            ]
            obs, rewards, terminated, truncated, _ = envs.step(np.stack(actions))
            assert rewards.shape == terminated.shape == truncated.shape == (2,)
            for i, single in enumerate(singles):
                if not live[i]:
                    continue
                single_obs[i], reward, term, trunc, _ = single.step(actions[i])
                assert_same({k: v[i] for k, v in obs.items()}, single_obs[i])
                assert rewards[i] == reward
                assert (terminated[i], truncated[i]) == (term, trunc)
                live[i] = not (term or trunc)
            differ |= all(live) and any(not np.array_equal(v[0], v[1]) for v in obs.values())
            ends += terminated | truncated
        if case.fixed_length:  # L steps, one autoreset step, L steps
            assert not terminated.any()
            np.testing.assert_array_equal(ends, 2)
        else:
            assert (ends >= 1).all()
        assert differ  # the two seeds give different sub-envs
    finally:
        envs.close()


# ------------------------------------------------------------------ pickling


@parametrize_ids
def test_gym_env_pickles_mid_episode_and_continues_identically(env_id: str) -> None:
    env = make_gym(env_id)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=21)
    for _ in range(CASES[env_id].max_steps // 3):
        obs, *_ = env.step(random_action(rng, env.action_space, obs))
    clone = pickle.loads(pickle.dumps(env))
    assert clone is not env
    while True:
        action = random_action(rng, env.action_space, obs)
        a, b = env.step(action), clone.step(action)
        assert_same(a, b)
        obs = a[0]
        if a[2] or a[3]:
            break
    # the episode generator continues identically too
    assert_same(gym_episode(env, None, 5), gym_episode(clone, None, 5))


@parametrize_ids
def test_parallel_env_pickles_mid_episode_and_continues_identically(env_id: str) -> None:
    env = make_parallel(env_id)
    agents = list(env.possible_agents)
    space = _joint_space(env)
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=22)

    def actions_for(o) -> dict:
        joint = random_action(rng, space, joint_from_agents(o, agents))
        return {a: joint[i] for i, a in enumerate(agents)}

    for _ in range(CASES[env_id].max_steps // 3):
        obs, *_ = env.step(actions_for(obs))
    clone = pickle.loads(pickle.dumps(env))
    np.testing.assert_array_equal(env.state(), clone.state())
    assert clone.agents == env.agents
    while env.agents:
        act = actions_for(obs)
        a, b = env.step(act), clone.step(act)
        assert_same(a, b)
        assert clone.agents == env.agents
        obs = a[0]
    assert_same(parallel_episode(env, None, 5), parallel_episode(clone, None, 5))


# ------------------------------------------------------------------ determinism


@parametrize_ids
def test_gym_same_seed_same_actions_same_episodes(env_id: str) -> None:
    env = make_gym(env_id)
    first = gym_episode(env, seed=3, action_seed=0)
    assert len(first) > 1
    if CASES[env_id].fixed_length:
        assert len(first) == CASES[env_id].max_steps + 1
    assert_same(first, gym_episode(env, seed=3, action_seed=0))
    other = gym_episode(env, seed=11, action_seed=0)
    with pytest.raises(AssertionError):  # different observations somewhere in the episode
        n = min(len(first), len(other))
        assert_same(_observations(first)[:n], _observations(other)[:n])
    gym_episode(env, seed=None, action_seed=7)
    assert_same(first, gym_episode(env, seed=3, action_seed=0))  # after other episodes
    assert_same(first, gym_episode(make_gym(env_id), seed=3, action_seed=0))  # fresh instance


@parametrize_ids
def test_gym_unseeded_resets_continue_the_seeded_generator(env_id: str) -> None:
    """reset(seed) then reset() ... reproduces the whole sequence of episodes."""
    runs = []
    for _ in range(2):
        env = make_gym(env_id)
        episodes = [gym_episode(env, seed=5, action_seed=1)]
        episodes += [gym_episode(env, seed=None, action_seed=2) for _ in range(2)]
        runs.append(episodes)
    assert_same(runs[0], runs[1])
    with pytest.raises(AssertionError):  # a new episode every reset
        n = min(len(runs[0][1]), len(runs[0][2]))
        assert_same(_observations(runs[0][1])[:n], _observations(runs[0][2])[:n])


@parametrize_ids
def test_parallel_same_seed_same_actions_same_episodes(env_id: str) -> None:
    env = make_parallel(env_id)
    first = parallel_episode(env, seed=4, action_seed=0)
    if CASES[env_id].fixed_length:
        assert len(first) == CASES[env_id].max_steps + 1
    other = parallel_episode(env, seed=8, action_seed=1)
    with pytest.raises(AssertionError):  # different observations somewhere in the episode
        n = min(len(first), len(other))
        assert_same(_observations(first)[:n], _observations(other)[:n])
    assert_same(first, parallel_episode(env, seed=4, action_seed=0))
    assert_same(first, parallel_episode(make_parallel(env_id), seed=4, action_seed=0))
    env.reset(seed=4)
    follow = [parallel_episode(env, None, 3) for _ in range(2)]
    twin = make_parallel(env_id)
    twin.reset(seed=4)
    assert_same(follow, [parallel_episode(twin, None, 3) for _ in range(2)])


# ------------------------------------------------------------------ end of episodes


@parametrize_ids
def test_step_before_reset_and_after_the_end_raises(env_id: str) -> None:
    env, par = make_gym(env_id), make_parallel(env_id)
    case = CASES[env_id]
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    action = random_action(rng, env.action_space, obs)
    par_obs, _ = par.reset(seed=0)
    agents = par.possible_agents

    def par_joint(step: int) -> np.ndarray:
        """The step's joint action of the PettingZoo agents (the Gymnasium view's, if joint)."""
        if case.joint_views:
            return trajectory[min(step + 1, len(trajectory) - 1)][0]
        return random_action(rng, _joint_space(par), joint_from_agents(par_obs, agents))

    with pytest.raises(RuntimeError, match="reset"):
        make_gym(env_id).step(action)
    first = action if case.joint_views else random_action(
        rng, _joint_space(par), joint_from_agents(par_obs, agents)
    )  # fmt: skip
    with pytest.raises(RuntimeError, match="reset"):
        make_parallel(env_id).step({a: first[i] for i, a in enumerate(agents)})

    trajectory = gym_episode(env, seed=0, action_seed=0)
    assert trajectory[-1][3] or trajectory[-1][4]
    with pytest.raises(RuntimeError, match="reset"):
        env.step(trajectory[-1][0])
    env.reset(seed=0)
    env.step(trajectory[1][0])  # a new episode can start

    par_obs, _ = par.reset(seed=0)
    step = 0
    while par.agents:
        assert par.agents == par.possible_agents
        joint = par_joint(step)
        par_obs, rewards, terms, truncs, infos = par.step(
            {a: joint[i] for i, a in enumerate(par.possible_agents)}
        )
        step += 1
        assert set(terms) == set(truncs) == set(rewards) == set(infos) == set(par.possible_agents)
        assert len(set(terms.values())) == 1 and len(set(truncs.values())) == 1  # all together
        if case.fixed_length:
            assert not any(terms.values()) and all(truncs.values()) is (step == case.max_steps)
    assert step <= case.max_steps
    with pytest.raises(RuntimeError, match="reset"):
        par.step({a: joint[i] for i, a in enumerate(par.possible_agents)})


# ------------------------------------------------------------------ the two views


@parametrize_joint_ids
def test_parallel_and_gym_views_agree(env_id: str) -> None:
    """Same seed and actions: the same observations, per-agent rewards, infos and ends."""
    gym_env, par_env = make_gym(env_id), make_parallel(env_id)
    agents = par_env.possible_agents
    gym_obs, gym_info = gym_env.reset(seed=17)
    par_obs, par_infos = par_env.reset(seed=17)
    assert_same(gym_obs, joint_from_agents(par_obs, agents))
    for agent in agents:
        assert_same(par_infos[agent], gym_info)
    rng = np.random.default_rng(3)
    done = False
    while not done:
        joint = random_action(rng, gym_env.action_space, gym_obs)
        gym_obs, reward, term, trunc, info = gym_env.step(joint)
        par_obs, rewards, terms, truncs, infos = par_env.step(
            {a: joint[i] for i, a in enumerate(agents)}
        )
        assert_same(gym_obs, joint_from_agents(par_obs, agents))
        assert [rewards[a] for a in agents] == info["agent_rewards"].tolist()
        assert all(isinstance(r, float) for r in rewards.values())
        assert reward == pytest.approx(sum(rewards.values()), rel=1e-12, abs=1e-12)
        assert set(terms.values()) == {term} and set(truncs.values()) == {trunc}
        metrics = {k: v for k, v in info.items() if k != "agent_rewards"}
        for agent in agents:
            assert_same(infos[agent], metrics)
        done = term or trunc
    assert par_env.agents == []
