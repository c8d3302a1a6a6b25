"""Ride-hailing order dispatching and driver repositioning (the DyPS paper's Ride-Hailing)."""

from alloc_envs.ride_hailing.config import PRESETS, RideHailingConfig, make_config
from alloc_envs.ride_hailing.gym_env import RideHailingEnv
from alloc_envs.ride_hailing.parallel_env import RideHailingParallelEnv, env, parallel_env
from alloc_envs.ride_hailing.vector_env import RideHailingVectorEnv

__all__ = [
    "PRESETS",
    "RideHailingConfig",
    "RideHailingEnv",
    "RideHailingParallelEnv",
    "RideHailingVectorEnv",
    "env",
    "make_config",
    "parallel_env",
]
