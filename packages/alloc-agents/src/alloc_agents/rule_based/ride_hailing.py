"""Rule-based ride-hailing policies: greedy (highest price first), nearest, balance, random.

They read the ride-hailing observation dict of ``alloc_envs`` (agent-major): ``candidates``
(N, K + 1, F) with the price in column :data:`PRICE` and ``candidate_mask`` (N, K + 1), slot 0
being STAY; in reposition mode ``move_mask`` (N, 7). A dispatch action is (N, K) candidate
slots, one per idle driver in order; the environment reads the first ``min(idle, K)`` of them.
A reposition action is (N, 7) move weights.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from alloc_agents.policy import BatchObservation, Policy
from alloc_envs.ride_hailing import kernels

#: Column of the price in the candidate features (``alloc_envs.ride_hailing.sim``).
PRICE = 2
#: Column of ``delta_drivers``: idle drivers at the order's destination minus at its origin.
DELTA_DRIVERS = 6


def _dispatch_arrays(observation: BatchObservation, policy: str) -> tuple[np.ndarray, np.ndarray]:
    """The observation's ``candidates`` (N, K + 1, F) and ``candidate_mask`` (N, K + 1), slot 0
    STAY, or a ``ValueError`` for a non-dispatch observation."""
    if not isinstance(observation, Mapping) or "candidates" not in observation:
        raise ValueError(
            f"{policy} is a dispatch policy: it needs the ride-hailing observation with "
            f"'candidates' (action_mode='dispatch')"
        )
    return np.asarray(observation["candidates"]), np.asarray(observation["candidate_mask"])


def _dispatch_inputs(observation: BatchObservation, policy: str) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, price)`` of the order slots 1..K, or a ``ValueError`` for a non-dispatch obs."""
    candidates, candidate_mask = _dispatch_arrays(observation, policy)
    return candidate_mask[:, 1:] > 0, candidates[:, 1:, PRICE]


def _picks_in_order(key: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """(N, K) picks: the valid order slots (1-based) by increasing ``key``, then STAY (0).

    Columns after the last one that holds a valid slot in some row sort after every valid slot
    and are never picked, so only the columns up to it are sorted. With numba, the compiled
    :func:`alloc_envs.ride_hailing.kernels.picks_in_order` gives the same picks.
    """
    if kernels.use_numba():
        return kernels.picks_in_order(key, mask)
    n, k = mask.shape
    occupied = np.flatnonzero(mask.any(axis=0))
    width = int(occupied[-1]) + 1 if occupied.size else 0
    picks = np.zeros((n, k), dtype=np.int64)
    if width:
        mask = mask[:, :width]
        ranking = np.argsort(np.where(mask, key[:, :width], np.inf), axis=1, kind="stable")
        n_valid = mask.sum(axis=1, keepdims=True)
        picks[:, :width] = np.where(np.arange(width) < n_valid, ranking + 1, 0)
    return picks


class GreedyDispatch(Policy):
    """Serve the highest-priced pending orders first (ties by arrival order); the DyPS paper's
    "Greedy" rule-based method (Table 7)."""

    name = "greedy"

    def act(self, observation: BatchObservation) -> np.ndarray:
        candidates, candidate_mask = _dispatch_arrays(observation, self.name)
        if kernels.use_numba() and candidates.ndim == 3 and candidate_mask.ndim == 2:
            # The same picks in one compiled call on the observation's arrays.
            return kernels.ranked_picks(candidates, candidate_mask, PRICE, -1.0)
        return _picks_in_order(-candidates[:, 1:, PRICE], candidate_mask[:, 1:] > 0)


class NearestDispatch(Policy):
    """Serve the nearest pickups first; the DyPS paper's "Nearest" rule-based method (Table 7).

    Drivers are matched inside their own cell, so every pickup is at distance 0 and ties go by
    arrival order: the oldest pending orders are served first.
    """

    name = "nearest"

    def act(self, observation: BatchObservation) -> np.ndarray:
        mask, _ = _dispatch_inputs(observation, self.name)
        return _picks_in_order(np.broadcast_to(np.arange(mask.shape[1]), mask.shape), mask)


class BalanceDispatch(Policy):
    """Serve first the orders that take drivers where idle drivers are scarce, then the dear ones.

    Orders are served by increasing ``delta_drivers - price_weight * price``: ``delta_drivers``
    is the destination's idle drivers minus the origin's (a candidate feature), so a trip into a
    cell short of drivers comes first, and among similar trips the higher price. It is a
    one-line rebalancing rule an operator could deploy, not from either paper. ``price_weight``
    0.2 was chosen among 0, 0.1, 0.2, 0.3, 0.5 on evaluation days 10000-10004 of Ride-Hailing (1)
    and (2) (GMV 311,478 and 827,510 there, against greedy's 230,331 and 535,795), days the
    benchmark's seeds 0-4 do not use.
    """

    name = "balance"

    def __init__(self, seed: int | None = None, price_weight: float = 0.2) -> None:
        super().__init__(seed=seed)
        if not np.isfinite(price_weight) or price_weight < 0:
            raise ValueError(f"price_weight must be a finite number >= 0, got {price_weight}")
        self.price_weight = float(price_weight)

    def act(self, observation: BatchObservation) -> np.ndarray:
        mask, price = _dispatch_inputs(observation, self.name)
        delta_drivers = np.asarray(observation["candidates"])[:, 1:, DELTA_DRIVERS]
        return _picks_in_order(delta_drivers - self.price_weight * price, mask)


class RandomRideHailing(Policy):
    """Uniformly random actions over the valid ones, like an untrained masked policy.

    Dispatch mode: every pick is uniform over STAY and the orders not yet picked (STAY can be
    picked again), so the orders come in a uniformly random order with STAYs interleaved.
    Reposition mode: move weights drawn from a flat Dirichlet over the valid moves.
    """

    name = "random"

    def act(self, observation: BatchObservation) -> np.ndarray:
        if isinstance(observation, Mapping) and "candidate_mask" in observation:
            return self._dispatch(np.asarray(observation["candidate_mask"])[:, 1:] > 0)
        if isinstance(observation, Mapping) and "move_mask" in observation:
            return self._reposition(np.asarray(observation["move_mask"]) > 0)
        raise ValueError(
            "random needs the ride-hailing observation dict with 'candidate_mask' (dispatch) "
            "or 'move_mask' (reposition)"
        )

    def _dispatch(self, mask: np.ndarray) -> np.ndarray:
        n, k = mask.shape
        # A uniformly random order of the valid slots ...
        queue = _picks_in_order(self.rng.random((n, k)), mask)
        remaining = mask.sum(axis=1)
        # ... with STAY drawn at each pick with probability 1 / (1 + orders left).
        picks = np.zeros((n, k), dtype=np.int64)
        taken = np.zeros(n, dtype=np.int64)
        rows = np.arange(n)
        for j in range(k):
            if np.all(taken >= remaining):
                break  # only STAY is left everywhere: the remaining picks stay 0
            stay = self.rng.random(n) * (remaining - taken + 1) < 1.0
            serve = ~stay & (taken < remaining)
            picks[:, j] = np.where(serve, queue[rows, np.minimum(taken, k - 1)], 0)
            taken += serve
        return picks

    def _reposition(self, mask: np.ndarray) -> np.ndarray:
        weights = np.where(mask, self.rng.exponential(size=mask.shape), 0.0)
        return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)
