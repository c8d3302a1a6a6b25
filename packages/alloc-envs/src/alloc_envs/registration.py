"""Registration of the ``alloc/`` environment ids in the Gymnasium and PettingZoo registries.

Idempotent: importing ``alloc_envs`` again (or in a subprocess resolving
``"alloc_envs:alloc/RideHailing-v0"``) does not register twice. Entry points are strings, so
the environment modules are imported only when an environment is made.
"""

from __future__ import annotations

import gymnasium
import pettingzoo

#: id -> (Gymnasium entry point, PettingZoo parallel entry point, PettingZoo AEC entry point)
ENVIRONMENTS: dict[str, tuple[str, str, str]] = {
    "alloc/RideHailing-v0": (
        "alloc_envs.ride_hailing.gym_env:RideHailingEnv",
        "alloc_envs.ride_hailing.parallel_env:RideHailingParallelEnv",
        "alloc_envs.ride_hailing.parallel_env:env",
    ),
    "alloc/VaccineAllocation-v0": (
        "alloc_envs.vaccine.gym_env:VaccineAllocationEnv",
        "alloc_envs.vaccine.parallel_env:VaccineAllocationParallelEnv",
        "alloc_envs.vaccine.parallel_env:env",
    ),
    # A controlled task for parameter-sharing strategies (hidden agent types).
    "alloc/HiddenTypes-v0": (
        "alloc_envs.hidden_types.gym_env:HiddenTypesEnv",
        "alloc_envs.hidden_types.parallel_env:HiddenTypesParallelEnv",
        "alloc_envs.hidden_types.parallel_env:env",
    ),
    # Stackelberg scenarios: the Gymnasium view is the leader's, the PettingZoo views the
    # followers' (one agent per follower).
    # EDRP-v0 keeps the first EDRP's dynamics (results made on it stay reproducible); v1 is the
    # revised city (alloc_envs.edrp.config.PRESETS_BY_VERSION).
    "alloc/EDRP-v0": (
        "alloc_envs.edrp.gym_env:EDRPLeaderEnv",
        "alloc_envs.edrp.parallel_env:EDRPParallelEnv",
        "alloc_envs.edrp.parallel_env:env",
    ),
    "alloc/EDRP-v1": (
        "alloc_envs.edrp.gym_env:EDRPLeaderEnv",
        "alloc_envs.edrp.parallel_env:EDRPParallelEnv",
        "alloc_envs.edrp.parallel_env:env",
    ),
    "alloc/MTFG-v0": (
        "alloc_envs.mtfg.gym_env:MTFGLeaderEnv",
        "alloc_envs.mtfg.parallel_env:MTFGParallelEnv",
        "alloc_envs.mtfg.parallel_env:env",
    ),
    # Third-party adapters: need the optional extra `alloc-envs[third-party]` when made.
    "alloc/LBF-v0": (
        "alloc_envs.third_party.lbf_env:LBFEnv",
        "alloc_envs.third_party.lbf_env:LBFParallelEnv",
        "alloc_envs.third_party.lbf_env:env",
    ),
    "alloc/RWARE-v0": (
        "alloc_envs.third_party.rware_env:RWAREEnv",
        "alloc_envs.third_party.rware_env:RWAREParallelEnv",
        "alloc_envs.third_party.rware_env:env",
    ),
}


#: Keyword arguments an id passes to its entry points (the dynamics' version where one class
#: serves several ids).
ENVIRONMENT_KWARGS: dict[str, dict[str, object]] = {
    "alloc/EDRP-v0": {"version": 0},
    "alloc/EDRP-v1": {"version": 1},
}


#: Gymnasium vector entry points (``make_vec(..., vectorization_mode="vector_entry_point")``):
#: environments that step several copies in one call.
VECTOR_ENTRY_POINTS: dict[str, str] = {
    "alloc/RideHailing-v0": "alloc_envs.ride_hailing.vector_env:RideHailingVectorEnv",
}


def register_environments() -> None:
    """Register every id of :data:`ENVIRONMENTS` in the Gymnasium registry and both PettingZoo
    registries (parallel and AEC), once."""
    for env_id, (gym_entry, parallel_entry, aec_entry) in ENVIRONMENTS.items():
        kwargs = ENVIRONMENT_KWARGS.get(env_id, {})
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=gym_entry,
                vector_entry_point=VECTOR_ENTRY_POINTS.get(env_id),
                kwargs=kwargs,
            )
        if env_id not in pettingzoo.parallel_registry:
            pettingzoo.register("parallel", env_id, parallel_entry, kwargs=kwargs)
        if env_id not in pettingzoo.aec_registry:
            pettingzoo.register("aec", env_id, aec_entry, kwargs=kwargs)
