"""The mean-field fidelity: the Fokker-Planck step (TIRL paper Eq. 2) and rollouts of m_0..m_T.

``m_{t+1}(k) = sum_l sum_a m_t(l) pi_t(a | l) P_t(k | l, a)``. Its cost depends on the sizes of
the state and action sets, never on the number of followers.

The followers' policy is a (T', S, A) table, or a callable ``(t, u_t) -> (S, A)`` for followers
who observe the leader's incentive of the step before they act (the leader acts first, TIRL
paper §3.2); :attr:`Flow.policies` is then the table the followers played along the flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.stackelberg.game import MeanFieldGame, check_incentive, check_policy
from alloc_envs.stackelberg.leader import as_leader_policy

#: A follower policy that observes the step's incentive: ``(t, u_t) -> (S, A)`` probabilities.
IncentivePolicy = Callable[[int, np.ndarray], np.ndarray]


def fp_step(distribution: np.ndarray, policy_t: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Eq. 2 on a dense kernel: (S,) m_t, (S, A) pi_t, (S, A, S) P_t -> (S,) m_{t+1}."""
    return np.einsum("l,la,lak->k", distribution, policy_t, kernel)


@dataclass(frozen=True)
class Flow:
    """A mean-field rollout from step ``start`` to the horizon T (T' = T - start steps).

    Attributes:
        start: the first step.
        distributions: (T' + 1, S) m_start .. m_T.
        joints: (T', S, A) joint mean fields L_t = m_t pi_t.
        exogenous: (T' + 1, X) x_start .. x_T.
        incentives: (T', U) the leader's incentives u_t.
        outcomes: the T' step outcomes (scenario objects, e.g. ``SiteOutcome``).
        follower_rewards: (T', S, A) r_t[s, a].
        leader_rewards: (T',) the leader's rewards.
        totals: summed step statistics.
        metrics: the game's episode metrics of ``totals`` (e.g. ``orr``, ``cr``).
        policies: (T', S, A) the followers' policy at every step (the table given, or what an
            incentive-observing policy played against the flow's incentives).
    """

    start: int
    distributions: np.ndarray
    joints: np.ndarray
    exogenous: np.ndarray
    incentives: np.ndarray
    outcomes: tuple[Any, ...]
    follower_rewards: np.ndarray
    leader_rewards: np.ndarray
    totals: dict[str, np.ndarray]
    metrics: dict[str, Any]
    policies: np.ndarray

    @property
    def leader_return(self) -> float:
        """Sum of the leader's rewards."""
        return float(self.leader_rewards.sum())


def add_statistics(totals: dict[str, np.ndarray], step: dict[str, np.ndarray]) -> None:
    """Accumulate one step's additive statistics into ``totals`` (in place)."""
    for key, value in step.items():
        totals[key] = totals[key] + value if key in totals else np.array(value, dtype=np.float64)


def rollout(
    game: MeanFieldGame,
    policy: np.ndarray | IncentivePolicy,
    leader: Any,
    *,
    start: int = 0,
    distribution: np.ndarray | None = None,
    exogenous: np.ndarray | None = None,
) -> Flow:
    """Roll the mean field forward from ``start`` (default: m_0 and x_0 of the game) under the
    follower ``policy`` (a (T - start, S, A) table, or a callable ``(t, u_t) -> (S, A)`` whose
    rows are checked like a table's) and the ``leader`` (a constant incentive, a schedule or a
    callable: :func:`alloc_envs.stackelberg.leader.as_leader_policy`)."""
    if not 0 <= start < game.horizon:
        raise ValueError(f"start must be in [0, {game.horizon}), got {start}")
    leader_policy = as_leader_policy(game, leader, start)
    m = np.array(game.initial_distribution if distribution is None else distribution, float)
    x = np.array(game.initial_exogenous if exogenous is None else exogenous, float)
    steps = game.horizon - start
    distributions, exo = [m], [x]
    joints, incentives, outcomes, rewards, leader_rewards, policies = [], [], [], [], [], []
    totals: dict[str, np.ndarray] = {}
    for i in range(steps):
        t = start + i
        u = check_incentive(game, leader_policy(t, m, x), f"leader incentive at step {t}")
        if callable(policy):
            policy_t = check_policy(game, policy(t, u)[None], 1, f"follower policy at step {t}")[0]
        else:
            policy_t = policy[i]
        joint = m[:, None] * policy_t
        outcome = game.outcome(t, joint, x, u)
        rewards.append(game.follower_reward(t, outcome, x, u))
        leader_rewards.append(game.leader_reward(t, outcome, x, u))
        add_statistics(totals, game.step_statistics(t, outcome, x, u))
        m = game.push_forward(t, outcome, joint)
        x = game.next_exogenous(t, outcome, x)
        joints.append(joint)
        policies.append(policy_t)
        incentives.append(u)
        outcomes.append(outcome)
        distributions.append(m)
        exo.append(x)
    return Flow(
        start=start,
        distributions=np.stack(distributions),
        joints=np.stack(joints),
        exogenous=np.stack(exo),
        incentives=np.stack(incentives),
        outcomes=tuple(outcomes),
        follower_rewards=np.stack(rewards),
        leader_rewards=np.asarray(leader_rewards, dtype=np.float64),
        totals=totals,
        metrics=game.metrics(totals),
        policies=np.stack(policies),
    )
