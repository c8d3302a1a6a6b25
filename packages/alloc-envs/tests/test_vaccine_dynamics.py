"""Dynamics of the vaccine scenario: conservation laws and dose limits (hypothesis), the dose
allocation rule, the side-by-side counterfactual, the delay pipelines against an hourly oracle,
vaccination effects, rewards, observation columns, the synthetic city and its calibration."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alloc_envs.vaccine import (
    OBSERVATION_COLUMNS,
    VaccineAllocationEnv,
    allocate,
    infected_share,
    log_weights,
    make_config,
    synthetic_city,
)
from alloc_envs.vaccine.city import contact_kernel
from alloc_envs.vaccine.config import HOURS_PER_DAY
from alloc_envs.vaccine.schedule import contact_multiplier, trend
from alloc_envs.vaccine.sim import NO_VACCINE, POLICY, EpidemicSim

COL = {name: i for i, name in enumerate(OBSERVATION_COLUMNS)}
N = 100


def _random_action(rng: np.random.Generator, n: int) -> np.ndarray:
    action = rng.uniform(-1.0, 1.0, size=(n, 1))
    action[rng.random((n, 1)) < 0.25] = -1.0
    return action


# ------------------------------------------------------------------ allocation rule


@st.composite
def allocation_inputs(draw):
    n = draw(st.integers(1, 12))
    logits = np.array(draw(st.lists(st.floats(-1.0, 1.0), min_size=n, max_size=n)))
    off = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    logits[off] = -1.0
    amounts = st.one_of(st.just(0.0), st.floats(1e-6, 1e4))  # no subnormal doses
    capacity = np.array(draw(st.lists(amounts, min_size=n, max_size=n)))
    budget = draw(st.one_of(st.just(0.0), st.floats(1e-6, 5e4)))
    scale = draw(st.sampled_from([1.0, 10.0, 50.0]))
    return logits, capacity, budget, scale


@settings(max_examples=200, deadline=None)
@given(allocation_inputs(), st.sampled_from(["redistribute", "waste"]))
def test_allocation_respects_budget_capacity_and_switches(inputs, overflow: str) -> None:
    logits, capacity, budget, scale = inputs
    logw = log_weights(logits, scale)
    doses = allocate(logw, budget, capacity, overflow)
    assert np.all(doses >= 0)
    assert np.all(doses <= capacity)
    assert doses.sum() <= budget
    assert np.all(doses[logits == -1.0] == 0)
    on = (logits > -1.0) & (capacity > 0)
    weights = np.exp(logw[on])
    if overflow == "waste":
        if (logits > -1.0).any():
            shares = np.exp(logw - logw[logits > -1.0].max())
            shares[logits == -1.0] = 0
            expected = np.minimum(capacity, budget * shares / shares.sum())
            np.testing.assert_allclose(
                doses, expected * min(1.0, budget / max(expected.sum(), 1e-300)), rtol=1e-9
            )
        return
    target = min(budget, capacity[on].sum())
    assert doses.sum() == pytest.approx(target, rel=1e-9, abs=1e-9)
    # proportional to the weights among the regions that are not full
    free = doses[on] < capacity[on] * (1 - 1e-9)
    if free.sum() >= 2:
        ratio = doses[on][free] / weights[free]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-7)
        # and a full region would have taken at least as much per weight
        full = ~free & (capacity[on] > 0)
        assert np.all(capacity[on][full] / weights[full] <= ratio[0] * (1 + 1e-7))


def test_allocation_examples() -> None:
    capacity = np.array([10.0, 100.0, 100.0])
    even = log_weights(np.zeros(3), 10.0)
    np.testing.assert_allclose(allocate(even, 90.0, capacity), [10.0, 40.0, 40.0])
    np.testing.assert_allclose(allocate(even, 90.0, capacity, "waste"), [10.0, 30.0, 30.0])
    np.testing.assert_allclose(allocate(even, 1e6, capacity), capacity)  # all full
    # softmax when nothing saturates: weights e^0 and e^-10 (a = 1 and a = 0)
    logw = log_weights(np.array([1.0, 0.0, -1.0]), 10.0)
    big = np.full(3, 1e9)
    np.testing.assert_allclose(
        allocate(logw, 100.0, big), 100.0 * np.array([1.0, np.exp(-10.0), 0.0]) / (1 + np.exp(-10))
    )
    # everyone off: no doses (the ``none`` baseline); off regions never receive overflow
    np.testing.assert_array_equal(allocate(log_weights(-np.ones(3), 10.0), 50.0, big), 0.0)
    only = log_weights(np.array([1.0, -1.0, -1.0]), 10.0)
    np.testing.assert_allclose(allocate(only, 50.0, capacity), [10.0, 0.0, 0.0])


# ------------------------------------------------------------------ invariants over episodes


@st.composite
def episode_settings(draw):
    return {
        "n_regions": draw(st.integers(2, 12)),
        "population": draw(st.integers(20_000, 60_000)),
        "city_seed": draw(st.integers(0, 3)),
        "dynamics": draw(st.sampled_from(["expected", "stochastic"])),
        "acceptance": draw(st.sampled_from([1.0, 0.7, 0.05])),
        "efficacy": draw(st.sampled_from([1.0, 0.6])),
        "budget_fraction": draw(st.sampled_from([0.01, 0.2, 1.0])),
        "overflow": draw(st.sampled_from(["redistribute", "waste"])),
        "initial_exposed": draw(st.sampled_from([2e-4, 0.01])),
        "contact_scale": draw(st.sampled_from([1.0, 30.0])),
        "n_decisions": 8,
    }


@settings(max_examples=40, deadline=None)
@given(episode_settings(), st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_conservation_and_dose_limits(overrides: dict, seed: int, action_seed: int) -> None:
    env = VaccineAllocationEnv(**overrides)
    sim = env.scenario.sim
    rng = np.random.default_rng(action_seed)
    env.reset(seed=seed)
    n = sim.n_regions
    max_doses = overrides["acceptance"] * sim.population
    previous = {k: getattr(sim, k).copy() for k in ("infections", "confirmed", "deaths", "R")}
    given_total = 0.0
    while True:
        capacity_before = sim.capacity()
        _, _, _, truncated, info = env.step(_random_action(rng, n))
        # population conserved per region and trajectory; compartments non-negative
        total = sim.S + sim.E + sim.I + sim.R
        np.testing.assert_allclose(total, np.broadcast_to(sim.population, total.shape), rtol=1e-12)
        for name in ("S", "E", "I", "R", "pending_confirmed", "pending_deaths"):
            assert np.all(getattr(sim, name) >= 0), name
        if overrides["dynamics"] == "stochastic":
            for name in ("S", "E", "I", "R", "confirmed", "deaths"):
                array = getattr(sim, name)
                assert np.array_equal(array, np.round(array)), name
        # doses: at most the budget, at most the remaining capacity, never beyond acceptance x N
        assert info["step_doses"] <= sim.budget
        step_doses = sim.vaccinated[POLICY] - (max_doses - capacity_before)
        assert np.all(step_doses <= capacity_before + 1e-9 * sim.population)
        assert np.all(sim.vaccinated[POLICY] <= max_doses)
        assert np.all(sim.vaccinated >= 0)
        given_total += info["step_doses"]
        assert sim.vaccinated[POLICY].sum() == pytest.approx(given_total, rel=1e-9, abs=1e-6)
        assert np.all(sim.vaccinated[NO_VACCINE] == 0)
        # cumulative counts never decrease; deaths and confirmations come from infections
        for name, before in previous.items():
            assert np.all(getattr(sim, name) >= before - 1e-9), name
            previous[name] = getattr(sim, name).copy()
        ever = sim.population - sim.S
        assert np.all(sim.confirmed + sim.pending_confirmed <= ever + 1e-6)
        assert np.all(sim.deaths + sim.pending_deaths <= ever + 1e-6)
        if truncated:
            break


# ------------------------------------------------------------------ counterfactual


@pytest.mark.parametrize("dynamics", ["expected", "stochastic"])
def test_no_doses_gives_exactly_zero_averted(dynamics: str) -> None:
    env = VaccineAllocationEnv(dynamics=dynamics)
    env.reset(seed=4)
    off = -np.ones((N, 1))
    while True:
        _, _, _, truncated, info = env.step(off)
        sim = env.scenario.sim
        for name in ("S", "E", "I", "R", "infections", "confirmed", "deaths"):
            np.testing.assert_array_equal(getattr(sim, name)[0], getattr(sim, name)[1])
        if truncated:
            break
    assert info["doses_given"] == 0 and info["doses_unused"] == 62 * 2298
    assert info["infections_averted"] == info["deaths_averted"] == 0.0
    assert info["infections"] > 0


@pytest.mark.parametrize("dynamics", ["expected", "stochastic"])
def test_counterfactual_row_is_the_no_vaccination_run_of_the_same_seed(dynamics: str) -> None:
    """Side by side in one array == a separate run without vaccines (common random numbers)."""
    paired = VaccineAllocationEnv(dynamics=dynamics, n_decisions=20)
    alone = VaccineAllocationEnv(dynamics=dynamics, n_decisions=20, counterfactual=False)
    paired.reset(seed=9)
    alone.reset(seed=9)
    rng = np.random.default_rng(0)
    for _ in range(20):
        _, _, _, _, info = paired.step(_random_action(rng, N))
        _, _, _, _, alone_info = alone.step(-np.ones(N))
        for name in ("S", "E", "I", "R", "infections", "confirmed", "deaths"):
            np.testing.assert_array_equal(
                getattr(paired.scenario.sim, name)[NO_VACCINE], getattr(alone.scenario.sim, name)[0]
            )
        assert info["infections_no_vaccine"] == alone_info["infections"]
    assert info["infections_averted"] > 0


def test_vaccinating_everyone_stops_infections() -> None:
    env = VaccineAllocationEnv(budget_fraction=1.0, n_decisions=5)
    env.reset(seed=0)
    _, _, _, _, info = env.step(np.zeros((N, 1)))
    sim = env.scenario.sim
    np.testing.assert_allclose(sim.vaccinated[POLICY], sim.population)
    assert info["vaccinated_share"] == pytest.approx(1.0)
    before = sim.infections[POLICY].copy()
    _, reward, _, _, info = env.step(np.zeros((N, 1)))
    np.testing.assert_array_equal(sim.infections[POLICY], before)  # alpha = 0: no exposures
    assert reward == 0.0 and info["step_doses"] == 0.0  # nothing left to take
    assert info["infections_averted"] > 0


def test_partial_efficacy_and_acceptance_scale_the_attack_rate() -> None:
    env = VaccineAllocationEnv(budget_fraction=1.0, efficacy=0.5, acceptance=0.6, n_decisions=2)
    obs, _ = env.reset(seed=0)
    np.testing.assert_allclose(obs["observation"][:, COL["capacity"]], 0.6, rtol=1e-6)
    obs, *_ = env.step(np.zeros((N, 1)))
    sim = env.scenario.sim
    np.testing.assert_allclose(sim.vaccinated[POLICY], 0.6 * sim.population)
    np.testing.assert_allclose(sim._alpha_over_n[POLICY] * sim.population, 1 - 0.5 * 0.6)
    np.testing.assert_allclose(obs["observation"][:, COL["capacity"]], 0.0, atol=1e-6)
    np.testing.assert_allclose(obs["observation"][:, COL["vaccinated"]], 0.6, rtol=1e-6)


# ------------------------------------------------------------------ pipelines and dynamics


def test_daily_pipelines_match_an_hourly_oracle() -> None:
    env = VaccineAllocationEnv(n_decisions=30)
    env.reset(seed=1)
    sim = env.scenario.sim
    cfg = env.config
    for _ in range(12):
        pending = (sim.pending_confirmed.copy(), sim.pending_deaths.copy())
        done = (sim.confirmed.copy(), sim.deaths.copy())
        env.step(np.zeros((N, 1)))
        inflow = sim._inflow
        for k, (share, delay) in enumerate(
            ((cfg.confirm_rate, cfg.confirm_delay_hours), (sim.ifr, cfg.death_delay_hours))
        ):
            p, d = pending[k].copy(), done[k].copy()
            for h in range(HOURS_PER_DAY):
                leaving = p / delay  # of those pending at the start of hour h
                p = p - leaving + share * inflow[h]
                d = d + leaving
            np.testing.assert_allclose(
                (sim.pending_confirmed, sim.pending_deaths)[k], p, rtol=1e-9, atol=1e-12
            )
            np.testing.assert_allclose((sim.confirmed, sim.deaths)[k], d, rtol=1e-9, atol=1e-12)


def test_hourly_step_follows_the_equations() -> None:
    """One expected-mode hour against the equations of the research note (A.3, A.9.5)."""
    env = VaccineAllocationEnv(n_decisions=3)
    env.reset(seed=2)
    env.step(np.zeros((N, 1)))
    sim, cfg, city = env.scenario.sim, env.config, env.scenario.city
    S, E, Inf, R = (a.copy() for a in (sim.S, sim.E, sim.I, sim.R))
    X = sim.infections.copy()
    hour = sim.hour
    prevalence = Inf / sim.population
    dense = np.zeros((N, N))
    np.add.at(dense, (np.repeat(np.arange(N), city.neighbours.shape[1]), city.neighbours.ravel()),
              city.kernel.ravel())  # fmt: skip
    alpha = np.maximum(0, 1 - cfg.efficacy * sim.vaccinated / sim.population)
    poi = alpha * S / sim.population * contact_multiplier(cfg)[hour] * (prevalence @ dense.T)
    poi = np.minimum(poi, S)
    home = (S - poi) * np.minimum(1, cfg.beta_home * alpha * prevalence)
    sim._hour_expected(0)
    np.testing.assert_allclose(sim.infections - X, poi + home, rtol=1e-9)
    np.testing.assert_allclose(sim.S, S - poi - home, rtol=1e-9)
    np.testing.assert_allclose(sim.E, E + poi + home - E / cfg.latent_hours, rtol=1e-9)
    np.testing.assert_allclose(sim.I, Inf + E / cfg.latent_hours - Inf / cfg.infectious_hours, 1e-9)
    np.testing.assert_allclose(sim.R, R + Inf / cfg.infectious_hours, rtol=1e-9)


def test_stochastic_mode_averages_near_the_expected_mode() -> None:
    expected = VaccineAllocationEnv(initial_exposed=0.002, n_decisions=20)
    stochastic = VaccineAllocationEnv(initial_exposed=0.002, n_decisions=20, dynamics="stochastic")
    totals = {}
    for name, env in (("expected", expected), ("stochastic", stochastic)):
        runs = []
        for seed in range(6):
            env.reset(seed=seed)
            for _ in range(20):
                _, _, _, _, info = env.step(np.zeros((N, 1)))
            runs.append(info["infections_no_vaccine"])
        totals[name] = np.mean(runs)
    assert totals["stochastic"] == pytest.approx(totals["expected"], rel=0.25)


# ------------------------------------------------------------------ rewards and observations


@pytest.mark.parametrize("mode", ["infections", "confirmed_linear", "confirmed_sqrt"])
def test_reward_modes(mode: str) -> None:
    env = VaccineAllocationEnv(reward_mode=mode, death_weight=5.0, reward_scale=10.0)
    env.reset(seed=0)
    sim = env.scenario.sim
    for _ in range(30):
        _, reward, _, _, info = env.step(np.zeros((N, 1)))
        rewards = info["agent_rewards"]
        harm = (sim.new_confirmed[POLICY] + 5.0 * sim.new_deaths[POLICY]) / 10.0
        if mode == "infections":
            np.testing.assert_allclose(rewards, -sim.new_infections[POLICY] / 10.0)
        elif mode == "confirmed_linear":
            np.testing.assert_allclose(rewards, -harm)
        else:
            np.testing.assert_allclose(rewards, -np.minimum(np.sqrt(harm), 0.4))
            assert np.all(rewards >= -0.4)
        assert reward == pytest.approx(rewards.sum())


def test_observation_columns_mean_what_the_docstring_says() -> None:
    env = VaccineAllocationEnv(observe_latent=True, acceptance=0.8)
    obs, _ = env.reset(seed=0)
    sim, city = env.scenario.sim, env.scenario.city
    for t in range(1, 4):
        obs, *_ = env.step(np.linspace(-0.5, 1.0, N))
        rows = obs["observation"].astype(np.float64)
        per_1000 = 1000.0 / sim.population
        np.testing.assert_allclose(rows[:, COL["log_population"]], np.log(sim.population), 1e-6)
        np.testing.assert_allclose(rows[:, COL["elder_share"]], city.elder_share, rtol=1e-6)
        np.testing.assert_allclose(rows[:, COL["ifr"]], city.ifr(1.2), rtol=1e-6)
        for name, array in (
            ("confirmed", sim.confirmed), ("deaths", sim.deaths),
            ("new_confirmed", sim.new_confirmed), ("new_deaths", sim.new_deaths),
        ):  # fmt: skip
            np.testing.assert_allclose(rows[:, COL[name]], array[0] * per_1000, 1e-6, 1e-9)
        np.testing.assert_allclose(rows[:, 11], sim.E[0] * per_1000, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(rows[:, 12], sim.I[0] * per_1000, rtol=1e-6, atol=1e-9)
        vaccinated = sim.vaccinated[0] / sim.population
        np.testing.assert_allclose(rows[:, COL["vaccinated"]], vaccinated, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(rows[:, COL["capacity"]], 0.8 - vaccinated, 1e-5, 1e-7)
        np.testing.assert_allclose(rows[:, COL["day"]], t / 62, rtol=1e-6)
        np.testing.assert_allclose(rows[:, COL["budget"]], 2298 / 229_800, rtol=1e-6)


# ------------------------------------------------------------------ city, schedule, calibration


def test_contact_kernel_matches_a_dense_oracle() -> None:
    rng = np.random.default_rng(0)
    n, p = 9, 7
    visits = rng.random((n, p)) * (rng.random((n, p)) < 0.5)
    factor = rng.random(p)
    region, place = np.nonzero(visits)
    for top_k in (3, 9, 20):
        neighbours, weights = contact_kernel(region, place, visits[region, place], factor, n, top_k)
        dense = visits @ np.diag(factor) @ visits.T
        k = min(top_k, n)
        assert neighbours.shape == weights.shape == (n, k)
        for i in range(n):
            keep = np.sort(np.argsort(-dense[i], kind="stable")[:k])
            kept = weights[i][weights[i] > 0]
            if dense[i].sum() == 0:
                assert kept.size == 0
                continue
            np.testing.assert_allclose(weights[i].sum(), dense[i].sum(), rtol=1e-12)
            expected = dense[i, keep] * dense[i].sum() / dense[i, keep].sum()
            got = np.zeros(n)
            np.add.at(got, neighbours[i], weights[i])
            np.testing.assert_allclose(got[keep], expected, rtol=1e-12)


def test_synthetic_city_properties() -> None:
    cfg = make_config("medical-small")
    city = synthetic_city(cfg)
    assert city is synthetic_city(cfg.replace(reward_mode="confirmed_sqrt"))  # cached
    assert city.population.sum() == 229_800 and city.population.min() >= 1
    np.testing.assert_array_equal(city.population, np.round(city.population))
    np.testing.assert_allclose(city.age_shares.sum(axis=1), 1.0)
    assert city.neighbours.shape == city.kernel.shape == (N, 16)
    assert np.all(city.kernel >= 0) and np.all(city.kernel.sum(axis=1) > 0)
    ifr = city.ifr(1.0)
    assert 0.003 < ifr.mean() < 0.008  # Atlanta: 0.46 % before the death scale (note A.3)
    assert np.percentile(ifr, 90) / np.percentile(ifr, 10) > 2.5  # heterogeneous
    with pytest.raises(ValueError, match="read-only"):
        city.population[0] = 5
    other = synthetic_city(cfg.replace(city_seed=7))
    assert not np.array_equal(other.population, city.population)


def test_trend_and_contact_multiplier() -> None:
    cfg = make_config("medical-small")
    np.testing.assert_allclose(trend(cfg, np.array([0, 10, 17.5, 25, 60])), [1, 1, 0.75, 0.5, 0.5])
    s2 = contact_multiplier(cfg)
    assert s2.shape == (63 * 24,)
    np.testing.assert_allclose(np.sqrt(s2[:24]).mean(), 1.0)  # the diurnal profile has mean 1
    flat = contact_multiplier(cfg.replace(diurnal=False, trend_level=1.0))
    np.testing.assert_array_equal(flat, 1.0)


def test_synthetic_presets_are_calibrated_to_atlanta_day_30() -> None:
    cfg = make_config("medical-small")
    share = infected_share(cfg, synthetic_city(cfg), day=30, seeds=(0, 1, 2))
    assert share == pytest.approx(0.0125, rel=0.1)


def test_the_episode_simulates_63_days_of_hours() -> None:
    cfg = make_config("medical-small", counterfactual=False)
    sim = EpidemicSim(cfg, synthetic_city(cfg))
    sim.reset(np.random.default_rng(0))
    assert sim.day == 1 and sim.hour == 24
    assert sim.S.shape == (1, N)
