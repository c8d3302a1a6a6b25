"""One training episode of N followers: a :class:`Population` played under the followers' policy
(a table, or a callable of the step and its incentive for followers who observe it).

Everything is vectorised over the (N,) arrays (no per-follower Python): actions are drawn with
:meth:`Population.sample_actions` (the same grouped sampler the leader view uses) from the rows
of the followers' states, and every draw, of the environment and of the actions, comes from the
population's own generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.stackelberg.fokker_planck import IncentivePolicy
from alloc_envs.stackelberg.game import check_incentive
from alloc_envs.stackelberg.leader import LeaderPolicy
from alloc_envs.stackelberg.population import Population


@dataclass(frozen=True)
class Episode:
    """N followers from step ``start`` to the horizon T (T' = T - start steps).

    Attributes:
        states: (T', N) int64 state of every follower at steps start..T-1.
        actions: (T', N) int64 their actions.
        rewards: (T', N) float64 their rewards (reward units, no entropy term).
        final_states: (N,) int64 their states at the horizon (after the last step), so that
            the next states of step t are ``states[t + 1]`` (``final_states`` for the last).
        leader_rewards: (T',) float64 the leader's reward of every step.
        metrics: the scenario's episode metrics (e.g. ``orr``, ``cr``).
        incentives: (T', U) float64 the leader's incentive of every step.
        matched: (T', N) bool, whether each follower was matched at a site in each step (an
            order, a food unit): what it observes when it is paid.
    """

    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    final_states: np.ndarray
    leader_rewards: np.ndarray
    metrics: dict[str, Any]
    incentives: np.ndarray
    matched: np.ndarray

    @property
    def leader_return(self) -> float:
        """Sum of the leader's rewards."""
        return float(self.leader_rewards.sum())

    @property
    def next_states(self) -> np.ndarray:
        """(T', N) int64 every follower's state after each step."""
        return np.concatenate((self.states[1:], self.final_states[None]))


def play_episode(
    population: Population,
    policy: np.ndarray | IncentivePolicy,
    leader: LeaderPolicy,
    *,
    start: int,
    distribution: np.ndarray | None,
    exogenous: np.ndarray | None,
) -> Episode:
    """Play ``population`` from ``start`` (states drawn from ``distribution``, default m_0;
    ``exogenous`` default x_0) to the horizon under ``policy``, a (T - start, S, A) table or a
    callable ``(t, u_t) -> (S, A)``; the leader acts first on the empirical distribution at
    every step."""
    pop = population
    pop.reset(start=start, distribution=distribution, exogenous=exogenous)
    states, actions, rewards, leader_rewards, incentives, matched = [], [], [], [], [], []
    while not pop.done:
        incentive = check_incentive(pop.game, leader(pop.t, pop.distribution(), pop.exogenous))
        rows = policy(pop.t, incentive) if callable(policy) else policy[pop.t - start]
        acts = pop.sample_actions(rows)
        incentives.append(incentive)
        states.append(pop.states)
        actions.append(acts)
        step = pop.step(acts, incentive)
        rewards.append(step.rewards)
        matched.append(step.matched)
        leader_rewards.append(step.leader_reward)
    return Episode(
        states=np.stack(states),
        actions=np.stack(actions),
        rewards=np.stack(rewards),
        final_states=pop.states,
        leader_rewards=np.asarray(leader_rewards, dtype=np.float64),
        metrics=pop.metrics(),
        incentives=np.asarray(incentives, dtype=np.float64),
        matched=np.stack(matched),
    )
