"""The instantiated empirical Fokker-Planck equation (TIRL paper Eqs. 6 and 10): the game with
the followers' kernel replaced by the learned ``P_eta``.

:class:`LearnedKernelGame` is an :class:`alloc_envs.stackelberg.game.MeanFieldGame` whose
transition kernel is a fixed (T, S, A, S) array (P_eta evaluated on the whole grid), so alloc_envs'
own machinery runs on it unchanged: :func:`~alloc_envs.stackelberg.fokker_planck.rollout`
generates the flow ``m_{t+1}(k) = sum_l sum_a m_t(l) pi_t(a | l) P_eta(k | t, l, a)`` in
O(S A S) per step, with no followers simulated, and
:func:`~alloc_envs.stackelberg.solver.backward` evaluates a follower policy on it.

Everything except the followers' kernel is the true game's: the reward functions of the leader
and the followers (the paper's §3.1 assumes them known), the step outcome they are functions of
(arrivals at the sites against the capacity), the leader's exogenous transition and the metrics.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from alloc_envs.stackelberg.matching import MatchingGame


class LearnedKernelGame:
    """``game`` with the followers' kernel ``kernels`` ((T, S, A, S), rows summing to one).

    Attributes other than the kernel's methods are the true game's (sizes, mask, incentive
    box, initial distribution and exogenous state)."""

    def __init__(self, game: MatchingGame, kernels: np.ndarray) -> None:
        shape = (game.horizon, game.n_states, game.n_actions, game.n_states)
        if kernels.shape != shape:
            raise ValueError(f"kernels must have shape {shape} (T, S, A, S), got {kernels.shape}")
        self.game = game
        self.kernels = kernels
        self.n_states, self.n_actions, self.horizon = game.n_states, game.n_actions, game.horizon
        self.action_mask = game.action_mask
        self.incentive_low, self.incentive_high = game.incentive_low, game.incentive_high
        self.exogenous_high = game.exogenous_high
        self.initial_distribution = game.initial_distribution
        self.initial_exogenous = game.initial_exogenous

    # ------------------------------------------------------------------ the learned kernel
    def transition_kernel(self, t: int, outcome: Any) -> np.ndarray:
        """(S, A, S) ``P_eta[t]`` (the outcome does not enter: P_eta is a function of (t, s, a))."""
        return self.kernels[t]

    def push_forward(self, t: int, outcome: Any, joint: np.ndarray) -> np.ndarray:
        """(S,) ``sum_{s, a} joint[s, a] P_eta[t, s, a, :]`` (Eq. 6 with P_eta)."""
        return joint.reshape(-1) @ self.kernels[t].reshape(-1, self.n_states)

    def expected_next(self, t: int, outcome: Any, values: np.ndarray) -> np.ndarray:
        """(S, A) ``sum_{s'} P_eta[t, s, a, s'] values[s']``."""
        return self.kernels[t] @ values

    # ------------------------------------------------------------------ the known functions
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
