"""Compiled (numba) versions of the simulator's per-step and per-reset functions.

:meth:`RideHailingSim.cell_features <alloc_envs.ride_hailing.sim.RideHailingSim.cell_features>`,
:meth:`~alloc_envs.ride_hailing.sim.RideHailingSim.candidates`, the pending-order index, the
dispatch's choice of orders and serving them, the KL metric, and the rule-based dispatchers'
ranking (:func:`picks_in_order`, :func:`ranked_picks`) cost a step 6-25 small numpy calls each;
the calls' overhead, not their arithmetic, is most of their time (a city has 36 or 100 cells
and a few hundred waiting orders). At reset, the day's trips (:func:`draw_trips`) and the
per-order keys (:func:`order_keys`) are a dozen passes over tens of thousands of orders. The
kernels here do the same operations in one compiled loop each: the same float64 sums in the
same order (``np.bincount`` adds its weights in input order; numpy's pairwise summation is
replayed in :func:`_block_sum`), the same casts to float32, a counting sort or an insertion
sort where numpy sorts stably, no fused multiply-add, numpy's logarithm and random draws kept
in numpy, so observations and trajectories are equal bit for bit
(``tests/test_ride_hailing_trajectories.py`` checks every stored episode digest on both paths).

numba is optional (``pip install alloc-envs[fast]``). Which path a new simulator (and its
demand model) takes, and the rule-based dispatchers at each call, is set by the environment
variable ``ALLOC_ENVS_KERNELS``:
``auto`` (the default: numba when it is installed), ``numpy`` or ``numba`` (an error if numba
is missing). The numpy path is always there and is the reference. The kernels are compiled at
their first call in a process (a few seconds; cached on disk next to this module after that).
"""

from __future__ import annotations

import functools
import os

import numpy as np

try:
    import numba
except ImportError:  # the numpy path serves
    numba = None

#: The environment variable that picks the path, and its values.
ENV_VAR = "ALLOC_ENVS_KERNELS"
CHOICES = ("auto", "numpy", "numba")


def use_numba() -> bool:
    """Whether a new simulator uses the numba kernels (module docstring), or ``ValueError``
    naming the variable and its bad value."""
    choice = _parse_choice(os.environ.get(ENV_VAR, "auto"))
    if choice == "numba" and numba is None:
        raise ValueError(f"{ENV_VAR}=numba but numba is not installed (pip install numba)")
    return numba is not None and choice != "numpy"


@functools.cache
def _parse_choice(value: str) -> str:
    """The choice in :data:`CHOICES` that the variable's raw ``value`` names, or ``ValueError``
    (parsed once per value: the rule-based dispatchers ask at every step)."""
    choice = value.strip().lower() or "auto"
    if choice not in CHOICES:
        raise ValueError(f"{ENV_VAR} must be one of {CHOICES}, got {choice!r}")
    return choice


def _cell_features(
    pending: np.ndarray,
    hist_key: np.ndarray,
    hist_weight: np.ndarray,
    weighted: bool,
    faithful: bool,
    local_cells: np.ndarray,
    idle: np.ndarray,
    pending_count: np.ndarray,
    rho_global: np.ndarray,
    n_cells: int,
    lmax: int,
) -> np.ndarray:
    """The simulator's ``cell_features``: (C, 5 + 3L) float32. ``pending`` (n,) order ids,
    ``hist_key`` / ``hist_weight`` (3, N) the order tables' (``weighted``: read the weights),
    ``rho_global`` (E,), ``n_cells`` G per copy."""
    c = idle.shape[0]
    width = 3 * lmax
    dropped = c * width
    hist = np.zeros(dropped)
    for row in range(3):  # np.bincount's order: the raveled (3, n) keys
        for i in range(pending.shape[0]):
            key = hist_key[row, pending[i]]
            if key < dropped:
                hist[key] += hist_weight[row, pending[i]] if weighted else 1.0
    out = np.empty((c, 5 + width), dtype=np.float32)
    for g in range(c):
        base = g * width
        if faithful and pending_count[g] > 0:
            hist[base] += 1.0
            if lmax > 1:
                hist[base + lmax + 1] += 1.0
        rho = idle[g] / max(1, pending_count[g])
        out[g, 0] = local_cells[g]
        out[g, 1] = idle[g]
        out[g, 2] = pending_count[g]
        out[g, 3] = rho
        out[g, 4] = abs(rho - rho_global[g // n_cells])
        for j in range(width):
            out[g, 5 + j] = hist[base + j]
    return out


def _candidates(
    ids: np.ndarray,
    origin: np.ndarray,
    slot: np.ndarray,
    destination: np.ndarray,
    price: np.ndarray,
    duration: np.ndarray,
    step: np.ndarray,
    local_cells: np.ndarray,
    idle: np.ndarray,
    pending_count: np.ndarray,
    stay: np.ndarray,
    t: int,
    order_type: float,
    eps: float,
    n_slots: int,
    local_ids: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The simulator's ``candidates``: features (C, K + 1, F) float32 and mask (C, K + 1) int8.
    ``ids`` (n,) the visible orders, ``origin`` their cells, ``slot`` their flat slots;
    ``destination`` ... ``step``: the day's order arrays; ``stay`` (C, F) the STAY rows;
    ``local_ids``: write cell ids within the copy (several copies)."""
    c = idle.shape[0]
    n_features = stay.shape[1]
    ratio = np.empty((c, 3))
    for g in range(c):
        drivers = idle[g] + eps
        demand = pending_count[g] + eps
        ratio[g, 0] = min(drivers, demand) / max(drivers, demand)
        ratio[g, 1] = idle[g]
        ratio[g, 2] = pending_count[g]
    features = np.zeros((c * n_slots, n_features), dtype=np.float32)
    mask = np.zeros(c * n_slots, dtype=np.int8)
    for g in range(c):
        features[g * n_slots] = stay[g]
        mask[g * n_slots] = 1
    for i in range(ids.shape[0]):
        order, here, s = ids[i], origin[i], slot[i]
        there = destination[order]
        row = features[s]
        row[0] = local_cells[here] if local_ids else here
        row[1] = local_cells[there] if local_ids else there
        row[2] = price[order]
        row[3] = duration[order]
        row[4] = order_type
        for j in range(3):
            row[5 + j] = ratio[there, j] - ratio[here, j]
        row[8] = t - step[order]
        mask[s] = 1
    return features.reshape(c, n_slots, n_features), mask.reshape(c, n_slots)


def _pending_orders(
    served: np.ndarray,
    start: int,
    stop: int,
    order_origin: np.ndarray,
    slot_base1: np.ndarray,
    max_orders: int,
) -> tuple[np.ndarray, ...]:
    """The simulator's pending-order index (``_refresh_pending``): the orders ``start ..
    stop - 1`` not ``served``, grouped by origin cell, by id within a cell (a counting sort: the
    order of ``argsort(kind="stable")``). Returns ``pending``, ``count`` (C,), ``origin``,
    ``slot`` (each pending order's flat slot, ``slot_base1[cell] + rank``), the visible ones
    (rank < K: ids, origins, slots) and ``slots`` (C, K + 1), all int64."""
    c = slot_base1.shape[0]
    count = np.zeros(c, dtype=np.int64)
    for order in range(start, stop):
        if not served[order]:
            count[order_origin[order]] += 1
    first = np.empty(c, dtype=np.int64)
    total = 0
    n_visible = 0
    for g in range(c):
        first[g] = total
        total += count[g]
        n_visible += min(count[g], max_orders)
    pending = np.empty(total, dtype=np.int64)
    origin = np.empty(total, dtype=np.int64)
    slot = np.empty(total, dtype=np.int64)
    fill = first.copy()
    for order in range(start, stop):
        if not served[order]:
            g = order_origin[order]
            j = fill[g]
            fill[g] += 1
            pending[j], origin[j] = order, g
            slot[j] = slot_base1[g] + j - first[g]
    visible = np.empty(n_visible, dtype=np.int64)
    visible_origin = np.empty(n_visible, dtype=np.int64)
    visible_slot = np.empty(n_visible, dtype=np.int64)
    slots = np.full(c * (max_orders + 1), -1, dtype=np.int64)
    v = 0
    for j in range(total):
        if slot[j] - slot_base1[origin[j]] < max_orders:
            visible[v], visible_origin[v], visible_slot[v] = pending[j], origin[j], slot[j]
            slots[slot[j]] = pending[j]
            v += 1
    shape = (c, max_orders + 1)
    return (
        pending,
        count,
        origin,
        slot,
        visible,
        visible_origin,
        visible_slot,
        slots.reshape(shape),
    )


def _picked_orders(
    picks: np.ndarray, idle: np.ndarray, slots: np.ndarray, max_orders: int
) -> np.ndarray:
    """The simulator's ``step_dispatch`` choice: the orders in the first ``min(idle, K)`` picked
    slots of every cell (``picks`` (C, K), ``slots`` (C, K + 1)), each once, in slot order."""
    c = idle.shape[0]
    n_slots = max_orders + 1
    hit = np.zeros(c * n_slots, dtype=np.bool_)
    for g in range(c):
        for j in range(min(idle[g], max_orders)):
            hit[g * n_slots + picks[g, j]] = True
    flat = slots.ravel()
    chosen = np.empty(hit.shape[0], dtype=np.int64)
    n = 0
    for s in range(hit.shape[0]):
        if hit[s] and flat[s] >= 0:
            chosen[n] = flat[s]
            n += 1
    return chosen[:n]


def _serve(
    served: np.ndarray,
    order_origin: np.ndarray,
    price: np.ndarray,
    arrival_key: np.ndarray,
    is_served: np.ndarray,
    idle: np.ndarray,
    arrivals: np.ndarray,
    t: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Serve the orders ``served`` in place (flags, idle drivers, their arrivals ``arrivals``
    (steps, C) by ``arrival_key`` = duration * C + destination, from step ``t``); returns the
    prices served per cell (float64, summed in ``served``'s order as ``np.bincount`` does) and
    the orders served per cell (int64), both (C,)."""
    c = idle.shape[0]
    value = np.zeros(c)
    count = np.zeros(c, dtype=np.int64)
    for i in range(served.shape[0]):
        order = served[i]
        g = order_origin[order]
        value[g] += price[order]
        count[g] += 1
        is_served[order] = True
        key = arrival_key[order]
        arrivals[t + key // c, key % c] += 1
    for g in range(c):
        idle[g] -= count[g]
    return value, count


def _picks_in_order(key: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A dispatch action from a ranking: (N, K) picks, every row's valid order slots (1-based;
    ``mask`` (N, K) bool over slots 1..K) by increasing ``key`` (N, K), ties by slot, then STAY
    (0): what a stable ``argsort`` gives (the rule-based dispatchers' numpy path)."""
    n, k = mask.shape
    picks = np.zeros((n, k), dtype=np.int64)
    for i in range(n):
        count = 0
        for j in range(k):
            if mask[i, j]:
                # Insertion sort: strictly smaller keys move ahead, so ties keep slot order.
                p = count
                while p > 0 and key[i, j] < key[i, picks[i, p - 1] - 1]:
                    picks[i, p] = picks[i, p - 1]
                    p -= 1
                picks[i, p] = j + 1
                count += 1
    return picks


def _ranked_picks(
    candidates: np.ndarray, candidate_mask: np.ndarray, column: int, sign: float
) -> np.ndarray:
    """:func:`_picks_in_order` read straight from a dispatch observation: ``candidates``
    (N, K + 1, F) and ``candidate_mask`` (N, K + 1) with slot 0 STAY, the key of slot j being
    ``sign * candidates[:, j, column]``: ``sign`` -1.0 ranks the highest feature first, +1.0
    the lowest. Either product is exact, so the picks are those of
    ``_picks_in_order(sign * candidates[:, 1:, column], candidate_mask[:, 1:] > 0)`` (the
    greedy dispatcher's, one call instead of ten)."""
    n, k = candidate_mask.shape[0], candidate_mask.shape[1] - 1
    picks = np.zeros((n, k), dtype=np.int64)
    for i in range(n):
        count = 0
        for j in range(1, k + 1):
            if candidate_mask[i, j] > 0:
                key = sign * candidates[i, j, column]
                p = count
                while p > 0 and key < sign * candidates[i, picks[i, p - 1], column]:
                    picks[i, p] = picks[i, p - 1]
                    p -= 1
                picks[i, p] = j
                count += 1
    return picks


def _kl_ratios(
    pending_count: np.ndarray, idle: np.ndarray, n_cells: int, smoothing: float
) -> tuple[np.ndarray, np.ndarray]:
    """``(p, p / q)``, each (E, G) float64: every copy's smoothed distributions of waiting
    orders ``p`` and idle drivers ``q`` over its ``n_cells`` cells, from ``pending_count`` and
    ``idle`` (E * G,) int64. The same operations as the numpy path of
    :meth:`~alloc_envs.ride_hailing.sim.RideHailingSim.copy_kl_orders_idle` (integer totals,
    then ``(count + smoothing) / (total + G * smoothing)``); the logarithm is left to numpy,
    whose last bit can differ from libm's."""
    n_copies = pending_count.shape[0] // n_cells
    p = np.empty((n_copies, n_cells))
    ratio = np.empty((n_copies, n_cells))
    spread = n_cells * smoothing
    for e in range(n_copies):
        first = e * n_cells
        pending_total, idle_total = 0, 0
        for g in range(first, first + n_cells):
            pending_total += pending_count[g]
            idle_total += idle[g]
        p_total, q_total = pending_total + spread, idle_total + spread
        for g in range(n_cells):
            p[e, g] = (pending_count[first + g] + smoothing) / p_total
            ratio[e, g] = p[e, g] / ((idle[first + g] + smoothing) / q_total)
    return p, ratio


#: The most terms :func:`_block_sum` adds as numpy does (numpy's pairwise block).
PAIRWISE_BLOCK = 128


def _block_sum(x: np.ndarray) -> float:
    """``x.sum()`` of an (n,) float64 array, n <= :data:`PAIRWISE_BLOCK`, with the same float64
    bits as numpy's pairwise summation: in order below 8 terms, else 8 interleaved partial sums
    combined pairwise, then the terms left over. (Above the block numpy splits the array in
    halves, a recursion this module does not compile: callers keep to the block.)"""
    n = x.shape[0]
    if n < 8:
        total = 0.0
        for i in range(n):
            total += x[i]
        return total
    r0, r1, r2, r3, r4, r5, r6, r7 = x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7]
    whole = n - n % 8
    for i in range(8, whole, 8):
        r0 += x[i]
        r1 += x[i + 1]
        r2 += x[i + 2]
        r3 += x[i + 3]
        r4 += x[i + 4]
        r5 += x[i + 5]
        r6 += x[i + 6]
        r7 += x[i + 7]
    total = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    for i in range(whole, n):
        total += x[i]
    return total


def _weighted_row_sums(log_ratio: np.ndarray, p: np.ndarray) -> np.ndarray:
    """(E,) ``(p * log_ratio).sum(axis=1)`` of two (E, G) float64 arrays, G <=
    :data:`PAIRWISE_BLOCK`, summed as numpy does (:func:`_block_sum`): each row's KL
    divergence."""
    n_rows, n = p.shape
    terms = np.empty(n)
    out = np.empty(n_rows)
    for e in range(n_rows):
        for g in range(n):
            terms[g] = log_ratio[e, g] * p[e, g]
        out[e] = _block_sum(terms)
    return out


def _draw_trips(
    origin: np.ndarray,
    u_length: np.ndarray,
    u_dest: np.ndarray,
    z_price: np.ndarray,
    length_cdf: np.ndarray,
    dest_counts: np.ndarray,
    dest_table: np.ndarray,
    price_mean: np.ndarray,
    price_std: np.ndarray,
    isolated: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:meth:`SyntheticDemand._draw_trips <alloc_envs.ride_hailing.demand.SyntheticDemand>` in
    one loop over the n orders: ``(duration, destination, price)``, (n,) int64, the table's
    dtype and float64, from ``origin`` (n,) and the variates ``u_length``, ``u_dest`` (uniform)
    and ``z_price`` (standard normal), (n,) float64 each. The same operations order by order:
    the length index counts the CDF edges at or below ``u_length`` (all but the last), the pick
    is ``u_dest * count`` truncated and capped, the price ``mean + std * z`` (no fused
    multiply-add), a non-positive one replaced by the mean."""
    n, n_lengths, width = origin.shape[0], length_cdf.shape[0], dest_table.shape[1]
    flat_table, flat_counts = dest_table.ravel(), dest_counts.ravel()
    duration = np.empty(n, dtype=np.int64)
    destination = np.empty(n, dtype=dest_table.dtype)
    price = np.empty(n)
    for i in range(n):
        length_index = 0
        for e in range(n_lengths - 1):
            if u_length[i] >= length_cdf[e]:
                length_index += 1
        duration[i] = length_index + 1
        n_candidates = flat_counts[origin[i] * n_lengths + length_index]
        pick = np.int64(u_dest[i] * n_candidates)
        pick = min(pick, max(n_candidates - 1, 0))
        destination[i] = flat_table[pick + origin[i] * width]
        if isolated and n_candidates <= 0:  # a one-cell city: the trip ends where it started
            destination[i] = origin[i]
        mean = price_mean[length_index]
        drawn = mean + price_std[length_index] * z_price[i]
        price[i] = drawn if drawn > 0 else mean
    return duration, destination, price


def _order_keys(
    origin: np.ndarray,
    destination: np.ndarray,
    duration: np.ndarray,
    price: np.ndarray,
    distances: np.ndarray,
    n_cells: int,
    n_copies: int,
    max_trip_steps: int,
    faithful: bool,
    bin_width: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The keys of :meth:`OrderTables.build <alloc_envs.ride_hailing.order_tables.OrderTables>`
    in one loop over the n orders: ``hist_key`` (3, n) and ``arrival_key`` (n,) intp, from the
    orders' global cell ids, durations and prices and the city's (G, G) hex ``distances``. The
    same integer arithmetic, and the price bin ``floor(price / bin_width)`` capped at L - 1 as
    a float64 before the cast, as there."""
    n, lmax = origin.shape[0], max_trip_steps
    c = n_cells * n_copies
    dropped = c * 3 * lmax
    flat_distances = distances.ravel()
    hist_key = np.empty((3, n), dtype=np.intp)
    arrival_key = np.empty(n, dtype=np.intp)
    for i in range(n):
        base = origin[i] * 3 * lmax
        hist_key[0, i] = base + np.intp(min(np.floor(price[i] / bin_width), lmax - 1))
        length_bin = duration[i] if faithful else duration[i] - 1
        hist_key[1, i] = dropped if faithful and length_bin >= lmax else base + lmax + length_bin
        ring = flat_distances[(origin[i] % n_cells) * n_cells + destination[i] % n_cells]
        ring_bin = min(ring, lmax) - 1
        hist_key[2, i] = dropped if ring_bin < 0 else base + 2 * lmax + ring_bin
        arrival_key[i] = duration[i] * c + destination[i]
    return hist_key, arrival_key


if numba is not None:
    picks_in_order = numba.njit(cache=True)(_picks_in_order)
    order_keys = numba.njit(cache=True)(_order_keys)
    draw_trips = numba.njit(cache=True)(_draw_trips)
    ranked_picks = numba.njit(cache=True)(_ranked_picks)
    picked_orders = numba.njit(cache=True)(_picked_orders)
    serve = numba.njit(cache=True)(_serve)
    cell_features = numba.njit(cache=True)(_cell_features)
    candidates = numba.njit(cache=True)(_candidates)
    pending_orders = numba.njit(cache=True)(_pending_orders)
    kl_ratios = numba.njit(cache=True)(_kl_ratios)
    # Rebound so that the compiled weighted_row_sums calls the compiled sum.
    _block_sum = numba.njit(cache=True)(_block_sum)
    weighted_row_sums = numba.njit(cache=True)(_weighted_row_sums)
