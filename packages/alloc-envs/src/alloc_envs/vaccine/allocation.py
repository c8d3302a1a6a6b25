"""From the agents' actions to doses: weights, the daily budget and the regions' capacities.

Every region's action is a number a_i in [-1, 1]. It weighs the region by
``w_i = exp(logit_scale * (a_i - 1))`` (a logit; a softmax over regions, as in GAT-MF), except that
``a_i = -1`` exactly switches the region off (``w_i = 0``). If every region is off, no doses are
given that day: this is how the ``none`` baseline withholds the budget.

Doses go proportionally to the weights, capped by each region's remaining capacity
``c_i = acceptance_i * N_i - V_i``:

* ``overflow="redistribute"`` (default): proportional water-filling. ``v_i = min(c_i, lam * w_i)``
  with ``lam`` chosen so that ``sum v = min(B, sum of c over the regions switched on)``: the doses a
  full region cannot take go to the other regions switched on, in proportion to their weights;
  what even they cannot take is not given (``doses_unused`` in the metrics).
* ``overflow="waste"`` (the sources' rule, research note A.5): ``v_i = min(c_i, B w_i / sum w)``;
  the excess is lost.
"""

from __future__ import annotations

import numpy as np


def log_weights(actions: np.ndarray, logit_scale: float) -> np.ndarray:
    """(N,) float64 log-weights ``logit_scale * (a - 1)``, ``-inf`` where ``a == -1`` (off)."""
    logw = logit_scale * (np.asarray(actions, dtype=np.float64) - 1.0)
    logw[actions <= -1.0] = -np.inf
    return logw


def allocate(
    logw: np.ndarray, budget: float, capacity: np.ndarray, overflow: str = "redistribute"
) -> np.ndarray:
    """(N,) float64 doses for log-weights ``logw`` (``-inf``: off), a budget and capacities.

    The result satisfies ``0 <= v <= capacity`` and ``sum(v) <= budget`` exactly (floating-point
    excess is scaled away), and is zero wherever ``logw`` is ``-inf``.
    """
    capacity = np.maximum(np.asarray(capacity, dtype=np.float64), 0.0)
    doses = np.zeros_like(capacity)
    on = np.isfinite(logw)
    if budget <= 0 or not on.any():
        return doses
    if overflow == "waste":
        shares = np.zeros_like(capacity)
        shares[on] = np.exp(logw[on] - logw[on].max())
        doses = np.minimum(capacity, budget * shares / shares.sum())
    else:
        idx = np.flatnonzero(on & (capacity > 0))
        if idx.size == 0:
            return doses
        doses[idx] = _water_fill(logw[idx], budget, capacity[idx])
    shrink = 1.0
    while doses.sum() > budget:  # floating-point excess (a few ulps): shave it off
        doses *= budget / doses.sum() * shrink
        shrink -= 2.0**-40
    return doses


def _water_fill(logw: np.ndarray, budget: float, capacity: np.ndarray) -> np.ndarray:
    """``min(c, exp(logw + mu))`` with ``mu`` such that the doses sum to ``min(budget, sum c)``.

    Region i saturates once ``mu >= t_i = log c_i - logw_i``. Sorting by t, if the first j regions
    are full, ``mu_j = log(budget - sum of their c) - logsumexp(logw of the others)``; the answer is
    the first j with ``mu_j <= t_(j)`` (the next region is not full).
    """
    if capacity.sum() <= budget:
        return capacity.copy()
    t = np.log(capacity) - logw
    order = np.argsort(t, kind="stable")
    t_sorted, c_sorted, w_sorted = t[order], capacity[order], logw[order]
    filled = np.concatenate(([0.0], np.cumsum(c_sorted)[:-1]))  # capacity of the first j regions
    rest = np.logaddexp.accumulate(w_sorted[::-1])[::-1]  # logsumexp of logw[j:]
    left = budget - filled
    with np.errstate(divide="ignore", invalid="ignore"):
        mu = np.where(left > 0, np.log(np.maximum(left, 0.0)) - rest, -np.inf)
    ok = mu <= t_sorted
    j = int(np.argmax(ok)) if ok.any() else len(t_sorted) - 1
    return np.minimum(capacity, np.exp(logw + mu[j]))
