"""RODE (Wang et al., ICLR 2021, "RODE: Learning Roles to Decompose Multi-Agent Tasks") on
QMIX's machinery, for any PettingZoo ``ParallelEnv`` whose agents act in ``Discrete`` spaces,
and for Ride-Hailing's dispatch picks (where an action, for the roles, is a candidate order).

Modules, one job each: :mod:`~.config` (hyper-parameters, presets), :mod:`~.action_encoder`
(action representations and their forward model), :mod:`~.kmeans` (the roles' clustering),
:mod:`~.model` (role policies, role selector, mixers), :mod:`~.acting` (roles and actions while
playing), :mod:`~.learner` (the two TD losses, the forward model, forming roles),
:mod:`~.trainer` (``train_rode``), :mod:`~.policy` (the greedy policy).
"""

from alloc_agents.rode.config import RODE_PRESETS, RODEConfig, get_rode_preset
from alloc_agents.rode.model import RODE_SHARING, RODEModel
from alloc_agents.rode.policy import RODEPolicy, load_rode_policy
from alloc_agents.rode.trainer import train_rode

__all__ = [
    "RODE_PRESETS",
    "RODE_SHARING",
    "RODEConfig",
    "RODEModel",
    "RODEPolicy",
    "get_rode_preset",
    "load_rode_policy",
    "train_rode",
]
