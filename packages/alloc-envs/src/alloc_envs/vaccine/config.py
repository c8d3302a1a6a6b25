"""Configuration and presets of the vaccine-allocation scenario (the DyPS paper's "Medical").

Units: time in hours (the simulator's sub-step) and days (one decision per day); people for
populations, infections, deaths and doses; fractions for shares and rates per hour. Every
parameter named in the research note (``research/vaccine-and-algorithms.md``, A.3-A.9 and
"Spec (1)") keeps the note's name or a spelled-out version of it; the docstring of
:class:`VaccineConfig` says where each value comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.core.config import replace_config
from alloc_envs.core.validation import check_choice, check_int, check_number

#: Age groups of the infection-fatality table: 5-year groups <5, 5-9, ..., 75-79, then 80+.
AGE_GROUPS: tuple[str, ...] = (
    "0-4", "5-9", "10-14", "15-19", "20-24", "25-29", "30-34", "35-39", "40-44",
    "45-49", "50-54", "55-59", "60-64", "65-69", "70-74", "75-79", "80+",
)  # fmt: skip
N_AGE_GROUPS = len(AGE_GROUPS)
#: First age group counted as "elder" (70+, Chen et al.'s elder ratio).
ELDER_FROM = AGE_GROUPS.index("70-74")
#: Infection-fatality ratio by age group, in percent, before the death scale (research note A.3,
#: Chen et al. ``calculate_age_specific_death_risk.py``).
IFR_PERCENT: tuple[float, ...] = (
    0.003, 0.001, 0.001, 0.003, 0.006, 0.013, 0.024, 0.040, 0.075,
    0.121, 0.207, 0.323, 0.456, 1.075, 1.674, 3.203, 8.292,
)  # fmt: skip
#: Metro age pyramid of the synthetic city (shares of the 17 groups; a US-metro-like shape, our
#: choice). With the table above it gives a mean IFR of about 0.47 % before the death scale
#: (Atlanta: 0.46 %, note A.3).
AGE_PYRAMID: tuple[float, ...] = (
    0.064, 0.066, 0.067, 0.067, 0.070, 0.080, 0.073, 0.070, 0.068,
    0.068, 0.066, 0.062, 0.055, 0.044, 0.032, 0.022, 0.026,
)  # fmt: skip
#: Share of residents out at points of interest by hour of day (0..23), relative to the daily
#: mean (the list has mean 1). Our choice: low at night, a midday plateau, an evening shoulder.
DIURNAL_PROFILE: tuple[float, ...] = (
    0.24, 0.14, 0.10, 0.09, 0.10, 0.20, 0.48, 0.88, 1.22, 1.47, 1.62, 1.72,
    1.82, 1.77, 1.72, 1.67, 1.67, 1.67, 1.47, 1.27, 1.02, 0.77, 0.52, 0.37,
)  # fmt: skip

HOURS_PER_DAY = 24
REWARD_MODES = ("infections", "confirmed_sqrt", "confirmed_linear")
DYNAMICS = ("expected", "stochastic")
OVERFLOW_MODES = ("redistribute", "waste")
#: Largest city: building the contact kernel keeps a dense regions x regions table (200 MB here).
MAX_REGIONS = 5000


@dataclass(frozen=True)
class VaccineConfig:
    """All parameters of a vaccine-allocation episode. Validated at construction (``ValueError``).

    Synthetic city (ignored when a real city is given to the environment):
        n_regions: number of regions (census-block-group-like; one agent each).
        population: total residents of the city (people); 2,298 per region in Atlanta.
        city_seed: seed of the city (sizes, places, ages, mobility), fixed across episodes.
        size_sigma: log-normal sigma of region sizes (note A.9: 0.5-0.6).
        places_per_region: points of interest (POIs) per region (note A.9: 12.6).
        places_visited: POIs kept per region in the gravity model (note A.9: k = 50-100).
        gravity_eta, gravity_gamma: P(place j | region i) ~ area_j^eta / (d_ij^2 + 0.25)^(gamma/2)
            (note A.9: eta 0.5-1, gamma 1.5-2); distances in units of the mean region spacing.
        visit_rate: mean share of a region's residents at POIs in an hour (before the diurnal
            profile and the trend); calibrated per preset so that the no-vaccination cumulative
            infected share at day 30 is about 1.25 % (Atlanta, note A.3).
        psi: POI transmission constant (Chang et al. psi = 2,388 for Atlanta, note A.3); a POI's
            factor is psi * (dwell / (dwell + 60))^2 / area.
        age_tilt_sd: spread of the regions' age-pyramid tilt (elder-share heterogeneity).
        kernel_top_k: regions kept per row of the sparse contact kernel (note: 8-32).
    Epidemic (note A.3; Chang et al. / Chen et al. Atlanta constants):
        initial_exposed: p0, the share of each region exposed at hour 0 (binomial draw).
        beta_home: home transmission per hour (0.0037).
        contact_scale: multiplier of the contact kernel (1 for the calibrated synthetic city; to
            calibrate a real city, see :func:`alloc_envs.vaccine.calibrate_contact_scale`).
        latent_hours, infectious_hours: mean E->I and I->R times (96 h, 84 h).
        confirm_rate, confirm_delay_hours: share of new infectious people who are confirmed, and
            the mean geometric delay (0.1, 168 h).
        death_delay_hours, death_scale: mean geometric delay of deaths (432 h) and the scale of
            the age-weighted IFR (1.2).
        dynamics: ``"expected"`` (every draw replaced by its mean after a random initial seeding,
            GAT-MF's default) or ``"stochastic"`` (binomial / Poisson draws, Chang et al.).
    Mobility over time (note A.9, our parameterisation):
        diurnal: modulate visits by :data:`DIURNAL_PROFILE` (else flat at its mean).
        trend_start_day, trend_end_day, trend_level: visits fall linearly from 1 at the start day
            to ``trend_level`` at the end day and stay there (the March-2020 collapse).
    Vaccines (note A.5, "Spec (1)"):
        budget_fraction: daily budget as a share of the city's population (GAT-MF: 1 %/day);
            the budget is ``floor(budget_fraction * population)`` doses per decision.
        efficacy: epsilon in alpha_i = max(0, 1 - epsilon V_i / N_i) (1).
        acceptance: share of each region willing to be vaccinated (1; Chen et al.'s income-based
            values are 0.72-0.86). A real city's own acceptance column takes precedence.
        overflow: what happens to doses beyond a region's remaining capacity: ``"redistribute"``
            (water-filling over the other regions the action switched on, our default) or
            ``"waste"`` (clipped and lost, as in the sources).
        logit_scale: an action a in [-1, 1] weighs a region by exp(logit_scale * (a - 1)); a = -1
            switches the region off.
    Episode:
        warmup_days: days simulated at reset without vaccines (1).
        n_decisions: daily decisions per episode (62; 63 simulated days in all, as the note).
    Reward and observation:
        reward_mode: ``"infections"`` (r_i = -new infections_i / reward_scale, the default),
            ``"confirmed_linear"`` (-(new confirmed_i + death_weight * new deaths_i) /
            reward_scale) or ``"confirmed_sqrt"`` (GAT-MF: -min(sqrt(that), reward_clip)).
        reward_scale: people per reward unit (100).
        death_weight: w_D, the weight of deaths in the confirmed modes (GAT-MF: 0).
        reward_clip: the clip of ``confirmed_sqrt`` (GAT-MF: 0.4).
        observe_latent: add the latent E and I per 1,000 residents to the observation.
        counterfactual: run the no-vaccination trajectory beside the policy's (for the
            ``*_averted`` metrics); ``False`` halves the cost and drops those metrics.
    """

    n_regions: int = 100
    population: int = 229_800
    city_seed: int = 0
    size_sigma: float = 0.55
    places_per_region: float = 12.6
    places_visited: int = 60
    gravity_eta: float = 0.75
    gravity_gamma: float = 1.75
    visit_rate: float = 0.087
    psi: float = 2388.0
    age_tilt_sd: float = 0.6
    kernel_top_k: int = 16
    initial_exposed: float = 2e-4
    beta_home: float = 0.0037
    contact_scale: float = 1.0
    latent_hours: float = 96.0
    infectious_hours: float = 84.0
    confirm_rate: float = 0.1
    confirm_delay_hours: float = 168.0
    death_delay_hours: float = 432.0
    death_scale: float = 1.2
    dynamics: str = "expected"
    diurnal: bool = True
    trend_start_day: float = 10.0
    trend_end_day: float = 25.0
    trend_level: float = 0.5
    budget_fraction: float = 0.01
    efficacy: float = 1.0
    acceptance: float = 1.0
    overflow: str = "redistribute"
    logit_scale: float = 10.0
    warmup_days: int = 1
    n_decisions: int = 62
    reward_mode: str = "infections"
    reward_scale: float = 100.0
    death_weight: float = 0.0
    reward_clip: float = 0.4
    observe_latent: bool = False
    counterfactual: bool = True

    def __post_init__(self) -> None:
        check_int("n_regions", self.n_regions, 2, MAX_REGIONS)
        check_int("population", self.population, self.n_regions, 10**10)
        check_int("city_seed", self.city_seed, 0, 2**63 - 1)
        check_number("size_sigma", self.size_sigma, 0.0, 3.0)
        check_number("places_per_region", self.places_per_region, 0.0, 100.0, low_inclusive=False)
        check_int("places_visited", self.places_visited, 1, 1000)
        check_number("gravity_eta", self.gravity_eta, 0.0, 5.0)
        check_number("gravity_gamma", self.gravity_gamma, 0.0, 5.0)
        check_number("visit_rate", self.visit_rate, 0.0, 1.0, low_inclusive=False)
        check_number("psi", self.psi, 0.0, 1e7, low_inclusive=False)
        check_number("age_tilt_sd", self.age_tilt_sd, 0.0, 5.0)
        check_int("kernel_top_k", self.kernel_top_k, 1, 256)
        check_number("initial_exposed", self.initial_exposed, 0.0, 1.0)
        check_number("beta_home", self.beta_home, 0.0, 1.0)
        check_number("contact_scale", self.contact_scale, 0.0, 1e6)
        for name in ("latent_hours", "infectious_hours", "confirm_delay_hours"):
            check_number(name, getattr(self, name), 1.0, 1e5)
        check_number("death_delay_hours", self.death_delay_hours, 1.0, 1e5)
        check_number("confirm_rate", self.confirm_rate, 0.0, 1.0)
        check_number("death_scale", self.death_scale, 0.0, 100.0)
        check_choice("dynamics", self.dynamics, DYNAMICS)
        for name in ("diurnal", "observe_latent", "counterfactual"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be a bool, got {getattr(self, name)!r}")
        check_number("trend_start_day", self.trend_start_day, 0.0, 1e4)
        check_number("trend_end_day", self.trend_end_day, self.trend_start_day, 1e4)
        check_number("trend_level", self.trend_level, 0.0, 10.0)
        check_number("budget_fraction", self.budget_fraction, 0.0, 1.0)
        check_number("efficacy", self.efficacy, 0.0, 1.0)
        check_number("acceptance", self.acceptance, 0.0, 1.0)
        check_choice("overflow", self.overflow, OVERFLOW_MODES)
        check_number("logit_scale", self.logit_scale, 0.0, 300.0, low_inclusive=False)
        check_int("warmup_days", self.warmup_days, 0, 365)
        check_int("n_decisions", self.n_decisions, 1, 3650)
        check_choice("reward_mode", self.reward_mode, REWARD_MODES)
        check_number("reward_scale", self.reward_scale, 0.0, 1e12, low_inclusive=False)
        check_number("death_weight", self.death_weight, 0.0, 1e6)
        check_number("reward_clip", self.reward_clip, 0.0, 1e6, low_inclusive=False)

    @property
    def episode_days(self) -> int:
        """Simulated days per episode (warm-up + decisions)."""
        return self.warmup_days + self.n_decisions

    @property
    def episode_hours(self) -> int:
        """Simulated hours per episode."""
        return self.episode_days * HOURS_PER_DAY

    def replace(self, **changes: Any) -> VaccineConfig:
        """A copy with some fields changed (validated); unknown names raise ``ValueError``."""
        return replace_config(self, "vaccine", changes)

    def synthetic_city_key(self) -> tuple[Any, ...]:
        """The fields the synthetic city depends on (the key of the city cache)."""
        names = (
            "n_regions", "population", "city_seed", "size_sigma", "places_per_region",
            "places_visited", "gravity_eta", "gravity_gamma", "visit_rate", "psi",
            "age_tilt_sd", "kernel_top_k",
        )  # fmt: skip
        return tuple(getattr(self, n) for n in names)


def ifr_by_age() -> np.ndarray:
    """(17,) float64: the infection-fatality ratio of each age group (a fraction, unscaled)."""
    return np.asarray(IFR_PERCENT, dtype=np.float64) / 100.0


#: Presets. ``medical`` is the DyPS paper's Medical scenario at its scale (Table 1: 3,130 regions,
#: 7.19 M people; note A.2); ``medical-small`` the laptop default (about 100 regions).
PRESETS: dict[str, VaccineConfig] = {
    "medical-small": VaccineConfig(n_regions=100, population=229_800, visit_rate=0.087),
    "medical": VaccineConfig(n_regions=3130, population=7_191_638, visit_rate=0.0783),
}

#: The preset used when none is named.
DEFAULT_PRESET = "medical-small"


def make_config(preset: str = DEFAULT_PRESET, **overrides: Any) -> VaccineConfig:
    """The configuration of ``preset`` with ``overrides`` applied."""
    check_choice("preset", preset, tuple(PRESETS))
    base = PRESETS[preset]
    return base.replace(**overrides) if overrides else base
