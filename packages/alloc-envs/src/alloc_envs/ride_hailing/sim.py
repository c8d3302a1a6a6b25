"""The ride-hailing simulator core: drivers, orders and matching, vectorised over cells and orders.

Drivers are homogeneous, so the state holds counts, not driver objects: ``idle[g]`` drivers wait
in cell ``g`` and ``arrivals[s, g]`` drivers become idle in cell ``g`` at step ``s`` (after a trip
or a repositioning move). Orders come from an :class:`~alloc_envs.ride_hailing.demand.OrderStream`
and carry a ``served`` flag.

Several independent copies of the city (``n_copies`` E, one config, each with its own orders) can
be stepped as one: the arrays then cover C = E * G cells, copy ``e`` owning the *global* cell ids
``e * G .. e * G + G - 1``. No order, driver or move crosses copies, so every per-cell and
per-order operation is unchanged and a step costs about as many numpy calls for E copies as for
one; only a city's scalars (GMV, served orders, rho_global, ...) become (E,) arrays. Each copy's
trajectory is bit-identical to its city stepped alone.

One step (research note §8.2): match orders to idle drivers of the same cell, credit the served
prices, (reposition mode: move the drivers still idle), advance time, release drivers whose trip
ends now, drop orders older than ``patience`` steps, and observe. An order created at step ``t``
can be matched at steps ``t .. t + patience``.
"""

from __future__ import annotations

import numpy as np

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.ride_hailing import kernels
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.demand import OrderStream
from alloc_envs.ride_hailing.order_tables import PRICE_BIN_WIDTH, OrderTables

__all__ = ["CANDIDATE_FEATURES", "PRICE_BIN_WIDTH", "RideHailingSim", "split_drivers"]

#: Candidate features (last axis of ``candidates``), in this order.
CANDIDATE_FEATURES = (
    "origin",
    "destination",
    "price",
    "duration",
    "type",
    "delta_ratio",
    "delta_drivers",
    "delta_orders",
    "age",
)
#: ``type`` feature of the STAY candidate and of real orders (the reference's service types).
STAY_TYPE, ORDER_TYPE = 0.0, -1.0
#: Smoothing count added to every cell in the KL diagnostic.
KL_SMOOTHING = 1.0
_RATIO_EPS = 1e-5
#: The weights argument of the cell-features kernel when every histogram weight is 1 (unread).
_NO_WEIGHTS = np.empty((3, 0))


class RideHailingSim:
    """Simulator state and dynamics of ``n_copies`` independent copies of one city (default 1).
    All randomness comes from the demand streams.

    Shapes: G cells per copy, C = E * G cells in all (the arrays' cell axis; one copy: C = G),
    K = ``config.max_orders`` candidate order slots per cell (slot 0 is STAY, so ``K + 1``
    slots), L = ``config.max_trip_steps``. ``gmv``, ``n_served``, ``n_generated``,
    ``in_service`` and ``kl_orders_idle()`` are a single city's (``ValueError`` with several
    copies); the ``copy_*`` versions are (E,) arrays, one entry per copy.
    """

    def __init__(self, config: RideHailingConfig, grid: HexGrid, n_copies: int = 1) -> None:
        if isinstance(n_copies, bool) or not isinstance(n_copies, int) or n_copies < 1:
            raise ValueError(f"n_copies must be an integer >= 1, got {n_copies!r}")
        self.config = config
        self.grid = grid
        g = grid.n_cells
        self.n_cells = g
        self.n_copies = n_copies
        self.n_total_cells = c = n_copies * g
        self.obs_dim = 5 + 3 * config.max_trip_steps
        #: (C,) every global cell's id within its copy.
        self.local_cells = np.tile(np.arange(g), n_copies)
        self._distances = grid.distances
        # Reposition targets: column 0 = stay, columns 1..6 = neighbours clockwise from north.
        targets = np.concatenate([np.arange(g)[:, None], grid.neighbors], axis=1)
        targets = np.tile(targets, (n_copies, 1))
        copy_base = np.repeat(np.arange(n_copies) * g, g)[:, None]
        self.move_targets = np.where(targets >= 0, targets + copy_base, -1)
        self.move_mask = (self.move_targets >= 0).astype(np.int8)
        k = config.max_orders
        #: (C, 1) first flat slot of every cell in a (C, K + 1) slot array; (C,) the next one.
        self._slot_base = (np.arange(c) * (k + 1))[:, None]
        self._slot_base1 = self._slot_base.ravel() + 1
        self._pick_index = np.arange(k)[None, :]
        # The STAY candidate of every cell: origin = destination = the cell, length 1, type 0.
        self._stay = np.zeros((c, len(CANDIDATE_FEATURES)), dtype=np.float32)
        self._stay[:, 0] = self._stay[:, 1] = self.local_cells
        self._stay[:, 3] = 1.0
        self._stay[:, 4] = STAY_TYPE
        self._tables_of: tuple[tuple[OrderStream, ...], OrderStream, OrderTables] | None = None
        self._arange = np.arange(0)
        # Faithful mode keeps rho_global across resets, as the reference does.
        self._rho_global = np.zeros(n_copies)
        self.t = 0
        #: Build observations with the compiled kernels (:mod:`alloc_envs.ride_hailing.kernels`;
        #: the same arrays bit for bit) instead of numpy calls.
        self.use_numba = kernels.use_numba()

    # ------------------------------------------------------------------ episode
    def reset(self, *streams: OrderStream) -> None:
        """Start an episode from one order stream per copy (in the city's cell ids 0 .. G - 1):
        every cell holds ``drivers_per_cell`` idle drivers, time is 0."""
        cfg = self.config
        if len(streams) != self.n_copies:
            raise ValueError(f"reset needs {self.n_copies} order stream(s), got {len(streams)}")
        cached = self._tables_of
        if cached is None or any(a is not b for a, b in zip(cached[0], streams, strict=True)):
            # Replayed streams (reference demand) keep their tables.
            orders = OrderStream.stack_copies(streams, self.n_cells)
            tables = OrderTables.build(
                orders, cfg, self._distances, self.n_copies, use_numba=self.use_numba
            )
            cached = self._tables_of = (streams, orders, tables)
        self.orders, self._tables = cached[1], cached[2]
        self._copy_step_start = np.stack([stream.step_start for stream in streams])
        if self._arange.shape[0] < self.orders.n_orders:
            self._arange = np.arange(self.orders.n_orders)
        self.served = np.zeros(self.orders.n_orders, dtype=bool)
        self.t = 0
        self.idle = np.full(self.n_total_cells, cfg.drivers_per_cell, dtype=np.int64)
        # Trips end at most max_trip_steps after the last step; moves take one step.
        self.arrivals = np.zeros(
            (cfg.episode_steps + cfg.max_trip_steps + 1, self.n_total_cells), dtype=np.int64
        )
        self.copy_gmv = np.zeros(self.n_copies)
        self.copy_served = np.zeros(self.n_copies, dtype=np.int64)
        if not cfg.faithful:
            self._rho_global = np.zeros(self.n_copies)
        self._refresh_pending()

    @property
    def done(self) -> bool:
        """Whether the last step of the episode has been taken."""
        return self.t >= self.config.episode_steps

    def _several_copies(self, name: str) -> ValueError:
        """The error of asking a per-city value (``name``) of several copies."""
        return ValueError(
            f"{name} is one city's; this simulator steps {self.n_copies} copies: use copy_{name}"
        )

    @property
    def gmv(self) -> float:
        """Gross merchandise value served so far (the paper's price unit)."""
        if self.n_copies != 1:
            raise self._several_copies("gmv")
        return float(self.copy_gmv[0])

    @property
    def n_served(self) -> int:
        """Orders served so far."""
        if self.n_copies != 1:
            raise self._several_copies("served")
        return int(self.copy_served[0])

    @property
    def copy_generated(self) -> np.ndarray:
        """(E,) int64 orders created at the steps already matched (0..t-1): ORR's denominator."""
        return self._copy_step_start[:, min(self.t, self.config.episode_steps)]

    @property
    def n_generated(self) -> int:
        """Orders created at the steps already matched (0..t-1): the denominator of ORR."""
        if self.n_copies != 1:
            raise self._several_copies("generated")
        return int(self.orders.step_start[min(self.t, self.config.episode_steps)])

    @property
    def copy_in_service(self) -> np.ndarray:
        """(E,) int64 drivers on a trip or a move (not idle)."""
        ahead = self.arrivals[self.t :].reshape(-1, self.n_copies, self.n_cells)
        return ahead.sum(axis=(0, 2))

    @property
    def in_service(self) -> int:
        """Drivers on a trip or a move (not idle)."""
        if self.n_copies != 1:
            raise self._several_copies("in_service")
        return int(self.arrivals[self.t :].sum())

    # ------------------------------------------------------------------ pending orders
    def _refresh_pending(self) -> None:
        """Index the orders that can be matched now, grouped by cell, oldest first.

        Sets ``pending`` (n_pending,) order ids sorted by (origin, creation step, draw order),
        ``pending_count`` (C,) and ``slots`` (C, K + 1) int64 order ids of the visible
        candidates (``-1``: STAY in column 0, empty elsewhere); ``_visible`` the pending orders
        that have a slot (the first K of each cell), ``_visible_slot`` their flat index into
        ``slots`` and ``_visible_origin`` their cell.
        """
        cfg = self.config
        k = cfg.max_orders
        if self.t >= cfg.episode_steps:
            start = stop = self.orders.n_orders  # after the last step nothing can be matched
        else:
            start = self.orders.step_start[max(0, self.t - cfg.patience)]
            stop = self.orders.step_start[self.t + 1]
        if self.use_numba:
            (
                self.pending, self.pending_count, self._pending_origin, self._pending_slot,
                self._visible, self._visible_origin, self._visible_slot, self.slots,
            ) = kernels.pending_orders(
                self.served, start, stop, self.orders.origin, self._slot_base1, k
            )  # fmt: skip
            return
        alive = np.flatnonzero(~self.served[start:stop])
        alive += start
        origin = self.orders.origin[alive]
        by_cell = origin.argsort(kind="stable")
        pending = alive[by_cell]
        origin = origin[by_cell]
        count = np.bincount(origin, minlength=self.n_total_cells)
        # The i-th pending order of a cell goes to slot i + 1 of that cell's row.
        offset = self._slot_base1 + count
        offset -= np.cumsum(count)
        slot = offset[origin]
        slot += self._arange[: pending.shape[0]]
        self.pending, self.pending_count = pending, count
        self._pending_origin, self._pending_slot = origin, slot
        if int(count.max(initial=0)) > k:  # some orders wait without a slot
            visible = slot - self._slot_base1[origin] < k
            pending, origin, slot = pending[visible], origin[visible], slot[visible]
        self._visible, self._visible_origin, self._visible_slot = pending, origin, slot
        self.slots = np.full((self.n_total_cells, k + 1), -1, dtype=np.int64)
        self.slots.ravel()[slot] = pending

    # ------------------------------------------------------------------ dynamics
    def step_dispatch(self, picks: np.ndarray) -> np.ndarray:
        """Serve the picked orders. ``picks`` (C, K) int: candidate slots, one per idle driver.

        Only the first ``min(idle[g], K)`` picks of cell ``g`` are read, one per idle driver:
        slot 0 (STAY), an empty slot or an order already picked leaves that driver idle; a real
        order is served by the driver. Validation of shape and range is the caller's job.
        Returns the prices served per cell, (C,) float64.
        """
        if self.use_numba:
            chosen = kernels.picked_orders(picks, self.idle, self.slots, self.config.max_orders)
            return self._serve_and_advance(chosen, moves=None)
        readable = self._pick_index < np.minimum(self.idle, self.config.max_orders)[:, None]
        hit = np.zeros(self.slots.size, dtype=bool)
        hit[(picks + self._slot_base)[readable]] = True
        # Orders in slot order: by cell, and within a cell by id (what every sum below needs).
        chosen = self.slots.ravel()[hit]
        return self._serve_and_advance(chosen[chosen >= 0], moves=None)

    def step_reposition(self, shares: np.ndarray) -> np.ndarray:
        """Match oldest orders first, then move the still-idle drivers by ``shares``.

        ``shares`` (C, 7) float: non-negative weights over [stay, 6 neighbours clockwise from
        north], zero where there is no neighbour (the caller validates). Each row is normalised
        (an all-zero row keeps everyone in place) and split into whole drivers by largest
        remainders (ties to the lower direction index), so drivers are conserved exactly. Moved
        drivers arrive idle at the neighbour one step later. Returns the prices served per cell,
        (C,) float64.
        """
        served = self.fifo_matches()
        origin = self.orders.origin[served]
        idle_after = self.idle - np.bincount(origin, minlength=self.n_total_cells)
        moves = split_drivers(idle_after, shares)
        return self._serve_and_advance(served, moves=moves)

    def fifo_matches(self) -> np.ndarray:
        """The orders the reposition mode's rule serves now: each cell's pending orders, oldest
        first, one per idle driver; (n,) int64 ids grouped by cell, by id within a cell."""
        origin = self._pending_origin
        rank = self._pending_slot - self._slot_base1[origin]
        return self.pending[rank < self.idle[origin]]

    def _serve_and_advance(self, served: np.ndarray, moves: np.ndarray | None) -> np.ndarray:
        """Serve ``served`` (order ids grouped by cell, by id within a cell), apply ``moves``,
        advance time and refresh the pending orders; the prices served per cell (C,)."""
        o = self.orders
        c, per_copy = self.n_total_cells, (self.n_copies, self.n_cells)
        if self.n_copies == 1:  # Python scalars: the single city's path makes fewer numpy calls
            self._rho_global[0] = float(self.idle.sum()) / max(1.0, float(self.pending.shape[0]))
        else:
            idle_total = self.idle.reshape(per_copy).sum(axis=1)
            pending_total = self.pending_count.reshape(per_copy).sum(axis=1)
            self._rho_global = idle_total / np.maximum(1, pending_total)
        if self.use_numba:
            cell_value, cell_served = kernels.serve(
                served, o.origin, o.price, self._tables.arrival_key, self.served, self.idle,
                self.arrivals, self.t,
            )  # fmt: skip
        else:
            origin = o.origin[served]
            cell_value = np.bincount(origin, weights=o.price[served], minlength=c)
            self.served[served] = True
            cell_served = np.bincount(origin, minlength=c)
            self.idle -= cell_served
            lmax = self.config.max_trip_steps
            ends = np.bincount(self._tables.arrival_key[served], minlength=(lmax + 1) * c)
            self.arrivals[self.t : self.t + lmax + 1] += ends.reshape(lmax + 1, c)
        if moves is not None:
            self.idle = moves[:, 0].copy()
            moved = moves[:, 1:]
            targets = self.move_targets[:, 1:]
            go = moved > 0
            np.add.at(self.arrivals, (self.t + 1, targets[go]), moved[go])
        if self.n_copies == 1:
            self.copy_gmv[0] += float(cell_value.sum())
            self.copy_served[0] += served.shape[0]
        else:
            self.copy_gmv += cell_value.reshape(per_copy).sum(axis=1)
            self.copy_served += cell_served.reshape(per_copy).sum(axis=1)
        self.t += 1
        self.idle += self.arrivals[self.t]
        self.arrivals[self.t] = 0
        self._refresh_pending()
        return cell_value

    # ------------------------------------------------------------------ observation
    def cell_features(self) -> np.ndarray:
        """(C, 5 + 3L) float32 raw per-cell observation (research note §8.3).

        Columns: cell id (within its copy), idle drivers, pending orders, rho = idle / max(1,
        pending), |rho - rho_global| (rho_global from the previous matching), price histogram (L
        bins of 15 price units, the last open-ended), trip-length histogram (L bins, lengths 1..L),
        destination-ring histogram (rings 1..L, the last open-ended). In faithful mode the
        histograms have the reference's quirks: the STAY pseudo-order is counted (price bin 0,
        length bin 1) in cells with pending orders, prices at or above 15 L count L times in the
        last bin, and length bins cover lengths 0..L-1.
        """
        cfg, tables = self.config, self._tables
        c, lmax = self.n_total_cells, cfg.max_trip_steps
        if self.use_numba:
            weights = tables.hist_weight
            return kernels.cell_features(
                self.pending, tables.hist_key, _NO_WEIGHTS if weights is None else weights,
                weights is not None, cfg.faithful, self.local_cells, self.idle,
                self.pending_count, self._rho_global, self.n_cells, lmax,
            )  # fmt: skip
        width = 3 * lmax
        p = self.pending
        keys = np.take(tables.hist_key, p, axis=1)
        weights = tables.hist_weight
        if weights is not None:
            weights = np.take(weights, p, axis=1).ravel()
        hist = np.bincount(keys.ravel(), weights=weights, minlength=c * width + 1)
        hist = hist[: c * width].reshape(c, width)
        if cfg.faithful:
            has_orders = self.pending_count > 0
            hist[:, 0] += has_orders
            if lmax > 1:
                hist[:, lmax + 1] += has_orders
        rho = self.idle / np.maximum(1, self.pending_count)
        out = np.empty((c, self.obs_dim), dtype=np.float32)
        out[:, 0] = self.local_cells
        out[:, 1] = self.idle
        out[:, 2] = self.pending_count
        out[:, 3] = rho
        rho_global = self._rho_global
        if self.n_copies > 1:
            rho_global = np.repeat(rho_global, self.n_cells)
        out[:, 4] = np.abs(rho - rho_global)
        out[:, 5:] = hist
        return out

    def candidates(self) -> tuple[np.ndarray, np.ndarray]:
        """Candidate features and mask of the dispatch action.

        Returns ``(features, mask)``: ``features`` (C, K + 1, 9) float32 with the columns of
        :data:`CANDIDATE_FEATURES` (cell ids within the copy; slot 0 = STAY: origin = destination
        = the cell, price 0, length 1, type 0; empty slots are all zero); ``delta_*`` are
        destination minus origin of r = min(D, O) / max(D, O), D = idle drivers and O = pending
        orders of a cell; ``age`` is the number of steps since the order was created. ``mask``
        (C, K + 1) int8: 1 where the slot holds a candidate (always for STAY).
        """
        o, ids = self.orders, self._visible
        if self.use_numba:
            return kernels.candidates(
                ids, self._visible_origin, self._visible_slot, o.destination, o.price,
                o.duration, o.step, self.local_cells, self.idle, self.pending_count, self._stay,
                self.t, ORDER_TYPE, _RATIO_EPS, self.config.max_orders + 1, self.n_copies > 1,
            )  # fmt: skip
        drivers = self.idle + _RATIO_EPS
        demand = self.pending_count + _RATIO_EPS
        cell = np.empty((self.n_total_cells, 3))
        cell[:, 0] = np.minimum(drivers, demand) / np.maximum(drivers, demand)
        cell[:, 1] = self.idle
        cell[:, 2] = self.pending_count
        destination = o.destination[ids]
        rows = np.empty((ids.shape[0], len(CANDIDATE_FEATURES)), dtype=np.float32)
        if self.n_copies == 1:
            rows[:, 0] = self._visible_origin
            rows[:, 1] = destination
        else:  # ids within the copy
            rows[:, 0] = np.take(self.local_cells, self._visible_origin)
            rows[:, 1] = np.take(self.local_cells, destination)
        rows[:, 2] = o.price[ids]
        rows[:, 3] = o.duration[ids]
        rows[:, 4] = ORDER_TYPE
        delta = np.take(cell, destination, axis=0)
        delta -= np.take(cell, self._visible_origin, axis=0)
        rows[:, 5:8] = delta
        rows[:, 8] = self.t - o.step[ids]
        n_features = len(CANDIDATE_FEATURES)
        feats = np.zeros((*self.slots.shape, n_features), dtype=np.float32)
        # Whole rows at once: a (rows, 9) float32 array seen as one 36-byte item per row.
        np.put(_as_items(feats.reshape(-1, n_features)), self._visible_slot, _as_items(rows))
        feats[:, 0] = self._stay
        mask = np.zeros(self.slots.shape, dtype=np.int8)
        mask[:, 0] = 1
        mask.ravel()[self._visible_slot] = 1
        return feats, mask

    def copy_kl_orders_idle(self) -> np.ndarray:
        """(E,) KL(order distribution || idle-driver distribution) over each copy's cells,
        add-one smoothed."""
        if self.use_numba and self.n_cells <= kernels.PAIRWISE_BLOCK:
            p, ratio = kernels.kl_ratios(self.pending_count, self.idle, self.n_cells, KL_SMOOTHING)
            np.log(ratio, out=ratio)  # numpy's logarithm: libm's can differ in the last bit
            return kernels.weighted_row_sums(ratio, p)
        # Sums of whole numbers below 2**53 are exact in any order.
        per_copy = (self.n_copies, self.n_cells)
        g = self.n_cells * KL_SMOOTHING
        pending = self.pending_count.reshape(per_copy)
        p = pending + KL_SMOOTHING
        p /= (pending.sum(axis=1) + g)[:, None]
        idle = self.idle.reshape(per_copy)
        q = idle + KL_SMOOTHING
        q /= (idle.sum(axis=1) + g)[:, None]
        return _kl_rows(p, q)

    def kl_orders_idle(self) -> float:
        """KL(order distribution || idle-driver distribution) over cells, add-one smoothed."""
        if self.n_copies != 1:
            raise self._several_copies("kl_orders_idle")
        return float(self.copy_kl_orders_idle()[0])


def _kl_rows(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """KL(p || q) along the last axis of two arrays of distributions (q > 0); ``p`` is kept."""
    ratio = np.divide(p, q)
    np.log(ratio, out=ratio)
    ratio *= p
    return ratio.sum(axis=-1)


def _as_items(rows: np.ndarray) -> np.ndarray:
    """A C-contiguous (n, f) array as (n,) items of ``f * itemsize`` bytes (a view)."""
    return rows.view(np.dtype((np.void, rows.shape[1] * rows.itemsize))).reshape(-1)


def split_drivers(idle: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Split ``idle`` (G,) drivers over ``shares`` (G, D) weights into whole numbers.

    Rows are normalised (an all-zero row puts everyone in column 0); the floor of each share is
    taken and the remaining drivers go to the largest remainders, ties to the lower column. The
    result (G, D) int64 sums to ``idle`` per row.
    """
    total = shares.sum(axis=1, keepdims=True)
    fallback = np.zeros_like(shares)
    fallback[:, 0] = 1.0
    frac = np.where(total > 0, shares / np.where(total > 0, total, 1.0), fallback)
    exact = frac * idle[:, None]
    base = np.floor(exact).astype(np.int64)
    left = idle - base.sum(axis=1)
    remainder = exact - base
    # Rank columns by remainder (descending), ties by column index; give one driver to the top.
    order = np.lexsort((np.broadcast_to(np.arange(shares.shape[1]), shares.shape), -remainder))
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(shares.shape[1])[None, :], axis=1)
    return base + (rank < left[:, None])
