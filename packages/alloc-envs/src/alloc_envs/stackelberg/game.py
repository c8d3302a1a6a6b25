"""The finite-horizon mean-field game that the Stackelberg scenarios (EDRP, MTFG) share.

Notation (array layouts used everywhere in :mod:`alloc_envs.stackelberg`):

* follower states ``s`` in ``0..S-1``, actions ``a`` in ``0..A-1``, time steps ``t`` in
  ``0..T-1`` (``T`` = :attr:`MeanFieldGame.horizon`); ``action_mask[s, a]`` says which actions
  exist in each state;
* the mean field ``m_t`` is an (S,) probability vector (the share of followers in each state);
  the *joint* mean field ``L_t[s, a] = m_t(s) pi_t(a | s)`` is (S, A);
* a follower policy ``pi`` is a (T', S, A) array of conditionals ``pi[t, s, a]`` (rows sum to one,
  zero on masked actions) for the T' steps from some start time to the horizon;
* the leader's incentive ``u_t`` is a (U,) float vector in the box ``[incentive_low,
  incentive_high]``; the exogenous (public, leader-side) state ``x_t`` is an (X,) float vector;
* a transition kernel is ``P_t[s, a, s']`` (S, A, S), rows summing to one.

A step of the game is described by its *outcome*: what the population's joint mean field does at
step t (in matching games: how many followers arrive at each site, how much is available there
and how much is served; see :class:`alloc_envs.stackelberg.matching.SiteOutcome`). Kernels,
rewards, the exogenous update and the metrics are functions of (t, outcome, x_t, u_t), and the
N-agent fidelity builds the outcome from integer counts and then calls the *same* functions.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np


class MeanFieldGame(Protocol):
    """What the Fokker-Planck rollout, the equilibrium solver and the leader view need."""

    #: Number of follower states S.
    n_states: int
    #: Number of follower actions A (a fixed-size action set; see ``action_mask``).
    n_actions: int
    #: Horizon T: steps 0..T-1.
    horizon: int
    #: (S, A) bool, read-only: the actions that exist in each state (every row has one).
    action_mask: np.ndarray
    #: (U,) float64 bounds of the leader's incentive box.
    incentive_low: np.ndarray
    incentive_high: np.ndarray
    #: (X,) float64 upper bounds of the exogenous state (its lower bound is 0).
    exogenous_high: np.ndarray
    #: (S,) float64 m_0, and (X,) float64 x_0.
    initial_distribution: np.ndarray
    initial_exogenous: np.ndarray

    def outcome(
        self, t: int, joint: np.ndarray, exogenous: np.ndarray, incentive: np.ndarray
    ) -> Any:
        """The step-t outcome of the (S, A) joint mean field ``joint`` (mean-field fidelity)."""

    def transition_kernel(self, t: int, outcome: Any) -> np.ndarray:
        """(S, A, S) ``P_t[s, a, s']`` of a follower given the step's outcome."""

    def push_forward(self, t: int, outcome: Any, joint: np.ndarray) -> np.ndarray:
        """(S,) next distribution ``sum_{s,a} joint[s, a] P_t[s, a, :]`` (Eq. 2); equal to
        :func:`alloc_envs.stackelberg.fokker_planck.fp_step` on the dense kernel."""

    def expected_next(self, t: int, outcome: Any, values: np.ndarray) -> np.ndarray:
        """(S, A) ``sum_{s'} P_t[s, a, s'] values[s']`` for (S,) ``values``."""

    def follower_reward(
        self, t: int, outcome: Any, exogenous: np.ndarray, incentive: np.ndarray
    ) -> np.ndarray:
        """(S, A) expected reward of a follower taking a in s at step t."""

    def leader_reward(
        self, t: int, outcome: Any, exogenous: np.ndarray, incentive: np.ndarray
    ) -> float:
        """The leader's reward of step t."""

    def next_exogenous(self, t: int, outcome: Any, exogenous: np.ndarray) -> np.ndarray:
        """(X,) x_{t+1}."""

    def step_statistics(
        self, t: int, outcome: Any, exogenous: np.ndarray, incentive: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Additive statistics of step t (summed over an episode, then fed to :meth:`metrics`)."""

    def metrics(self, totals: dict[str, np.ndarray]) -> dict[str, Any]:
        """Episode metrics (e.g. ORR, CR) from the summed :meth:`step_statistics`."""


def check_vector(value: Any, low: np.ndarray, high: np.ndarray, name: str) -> np.ndarray:
    """(U,) float64 copy of ``value``, or ``ValueError`` naming the problem: not numeric, not of
    shape (U,), NaN / infinite, or outside ``[low, high]`` (no clipping)."""
    size = low.shape[0]
    try:
        arr = np.asarray(value)
    except Exception as exc:  # ragged sequences and the like
        raise ValueError(f"{name} must be an array of shape ({size},): {exc}") from exc
    if arr.dtype.kind not in "fiu":
        raise ValueError(f"{name} must be numeric, got dtype {arr.dtype}")
    if arr.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {arr.shape}")
    values = arr.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.all():
        i = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{name}[{i}] is {values[i]}; it must be finite")
    bad = (values < low) | (values > high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name}[{i}] = {values[i]} is outside its range [{low[i]}, {high[i]}]")
    return values


def check_incentive(game: MeanFieldGame, value: Any, name: str = "incentive") -> np.ndarray:
    """:func:`check_vector` against the game's incentive box."""
    return check_vector(value, game.incentive_low, game.incentive_high, name)


def uniform_policy(game: MeanFieldGame, steps: int) -> np.ndarray:
    """(steps, S, A) policy playing every valid action of a state with equal probability."""
    mask = game.action_mask.astype(np.float64)
    rows = mask / mask.sum(axis=1, keepdims=True)
    return np.repeat(rows[None], steps, axis=0)


def check_policy(game: MeanFieldGame, policy: Any, steps: int, name: str = "policy") -> np.ndarray:
    """(steps, S, A) float64 ``policy``, or ``ValueError``: wrong shape, negative or NaN entries,
    rows not summing to one (tolerance 1e-6), or mass on masked actions."""
    shape = (steps, game.n_states, game.n_actions)
    arr = np.asarray(policy, dtype=np.float64)
    if arr.shape != shape:
        raise ValueError(
            f"{name} must have shape {shape} (steps, states, actions), got {arr.shape}"
        )
    if not np.isfinite(arr).all() or (arr < 0).any():
        raise ValueError(f"{name} must hold finite non-negative probabilities")
    if (arr[:, ~game.action_mask] > 0).any():
        t, s, a = np.argwhere((arr > 0) & ~game.action_mask[None])[0]
        raise ValueError(f"{name}[{t}, {s}, {a}] > 0 but action {a} is masked in state {s}")
    sums = arr.sum(axis=2)
    if not np.allclose(sums, 1.0, atol=1e-6):
        t, s = np.argwhere(~np.isclose(sums, 1.0, atol=1e-6))[0]
        raise ValueError(f"{name}[{t}, {s}] sums to {sums[t, s]}, not 1")
    return arr
