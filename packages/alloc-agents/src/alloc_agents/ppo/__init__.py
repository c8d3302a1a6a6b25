"""A PPO core for any PettingZoo ``ParallelEnv``: IPPO / MAPPO / CoPO × PS / PS-id / NoPS / PSA /
SePS / DyPS / Role-As-State.

Modules, one job each: :mod:`~.config` (hyper-parameters, presets), :mod:`~.spaces` (space
groups, observation stacking), :mod:`~.batched` (layers with per-agent parameter sets),
:mod:`~.distributions` (action distributions), :mod:`~.networks` (generic MLP actors and
critics), :mod:`~.ride_hailing` (ride-hailing dispatch / reposition networks), :mod:`~.sharing`
(parameter-sharing strategies), :mod:`~.copo` with :mod:`~.neighbourhoods` (CoPO's LCF,
coordinated advantages and meta-update), :mod:`~.seps` and :mod:`~.dyps` with :mod:`~.roles` (the
dynamic strategies), :mod:`~.agent_roles` (VLSTM agent roles, shared by DyPS and
:mod:`~.role_state`, Role-As-State), :mod:`~.model` (per-group actor, critic, value normaliser),
:mod:`~.valuenorm`, :mod:`~.gae`, :mod:`~.buffer`, :mod:`~.runner` (lockstep env copies),
:mod:`~.trainer` (the loop), :mod:`~.checkpoint`, :mod:`~.logger`, :mod:`~.policy` (the trained
policy behind :class:`alloc_agents.Policy`), :mod:`~.evaluate`.
"""

from alloc_agents.ppo.config import PRESETS, PPOConfig, Preset, get_preset
from alloc_agents.ppo.copo import CoPOConfig
from alloc_agents.ppo.evaluate import evaluate
from alloc_agents.ppo.policy import PPOPolicy, load_policy
from alloc_agents.ppo.sharing import (
    DYPS_TABLE6,
    SHARING,
    DyPSConfig,
    RoleAsStateConfig,
    SePSConfig,
    SharingStrategy,
    make_sharing,
)
from alloc_agents.ppo.trainer import TrainResult, train

__all__ = [
    "DYPS_TABLE6",
    "PRESETS",
    "SHARING",
    "CoPOConfig",
    "DyPSConfig",
    "PPOConfig",
    "PPOPolicy",
    "Preset",
    "RoleAsStateConfig",
    "SePSConfig",
    "SharingStrategy",
    "TrainResult",
    "evaluate",
    "get_preset",
    "load_policy",
    "make_sharing",
    "train",
]
