"""Online rolling-horizon planning for Ride-Hailing (model predictive control).

At step ``t`` the planner knows what an operator knows: where its idle drivers are, where and
when its busy drivers will be free again, the orders pending now, and the scenario's demand
model (never the realised future). It solves the LP of the time-expanded network
(:mod:`alloc_envs.ride_hailing.network`) over the next ``H`` steps ``t .. t + H - 1`` with

* the pending orders (each at most once, within its patience), and
* the *expected* orders of steps ``t + 1 .. t + H - 1``: per (step, origin, trip length,
  destination), the expected count ``rate * P(length) / #destinations`` at the expected price
  ``mu + sigma * phi(mu / sigma)`` (the demand model's normal price with non-positive draws
  replaced by ``mu``); trips that end after the window keep only their origin and length,

and executes the first step only:

* ``dispatch``: each cell takes ``round(sum of the LP's first-step flows)`` of its offered
  orders (at most one per idle driver), those with the largest flows first, then the highest
  prices;
* ``reposition``: the environment's own matching at step t (oldest first) is known, so the LP
  starts after it and plans the still-idle drivers' first move; the action's weights are the
  LP's stay / move flows (moves cost ``MOVE_COST`` so that ties stay put).

Drivers have no value after the window (a myopic terminal value). With ``H = 1`` and no
expected demand the program is a one-step matching: in dispatch mode, each cell serves its
``min(idle, offered)`` highest-priced offered orders — the greedy dispatcher's action exactly
(prices are continuous, so the optimum is unique); in reposition mode, moves cannot earn
anything inside a one-step window, so every idle driver stays.
"""

from __future__ import annotations

import math

import numpy as np

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.core.validation import check_int
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.demand import SyntheticDemand
from alloc_envs.ride_hailing.network import FleetNetwork, OrderArcs
from alloc_envs.ride_hailing.sim import RideHailingSim

#: Cost of moving one driver one cell (paper price unit): breaks ties towards staying.
MOVE_COST = 1e-6
#: Default planning horizon, steps (``benchmarks/ride_hailing_oracle.py --horizons`` picks it).
DEFAULT_HORIZON = 4


def expected_price(mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """Expected price of ``N(mean, std)`` draws whose non-positive values become ``mean``:
    ``mean + std * phi(mean / std)`` (``mean`` where ``std`` is 0)."""
    mean = np.asarray(mean, dtype=np.float64)
    std = np.asarray(std, dtype=np.float64)
    z = np.divide(mean, std, out=np.zeros_like(mean), where=std > 0)
    density = np.exp(-0.5 * z**2) / math.sqrt(2.0 * math.pi)
    return mean + np.where(std > 0, std * density, 0.0)


class ExpectedDemand:
    """The synthetic demand model as expected order classes (module doc).

    Args:
        demand: the scenario's :class:`SyntheticDemand` (rates per step and cell).
        grid: the city's grid.
    """

    def __init__(self, demand: SyntheticDemand, grid: HexGrid) -> None:
        cfg = demand.config
        self.config = cfg
        self.rates = demand.rates
        self.length_probs = cfg.trip_length_probs()
        self.price = expected_price(
            np.asarray(cfg.price_mean[: cfg.max_trip_steps]),
            np.asarray(cfg.price_std[: cfg.max_trip_steps]),
        )
        self.dest_table, self.dest_counts = grid.cells_within(cfg.max_trip_steps)

    def arcs(self, t: int, window: int) -> OrderArcs:
        """Expected orders created at steps ``t + 1 .. t + window - 1``, as order arcs of the
        window starting at ``t`` (local steps), each takeable within its patience."""
        cfg = self.config
        g = self.rates.shape[1]
        parts = []
        for k in range(1, window):
            for length in range(1, cfg.max_trip_steps + 1):
                count = self.rates[t + k] * self.length_probs[length - 1]
                n_dest = self.dest_counts[:, length - 1]
                if k + length < window and n_dest.max(initial=0) > 0:
                    origin, slot = np.nonzero(np.arange(self.dest_table.shape[1]) < n_dest[:, None])
                    destination = self.dest_table[origin, slot]
                    units = count[origin] / n_dest[origin]
                else:  # the trip ends after the window (or nowhere else to go)
                    origin = np.arange(g)
                    destination = origin
                    units = count
                keep = units > 0
                parts.append(
                    _arcs(
                        origin[keep],
                        destination[keep],
                        length,
                        self.price[length - 1],
                        k,
                        min(k + cfg.patience, window - 1),
                        units[keep],
                    )
                )
        if not parts:
            return _arcs(*(np.zeros(0, dtype=np.int64),) * 2, 1, 0.0, 0, 0, np.zeros(0))
        return OrderArcs.concatenate(parts)


def _arcs(
    origin: np.ndarray,
    destination: np.ndarray,
    length: int | np.ndarray,
    value: float | np.ndarray,
    first: int | np.ndarray,
    last: int | np.ndarray,
    capacity: np.ndarray,
) -> OrderArcs:
    n = origin.shape[0]
    return OrderArcs(
        origin=origin.astype(np.int64),
        destination=destination.astype(np.int64),
        duration=np.broadcast_to(np.asarray(length, dtype=np.int64), (n,)).copy(),
        value=np.broadcast_to(np.asarray(value, dtype=np.float64), (n,)).copy(),
        first=np.broadcast_to(np.asarray(first, dtype=np.int64), (n,)).copy(),
        last=np.broadcast_to(np.asarray(last, dtype=np.int64), (n,)).copy(),
        capacity=np.asarray(capacity, dtype=np.float64),
    )


class RollingHorizonPlanner:
    """The ``mpc`` dispatcher's planning core (module doc).

    Args:
        config: the city (its action mode decides what is planned).
        grid: its grid.
        demand: its :class:`SyntheticDemand`, or None to plan with the pending orders only.
        horizon: steps H planned at each step (>= 1).
        hindsight: plan with the realised orders of the window's later steps (read from the
            simulator's day) instead of expected ones: a lookahead only the hindsight oracle
            may use (it builds plans with it), never the ``mpc`` dispatcher.

    Raises:
        ValueError: a bad horizon.
    """

    def __init__(
        self,
        config: RideHailingConfig,
        grid: HexGrid,
        demand: SyntheticDemand | None,
        horizon: int = DEFAULT_HORIZON,
        *,
        hindsight: bool = False,
    ) -> None:
        check_int("horizon", horizon, 1, config.episode_steps)
        self.config = config
        self.grid = grid
        self.horizon = horizon
        self.hindsight = hindsight
        self.expected = None if demand is None else ExpectedDemand(demand, grid)

    def act(self, sim: RideHailingSim) -> np.ndarray:
        """The joint action at the simulator's current step: (G, K) picks in dispatch mode,
        (G, 7) move weights in reposition mode."""
        if self.config.action_mode == "dispatch":
            return self._dispatch(sim)
        return self._reposition(sim)

    def _window(self, sim: RideHailingSim) -> tuple[int, np.ndarray]:
        """Window length W and its (W, G) supply from trips and moves under way."""
        t = sim.t
        window = min(self.horizon, self.config.episode_steps - t)
        supply = np.zeros((window, sim.n_cells))
        supply[1:] = sim.arrivals[t + 1 : t + window]
        return window, supply

    def _network(
        self, sim: RideHailingSim, window: int, supply: np.ndarray, known: OrderArcs
    ) -> FleetNetwork:
        parts = [known]
        if self.expected is not None:
            parts.append(self.expected.arcs(sim.t, window))
        if self.hindsight:
            t, o = sim.t, sim.orders
            future = np.arange(
                o.step_start[t + 1], o.step_start[min(t + window, len(o.step_start) - 1)]
            )
            parts.append(self._known(sim, future, o.step[future] - t, window))
        neighbors = self.grid.neighbors if self.config.action_mode == "reposition" else None
        return FleetNetwork(supply, OrderArcs.concatenate(parts), neighbors, MOVE_COST)

    def _known(
        self, sim: RideHailingSim, ids: np.ndarray, first: int | np.ndarray, window: int
    ) -> OrderArcs:
        """Real orders ``ids`` as arcs of the window, takeable from local step ``first`` to
        their deadline (dropped when that is before ``first``)."""
        o = sim.orders
        first = np.broadcast_to(np.asarray(first, dtype=np.int64), ids.shape)
        deadline = np.minimum(o.step[ids] + self.config.patience - sim.t, window - 1)
        keep = deadline >= first
        ids = ids[keep]
        return _arcs(
            o.origin[ids],
            o.destination[ids],
            o.duration[ids],
            o.price[ids],
            first[keep],
            deadline[keep],
            np.ones(ids.shape[0]),
        )

    def _dispatch(self, sim: RideHailingSim) -> np.ndarray:
        window, supply = self._window(sim)
        supply[0] = sim.idle
        offered = sim.slots[:, 1:]
        cell, slot = np.nonzero(offered >= 0)
        ids = offered[cell, slot]
        known = self._known(sim, ids, 0, window)
        network = self._network(sim, window, supply, known)
        solution = network.solve(integer=False)
        flow = np.zeros(ids.shape[0])
        if solution.x is not None:  # the offered orders' first arcs are at local step 0
            flow = np.maximum(solution.x[network.order_start[: ids.shape[0]]], 0.0)
        flow = np.where(flow > 1e-9, flow, 0.0)
        wanted = np.floor(np.bincount(cell, weights=flow, minlength=sim.n_cells) + 0.5)
        take = np.minimum(wanted, sim.idle).astype(np.int64)
        # Within each cell: largest flow first, then highest price.
        rank_key = np.lexsort((-sim.orders.price[ids], -flow, cell))
        first_of_cell = np.searchsorted(cell[rank_key], np.arange(sim.n_cells))
        rank = np.arange(ids.shape[0]) - first_of_cell[cell[rank_key]]
        chosen = rank_key[(rank < take[cell[rank_key]]) & (flow[rank_key] > 0)]
        k = self.config.max_orders
        picks = np.full((sim.n_cells, k), k + 1)
        picks[cell[chosen], slot[chosen]] = slot[chosen] + 1
        picks = np.sort(picks, axis=1)
        return np.where(picks <= k, picks, 0)

    def _reposition(self, sim: RideHailingSim) -> np.ndarray:
        window, supply = self._window(sim)
        o = sim.orders
        matched = sim.fifo_matches()
        supply[0] = sim.idle - np.bincount(o.origin[matched], minlength=sim.n_cells)
        ends = o.duration[matched]
        inside = ends < window
        np.add.at(supply, (ends[inside], o.destination[matched][inside]), 1.0)
        left = np.setdiff1d(sim.pending, matched, assume_unique=True)
        network = self._network(sim, window, supply, self._known(sim, left, 1, window))
        counts = np.zeros((sim.n_cells, 7))
        counts[:, 0] = supply[0]
        if window > 1:
            solution = network.solve(integer=False)
            if solution.x is not None:
                counts[:, 0] = solution.x[network.wait_index[0]]
                has = network.move_index[0] >= 0
                counts[:, 1:][has] = solution.x[network.move_index[0][has]]
        counts = np.maximum(counts, 0.0)
        return counts / np.maximum(counts.sum(axis=1, keepdims=True), 1e-12)
