"""From (possibly fractional) network flows to one step's joint action of the environment.

Shared by the hindsight oracle (its plans and its LP-guided rounding) and the rolling-horizon
planner, so that both act through exactly the same rule.
"""

from __future__ import annotations

import numpy as np

from alloc_envs.ride_hailing.sim import RideHailingSim

#: Flows at or below this are treated as zero (solver noise).
FLOW_EPS = 1e-9


def offered_values(sim: RideHailingSim, values: np.ndarray) -> np.ndarray:
    """(G, K) ``values[order id]`` of the order in each candidate slot 1..K (0 where empty)."""
    ids = sim.slots[:, 1:]
    return np.where(ids >= 0, values[np.maximum(ids, 0)], 0.0)


def dispatch_picks(sim: RideHailingSim, flow: np.ndarray) -> np.ndarray:
    """(G, K) dispatch picks from ``flow`` (G, K), the planned flow of each offered order now.

    Each cell takes ``round(its total flow)`` orders (at most one per idle driver), the largest
    flows first, then the highest prices, then the oldest; the rest of the picks are STAY.
    """
    ids = sim.slots[:, 1:]
    flow = np.where((ids >= 0) & (flow > FLOW_EPS), flow, 0.0)
    take = np.minimum(np.floor(flow.sum(axis=1) + 0.5), sim.idle)
    take = np.minimum(take, (flow > 0).sum(axis=1)).astype(np.int64)
    price = offered_values(sim, sim.orders.price)
    ranking = np.lexsort((-price, -flow), axis=1)
    picks = np.where(np.arange(ids.shape[1])[None, :] < take[:, None], ranking + 1, 0)
    return picks.astype(np.int64)


def move_weights(counts: np.ndarray) -> np.ndarray:
    """(G, 7) reposition weights from stay / move flows ``counts`` (G, 7): each row over its
    total (a row without drivers stays all zero: everyone stays)."""
    counts = np.maximum(np.asarray(counts, dtype=np.float64), 0.0)
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros_like(counts), where=total > FLOW_EPS)
