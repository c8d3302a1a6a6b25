"""The views of EDRP and MTFG beyond the generic contract (test_registered_envs.py): the
leader view in both fidelities, its step protocol, bad actions, pluggable responders, the
follower view's leader option and masks, the equilibrium effect of hand-made incentive rules,
configs and presets."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from alloc_envs.edrp import EDRPConfig, EDRPLeaderEnv, EDRPParallelEnv, oversupply_charge
from alloc_envs.edrp import make_game as edrp_game
from alloc_envs.mtfg import MTFGConfig, MTFGLeaderEnv, MTFGParallelEnv, value_gap_bonus
from alloc_envs.mtfg import make_game as mtfg_game
from alloc_envs.stackelberg import (
    FollowerResponse,
    no_incentive,
    solve_equilibrium,
    uniform_policy,
)

LEADER_ENVS = {"edrp": (EDRPLeaderEnv, "edrp-small"), "mtfg": (MTFGLeaderEnv, "mtfg-small")}


def make_leader(name: str, **kwargs):
    cls, preset = LEADER_ENVS[name]
    return cls(preset=preset, **kwargs)


def episode(env, seed: int | None, actions) -> list:
    obs, info = env.reset(seed=seed)
    out = [(obs, info)]
    done = False
    while not done:
        obs, reward, term, trunc, info = env.step(actions(obs))
        out.append((obs, reward, term, trunc, info))
        done = term or trunc
    return out


@pytest.mark.parametrize("name", sorted(LEADER_ENVS))
def test_mean_field_leader_view_passes_check_env_and_is_deterministic(name: str) -> None:
    env = make_leader(name)
    assert env.fidelity == "mean-field"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(env, skip_render_check=True)
    assert [str(w.message) for w in caught] == []
    constant = np.full(env.action_space.shape, 0.2, dtype=np.float32)
    first = episode(env, 0, lambda obs: constant)
    second = episode(make_leader(name), 5, lambda obs: constant)  # no randomness in the MF
    assert len(first) == env.game.horizon + 1
    for a, b in zip(first, second, strict=True):
        for key in a[0]:
            np.testing.assert_array_equal(a[0][key], b[0][key])
    obs = first[-1][0]
    assert obs["time"][0] == env.game.horizon
    assert obs["distribution"].sum() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("name", sorted(LEADER_ENVS))
def test_n_agent_leader_view_is_seeded(name: str) -> None:
    env = make_leader(name, n_followers=200)
    assert env.fidelity == "n-agent"
    env.action_space.seed(0)
    actions = [env.action_space.sample() for _ in range(env.game.horizon)]

    def run(e, seed: int) -> list:
        return episode(e, seed, lambda obs: actions[int(obs["time"][0])])

    first, again = run(env, 3), run(make_leader(name, n_followers=200), 3)
    other = run(env, 4)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a[0]["distribution"], b[0]["distribution"])
    assert any(
        not np.array_equal(a[0]["distribution"], b[0]["distribution"])
        for a, b in zip(first, other, strict=True)
    )
    counts = first[-1][0]["distribution"] * 200
    np.testing.assert_allclose(counts, np.round(counts), atol=1e-4)  # whole followers


@pytest.mark.parametrize("name", sorted(LEADER_ENVS))
def test_a_constant_incentive_is_answered_with_the_equilibrium_against_it(name: str) -> None:
    """Receding-horizon responses under a held incentive reproduce the equilibrium flow."""
    env = make_leader(name)
    u = (env.game.incentive_low + env.game.incentive_high) / 2
    trajectory = episode(env, 0, lambda obs: u.astype(np.float32))
    eq = solve_equilibrium(
        env.game, u.astype(np.float32).astype(float), temperature=env.config.follower_temperature,
        tolerance=env.config.solver_tolerance,
    )  # fmt: skip
    for t, step in enumerate(trajectory[1:], start=1):
        np.testing.assert_allclose(step[0]["distribution"], eq.flow.distributions[t], atol=2e-3)
    metric = "orr" if name == "edrp" else "cr"
    assert trajectory[-1][-1][metric] == pytest.approx(eq.flow.metrics[metric], abs=2e-3)
    assert sum(step[1] for step in trajectory[1:]) == pytest.approx(eq.flow.leader_return, abs=1e-2)
    assert all(step[-1]["follower_exploitability"] <= env.config.solver_tolerance
               for step in trajectory[1:])  # fmt: skip


@pytest.mark.parametrize("name", sorted(LEADER_ENVS))
def test_info_metrics_are_ratios_in_the_unit_interval(name: str) -> None:
    env = make_leader(name, n_followers=100)
    env.action_space.seed(1)
    for step in episode(env, 1, lambda obs: env.action_space.sample())[1:]:
        info = step[-1]
        assert 0.0 <= info["orr" if name == "edrp" else "cr"] <= 1.0
        if name == "edrp":
            assert 0.0 <= info["step_served"] <= info["step_orders"]
        else:
            assert ((info["cr_per_type"] >= 0) & (info["cr_per_type"] <= 1)).all()
            assert (info["step_collected"] >= 0).all() and (info["step_supplied"] >= 0).all()
        assert np.isfinite(info["follower_reward"])


@pytest.mark.parametrize(
    ("action", "message"),
    [
        (np.full(3, 0.1, dtype=np.float32), r"action must have shape \(8,\)"),
        (np.full(8, np.nan, dtype=np.float32), "finite"),
        (np.full(8, 0.8, dtype=np.float32), r"action\[0\] = .* outside its range"),
        (np.full(8, -0.01), "outside its range"),
        (["x"] * 8, "numeric"),
    ],
)
def test_bad_leader_actions_raise_and_change_nothing(action, message: str) -> None:
    env, fresh = make_leader("edrp"), make_leader("edrp")
    env.reset(seed=0)
    fresh.reset(seed=0)
    with pytest.raises(ValueError, match=message):
        env.step(action)
    good = np.full(8, 0.75, dtype=np.float32)  # the upper bound itself is valid
    a, b = env.step(good), fresh.step(good)
    np.testing.assert_array_equal(a[0]["distribution"], b[0]["distribution"])
    assert a[1] == b[1]


def test_float32_bounds_are_accepted_when_the_box_is_not_representable() -> None:
    env = EDRPLeaderEnv(preset="edrp-small", charge_high=0.3)
    env.reset(seed=0)
    high = env.action_space.high  # float32(0.3) > 0.3
    assert float(high[0]) > 0.3
    env.step(high)


def test_step_before_reset_raises_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="reset"):
        make_leader("mtfg").step(np.zeros(2, dtype=np.float32))


class UniformResponder:
    """A responder that ignores the leader: followers pick valid actions uniformly."""

    calls = 0

    def respond(self, game, leader, *, start, distribution, exogenous, rng, warm_start=None):
        UniformResponder.calls += 1
        return FollowerResponse(uniform_policy(game, game.horizon - start))


class BrokenResponder:
    def respond(self, game, leader, *, start, distribution, exogenous, rng, warm_start=None):
        return FollowerResponse(np.zeros((game.horizon - start, game.n_states, game.n_actions)))


def test_responders_plug_in_and_are_checked() -> None:
    env = make_leader("mtfg", responder=UniformResponder())
    trajectory = episode(env, 0, lambda obs: np.zeros(2, dtype=np.float32))
    assert UniformResponder.calls == env.game.horizon
    assert "follower_exploitability" not in trajectory[-1][-1]
    exact = episode(make_leader("mtfg"), 0, lambda obs: np.zeros(2, dtype=np.float32))
    assert trajectory[-1][-1]["cr"] != exact[-1][-1]["cr"]
    broken = make_leader("mtfg", responder=BrokenResponder())
    broken.reset(seed=0)
    with pytest.raises(ValueError, match="responder policy"):
        broken.step(np.zeros(2, dtype=np.float32))


def test_gymnasium_make_builds_both_fidelities_with_the_default_presets() -> None:
    import alloc_envs  # noqa: F401  (registers the ids)

    env = gymnasium.make("alloc/EDRP-v1")
    assert env.unwrapped.game.n_zones == 63 and env.unwrapped.game.reach_hops == 4
    assert env.observation_space["distribution"].shape == (63 * 3,)
    assert env.action_space.shape == (63,)
    with pytest.warns(DeprecationWarning, match="EDRP-v0 is out of date"):
        old = gymnasium.make("alloc/EDRP-v0")  # the first EDRP, kept for its results
    assert old.unwrapped.game.reach_hops == 1 and old.unwrapped.config.premium_peak == 1.0
    assert float(old.action_space.high.max()) == 0.5
    env = gymnasium.make("alloc/MTFG-v0", n_followers=1000)
    assert env.unwrapped.fidelity == "n-agent"
    assert env.observation_space["distribution"].shape == (100,)
    assert env.action_space.shape == (2,)


def test_render_ansi_describes_the_step() -> None:
    env = make_leader("mtfg", render_mode="ansi")
    env.reset(seed=0)
    env.step(np.zeros(2, dtype=np.float32))
    text = env.render()
    assert text.startswith("t 1/8 (mean-field)") and "cr " in text and "most followers" in text


# ------------------------------------------------------------------ the follower view


def test_follower_view_observations_masks_and_leader_option() -> None:
    par = MTFGParallelEnv(preset="mtfg-small", n_followers=6, leader="value-gap")
    obs, infos = par.reset(seed=0)
    game = par.scenario.game
    bonus = value_gap_bonus(game)
    for i, agent in enumerate(par.agents):
        own = obs[agent]["observation"][: game.n_states]
        state = par.scenario.population.states[i]
        assert own[state] == 1.0 and own.sum() == 1.0
        np.testing.assert_array_equal(obs[agent]["action_mask"], game.action_mask[state])
        np.testing.assert_allclose(obs[agent]["observation"][-2:], bonus)
    _, rewards, _, _, infos = par.step({a: 0 for a in par.agents})  # staying is always valid
    assert all(isinstance(r, float) for r in rewards.values())
    assert set(infos["follower_0"]) >= {"cr", "cr_per_type", "leader_reward", "time"}
    assert infos["follower_0"]["masked_actions"] == 0
    assert par.state().shape == par.state_space.shape
    const = EDRPParallelEnv(preset="edrp-small", n_followers=4, leader=np.full(8, 0.25))
    const.reset(seed=1)
    np.testing.assert_allclose(const.scenario.incentive, 0.25)
    with pytest.raises(ValueError, match="leader must be one of"):
        EDRPParallelEnv(preset="edrp-small", leader="surge")
    with pytest.raises(ValueError, match="n_followers"):
        EDRPParallelEnv(preset="edrp-small", n_followers=20_000)
    with pytest.raises(ValueError, match=r"n_followers must be an integer .* got '32'"):
        MTFGParallelEnv(preset="mtfg-small", n_followers="32")


@pytest.mark.parametrize("make", [EDRPParallelEnv, MTFGParallelEnv], ids=["edrp", "mtfg"])
def test_a_masked_action_is_played_as_staying_and_counted(make) -> None:
    """The PettingZoo follower view plays a masked action as the state's first valid one (stay)
    and reports how many there were; the episode goes on exactly as if they had stayed."""
    preset = "edrp-small" if make is EDRPParallelEnv else "mtfg-small"
    masked_env, stay_env = make(preset=preset, n_followers=30), make(preset=preset, n_followers=30)
    obs, _ = masked_env.reset(seed=3)
    stay_env.reset(seed=3)
    actions, stays, n_masked = {}, {}, 0
    for agent in masked_env.agents:
        blocked = np.flatnonzero(obs[agent]["action_mask"] == 0)
        actions[agent] = int(blocked[0]) if blocked.size else 0
        stays[agent] = 0
        n_masked += int(blocked.size > 0)
    assert n_masked > 0  # the test exercises masked actions
    got = masked_env.step(actions)
    want = stay_env.step(stays)
    assert got[1] == want[1]  # rewards
    for agent in masked_env.agents:
        np.testing.assert_array_equal(got[0][agent]["observation"], want[0][agent]["observation"])
    assert got[4]["follower_0"]["masked_actions"] == n_masked
    assert want[4]["follower_0"]["masked_actions"] == 0
    with pytest.raises(ValueError, match="not in"):
        masked_env.step({a: 99 for a in masked_env.agents})  # out of range is still an error
    rule = EDRPParallelEnv(preset="edrp-small", n_followers=50, leader="oversupply")
    rule.reset(seed=2)
    high = rule.scenario.game.incentive_high
    assert (rule.scenario.incentive >= 0).all() and (rule.scenario.incentive <= high).all()


# ------------------------------------------------------------------ the leader moves followers


def test_hand_made_rules_move_the_equilibrium_population() -> None:
    """At equilibrium, EDRP's oversupply charge raises the ORR and MTFG's value-gap bonus
    raises the collection of the type followers undervalue (and the leader's return)."""
    edrp = edrp_game("edrp-small", version=0)  # v1's Midtown premium needs other charges
    tau, tol = edrp.config.follower_temperature, edrp.config.solver_tolerance
    none = solve_equilibrium(edrp, no_incentive(edrp), temperature=tau, tolerance=tol)
    rule = solve_equilibrium(edrp, oversupply_charge(edrp), temperature=tau, tolerance=tol)
    assert rule.flow.metrics["orr"] > none.flow.metrics["orr"] + 5e-3
    moved = np.abs(rule.flow.distributions - none.flow.distributions).sum(axis=1).max()
    assert moved > 0.02
    mtfg = mtfg_game("mtfg-small")
    tau, tol = mtfg.config.follower_temperature, mtfg.config.solver_tolerance
    none = solve_equilibrium(mtfg, no_incentive(mtfg), temperature=tau, tolerance=tol)
    rule = solve_equilibrium(mtfg, value_gap_bonus(mtfg), temperature=tau, tolerance=tol)
    assert rule.flow.metrics["cr_per_type"][1] > none.flow.metrics["cr_per_type"][1] + 0.05
    assert rule.flow.metrics["cr"] > none.flow.metrics["cr"]
    assert rule.flow.leader_return > none.flow.leader_return


# ------------------------------------------------------------------ configs and presets


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (EDRPConfig, {"rows": 0}, "rows"),
        (EDRPConfig, {"charge_high": 2.0}, "charge_high"),
        (EDRPConfig, {"charge_low": 0.4, "charge_high": 0.3}, "charge_high"),
        (EDRPConfig, {"demand_per_driver": 0.0}, "demand_per_driver"),
        (EDRPConfig, {"follower_temperature": 0.0}, "follower_temperature"),
        (MTFGConfig, {"n_types": 5}, "n_types"),
        (MTFGConfig, {"cluster_size": 6}, "cluster_size"),
        (MTFGConfig, {"initial_stock": 0.9}, "initial_stock"),
        (MTFGConfig, {"follower_values": (1.0,)}, "follower_values"),
        (MTFGConfig, {"leader_values": (1.0, -1.0)}, r"leader_values\[1\]"),
    ],
)
def test_bad_configs_raise_value_errors_naming_the_field(cls, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_presets_overrides_and_unknown_options() -> None:
    game = edrp_game("edrp")
    assert game.n_zones == 63 and game.horizon == 36 and game.busy_levels == 3
    assert game.reach_hops == 4 and game.n_actions == 25  # stay, or one of 24 zones in reach
    assert edrp_game("edrp", version=0).n_actions == 7  # stay, or one of 6 neighbours
    three = mtfg_game("mtfg", n_types=3, follower_values=(1, 0.5, 0.2), leader_values=(0, 0, 1))
    assert three.n_incentives == 3 and three.n_sites == 12
    with pytest.raises(ValueError, match="unknown edrp option"):
        EDRPLeaderEnv(preset="edrp-small", zones=5)
    with pytest.raises(ValueError, match="preset"):
        MTFGLeaderEnv(preset="mtfg-large")
    with pytest.raises(ValueError, match="not both"):
        MTFGLeaderEnv(preset="mtfg", config=MTFGConfig())
