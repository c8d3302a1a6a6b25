"""Learned followers for the Stackelberg mean-field scenarios (EDRP, MTFG).

The model-free follower solver: shared-parameter PPO on N-agent rollouts of
:class:`alloc_envs.stackelberg.Population`, reusable by leader trainers (SMFU, TIRL) and
pluggable into the leader's Gymnasium view through the responder interface.

* :mod:`~.config` — :class:`FollowerPPOConfig`;
* :mod:`~.network` — the shared policy / value networks on the (t, s) grid;
* :mod:`~.rollout` — one episode of N followers under a policy table;
* :mod:`~.followers` — :class:`FollowerPPO`, the learner (train, policy table, checkpoints);
* :mod:`~.evaluation` — exploitability and mean-field metrics of a policy on the exact model;
* :mod:`~.responder` — :class:`PPOResponder`, the learner as a ``FollowerResponder``.

Leader trainers (issue #7; the shared loop in :mod:`~.trainer`):

* :mod:`~.trainer_config` — :class:`StackelbergConfig`, :class:`TIRLConfig`;
* :mod:`~.leader` — the leader's policy (Beta over the incentive box) and how it acts;
  :mod:`~.leader_update` — its REINFORCE-with-baseline step; :mod:`~.regularisers` — §4.3's;
* :mod:`~.smfu` — :class:`SMFU` (and SMFU-w/o-L, Reg-SMFU by settings);
* :mod:`~.transition` — TIRL's P_eta; :mod:`~.learned_game` — the instantiated empirical
  Fokker-Planck equation; :mod:`~.model_based` — the followers' update on the generated mean
  field; :mod:`~.tirl` — :class:`TIRL` (and Reg-TIRL);
* :mod:`~.methods` — the paper's method names (:func:`make_trainer`);
* :mod:`~.leader_evaluation` — :func:`evaluate_leader`, the §5.1 protocol.
"""

from alloc_agents.stackelberg.config import FollowerPPOConfig
from alloc_agents.stackelberg.evaluation import PolicyEvaluation, evaluate_policy
from alloc_agents.stackelberg.followers import FollowerPPO
from alloc_agents.stackelberg.leader_evaluation import LeaderEvaluation, evaluate_leader
from alloc_agents.stackelberg.methods import METHODS, make_trainer, method_config
from alloc_agents.stackelberg.responder import PPOResponder
from alloc_agents.stackelberg.smfu import SMFU
from alloc_agents.stackelberg.tirl import TIRL
from alloc_agents.stackelberg.trainer import StackelbergTrainer
from alloc_agents.stackelberg.trainer_config import StackelbergConfig, TIRLConfig

__all__ = [
    "METHODS",
    "SMFU",
    "TIRL",
    "FollowerPPO",
    "FollowerPPOConfig",
    "LeaderEvaluation",
    "PPOResponder",
    "PolicyEvaluation",
    "StackelbergConfig",
    "StackelbergTrainer",
    "TIRLConfig",
    "evaluate_leader",
    "evaluate_policy",
    "make_trainer",
    "method_config",
]
