"""What the agents see (imperfect information) and the global state for centralised critics.

Per region (one row per agent; float32), in this column order:

============== ==============================================================================
column         meaning (unit)
============== ==============================================================================
log_population ln N_i (people)
elder_share    share of residents aged 70+
ifr            infection-fatality ratio of the region (age-weighted, death scale included)
confirmed      cumulative confirmed cases per 1,000 residents
deaths         cumulative deaths per 1,000 residents
new_confirmed  confirmed cases of the last simulated day per 1,000 residents
new_deaths     deaths of the last simulated day per 1,000 residents
vaccinated     doses given so far / N_i
capacity       doses the region can still take / N_i (acceptance - vaccinated)
day            decisions taken / decisions per episode (0 at the first decision, 1 at the end)
budget         daily budget / city population (the same for every region)
exposed        (``observe_latent`` only) latent E_i per 1,000 residents
infectious     (``observe_latent`` only) infectious I_i per 1,000 residents
============== ==============================================================================

Latent E and I are hidden by default: agents see confirmed cases and deaths, which lag
infections by 11 and 22 days on average (4 days latent, then 7 or 18; research note "Spec (1)").

The global state (:func:`city_state`) pools the same quantities over the city: the log of the
total population, population-weighted means of elder share and IFR, city-wide per-1,000 counts,
vaccinated and capacity shares, day, budget, and ``doses_left`` (the doses still to be offered
this episode per resident); with ``observe_latent``, city-wide E and I per 1,000.
"""

from __future__ import annotations

import numpy as np

from alloc_envs.vaccine.config import VaccineConfig
from alloc_envs.vaccine.sim import POLICY, EpidemicSim

OBSERVATION_COLUMNS: tuple[str, ...] = (
    "log_population", "elder_share", "ifr", "confirmed", "deaths", "new_confirmed",
    "new_deaths", "vaccinated", "capacity", "day", "budget",
)  # fmt: skip
LATENT_COLUMNS: tuple[str, ...] = ("exposed", "infectious")
STATE_COLUMNS: tuple[str, ...] = (
    "log_population", "elder_share", "ifr", "confirmed", "deaths", "new_confirmed",
    "new_deaths", "vaccinated", "capacity", "day", "budget", "doses_left",
)  # fmt: skip
#: Upper bound of ln N (10^10 people).
MAX_LOG_POPULATION = float(np.log(1e10))
PER_1000 = 1000.0


def observation_columns(config: VaccineConfig) -> tuple[str, ...]:
    """Names of the observation columns for ``config``."""
    return OBSERVATION_COLUMNS + (LATENT_COLUMNS if config.observe_latent else ())


def state_columns(config: VaccineConfig) -> tuple[str, ...]:
    """Names of the global-state entries for ``config``."""
    return STATE_COLUMNS + (LATENT_COLUMNS if config.observe_latent else ())


def _high(columns: tuple[str, ...], config: VaccineConfig) -> np.ndarray:
    per_1000 = {"confirmed", "deaths", "new_confirmed", "new_deaths", "exposed", "infectious"}
    high = np.ones(len(columns), dtype=np.float32)
    for i, name in enumerate(columns):
        if name == "log_population":
            high[i] = MAX_LOG_POPULATION
        elif name in per_1000:
            high[i] = PER_1000
        elif name == "doses_left":
            high[i] = float(config.n_decisions)
    return high


def observation_high(config: VaccineConfig) -> np.ndarray:
    """(F,) float32 upper bounds of the observation columns (the lower bounds are 0)."""
    return _high(observation_columns(config), config)


def state_high(config: VaccineConfig) -> np.ndarray:
    """(G,) float32 upper bounds of the global state (the lower bounds are 0)."""
    return _high(state_columns(config), config)


def region_features(sim: EpidemicSim, decisions: int) -> np.ndarray:
    """(N, F) float32 observation rows (see the module docstring)."""
    cfg = sim.config
    per_capita = sim.inv_population * PER_1000
    p = POLICY
    columns = [
        np.log(sim.population),
        sim.city.elder_share,
        sim.ifr,
        sim.confirmed[p] * per_capita,
        sim.deaths[p] * per_capita,
        sim.new_confirmed[p] * per_capita,
        sim.new_deaths[p] * per_capita,
        sim.vaccinated[p] * sim.inv_population,
        sim.capacity() * sim.inv_population,
        np.full(sim.n_regions, decisions / cfg.n_decisions),
        np.full(sim.n_regions, sim.budget / sim.population.sum()),
    ]
    if cfg.observe_latent:
        columns += [sim.E[p] * per_capita, sim.I[p] * per_capita]
    features = np.stack(columns, axis=1).astype(np.float32)
    return np.clip(features, 0.0, observation_high(cfg), out=features)  # rounding noise only


def city_state(sim: EpidemicSim, decisions: int) -> np.ndarray:
    """(G,) float32 pooled city statistics (see the module docstring)."""
    cfg = sim.config
    total = float(sim.population.sum())
    weights = sim.population / total
    p = POLICY
    per_1000 = PER_1000 / total
    values = [
        np.log(total),
        float(weights @ sim.city.elder_share),
        float(weights @ sim.ifr),
        sim.confirmed[p].sum() * per_1000,
        sim.deaths[p].sum() * per_1000,
        sim.new_confirmed[p].sum() * per_1000,
        sim.new_deaths[p].sum() * per_1000,
        sim.vaccinated[p].sum() / total,
        sim.capacity().sum() / total,
        decisions / cfg.n_decisions,
        sim.budget / total,
        (cfg.n_decisions - decisions) * sim.budget / total,
    ]
    if cfg.observe_latent:
        values += [sim.E[p].sum() * per_1000, sim.I[p].sum() * per_1000]
    state = np.asarray(values, dtype=np.float32)
    return np.clip(state, 0.0, state_high(cfg), out=state)
