"""Per-order keys of one episode, computed once at reset so that a step only gathers them.

The observation's histograms and the drivers' arrival times need, for every pending order, a
bin that does not change while the order waits; tabulating those bins for the whole day at
reset (one vectorised pass over tens of thousands of orders) replaces a dozen small numpy calls
per step. The values are the very ones the per-step formulas give (same operations, same
dtypes), so trajectories do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alloc_envs.ride_hailing import kernels
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.demand import OrderStream

#: Width of a price-histogram bin, in the paper's price unit (1.5 in the reference's 0.1 unit).
PRICE_BIN_WIDTH = 15.0


def price_bins(price: np.ndarray) -> np.ndarray:
    """``price // PRICE_BIN_WIDTH`` (float64) for finite prices ``>= 0``, 5x cheaper.

    numpy's ``floor_divide`` goes through ``fmod``; ``floor(price / 15)`` is the same number:
    the rounded quotient of a price just below ``15 k`` cannot reach ``k``, because it lies at
    least ``ulp(15 k) / 15 >= (8 / 15) ulp(k)`` below ``k``, more than the half-ulp that
    rounding moves it (tested bit for bit against ``//``).
    """
    return np.floor(price / PRICE_BIN_WIDTH)


@dataclass(frozen=True)
class OrderTables:
    """Per-order keys of one :class:`OrderStream` (``n`` orders) for a city's config, the stream
    holding E copies of the city in global cell ids (C = E * G cells; E = 1: the city's ids).

    Attributes:
        hist_key: (3, n) intp histogram keys of the observation: for the price, trip-length and
            destination-ring histograms (rows), ``origin * 3L + row * L + bin``; an order that a
            histogram leaves out has the key ``C * 3L`` (a bin that is dropped).
        hist_weight: (3, n) float64 weights of those keys (faithful mode counts prices at or
            above ``15 L`` L times), or ``None`` where every weight is 1.
        arrival_key: (n,) intp ``duration * C + destination``: the row offset (from the step it
            is served at) and the cell where the driver of the order becomes idle again.
    """

    hist_key: np.ndarray
    hist_weight: np.ndarray | None
    arrival_key: np.ndarray

    @classmethod
    def build(
        cls,
        orders: OrderStream,
        config: RideHailingConfig,
        distances: np.ndarray,
        n_copies: int = 1,
        use_numba: bool = False,
    ) -> OrderTables:
        """The tables of ``orders`` (``n_copies`` copies of a city with ``config`` and (G, G)
        hex ``distances``, in global cell ids); ``use_numba``: the keys in one compiled loop
        (:func:`alloc_envs.ride_hailing.kernels.order_keys`, the same values)."""
        g, lmax = config.n_cells, config.max_trip_steps
        c = g * n_copies
        origin, destination, duration = orders.origin, orders.destination, orders.duration
        hist_weight = None
        if config.faithful:
            hist_weight = np.ones((3, orders.n_orders))
            hist_weight[0, orders.price >= PRICE_BIN_WIDTH * lmax] = float(lmax)
        if use_numba:
            hist_key, arrival_key = kernels.order_keys(
                origin, destination, duration, orders.price, distances, g, n_copies, lmax,
                config.faithful, PRICE_BIN_WIDTH,
            )  # fmt: skip
            return cls(hist_key=hist_key, hist_weight=hist_weight, arrival_key=arrival_key)
        local_origin, local_destination = origin, destination  # for the distance table
        if n_copies > 1:
            local_origin, local_destination = origin % g, destination % g
        dropped = c * 3 * lmax
        hist_key = np.empty((3, orders.n_orders), dtype=np.intp)
        base = np.multiply(origin, 3 * lmax, out=hist_key[0])
        hist_key[1] = base + lmax
        hist_key[2] = base + 2 * lmax
        price_bin = price_bins(orders.price)
        hist_key[0] += np.minimum(price_bin, lmax - 1).astype(np.intp)
        # Faithful mode's length bins cover lengths 0..L-1 (longer trips are left out).
        length_bin = duration if config.faithful else duration - 1
        hist_key[1] += length_bin
        if config.faithful:
            hist_key[1, length_bin >= lmax] = dropped
        # Recorded trips can end farther than L rings away: the last ring bin is open-ended.
        ring_bin = np.minimum(np.take(distances, local_origin * g + local_destination), lmax) - 1
        hist_key[2] += ring_bin
        hist_key[2, ring_bin < 0] = dropped
        arrival_key = np.multiply(duration, c, dtype=np.intp)
        arrival_key += destination
        return cls(hist_key=hist_key, hist_weight=hist_weight, arrival_key=arrival_key)
