"""The central planner's bound of a site-matching game: a linear program over mean-field flows.

A planner who moves the follower population directly (it picks every follower's action, with no
regard for the followers' rewards) under the game's own matching rule can do no worse than any
leader, whose followers answer incentives with self-interest. Its best value is therefore the
ceiling of every leader of the game.

**The program** (scipy's HiGHS). Variables: the joint mean field ``L_t[s, a] >= 0`` on the valid
actions and the served mass ``sigma_t(y) >= 0`` at every site, for t = 0..T-1. Constraints:

* ``sum_a L_0[s, a] = m_0(s)`` and, for t >= 1, ``sum_a L_t[s, a] = m_t(s)`` with the game's
  push-forward written linearly:
  ``m_{t+1}(k) = sum_{(s, a) with no site, next_if_unmatched = k} L_t[s, a]
  + sum_{y: unmatched(y) = k} (n_t(y) - sigma_t(y)) + sum_y sigma_t(y) K_t[y, k]``;
* ``sigma_t(y) <= n_t(y) = sum_{site_of[s, a] = y} L_t[s, a]`` and ``sigma_t(y) <= c_t(y)``.

Objective: maximise ``sum_t sum_y w_t(y) sigma_t(y)``. The game's rule serves exactly
``min(n, c)``; the program only asks ``sigma <= min(n, c)``, a relaxation, so its value is an
upper bound whatever the optimum does. The bound is tight when the optimum serves ``min(n, c)``
everywhere, which :func:`plan` checks by rolling the planner's policy out in the game itself.

Two structural conditions, checked (``ValueError``): an unmatched follower's next state depends
on its site only (``unmatched(y)``: true of EDRP, where an idle driver stays in the zone it moved
to), and the capacities ``c_t`` do not depend on what the followers do (given as an array).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import linprog

from alloc_envs.stackelberg.matching import MatchingGame


@dataclass(frozen=True)
class PlannerSolution:
    """The planner's optimum.

    Attributes:
        value: the program's optimum ``sum_t sum_y w_t(y) sigma_t(y)`` (the bound).
        joints: (T, S, A) the optimal joint mean fields ``L_t[s, a]``.
        served: (T, Y) the optimal served mass ``sigma_t(y)``.
        distributions: (T + 1, S) the planned state distributions m_0..m_T.
        policy: (T, S, A) ``L_t[s, a] / m_t(s)``, the planner's follower policy (the first
            valid action where ``m_t(s) = 0``).
    """

    value: float
    joints: np.ndarray
    served: np.ndarray
    distributions: np.ndarray
    policy: np.ndarray


def unmatched_state_of_sites(game: MatchingGame) -> np.ndarray:
    """(Y,) int64 the state an unmatched follower at site y moves to; ``ValueError`` when it
    depends on more than the site (or a site is reached by no valid action)."""
    valid = game.action_mask & (game.site_of >= 0)
    sites, nexts = game.site_of[valid], game.next_if_unmatched[valid]
    out = np.full(game.n_sites, -1, dtype=np.int64)
    out[sites] = nexts
    if (out[sites] != nexts).any():
        y = int(sites[np.flatnonzero(out[sites] != nexts)[0]])
        raise ValueError(
            f"the planner's program needs an unmatched follower's next state to depend on its "
            f"site only; at site {y} it depends on where the follower came from"
        )
    if (out < 0).any():
        raise ValueError(f"site {int(np.flatnonzero(out < 0)[0])} is reached by no valid action")
    return out


def plan(game: MatchingGame, capacity: np.ndarray, weights: np.ndarray) -> PlannerSolution:
    """Solve the planner's program (module doc) for ``game`` with the (T, Y) capacities
    ``capacity`` and objective weights ``weights`` (both in population units per step).
    ``RuntimeError`` if HiGHS does not report an optimum."""
    t_max, n_sites, s_max = game.horizon, game.n_sites, game.n_states
    shape = (t_max, n_sites)
    for name, arr in (("capacity", capacity), ("weights", weights)):
        if np.shape(arr) != shape:
            raise ValueError(f"{name} must have shape {shape} (T, Y), got {np.shape(arr)}")
    capacity = np.asarray(capacity, dtype=np.float64)
    if not np.isfinite(capacity).all() or (capacity < 0).any():
        raise ValueError("capacity must be finite and non-negative")
    unmatched = unmatched_state_of_sites(game)

    pair_s, pair_a = np.nonzero(game.action_mask)  # the valid (s, a), row-major
    n_pairs = pair_s.size
    pair_site = game.site_of[pair_s, pair_a]
    pair_next = game.next_if_unmatched[pair_s, pair_a]
    sited = pair_site >= 0
    n_flow = t_max * n_pairs  # L variables first (t-major), then sigma (t-major)
    n_vars = n_flow + t_max * n_sites

    def flow_var(t: np.ndarray | int, p: np.ndarray) -> np.ndarray:
        return t * n_pairs + p

    def served_var(t: np.ndarray | int, y: np.ndarray) -> np.ndarray:
        return n_flow + t * n_sites + y

    # Equalities: row (t, s) says sum_a L_t[s, a] - (mass pushed into s by step t-1) = m_0(s)
    # at t = 0 and 0 afterwards.
    rows, cols, vals = [], [], []
    pairs = np.arange(n_pairs)
    for t in range(t_max):
        rows.append(t * s_max + pair_s)
        cols.append(flow_var(t, pairs))
        vals.append(np.ones(n_pairs))
        if t == 0:
            continue
        prev = t - 1
        # unsited pairs move their whole mass to next_if_unmatched; sited pairs arrive at their
        # site, of which the unserved part moves to unmatched(site)
        target = np.where(sited, unmatched[np.maximum(pair_site, 0)], pair_next)
        rows.append(t * s_max + target)
        cols.append(flow_var(prev, pairs))
        vals.append(-np.ones(n_pairs))
        y = np.arange(n_sites)
        rows.append(t * s_max + unmatched)
        cols.append(served_var(prev, y))
        vals.append(np.ones(n_sites))
        kernel = game.success_kernels[prev]  # (Y, S): served mass at y lands in k
        ky, kk = np.nonzero(kernel)
        rows.append(t * s_max + kk)
        cols.append(served_var(prev, ky))
        vals.append(-kernel[ky, kk])
    a_eq = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(t_max * s_max, n_vars),
    )
    b_eq = np.zeros(t_max * s_max)
    b_eq[:s_max] = game.initial_distribution

    # Inequalities: sigma_t(y) - sum_{site = y} L_t[s, a] <= 0.
    site_pairs = np.flatnonzero(sited)
    rows, cols, vals = [], [], []
    for t in range(t_max):
        rows += [t * n_sites + np.arange(n_sites), t * n_sites + pair_site[site_pairs]]
        cols += [served_var(t, np.arange(n_sites)), flow_var(t, site_pairs)]
        vals += [np.ones(n_sites), -np.ones(site_pairs.size)]
    a_ub = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
        shape=(t_max * n_sites, n_vars),
    )
    bounds = np.zeros((n_vars, 2))
    bounds[:, 1] = np.inf
    bounds[n_flow:, 1] = capacity.ravel()
    cost = np.zeros(n_vars)
    cost[n_flow:] = -np.asarray(weights, dtype=np.float64).ravel()
    result = linprog(
        cost,
        A_ub=a_ub,
        b_ub=np.zeros(t_max * n_sites),
        A_eq=a_eq,
        b_eq=b_eq,
        bounds=bounds,
        method="highs",
    )
    if result.status != 0:
        raise RuntimeError(f"the planner's program was not solved: {result.message}")
    x = np.maximum(result.x, 0.0)
    joints = np.zeros((t_max, s_max, game.n_actions))
    joints[:, pair_s, pair_a] = x[:n_flow].reshape(t_max, n_pairs)
    served = x[n_flow:].reshape(t_max, n_sites)
    distributions = np.concatenate(
        [joints.sum(axis=2), _last_distribution(game, joints[-1], served[-1], unmatched)[None]]
    )
    return PlannerSolution(
        value=float(-result.fun),
        joints=joints,
        served=served,
        distributions=distributions,
        policy=_policy_of(game, joints),
    )


def _last_distribution(
    game: MatchingGame, joint: np.ndarray, served: np.ndarray, unmatched: np.ndarray
) -> np.ndarray:
    """(S,) m_T from the last step's joint mean field and served mass (the program's balance)."""
    site = game.site_of
    arrivals = np.bincount(site[site >= 0], weights=joint[site >= 0], minlength=game.n_sites)
    stay = np.bincount(
        game.next_if_unmatched[site < 0], weights=joint[site < 0], minlength=game.n_states
    )
    idle = np.bincount(unmatched, weights=arrivals - served, minlength=game.n_states)
    return stay + idle + served @ game.success_kernels[-1]


def _policy_of(game: MatchingGame, joints: np.ndarray) -> np.ndarray:
    """(T, S, A) ``L_t[s, a] / m_t(s)``; the first valid action of s where ``m_t(s) = 0``."""
    mass = joints.sum(axis=2, keepdims=True)
    first = np.zeros(game.action_mask.shape)
    first[np.arange(game.n_states), game.action_mask.argmax(axis=1)] = 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        policy = np.where(mass > 0, joints / mass, first[None])
    return policy * game.action_mask[None]
