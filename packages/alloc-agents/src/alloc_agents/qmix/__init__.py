"""QMIX (Rashid et al., ICML 2018) on the agent zoo's core, for any PettingZoo ``ParallelEnv``
whose agents act in ``Discrete`` spaces, and for Ride-Hailing's dispatch picks.

Modules, one job each: :mod:`~.config` (hyper-parameters, presets), :mod:`~.action_values`
(greedy, chosen and random actions of Discrete and pick utilities), :mod:`~.q_networks` (the
agent networks), :mod:`~.mixer` (the monotonic mixer), :mod:`~.model` (agents + mixer, sharing),
:mod:`~.episodes` (episode recording, replay buffer, batches), :mod:`~.learner` (TD loss,
target networks), :mod:`~.trainer` (the loop, checkpoints), :mod:`~.policy` (the greedy policy).
"""

from alloc_agents.qmix.config import QMIX_PRESETS, QMIXConfig, get_qmix_preset
from alloc_agents.qmix.model import QMIX_SHARING, QMIXModel
from alloc_agents.qmix.policy import QMIXPolicy, load_qmix_policy
from alloc_agents.qmix.trainer import ValueResult, train_qmix

__all__ = [
    "QMIX_PRESETS",
    "QMIX_SHARING",
    "QMIXConfig",
    "QMIXModel",
    "QMIXPolicy",
    "ValueResult",
    "get_qmix_preset",
    "load_qmix_policy",
    "train_qmix",
]
