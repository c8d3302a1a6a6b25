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
* :mod:`~.transition` — TIRL's P_eta; :mod:`~.matching_model` — P_eta with the matching
  structure (``transition_model="matching"``); :mod:`~.learned_game` — the instantiated
  empirical Fokker-Planck equation; :mod:`~.model_based` — the followers' update on the
  generated mean field; :mod:`~.pathwise` — the leader's gradient through the learned model,
  whose flow is :mod:`~.model_flow`'s; :mod:`~.equilibrium_leader` — the leader's gradient at
  the followers' equilibrium of the learned model; :mod:`~.tirl` — :class:`TIRL` (and Reg-TIRL);
* the leader baselines, with SMFU's followers: :mod:`~.population_model` — the
  population-response model (M3RL's tracker, EBPG's follower-aware module);
  :mod:`~.baseline_learner` — their shared learner; :mod:`~.m3rl` — :class:`M3RL`;
  :mod:`~.ebpg` — :class:`EBPG`; :mod:`~.baseline_config` — :class:`M3RLConfig`,
  :class:`EBPGConfig`;
* :mod:`~.methods` — the paper's method names (:func:`make_trainer`);
* :mod:`~.leader_evaluation` — :func:`evaluate_leader`, the §5.1 protocol.
"""

from alloc_agents.stackelberg.baseline_config import EBPGConfig, M3RLConfig
from alloc_agents.stackelberg.config import FollowerPPOConfig
from alloc_agents.stackelberg.ebpg import EBPG
from alloc_agents.stackelberg.evaluation import PolicyEvaluation, evaluate_policy
from alloc_agents.stackelberg.followers import FollowerPPO
from alloc_agents.stackelberg.leader_evaluation import (
    LeaderEvaluation,
    evaluate_leader,
    exact_leader_score,
)
from alloc_agents.stackelberg.m3rl import M3RL
from alloc_agents.stackelberg.methods import METHODS, make_trainer, method_config
from alloc_agents.stackelberg.responder import PPOResponder
from alloc_agents.stackelberg.smfu import SMFU
from alloc_agents.stackelberg.tirl import TIRL
from alloc_agents.stackelberg.trainer import StackelbergTrainer
from alloc_agents.stackelberg.trainer_config import StackelbergConfig, TIRLConfig

__all__ = [
    "EBPG",
    "M3RL",
    "METHODS",
    "SMFU",
    "TIRL",
    "EBPGConfig",
    "FollowerPPO",
    "FollowerPPOConfig",
    "LeaderEvaluation",
    "M3RLConfig",
    "PPOResponder",
    "PolicyEvaluation",
    "StackelbergConfig",
    "StackelbergTrainer",
    "TIRLConfig",
    "evaluate_leader",
    "evaluate_policy",
    "exact_leader_score",
    "make_trainer",
    "method_config",
]
