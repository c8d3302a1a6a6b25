"""The vaccine scenario as a :class:`~alloc_envs.core.views.JointScenario`: spaces, action checks,
rewards, metrics, state. The Gymnasium and PettingZoo views only re-shape its outputs.

An episode: :meth:`reset` seeds the epidemic and simulates the warm-up day; each :meth:`step`
gives one day's doses (from the joint action, see :mod:`alloc_envs.vaccine.allocation`) and
simulates the next 24 hours; the episode is over after ``n_decisions`` steps (truncation).

"Averted" metrics compare the policy's trajectory with the no-vaccination trajectory of the
same city and seed, simulated side by side in the same arrays (:mod:`alloc_envs.vaccine.sim`;
common random numbers in stochastic mode). That costs about 1.5 times a single trajectory and
needs no cache.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from gymnasium import spaces

from alloc_envs.core.config import build_config as core_build_config
from alloc_envs.rendering import Frame, Panel, as_grid, grid_shape
from alloc_envs.vaccine.allocation import allocate, log_weights
from alloc_envs.vaccine.city import City
from alloc_envs.vaccine.config import DEFAULT_PRESET, PRESETS, VaccineConfig
from alloc_envs.vaccine.observation import (
    city_state,
    observation_high,
    region_features,
    state_high,
)
from alloc_envs.vaccine.sim import NO_VACCINE, POLICY, EpidemicSim
from alloc_envs.vaccine.synthetic import synthetic_city

#: What a city argument may be: a :class:`City`, a path to an ``.npz`` city file, or ``None``
#: (the configuration's synthetic city).
CityLike = City | str | os.PathLike | None


def build_config(
    preset: str | None, config: VaccineConfig | None, overrides: dict[str, Any]
) -> VaccineConfig:
    """The config from ``config`` or ``preset`` (default ``"medical-small"``), plus overrides;
    giving both ``preset`` and ``config`` is an error."""
    return core_build_config(PRESETS, DEFAULT_PRESET, preset, config, overrides, "vaccine")


def resolve_city(city: CityLike, config: VaccineConfig) -> City:
    """The city to simulate: ``city`` itself, loaded from a path, or the synthetic city."""
    if city is None:
        return synthetic_city(config)
    if isinstance(city, City):
        return city
    if isinstance(city, (str, os.PathLike)):
        from alloc_envs.vaccine.data import load_city

        return load_city(city)
    raise ValueError(
        f"city must be a City, a path to an .npz file or None, got {type(city).__name__}"
    )


class VaccineScenario:
    """Simulator + seeding + spaces for N agents (one per region), agent-major throughout.

    Joint observation: ``{"observation": (N, F) float32}`` (columns in
    :mod:`alloc_envs.vaccine.observation`). Joint action: (N, 1) float32 in [-1, 1] (an (N,)
    array is accepted too), one number per region: see :mod:`alloc_envs.vaccine.allocation`.
    Rewards: (N,) float64 per region, by ``reward_mode``.
    """

    def __init__(self, config: VaccineConfig, city: CityLike = None) -> None:
        self.config = config
        self.city = resolve_city(city, config)
        self.sim = EpidemicSim(config, self.city)
        self.n_agents = self.city.n_regions
        self.agent_prefix = "region"
        n = self.n_agents
        high = observation_high(config)
        self.agent_observation_space = spaces.Dict(
            {"observation": spaces.Box(np.zeros_like(high), high, dtype=np.float32)}
        )
        self.joint_observation_space = spaces.Dict(
            {
                "observation": spaces.Box(
                    np.zeros((n, len(high)), dtype=np.float32),
                    np.broadcast_to(high, (n, len(high))).copy(),
                    dtype=np.float32,
                )
            }
        )
        self.agent_action_space = spaces.Box(-1.0, 1.0, shape=(1,), dtype=np.float32)
        self.joint_action_space = spaces.Box(-1.0, 1.0, shape=(n, 1), dtype=np.float32)
        s_high = state_high(config)
        self.state_space = spaces.Box(np.zeros_like(s_high), s_high, dtype=np.float32)
        self.decisions = 0
        self.doses_given = 0.0
        self.doses_offered = 0.0
        self.step_doses = 0.0

    # ------------------------------------------------------------------ episode
    def reset(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Seed the epidemic from ``rng``, simulate the warm-up; the first joint observation."""
        self.sim.reset(rng)
        self.decisions = 0
        self.doses_given = self.doses_offered = self.step_doses = 0.0
        return self.observe()

    @property
    def terminated(self) -> bool:
        """Never: the campaign only ends by its time limit."""
        return False

    @property
    def truncated(self) -> bool:
        """Whether the last decision of the episode has been taken."""
        return self.decisions >= self.config.n_decisions

    def doses_for(self, action: Any) -> np.ndarray:
        """(N,) doses that ``action`` would give now (``ValueError`` if malformed); changes
        nothing."""
        actions = self.check_action(action)
        logw = log_weights(actions, self.config.logit_scale)
        return allocate(logw, self.sim.budget, self.sim.capacity(), self.config.overflow)

    def step(self, action: Any) -> np.ndarray:
        """Vaccinate by ``action`` and simulate a day; the (N,) float64 rewards."""
        doses = self.doses_for(action)
        self.sim.vaccinate(doses)
        self.sim.run_day()
        self.decisions += 1
        self.step_doses = float(doses.sum())
        self.doses_given += self.step_doses
        self.doses_offered += self.sim.budget
        return self.rewards()

    def rewards(self) -> np.ndarray:
        """(N,) float64 rewards of the last simulated day (policy trajectory)."""
        cfg, sim = self.config, self.sim
        if cfg.reward_mode == "infections":
            return (0.0 - sim.new_infections[POLICY]) / cfg.reward_scale  # 0.0 - 0.0 is +0.0
        harm = sim.new_confirmed[POLICY] + cfg.death_weight * sim.new_deaths[POLICY]
        harm = np.maximum(harm, 0.0) / cfg.reward_scale
        if cfg.reward_mode == "confirmed_linear":
            return 0.0 - harm
        return 0.0 - np.minimum(np.sqrt(harm), cfg.reward_clip)

    def observe(self) -> dict[str, np.ndarray]:
        """The joint observation (fresh arrays)."""
        return {"observation": region_features(self.sim, self.decisions)}

    def state(self) -> np.ndarray:
        """(G,) float32 pooled city statistics (PettingZoo's global state)."""
        return city_state(self.sim, self.decisions)

    def agent_states(self) -> np.ndarray:
        """(N, F + G) float32: each region's observation with the pooled city state appended (the
        MAPPO "agent-specific" global state)."""
        features = region_features(self.sim, self.decisions)
        pooled = np.broadcast_to(self.state(), (self.n_agents, self.state_space.shape[0]))
        return np.concatenate([features, pooled], axis=1)

    # ------------------------------------------------------------------ metrics
    def metrics(self, rewards: np.ndarray | None = None) -> dict[str, Any]:
        """Episode-to-date metrics (people and doses; see the README's metrics table)."""
        sim = self.sim
        total = float(sim.population.sum())
        info: dict[str, Any] = {
            "day": sim.day,
            "decision": self.decisions,
            "infections": float(sim.infections[POLICY].sum()),
            "confirmed": float(sim.confirmed[POLICY].sum()),
            "deaths": float(sim.deaths[POLICY].sum()),
            "doses_given": self.doses_given,
            "doses_offered": self.doses_offered,
            "doses_unused": self.doses_offered - self.doses_given,
            "vaccinated_share": float(sim.vaccinated[POLICY].sum()) / total,
        }
        if self.config.counterfactual:
            for name in ("infections", "confirmed", "deaths"):
                base = float(getattr(sim, name)[NO_VACCINE].sum())
                averted = base - info[name]
                info[f"{name}_no_vaccine"] = base
                info[f"{name}_averted"] = averted
                info[f"{name}_averted_pct"] = 100.0 * averted / base if base > 0 else 0.0
            gap = sim.infections[NO_VACCINE] - sim.infections[POLICY]
            info["deaths_averted_eventual"] = float(gap @ sim.ifr)
        if rewards is not None:
            info["step_doses"] = self.step_doses
            info["step_infections"] = float(sim.new_infections[POLICY].sum())
        return info

    def render_ansi(self) -> str:
        """A few lines: the day, city-wide compartments, metrics and the five hottest regions."""
        sim, m = self.sim, self.metrics()
        p = POLICY
        lines = [
            f"day {sim.day}/{self.config.episode_days}  decision {self.decisions}/"
            f"{self.config.n_decisions}  regions {self.n_agents}",
            "S {:,.0f}  E {:,.0f}  I {:,.0f}  R {:,.0f}".format(
                *(float(a[p].sum()) for a in (sim.S, sim.E, sim.I, sim.R))
            ),
            f"infections {m['infections']:,.0f}  confirmed {m['confirmed']:,.0f}  deaths "
            f"{m['deaths']:,.1f}  vaccinated {100 * m['vaccinated_share']:.1f}%",
        ]
        if "infections_averted" in m:
            lines.append(
                f"averted: infections {m['infections_averted']:,.0f} "
                f"({m['infections_averted_pct']:.1f}%)  deaths {m['deaths_averted']:,.1f}"
            )
        rate = sim.new_confirmed[p] * sim.inv_population * 1000.0
        top = np.argsort(-rate, kind="stable")[:5]
        lines.append(
            "new confirmed per 1,000 (top 5): "
            + "  ".join(f"region_{i} {rate[i]:.3f}" for i in top)
        )
        return "\n".join(lines) + "\n"

    def render_frame(self) -> Frame:
        """Two maps of the regions (the city's ``coords``; a grid in region order when they are
        unknown): infectious residents per 1,000 now (colour scale: the frame's largest) and
        the vaccinated share (% of residents; scale up to the largest acceptance); the day,
        decision, infections, deaths and the vaccinated share in the title."""
        sim, m = self.sim, self.metrics()
        infectious = 1000.0 * sim.I[POLICY] * sim.inv_population
        vaccinated = 100.0 * sim.vaccinated[POLICY] * sim.inv_population
        top = 100.0 * float((sim.max_doses * sim.inv_population).max())
        panels = (
            ("infectious per 1,000", infectious, None, "OrRd"),
            ("vaccinated (% of residents)", vaccinated, max(top, 1e-6), "Greens"),
        )
        coords = self.city.coords
        spread = coords.shape[0] > 1 and bool(np.ptp(coords, axis=0).max() > 0)
        size = float(np.clip(25_000.0 / self.n_agents, 2.0, 200.0))
        if spread:
            pictures = tuple(
                Panel(t, v, kind="points", points=coords, sizes=size, vmax=hi, cmap=c)
                for t, v, hi, c in panels
            )
        else:
            shape = grid_shape(self.n_agents)
            pictures = tuple(Panel(t, as_grid(v, shape), vmax=hi, cmap=c) for t, v, hi, c in panels)
        title = (
            f"Vaccine allocation  day {sim.day}/{self.config.episode_days}  decision "
            f"{self.decisions}/{self.config.n_decisions}  infections {m['infections']:,.0f}  "
            f"deaths {m['deaths']:,.1f}  vaccinated {100 * m['vaccinated_share']:.1f}%"
        )
        return Frame(title, pictures)

    # ------------------------------------------------------------------ action checks
    def check_action(self, action: Any) -> np.ndarray:
        """(N,) float64 actions in [-1, 1], or ``ValueError`` naming the problem."""
        n = self.n_agents
        try:
            arr = np.asarray(action)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(f"action must be an array of shape ({n}, 1) or ({n},): {exc}") from exc
        if arr.shape not in ((n, 1), (n,)):
            raise ValueError(f"action must have shape ({n}, 1) or ({n},), got {arr.shape}")
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"action must be numeric (float logits), got dtype {arr.dtype}")
        values = arr.astype(np.float64).reshape(n)
        finite = np.isfinite(values)
        if not finite.all():
            region = int(np.flatnonzero(~finite)[0])
            raise ValueError(f"action has NaN or inf (region {region}: {values[region]})")
        bad = (values < -1.0) | (values > 1.0)
        if bad.any():
            region = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"action out of range: region {region} is {values[region]}; actions are in "
                f"[-1, 1] (-1 switches a region off)"
            )
        return values
