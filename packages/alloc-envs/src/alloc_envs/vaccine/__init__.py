"""Vaccine allocation over a metapopulation epidemic (the DyPS paper's "Medical" scenario).

``alloc/VaccineAllocation-v0``: N regions (census-block-group-like), an hourly S/E/I/R epidemic
with home and mobility-driven contacts, one decision per day (62 after a warm-up day), a daily
vaccine budget split over the regions by the agents' actions, and metrics against the
no-vaccination trajectory of the same seed. See the package README for the model.
"""

from alloc_envs.vaccine.allocation import allocate, log_weights
from alloc_envs.vaccine.calibration import calibrate_contact_scale, infected_share
from alloc_envs.vaccine.city import City
from alloc_envs.vaccine.config import DEFAULT_PRESET, PRESETS, VaccineConfig, make_config
from alloc_envs.vaccine.data import city_from_visits, load_city, load_city_csv, save_city
from alloc_envs.vaccine.gym_env import VaccineAllocationEnv
from alloc_envs.vaccine.observation import LATENT_COLUMNS, OBSERVATION_COLUMNS, STATE_COLUMNS
from alloc_envs.vaccine.parallel_env import VaccineAllocationParallelEnv, env, parallel_env
from alloc_envs.vaccine.scenario import VaccineScenario
from alloc_envs.vaccine.synthetic import synthetic_city

__all__ = [
    "DEFAULT_PRESET",
    "LATENT_COLUMNS",
    "OBSERVATION_COLUMNS",
    "PRESETS",
    "STATE_COLUMNS",
    "City",
    "VaccineAllocationEnv",
    "VaccineAllocationParallelEnv",
    "VaccineConfig",
    "VaccineScenario",
    "allocate",
    "calibrate_contact_scale",
    "city_from_visits",
    "env",
    "infected_share",
    "load_city",
    "load_city_csv",
    "log_weights",
    "make_config",
    "parallel_env",
    "save_city",
    "synthetic_city",
]
