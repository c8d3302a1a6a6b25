"""EDRP: e-hailing driver repositioning as a Stackelberg mean-field game (TIRL paper, §3.2, §5).

``alloc/EDRP-v0``: a platform (leader) sets a service charge per zone; a large population of
drivers (followers) repositions between neighbouring zones and serves orders matched by the min
rule. Mean-field and N-agent fidelities; a synthetic Manhattan-like city or NYC TLC records. See
the package README and :mod:`alloc_envs.edrp.game` for the model.
"""

from alloc_envs.edrp.city import EDRPCity
from alloc_envs.edrp.config import DEFAULT_PRESET, PRESETS, EDRPConfig
from alloc_envs.edrp.game import EDRPGame, make_game
from alloc_envs.edrp.gym_env import EDRPLeaderEnv
from alloc_envs.edrp.parallel_env import EDRPParallelEnv, env, parallel_env
from alloc_envs.edrp.rules import RULES, OversupplyCharge, oversupply_charge
from alloc_envs.edrp.synthetic import synthetic_city, two_zone_city

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "RULES",
    "EDRPCity",
    "EDRPConfig",
    "EDRPGame",
    "EDRPLeaderEnv",
    "EDRPParallelEnv",
    "OversupplyCharge",
    "env",
    "make_game",
    "oversupply_charge",
    "parallel_env",
    "synthetic_city",
    "two_zone_city",
]
