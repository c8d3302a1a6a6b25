"""Exact follower equilibrium solver (numpy): the mean-field Nash equilibrium for a fixed leader.

Followers maximise their reward plus ``temperature`` times the entropy of their policy (the
entropy-regularised game; ``temperature`` is in reward units). For a policy ``pi`` with flow
``m^pi`` (its own rollout), backward induction on the known model gives

* the soft best response: ``Q_t = r_t + E_t[V_{t+1}]``,
  ``V_t(s) = tau log sum_a exp(Q_t(s,a) / tau)``, ``BR_t(a|s) = exp((Q_t(s,a) - V_t(s)) / tau)``
  over the valid actions;
* the policy's own soft values ``V^pi_t(s) = sum_a pi (Q^pi_t - tau log pi)``;

and the (regularised) **exploitability** ``sum_s m_start(s) (V_start(s) - V^pi_start(s)) >= 0``,
zero exactly at the regularised equilibrium. Rewards and kernels are evaluated on the flow of
``pi`` (followers are infinitesimal: one deviation does not move the mean field).

Iterations (until the exploitability is below ``tolerance`` or ``max_iterations``):

* ``"omd"`` (online mirror descent, Perolat et al. 2022, with entropy): logits
  ``y <- (1 - eta) y + eta Q^pi / tau``, ``pi = softmax(y)``; its fixed point is the regularised
  equilibrium (``eta = 1`` would be soft policy iteration, which cycles in congestion games).
  ``eta`` starts at ``step_size``; after ``_PATIENCE`` iterations without lowering the best
  exploitability by 1 % (the step is too long for the game's coupling: the iterates cycle),
  OMD restarts from its best iterate with half the step;
* ``"fictitious_play"`` (Perrin et al. 2020): ``pi`` becomes the average of the past best
  responses, weighted by the state distributions they induce (so the averaged policy induces the
  averaged flow).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.core.validation import check_choice, check_int, check_number
from alloc_envs.stackelberg.fokker_planck import Flow, rollout
from alloc_envs.stackelberg.game import MeanFieldGame, check_policy, uniform_policy

METHODS = ("omd", "fictitious_play")
#: OMD stops when its step has been halved below this (no further progress is possible).
_MIN_STEP = 1e-6
#: OMD halves its step after this many iterations without a new lowest exploitability.
_PATIENCE = 10
#: ... where "new lowest" means at least 1 % below the previous lowest.
_PROGRESS = 0.99


@dataclass(frozen=True)
class Equilibrium:
    """Result of :func:`solve_equilibrium`.

    Attributes:
        policy: (T', S, A) the followers' policy for steps start..T-1: the iterate of lowest
            exploitability.
        flow: its mean-field rollout (distributions, rewards, metrics).
        exploitability: (k + 1,) regularised exploitability of the iterates 0..k (index 0: the
            initial policy), in reward units per follower.
        unregularised_exploitability: ``policy``'s exploitability without the entropy term
            (gain of a hard best response), for reference.
        iterations: k, the number of iterations (each one rollout and one backward pass).
        converged: whether the last exploitability is at most the tolerance.
    """

    policy: np.ndarray
    flow: Flow
    exploitability: np.ndarray
    unregularised_exploitability: float
    iterations: int
    converged: bool


def _soft_max(q: np.ndarray, mask: np.ndarray, temperature: float) -> tuple[np.ndarray, ...]:
    """Soft maximum over the valid actions: (S,) values and (S, A) policy (argmax if tau = 0)."""
    masked = np.where(mask, q, -np.inf)
    top = masked.max(axis=1)
    if temperature == 0.0:
        best = np.zeros_like(q)
        best[np.arange(q.shape[0]), masked.argmax(axis=1)] = 1.0
        return top, best
    weights = np.exp((masked - top[:, None]) / temperature)
    total = weights.sum(axis=1)
    return top + temperature * np.log(total), weights / total[:, None]


def _entropy_terms(policy: np.ndarray) -> np.ndarray:
    """(..., S, A) ``-pi log pi`` with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(policy > 0, -policy * np.log(policy), 0.0)


@dataclass(frozen=True)
class Backward:
    """Backward induction against a fixed flow: best-response values and policy, and the
    evaluated policy's Q and values (all (T', ...) arrays, values with a final zero row)."""

    best_values: np.ndarray
    best_policy: np.ndarray
    policy_q: np.ndarray
    policy_values: np.ndarray


def backward(game: MeanFieldGame, flow: Flow, policy: np.ndarray, temperature: float) -> Backward:
    """Soft best response to ``flow`` and soft evaluation of ``policy`` on it (module doc)."""
    steps, s = policy.shape[0], game.n_states
    best_v = np.zeros((steps + 1, s))
    pol_v = np.zeros((steps + 1, s))
    best_pi = np.zeros_like(policy)
    pol_q = np.zeros_like(policy)
    for i in range(steps - 1, -1, -1):
        t, outcome, reward = flow.start + i, flow.outcomes[i], flow.follower_rewards[i]
        q = reward + game.expected_next(t, outcome, best_v[i + 1])
        best_v[i], best_pi[i] = _soft_max(q, game.action_mask, temperature)
        pol_q[i] = reward + game.expected_next(t, outcome, pol_v[i + 1])
        bonus = temperature * _entropy_terms(policy[i])
        pol_v[i] = (policy[i] * pol_q[i] + bonus).sum(axis=1)
    return Backward(best_v, best_pi, pol_q, pol_v)


def exploitability_of(flow: Flow, result: Backward) -> float:
    """``sum_s m_start(s) (V_start(s) - V^pi_start(s))`` (clipped at 0 against rounding)."""
    gap = flow.distributions[0] @ (result.best_values[0] - result.policy_values[0])
    return max(0.0, float(gap))


def _softmax_logits(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=-1, keepdims=True)
    weights = np.exp(logits - top)
    return weights / weights.sum(axis=-1, keepdims=True)


def _best_response_flow(game: MeanFieldGame, flow: Flow, best: np.ndarray) -> np.ndarray:
    """(T', S) state distributions of a follower playing ``best`` in the population's flow."""
    m = flow.distributions[0]
    out = [m]
    for i in range(best.shape[0] - 1):
        m = game.push_forward(flow.start + i, flow.outcomes[i], m[:, None] * best[i])
        out.append(m)
    return np.stack(out)


@dataclass(frozen=True)
class _Iterate:
    policy: np.ndarray
    logits: np.ndarray
    flow: Flow
    result: Backward
    exploitability: float


def _fictitious_play_average(game: MeanFieldGame, it: _Iterate, k: int) -> np.ndarray:
    """The average of the k + 1 policies so far and the best response to ``it``'s flow,
    weighted by the state distributions they induce (so that the average induces the average
    flow)."""
    best = it.result.best_policy
    br_weight = _best_response_flow(game, it.flow, best)
    own = (k + 1) * it.flow.distributions[:-1]
    total = own + br_weight
    mixed = own[..., None] * it.policy + br_weight[..., None] * best
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total[..., None] > 0, mixed / total[..., None], best)


def solve_equilibrium(
    game: MeanFieldGame,
    leader: Any,
    *,
    start: int = 0,
    distribution: np.ndarray | None = None,
    exogenous: np.ndarray | None = None,
    temperature: float = 0.1,
    method: str = "omd",
    step_size: float = 0.1,
    tolerance: float = 1e-4,
    max_iterations: int = 500,
    initial_policy: np.ndarray | None = None,
) -> Equilibrium:
    """The followers' regularised mean-field Nash equilibrium against ``leader``.

    Args:
        game: the model (:class:`~alloc_envs.stackelberg.game.MeanFieldGame`).
        leader: a (U,) constant incentive, a (T - start, U) schedule or a callable policy
            (:mod:`alloc_envs.stackelberg.leader`).
        start, distribution, exogenous: solve the subgame from step ``start`` with m and x
            (default: the game's m_0 and x_0, ``start = 0``).
        temperature: entropy weight tau > 0, in reward units.
        method: ``"omd"`` or ``"fictitious_play"``.
        step_size: OMD's initial eta in (0, 1] (halved while the iterates cycle).
        tolerance: stop when the regularised exploitability is at most this (reward units).
        max_iterations: at most this many policy updates.
        initial_policy: (T - start, S, A) warm start (default: uniform over valid actions).
    """
    check_number("temperature", temperature, 0.0, 1e9, low_inclusive=False)
    check_choice("method", method, METHODS)
    check_number("step_size", step_size, 0.0, 1.0, low_inclusive=False)
    check_number("tolerance", tolerance, 0.0, 1e9)
    check_int("max_iterations", max_iterations, 0, 10**7)
    steps = game.horizon - start
    if initial_policy is None:
        policy = uniform_policy(game, steps)
    else:
        policy = check_policy(game, initial_policy, steps, "initial_policy")
    mask = game.action_mask[None]
    with np.errstate(divide="ignore"):
        logits = np.where(mask, np.log(np.maximum(policy, 1e-30)), -np.inf)

    def evaluate(policy: np.ndarray, logits: np.ndarray) -> _Iterate:
        flow = rollout(
            game, policy, leader, start=start, distribution=distribution, exogenous=exogenous
        )
        result = backward(game, flow, policy, temperature)
        return _Iterate(policy, logits, flow, result, exploitability_of(flow, result))

    current = best = evaluate(policy, logits)
    history = [best.exploitability]
    eta, stalled = step_size, 0
    for k in range(max_iterations):
        if best.exploitability <= tolerance or eta < _MIN_STEP:
            break
        if method == "omd":
            if stalled >= _PATIENCE:  # cycling: restart from the best iterate, shorter steps
                current, eta, stalled = best, 0.5 * eta, 0
            q = np.where(mask, current.result.policy_q, 0.0) / temperature
            logits = (1.0 - eta) * np.where(mask, current.logits, 0.0) + eta * q
            logits = np.where(mask, logits, -np.inf)
            current = evaluate(_softmax_logits(logits), logits)
        else:
            current = evaluate(_fictitious_play_average(game, current, k), logits)
        if current.exploitability < best.exploitability:
            progress = current.exploitability < _PROGRESS * best.exploitability
            best, stalled = current, 0 if progress else stalled + 1
        else:
            stalled += 1
        history.append(current.exploitability)
    policy, flow = best.policy, best.flow
    hard = backward(game, flow, policy, 0.0)
    return Equilibrium(
        policy=policy,
        flow=flow,
        exploitability=np.asarray(history),
        unregularised_exploitability=exploitability_of(flow, hard),
        iterations=len(history) - 1,
        converged=best.exploitability <= tolerance,
    )
