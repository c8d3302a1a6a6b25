"""MTFG: multi-type food gathering as a Stackelberg mean-field game (TIRL paper, §5).

``alloc/MTFG-v0``: followers gather food of several types on a grid; the leader pays a bonus per
unit of each type to raise the collection ratio of the types she values. See the package README
and :mod:`alloc_envs.mtfg.game` for the model.
"""

from alloc_envs.mtfg.config import DEFAULT_PRESET, PRESETS, MTFGConfig
from alloc_envs.mtfg.game import MTFGGame, food_cells, make_game
from alloc_envs.mtfg.gym_env import MTFGLeaderEnv
from alloc_envs.mtfg.parallel_env import MTFGParallelEnv, env, parallel_env
from alloc_envs.mtfg.rules import RULES, value_gap_bonus

__all__ = [
    "DEFAULT_PRESET",
    "PRESETS",
    "RULES",
    "MTFGConfig",
    "MTFGGame",
    "MTFGLeaderEnv",
    "MTFGParallelEnv",
    "env",
    "food_cells",
    "make_game",
    "parallel_env",
    "value_gap_bonus",
]
