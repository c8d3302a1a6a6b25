"""What each dimension of the leader's incentive acts on, and its local state.

A matching game's incentive ``u`` has U dimensions (EDRP: a charge per zone; MTFG: a bonus per
food type). :class:`DimensionMap` reads off the game which sites and follower states each
dimension touches, and summarises the public state (m_t, x_t) per dimension. Two leaders use it:
EBPG's attention tokens (:mod:`.ebpg`) and the per-dimension head of the SMFU / TIRL leader
(:class:`~.leader.LeaderNetwork`, ``leader_head="per_dimension"``).
"""

from __future__ import annotations

import numpy as np

from alloc_envs.stackelberg.matching import MatchingGame

#: Width of :meth:`DimensionMap.local_state`: ``[mass(m_t)_i, capacity(t, x_t)_i]``.
LOCAL_STATE = 2


def bounded_ratio(share: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """``r / (1 + r)`` with ``r = share / reference`` (0.5 at the reference; 0 where the
    reference is 0)."""
    ratio = np.divide(share, reference, out=np.zeros_like(share), where=reference > 0)
    return ratio / (1.0 + ratio)


class DimensionMap:
    """Which sites and follower states each incentive dimension acts on, read off the game.

    A site y belongs to dimension i when moving ``u_i`` changes the payoff at y at some step
    (probed around the box's centre); a state s belongs to i when a valid action from s reaches
    one of i's sites (``site_of``). EDRP: dimension i is zone i and its neighbourhood; MTFG:
    food type k, its food cells and the cells next to them.

    Args:
        game: a matching game (``ValueError`` for another kind of game).

    Attributes: ``sites`` ((U, Y) bool), ``states`` ((U, S) bool), ``n_incentives`` (U).
    """

    def __init__(self, game: MatchingGame) -> None:
        if not isinstance(game, MatchingGame):
            raise ValueError(
                f"the incentive dimensions are read off a MatchingGame; got {type(game).__name__}"
            )
        self.game = game
        low = np.asarray(game.incentive_low, dtype=np.float64)
        high = np.asarray(game.incentive_high, dtype=np.float64)
        n_incentives = low.shape[0]
        centre, step = (low + high) / 2.0, (high - low) / 4.0
        x0 = game.initial_exogenous
        sites = np.zeros((n_incentives, game.n_sites), dtype=bool)
        for t in range(game.horizon):
            base = game.payoff(t, x0, centre)
            for i in range(n_incentives):
                moved = centre.copy()
                moved[i] += step[i]
                sites[i] |= game.payoff(t, x0, moved) != base
        reach = np.zeros((game.n_sites, game.n_states), dtype=bool)
        valid = game.action_mask & (game.site_of >= 0)
        s_idx, a_idx = np.nonzero(valid)
        reach[game.site_of[s_idx, a_idx], s_idx] = True
        self.sites = sites
        self.states = (sites.astype(np.float64) @ reach.astype(np.float64)) > 0
        self.n_incentives = n_incentives
        self._state_weights = self.states.astype(np.float64)
        self._state_reference = self.states.mean(axis=1)
        self._site_weights = sites.astype(np.float64)
        self._site_reference = sites.mean(axis=1)

    def mass(self, distribution: np.ndarray) -> np.ndarray:
        """(U,) the mass of each dimension's states relative to a uniform population, as
        ``r / (1 + r)`` (0.5: as much as uniform)."""
        return bounded_ratio(self._state_weights @ distribution, self._state_reference)

    def capacity(self, t: int, exogenous: np.ndarray) -> np.ndarray:
        """(U,) each dimension's share of the sites' capacity at step t relative to an even
        split, as ``r / (1 + r)``."""
        capacity = np.asarray(self.game.capacity(t, exogenous), dtype=np.float64)
        total = capacity.sum()
        share = self._site_weights @ capacity / total if total > 0 else np.zeros(self.n_incentives)
        return bounded_ratio(share, self._site_reference)

    def local_state(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        """(U, :data:`LOCAL_STATE`) float64 ``[mass(m_t)_i, capacity(t, x_t)_i]``, each in
        [0, 1): where the followers who can reach dimension i are against where its capacity
        (orders, food) is."""
        return np.stack((self.mass(distribution), self.capacity(t, exogenous)), axis=1)
