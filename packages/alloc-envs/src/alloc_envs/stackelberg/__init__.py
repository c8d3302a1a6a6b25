"""Shared core of the Stackelberg mean-field scenarios (EDRP, MTFG).

One model, two fidelities, three views:

* :mod:`~alloc_envs.stackelberg.game` — the mean-field game interface and input checks;
  :mod:`~alloc_envs.stackelberg.matching` — the site-matching structure both scenarios use;
* :mod:`~alloc_envs.stackelberg.fokker_planck` — the mean-field step (Eq. 2) and rollouts;
  :mod:`~alloc_envs.stackelberg.population` — N followers as arrays (the same law, sampled);
* :mod:`~alloc_envs.stackelberg.solver` — the exact follower equilibrium and exploitability;
  :mod:`~alloc_envs.stackelberg.responder` — the follower-responder interface;
* :mod:`~alloc_envs.stackelberg.leader_env` (Gymnasium, the leader),
  :mod:`~alloc_envs.stackelberg.parallel_env` (PettingZoo, the followers) and
  :class:`~alloc_envs.stackelberg.population.Population` (arrays, for follower training).
"""

from alloc_envs.stackelberg.fokker_planck import Flow, fp_step, rollout
from alloc_envs.stackelberg.game import MeanFieldGame, check_incentive, uniform_policy
from alloc_envs.stackelberg.leader import IncentiveSchedule, LeaderPolicy, no_incentive
from alloc_envs.stackelberg.leader_env import LeaderEnv
from alloc_envs.stackelberg.matching import MatchingGame, SiteOutcome
from alloc_envs.stackelberg.population import Population, PopulationStep
from alloc_envs.stackelberg.responder import ExactResponder, FollowerResponder, FollowerResponse
from alloc_envs.stackelberg.solver import Equilibrium, solve_equilibrium

__all__ = [
    "Equilibrium",
    "ExactResponder",
    "Flow",
    "FollowerResponder",
    "FollowerResponse",
    "IncentiveSchedule",
    "LeaderEnv",
    "LeaderPolicy",
    "MatchingGame",
    "MeanFieldGame",
    "Population",
    "PopulationStep",
    "SiteOutcome",
    "check_incentive",
    "fp_step",
    "no_incentive",
    "rollout",
    "solve_equilibrium",
    "uniform_policy",
]
