"""How far a follower policy is from equilibrium, measured exactly on the known model.

The learners never see the model; this is the yardstick. It reuses ``alloc_envs``' solver
machinery: the policy's mean-field flow (:func:`~alloc_envs.stackelberg.fokker_planck.rollout`)
and backward induction against it (:func:`~alloc_envs.stackelberg.solver.backward`,
:func:`~alloc_envs.stackelberg.solver.exploitability_of`), so a learned policy and the exact
solver's equilibrium are scored by the same function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.stackelberg.fokker_planck import Flow, IncentivePolicy, rollout
from alloc_envs.stackelberg.game import MeanFieldGame
from alloc_envs.stackelberg.solver import backward, exploitability_of


@dataclass(frozen=True)
class PolicyEvaluation:
    """A follower policy scored on the mean-field model.

    Attributes:
        exploitability: what a (soft, temperature tau) best response gains over the policy on
            the policy's own flow, ``sum_s m_start(s) (V^BR(s) - V^pi(s))`` with entropy terms
            (reward units per follower and episode; 0 exactly at the regularised equilibrium).
        unregularised_exploitability: the same with tau = 0 (a hard best response, no entropy).
        flow: the policy's mean-field rollout (``flow.metrics``: ORR / CR ...,
            ``flow.leader_return``).
    """

    exploitability: float
    unregularised_exploitability: float
    flow: Flow


def evaluate_policy(
    game: MeanFieldGame,
    policy: np.ndarray | IncentivePolicy,
    leader: Any,
    *,
    temperature: float,
    start: int = 0,
    distribution: np.ndarray | None = None,
    exogenous: np.ndarray | None = None,
) -> PolicyEvaluation:
    """Score ``policy`` (a (T - start, S, A) table, or a callable ``(t, u_t) -> (S, A)`` of
    followers who observe the incentive: the table it plays along the flow is scored) against
    ``leader`` (a constant incentive, a schedule or a callable) in the subgame from ``start``
    (default: m_0, x_0)."""
    flow = rollout(
        game, policy, leader, start=start, distribution=distribution, exogenous=exogenous
    )
    soft = exploitability_of(flow, backward(game, flow, flow.policies, temperature))
    hard = exploitability_of(flow, backward(game, flow, flow.policies, 0.0))
    return PolicyEvaluation(soft, hard, flow)
