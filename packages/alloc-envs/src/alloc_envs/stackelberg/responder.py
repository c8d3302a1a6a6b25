"""How followers respond to the leader: the responder interface and the exact (model-based) one.

A responder maps a leader (constant incentive, schedule or policy; see
:mod:`alloc_envs.stackelberg.leader`) and the current population state to the followers' policy
for the rest of the horizon. The leader view (:class:`~alloc_envs.stackelberg.leader_env.LeaderEnv`)
calls it once per step; learned followers (``alloc_agents``) plug in by implementing the same
protocol, so this package never imports them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from alloc_envs.core.validation import check_choice, check_int, check_number
from alloc_envs.stackelberg.game import MeanFieldGame
from alloc_envs.stackelberg.solver import METHODS, solve_equilibrium


@dataclass(frozen=True)
class FollowerResponse:
    """The followers' answer.

    Attributes:
        policy: (T - start, S, A) float64 ``pi[t - start, s, a]`` for steps start..T-1; rows sum
            to one and put no mass on masked actions.
        exploitability: the policy's (regularised) exploitability against its own flow in reward
            units per follower, when the responder knows it (``None`` otherwise).
    """

    policy: np.ndarray
    exploitability: float | None = None


class FollowerResponder(Protocol):
    """The followers' response to a leader, from step ``start`` to the horizon."""

    def respond(
        self,
        game: MeanFieldGame,
        leader: Any,
        *,
        start: int,
        distribution: np.ndarray,
        exogenous: np.ndarray,
        rng: np.random.Generator,
        warm_start: np.ndarray | None = None,
    ) -> FollowerResponse:
        """The followers' policy for steps ``start..T-1``.

        Args:
            game: the model the followers live in.
            leader: the leader as the followers see it: a (U,) incentive held to the horizon, a
                (T - start, U) schedule or a callable ``(t, m_t, x_t) -> u_t``.
            start: the current step.
            distribution: (S,) the current follower distribution m_start (empirical in the
                N-agent fidelity).
            exogenous: (X,) the current exogenous state x_start.
            rng: a generator the responder may draw from (the caller's; a responder that needs
                no randomness ignores it).
            warm_start: (T - start, S, A) the previous answer's tail, a hint (may be ignored).
        """


@dataclass(frozen=True)
class ExactResponder:
    """The regularised mean-field Nash equilibrium on the known model
    (:func:`~alloc_envs.stackelberg.solver.solve_equilibrium`), warm-started from the hint.

    Attributes:
        temperature: the followers' entropy weight tau (reward units).
        tolerance: stop when the exploitability is at most this (reward units per follower).
        max_iterations: cap on solver iterations per response.
        method: ``"omd"`` or ``"fictitious_play"``; step_size: OMD's initial eta.
    """

    temperature: float = 0.1
    tolerance: float = 1e-4
    max_iterations: int = 300
    method: str = "omd"
    step_size: float = 0.1

    def __post_init__(self) -> None:
        check_number("temperature", self.temperature, 0.0, 1e9, low_inclusive=False)
        check_number("tolerance", self.tolerance, 0.0, 1e9)
        check_int("max_iterations", self.max_iterations, 0, 10**7)
        check_choice("method", self.method, METHODS)
        check_number("step_size", self.step_size, 0.0, 1.0, low_inclusive=False)

    def respond(
        self,
        game: MeanFieldGame,
        leader: Any,
        *,
        start: int,
        distribution: np.ndarray,
        exogenous: np.ndarray,
        rng: np.random.Generator,
        warm_start: np.ndarray | None = None,
    ) -> FollowerResponse:
        """Solve the subgame from ``start``; ``rng`` is not used (the solver is deterministic)."""
        result = solve_equilibrium(
            game,
            leader,
            start=start,
            distribution=distribution,
            exogenous=exogenous,
            temperature=self.temperature,
            method=self.method,
            step_size=self.step_size,
            tolerance=self.tolerance,
            max_iterations=self.max_iterations,
            initial_policy=warm_start,
        )
        return FollowerResponse(result.policy, float(result.exploitability[-1]))
