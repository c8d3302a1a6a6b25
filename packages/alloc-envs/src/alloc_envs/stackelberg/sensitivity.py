"""The exact gradient of a leader's objective at the followers' equilibrium (implicit function
theorem), for site-matching games with an open-loop leader.

The followers' regularised equilibrium is the fixed point ``pi = Phi(pi, u)`` of the soft best
response ``Phi(pi, u)_t = softmax(Q_t / tau)``, where ``Q_t = r_t + E_t[V_{t+1}]`` is the soft
optimal Q of a follower in the flow of ``pi`` (:mod:`alloc_envs.stackelberg.solver`) and ``u``
is the leader's (T, U) schedule. The leader's objective here is linear in the served mass,
``J(pi) = sum_t sum_y w_t(y) served_t(y)`` (EDRP's ORR with ``w = 1 / expected orders``), and
depends on ``u`` only through ``pi``. Differentiating the fixed point,

    dJ/du = Phi_u^T mu,   where   (I - Phi_pi)^T mu = (dJ/dpi)^T,

so one gradient costs one linear solve (BiCGSTAB, scipy) whose operator is a vector-Jacobian product
of ``Phi``: a pass forward in time through the soft Bellman recursion (the best response) and a
pass backward in time through the Fokker-Planck flow (how ``pi`` moves the arrivals, hence the
match probabilities ``p = min(1, c / n)``). Both are written out by hand below; the min rule is
differentiated on the side ``n <= c`` at a tie (``served = n``). Checked against central finite
differences of the solver in the tests.

Requirements (``ValueError`` otherwise): the game is a
:class:`~alloc_envs.stackelberg.matching.MatchingGame` whose payoff has a vector-Jacobian product
``payoff_vjp(t, exogenous, incentive, cotangent) -> (U,)``, the leader is open loop (a schedule),
and the capacities ``c_t`` do not depend on the followers (EDRP's expected orders).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import NoConvergence, newton_krylov
from scipy.sparse.linalg import LinearOperator, bicgstab

from alloc_envs.stackelberg.fokker_planck import Flow, rollout
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.solver import backward, solve_equilibrium


@dataclass(frozen=True)
class LeaderGradient:
    """The leader's objective and its exact gradient at the followers' equilibrium.

    Attributes:
        value: ``J`` at the equilibrium (e.g. EDRP's mean-field ORR).
        gradient: (T, U) ``dJ / du_t``.
        policy: (T, S, A) the followers' equilibrium policy the gradient was taken at.
        flow: its mean-field rollout against the schedule.
        fixed_point_residual: ``max |Phi(pi, u) - pi|`` of that policy.
        adjoint_residual: relative residual of the adjoint linear solve.
    """

    value: float
    gradient: np.ndarray
    policy: np.ndarray
    flow: Flow
    fixed_point_residual: float
    adjoint_residual: float


def best_response(game: MatchingGame, policy: np.ndarray, schedule: Any, temperature: float):
    """``(Phi(policy, u), flow)``: the soft best response to the flow of ``policy`` against the
    leader ``schedule``, and that flow."""
    flow = rollout(game, policy, schedule)
    return backward(game, flow, policy, temperature).best_policy, flow


def refine_equilibrium(
    game: MatchingGame,
    schedule: Any,
    policy: np.ndarray,
    temperature: float,
    residual: float = 1e-12,
) -> np.ndarray:
    """The fixed point ``pi = Phi(pi, u)`` to ``max |Phi(pi, u) - pi| <= residual``, by
    Newton-Krylov (scipy) from ``policy`` (e.g. the solver's answer at a moderate tolerance).
    The solver's own stopping rule, the exploitability, is quadratic in the policy's error and
    cannot certify more than about 1e-6 of it; derivatives need the fixed point itself. Returns
    ``policy`` unchanged when Newton-Krylov does not converge (``policy`` far from the fixed
    point), so check the residual (:class:`LeaderGradient` reports it)."""
    valid = np.broadcast_to(game.action_mask, policy.shape)

    def residuals(x: np.ndarray) -> np.ndarray:
        full = np.zeros(policy.shape)
        full[valid] = x
        return best_response(game, full, schedule, temperature)[0][valid] - x

    try:
        x = newton_krylov(residuals, policy[valid], f_tol=residual, method="bicgstab")
    except NoConvergence:
        return policy
    out = np.zeros(policy.shape)
    out[valid] = x
    return out


class _Linearisation:
    """Everything the vector-Jacobian products need at one policy: the flow, the best
    response's values and the matching's local slopes (arrays as in :mod:`.game`)."""

    def __init__(self, game: MatchingGame, flow: Flow, temperature: float) -> None:
        self.game, self.temperature = game, temperature
        self.policy = flow.policies  # (T, S, A)
        self.distributions = flow.distributions  # (T + 1, S)
        self.joints = flow.joints  # (T, S, A)
        result = backward(game, flow, flow.policies, temperature)
        self.values = result.best_values  # (T + 1, S)
        self.best = result.best_policy  # (T, S, A)
        self.mask = game.action_mask
        self.has_site = game.site_of >= 0
        self.site = np.where(self.has_site, game.site_of, 0)
        self.next = game.next_if_unmatched
        self.n_sites = game.n_sites
        mass = np.stack([o.mass for o in flow.outcomes])  # (T, Y)
        capacity = np.stack([o.capacity for o in flow.outcomes])
        self.match = np.stack([o.match_probability for o in flow.outcomes])  # p_t(y)
        crowded = (mass > capacity) & (capacity > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.dp_dn = np.where(crowded, -capacity / mass**2, 0.0)  # dp/dn
        self.serves_all = mass <= capacity  # d served / dn = 1 here, 0 where crowded
        self.payoffs = np.stack(
            [
                game.payoff(flow.start + i, flow.exogenous[i], flow.incentives[i])
                for i in range(len(flow.outcomes))
            ]
        )
        self.exogenous, self.incentives = flow.exogenous, flow.incentives

    def _at_site(self, t: int) -> np.ndarray:
        """(S, A) p_t at each pair's site (0 where the pair reaches no site)."""
        return np.where(self.has_site, self.match[t][self.site], 0.0)

    def _by_site(self, values: np.ndarray) -> np.ndarray:
        """(Y,) sum of an (S, A) array over the pairs reaching each site."""
        return np.bincount(
            self.site[self.has_site], weights=values[self.has_site], minlength=self.n_sites
        )

    def best_response_vjp(self, cotangent: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The cotangents of the arrivals (T, Y) and of the incentives (T, U) for a cotangent
        (T, S, A) of the best response ``softmax(Q / tau)`` (the soft Bellman recursion, adjoint
        forward in time)."""
        game, steps = self.game, self.policy.shape[0]
        d_arrivals = np.zeros((steps, self.n_sites))
        d_incentive = np.zeros((steps, game.n_incentives))
        d_values = np.zeros(game.n_states)  # cotangent of V_t from Q_{t-1}
        for t in range(steps):
            best = self.best[t]
            own = cotangent[t] - (best * cotangent[t]).sum(axis=1, keepdims=True)
            d_q = (best * own / self.temperature + best * d_values[:, None]) * self.mask
            p = self._at_site(t)
            v_next = self.values[t + 1]
            kernel = game.success_kernels[t]  # (Y, S)
            w_next = kernel @ v_next  # (Y,) value of being matched at y
            d_matched = self._by_site(d_q * p)  # cotangent of W and of the payoff
            d_values = np.bincount(
                self.next.ravel(), weights=(d_q * (1.0 - p)).ravel(), minlength=game.n_states
            )
            d_values += kernel.T @ d_matched
            gain = w_next[self.site] - v_next[self.next] + self.payoffs[t][self.site]
            d_match = self._by_site(d_q * gain)
            d_arrivals[t] = d_match * self.dp_dn[t]
            d_incentive[t] = game.payoff_vjp(t, self.exogenous[t], self.incentives[t], d_matched)
        return d_arrivals, d_incentive

    def flow_vjp(self, d_arrivals: np.ndarray, served_weights: np.ndarray) -> np.ndarray:
        """(T, S, A) cotangent of the policy from cotangents of the arrivals (T, Y) and the
        served mass's weights (T, Y) (the Fokker-Planck flow, adjoint backward in time)."""
        game, steps = self.game, self.policy.shape[0]
        d_policy = np.zeros_like(self.policy)
        d_next = np.zeros(game.n_states)  # cotangent of m_{t+1}
        for t in range(steps - 1, -1, -1):
            p = self._at_site(t)
            pushed = d_next[self.next]  # (S, A) cotangent where an unmatched pair goes
            d_joint = (1.0 - p) * pushed
            d_match = -self._by_site(self.joints[t] * pushed)
            d_served = game.success_kernels[t] @ d_next + served_weights[t]
            d_n = d_arrivals[t] + d_match * self.dp_dn[t] + d_served * self.serves_all[t]
            d_joint = (d_joint + np.where(self.has_site, d_n[self.site], 0.0)) * self.mask
            d_policy[t] = d_joint * self.distributions[t][:, None]
            d_next = (d_joint * self.policy[t]).sum(axis=1)
        return d_policy


def leader_gradient(
    game: MatchingGame,
    schedule: np.ndarray,
    weights: np.ndarray,
    *,
    temperature: float,
    initial_policy: np.ndarray | None = None,
    tolerance: float = 1e-6,
    max_iterations: int = 5000,
    fixed_point_residual: float = 1e-12,
    adjoint_tolerance: float = 1e-8,
) -> LeaderGradient:
    """``J`` and ``dJ/du`` (module doc) at the followers' equilibrium against the (T, U)
    ``schedule``.

    Args:
        game: a matching game whose class defines ``payoff_vjp`` and whose capacities do not
            depend on the followers (EDRP: the expected orders).
        schedule: (T, U) the leader's incentives.
        weights: (T, Y) the objective's weight of a served unit at each site and step.
        temperature: the followers' entropy weight tau (reward units).
        initial_policy, tolerance, max_iterations: the solver's warm start, exploitability
            target and cap (:func:`~alloc_envs.stackelberg.solver.solve_equilibrium`); its
            answer is then refined to the fixed point (:func:`refine_equilibrium`).
        fixed_point_residual: ``max |Phi(pi, u) - pi|`` the refinement aims at (the default
            gives the gradient to about machine precision; a learner's steps can take a looser
            one: on EDRP v1, 1e-6 with ``tolerance`` 1e-4 gives the same direction, cosine
            1.000000, in 2.8 CPU s against 4.75).
        adjoint_tolerance: relative residual at which the adjoint solve (BiCGSTAB) stops.
    """
    if not hasattr(game, "payoff_vjp"):
        raise ValueError(f"{type(game).__name__} has no payoff_vjp: its leader gradient is unknown")
    steps = game.horizon
    schedule = np.asarray(schedule, dtype=np.float64)
    if schedule.shape != (steps, game.n_incentives):
        raise ValueError(
            f"schedule must have shape {(steps, game.n_incentives)} (T, U), got {schedule.shape}"
        )
    weights = np.asarray(weights, dtype=np.float64)
    if weights.shape != (steps, game.n_sites):
        raise ValueError(f"weights must have shape {(steps, game.n_sites)}, got {weights.shape}")
    solved = solve_equilibrium(
        game,
        schedule,
        temperature=temperature,
        tolerance=tolerance,
        max_iterations=max_iterations,
        initial_policy=initial_policy,
    )
    policy = refine_equilibrium(game, schedule, solved.policy, temperature, fixed_point_residual)
    best, flow = best_response(game, policy, schedule, temperature)
    point = _Linearisation(game, flow, temperature)
    valid = np.broadcast_to(game.action_mask, policy.shape)
    none = np.zeros((steps, game.n_sites))
    target = point.flow_vjp(none, weights)[valid]  # dJ/dpi

    def transposed(mu: np.ndarray) -> np.ndarray:  # (I - Phi_pi)^T mu
        full = np.zeros(policy.shape)
        full[valid] = mu
        d_arrivals, _ = point.best_response_vjp(full)
        return mu - point.flow_vjp(d_arrivals, none)[valid]

    size = target.size
    operator = LinearOperator((size, size), matvec=transposed, dtype=np.float64)
    mu, info = bicgstab(operator, target, rtol=adjoint_tolerance, maxiter=1000)
    if info < 0:
        raise RuntimeError(f"BiCGSTAB failed on the adjoint system (info {info})")
    norm = max(float(np.linalg.norm(target)), 1e-300)
    full = np.zeros(policy.shape)
    full[valid] = mu
    _, gradient = point.best_response_vjp(full)
    value = float((weights * np.stack([o.served for o in flow.outcomes])).sum())
    return LeaderGradient(
        value=value,
        gradient=gradient,
        policy=policy,
        flow=flow,
        fixed_point_residual=float(np.abs(best - policy).max()),
        adjoint_residual=float(np.linalg.norm(transposed(mu) - target)) / norm,
    )
