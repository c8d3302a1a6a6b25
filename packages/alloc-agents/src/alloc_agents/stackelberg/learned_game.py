"""The instantiated empirical Fokker-Planck equation (TIRL paper Eqs. 6 and 10): the game with
the followers' kernel replaced by the learned one.

Two learned kernels, both :class:`alloc_envs.stackelberg.game.MeanFieldGame` s, so alloc_envs'
own machinery runs on them unchanged: :func:`~alloc_envs.stackelberg.fokker_planck.rollout`
generates the flow ``m_{t+1}(k) = sum_l sum_a m_t(l) pi_t(a | l) P(k | t, l, a, outcome_t)`` with
no followers simulated, and :func:`~alloc_envs.stackelberg.solver.backward` evaluates a follower
policy on it:

* :class:`LearnedKernelGame` (the paper's P_eta, ``transition_model="kernel"``): a fixed
  (T, S, A, S) kernel ``P_eta(s' | t, s, a)``; the step's outcome does not enter.
* :class:`LearnedMatchingGame` (ours, ``transition_model="matching"``): the matching game's
  structure (:mod:`alloc_envs.stackelberg.matching`) with its two follower laws learned,
  ``P(s' | t, s, a, outcome) = p(y) D_t[y, s'] + (1 - p(y)) U_t[s, a, s']``, ``y = site_of[s, a]``,
  where ``p(y) = min(1, c(y) / n(y))`` is the match probability of the step's outcome (of the
  generated mean field, so it falls when more followers arrive at y), ``D`` the learned law of
  the next state of a follower matched at y and ``U`` the learned law of an unmatched one.

Everything except the followers' laws is the true game's: the reward functions of the leader and
the followers (the paper's §3.1 assumes them known), the step outcome they are functions of
(arrivals at the sites against the capacity), the leader's exogenous transition and the metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alloc_envs.stackelberg.matching import MatchingGame, SiteOutcome


def _check_shape(name: str, array: np.ndarray, shape: tuple[int, ...], axes: str) -> None:
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape} ({axes}), got {array.shape}")


class LearnedGame:
    """``game`` with learned follower laws (subclasses give :meth:`transition_kernel`,
    ``push_forward`` and ``expected_next``).

    Attributes other than the laws are the true game's (sizes, mask, incentive box, initial
    distribution and exogenous state)."""

    def __init__(self, game: MatchingGame) -> None:
        self.game = game
        self.n_states, self.n_actions, self.horizon = game.n_states, game.n_actions, game.horizon
        self.action_mask = game.action_mask
        self.incentive_low, self.incentive_high = game.incentive_low, game.incentive_high
        self.exogenous_high = game.exogenous_high
        self.initial_distribution = game.initial_distribution
        self.initial_exogenous = game.initial_exogenous

    def outcome(self, t: int, joint: np.ndarray, exogenous: np.ndarray, incentive: np.ndarray):
        """The true game's step outcome of the (S, A) joint mean field."""
        return self.game.outcome(t, joint, exogenous, incentive)

    def follower_reward(self, t: int, outcome: Any, exogenous: np.ndarray, incentive: np.ndarray):
        """(S, A) the true game's follower reward table."""
        return self.game.follower_reward(t, outcome, exogenous, incentive)

    def leader_reward(self, t: int, outcome: Any, exogenous: np.ndarray, incentive: np.ndarray):
        """The true game's leader reward."""
        return self.game.leader_reward(t, outcome, exogenous, incentive)

    def next_exogenous(self, t: int, outcome: Any, exogenous: np.ndarray) -> np.ndarray:
        """(X,) the true game's x_{t+1}."""
        return self.game.next_exogenous(t, outcome, exogenous)

    def step_statistics(self, t: int, outcome: Any, exogenous: np.ndarray, incentive: np.ndarray):
        """The true game's additive statistics of the step."""
        return self.game.step_statistics(t, outcome, exogenous, incentive)

    def metrics(self, totals: dict[str, np.ndarray]) -> dict[str, Any]:
        """The true game's episode metrics."""
        return self.game.metrics(totals)


class LearnedKernelGame(LearnedGame):
    """``game`` with the followers' kernel ``kernels`` ((T, S, A, S), rows summing to one)."""

    def __init__(self, game: MatchingGame, kernels: np.ndarray) -> None:
        shape = (game.horizon, game.n_states, game.n_actions, game.n_states)
        _check_shape("kernels", kernels, shape, "T, S, A, S")
        super().__init__(game)
        self.kernels = kernels

    def transition_kernel(self, t: int, outcome: Any) -> np.ndarray:
        """(S, A, S) ``P_eta[t]`` (the outcome does not enter: P_eta is a function of (t, s, a))."""
        return self.kernels[t]

    def push_forward(self, t: int, outcome: Any, joint: np.ndarray) -> np.ndarray:
        """(S,) ``sum_{s, a} joint[s, a] P_eta[t, s, a, :]`` (Eq. 6 with P_eta)."""
        return joint.reshape(-1) @ self.kernels[t].reshape(-1, self.n_states)

    def expected_next(self, t: int, outcome: Any, values: np.ndarray) -> np.ndarray:
        """(S, A) ``sum_{s'} P_eta[t, s, a, s'] values[s']``."""
        return self.kernels[t] @ values


class LearnedMatchingGame(LearnedGame):
    """``game`` with the learned laws of matched followers, ``destinations`` (T, Y, S): the next
    state of a follower matched at site y at step t, and of unmatched ones, ``unmatched``
    (T, S, A, S) (rows summing to one); the match probability is the outcome's (module doc)."""

    def __init__(self, game: MatchingGame, destinations: np.ndarray, unmatched: np.ndarray) -> None:
        t, s, a = game.horizon, game.n_states, game.n_actions
        _check_shape("destinations", destinations, (t, game.n_sites, s), "T, Y, S")
        _check_shape("unmatched", unmatched, (t, s, a, s), "T, S, A, S")
        super().__init__(game)
        self.destinations, self.unmatched = destinations, unmatched
        self._has_site = game.site_of >= 0
        self._site_flat = np.where(self._has_site, game.site_of, 0).ravel()

    def match_probability(self, outcome: SiteOutcome) -> np.ndarray:
        """(S, A) the probability that (s, a) ends matched: p(site_of[s, a]), 0 without a site."""
        p = outcome.match_probability[self._site_flat].reshape(self._has_site.shape)
        return np.where(self._has_site, p, 0.0)

    def transition_kernel(self, t: int, outcome: SiteOutcome) -> np.ndarray:
        """(S, A, S) ``p D_t[site] + (1 - p) U_t``."""
        p = self.match_probability(outcome)[:, :, None]
        matched = self.destinations[t][self._site_flat].reshape(self.unmatched[t].shape)
        return p * matched + (1.0 - p) * self.unmatched[t]

    def push_forward(self, t: int, outcome: SiteOutcome, joint: np.ndarray) -> np.ndarray:
        """(S,) ``sum_{s, a} joint[s, a] P[t, s, a, :]`` in O(S A S + Y S)."""
        p = self.match_probability(outcome)
        stay = (joint * (1.0 - p)).reshape(-1) @ self.unmatched[t].reshape(-1, self.n_states)
        weights = (joint * p).ravel()
        matched = np.bincount(self._site_flat, weights=weights, minlength=self.game.n_sites)
        return stay + matched @ self.destinations[t]

    def expected_next(self, t: int, outcome: SiteOutcome, values: np.ndarray) -> np.ndarray:
        """(S, A) ``sum_{s'} P[t, s, a, s'] values[s']``."""
        p = self.match_probability(outcome)
        matched = (self.destinations[t] @ values)[self._site_flat].reshape(p.shape)
        return p * matched + (1.0 - p) * (self.unmatched[t] @ values)
