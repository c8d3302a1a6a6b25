"""The planner's ceiling of EDRP: the best order response rate of a central planner who moves the
drivers directly (no incentive, no self-interest) under the same matching and trips. No leader,
whatever its charges, can exceed it; leaderboards report every method's share of the headroom
``(ORR - no charge) / (ceiling - no charge)``.

The program is :func:`alloc_envs.stackelberg.planner.plan` with EDRP's capacities (the orders
expected in each zone and slot) and each served order weighted by ``1 / expected orders``, so its
value is a mean-field ORR. Its policy, rolled out in the model
(:func:`~alloc_envs.stackelberg.fokker_planck.rollout`, the game's own min rule), reproduces the
value: the check that the program models the dynamics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alloc_envs.edrp.game import EDRPGame
from alloc_envs.stackelberg.fokker_planck import rollout
from alloc_envs.stackelberg.leader import no_incentive
from alloc_envs.stackelberg.planner import PlannerSolution, plan


@dataclass(frozen=True)
class PlannerCeiling:
    """EDRP's ceiling.

    Attributes:
        orr: the program's optimum, a mean-field ORR (the bound).
        rollout_orr: the ORR of the planner's policy rolled out in the model.
        policy: (T, S, A) the planner's follower policy.
        solution: the program's full solution (flows, served orders).
    """

    orr: float
    rollout_orr: float
    policy: np.ndarray
    solution: PlannerSolution


def planner_ceiling(game: EDRPGame) -> PlannerCeiling:
    """The planner's ceiling of ``game`` (module doc); HiGHS solves it in about 2 s of one core
    for the 63-zone city (``benchmarks/edrp_limits.py``)."""
    weights = np.full(game.city.demand.shape, 1.0 / game.total_demand)
    solution = plan(game, game.city.demand, weights)
    policy = solution.policy / solution.policy.sum(axis=2, keepdims=True)
    flow = rollout(game, policy, no_incentive(game))
    return PlannerCeiling(solution.value, float(flow.metrics["orr"]), policy, solution)
