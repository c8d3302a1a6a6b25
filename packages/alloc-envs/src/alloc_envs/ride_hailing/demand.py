"""Order streams: where the ride-hailing orders of an episode come from.

An episode's demand is exogenous (it does not depend on the actions), so a demand source produces
the whole day's orders at ``reset`` as one :class:`OrderStream` (struct of arrays, sorted by
creation step, then origin cell, then draw order). Three sources:

* :class:`SyntheticDemand` in ``"stochastic"`` mode: Poisson orders per cell and step drawn from
  the episode's generator, so the stream is a function of ``reset(seed)``;
* :class:`SyntheticDemand` in ``"reference"`` mode: the reference simulator's seeding, one legacy
  ``RandomState(cell + step)`` per (cell, step), so every episode has the same orders;
* :class:`RecordedDemand`: trip records (a :class:`~alloc_envs.ride_hailing.trips.TripTable`),
  one recorded day per episode.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.ride_hailing import kernels
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.trips import TripTable


@dataclass(frozen=True)
class OrderStream:
    """All orders of one episode, sorted by (creation step, origin cell).

    Attributes (all shape ``(n,)``): ``step`` int64 creation step, ``origin`` and ``destination``
    int64 cell ids, ``duration`` int64 trip length in steps (>= 1), ``price`` float64 order value
    in the paper's unit. ``step_start`` (episode_steps + 1,) int64: orders created at step ``t``
    are ``step_start[t]:step_start[t + 1]``.
    """

    step: np.ndarray
    origin: np.ndarray
    destination: np.ndarray
    duration: np.ndarray
    price: np.ndarray
    step_start: np.ndarray

    def __post_init__(self) -> None:
        # Streams are shared (the reference stream is cached): make them read-only.
        for array in (
            self.step,
            self.origin,
            self.destination,
            self.duration,
            self.price,
            self.step_start,
        ):
            array.setflags(write=False)

    @property
    def n_orders(self) -> int:
        """Number of orders in the episode."""
        return int(self.step.shape[0])

    @classmethod
    def stack_copies(cls, streams: Sequence[OrderStream], n_cells: int) -> OrderStream:
        """The streams of E copies of a city of ``n_cells`` cells as one stream in *global* cell
        ids (copy ``e``'s cell ``g`` is ``e * n_cells + g``), sorted by (creation step, global
        origin, draw order): at every step, copy 0's orders in their order, then copy 1's, ...
        One stream is returned as it is."""
        if len(streams) == 1:
            return streams[0]
        counts = np.stack([np.diff(stream.step_start) for stream in streams])  # (E, S)
        step_start = np.zeros(counts.shape[1] + 1, dtype=np.int64)
        np.cumsum(counts.sum(axis=0), out=step_start[1:])
        earlier_copies = np.cumsum(counts, axis=0) - counts  # orders of copies < e, per step
        n = int(step_start[-1])
        step, origin, destination, duration = (np.empty(n, dtype=np.int64) for _ in range(4))
        price = np.empty(n)
        for e, stream in enumerate(streams):
            # Order i of copy e created at step t: position step_start[t] + earlier + rank in t.
            shift = step_start[:-1] + earlier_copies[e] - stream.step_start[:-1]
            position = np.take(shift, stream.step)
            position += np.arange(stream.n_orders)
            step[position] = stream.step
            origin[position] = stream.origin + e * n_cells
            destination[position] = stream.destination + e * n_cells
            duration[position] = stream.duration
            price[position] = stream.price
        return cls(step, origin, destination, duration, price, step_start)

    @classmethod
    def from_unsorted(
        cls,
        episode_steps: int,
        step: np.ndarray,
        origin: np.ndarray,
        destination: np.ndarray,
        duration: np.ndarray,
        price: np.ndarray,
    ) -> OrderStream:
        """Sort arbitrary order arrays by (step, origin, input order) and index the steps."""
        order = np.lexsort((np.arange(step.shape[0]), origin, step))
        step = np.asarray(step, dtype=np.int64)[order]
        step_start = np.searchsorted(step, np.arange(episode_steps + 1), side="left")
        return cls(
            step=step,
            origin=np.asarray(origin, dtype=np.int64)[order],
            destination=np.asarray(destination, dtype=np.int64)[order],
            duration=np.asarray(duration, dtype=np.int64)[order],
            price=np.asarray(price, dtype=np.float64)[order],
            step_start=step_start.astype(np.int64),
        )


class SyntheticDemand:
    """Poisson demand of the DyPS reference simulator (research note §2.4).

    The city is fixed by ``config.demand_seed``: base rates ``base_g ~ U{low..high}`` (with seed 0
    and the presets' ranges these are exactly the reference's base rates) and per (step, cell)
    noise ``U{-noise..noise}``; the rate is ``lambda[t, g] = max(0, base_g + noise[t, g])``. Each
    order has a trip length ``d`` from the truncated duration distribution, a destination uniform
    over the cells at hex distance 1..d from its origin, and a price ``N(mean_d, std_d)`` with
    non-positive draws replaced by ``mean_d``.
    """

    def __init__(self, config: RideHailingConfig, grid: HexGrid) -> None:
        self.config = config
        self.grid = grid
        city = np.random.RandomState(config.demand_seed)
        base = city.randint(config.base_rate_low, config.base_rate_high + 1, size=grid.n_cells)
        noise = city.randint(
            -config.rate_noise, config.rate_noise + 1, size=(config.episode_steps, grid.n_cells)
        )
        #: (episode_steps, G) float64 Poisson rate of orders per cell and step.
        self.rates = np.maximum(0, base[None, :] + noise).astype(np.float64)
        self.base_rates = base.astype(np.int64)
        self._length_cdf = np.cumsum(config.trip_length_probs())
        self._mean = np.asarray(config.price_mean[: config.max_trip_steps], dtype=np.float64)
        self._std = np.asarray(config.price_std[: config.max_trip_steps], dtype=np.float64)
        self._dest_table, self._dest_counts = grid.cells_within(config.max_trip_steps)
        self._isolated = bool((self._dest_counts == 0).any())
        self._step_cell = np.arange(config.episode_steps * grid.n_cells)
        #: Draw the trips with the compiled loop (:func:`.kernels.draw_trips`, the same values).
        self.use_numba = kernels.use_numba()

    def sample(self, rng: np.random.Generator) -> OrderStream:
        """A fresh stream; ``"reference"`` mode ignores ``rng`` and returns the fixed stream."""
        if self.config.demand == "reference":
            return reference_stream(_demand_only(self.config))
        counts = rng.poisson(self.rates)
        g = self.grid.n_cells
        # Orders of (step, cell) pairs in row-major order: sorted by step, then cell.
        step_cell = np.repeat(self._step_cell, counts.ravel())
        step = step_cell // g
        origin = step_cell - step * g
        n = origin.shape[0]
        duration, destination, price = self._draw_trips(
            origin, rng.random(n), rng.random(n), rng.standard_normal(n)
        )
        step_start = np.zeros(self.config.episode_steps + 1, dtype=np.int64)
        np.cumsum(counts.sum(axis=1), out=step_start[1:])
        return OrderStream(step, origin, destination, duration, price, step_start)

    def _draw_trips(
        self, origin: np.ndarray, u_length: np.ndarray, u_dest: np.ndarray, z_price: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Trip length, destination and price of orders from uniform and normal variates.

        The length index is the number of CDF steps at or below ``u_length`` (capped at L - 1),
        counted with one comparison per step: a 5-entry ``searchsorted`` costs 10x more.
        """
        cdf = self._length_cdf
        if self.use_numba:
            return kernels.draw_trips(
                origin, u_length, u_dest, z_price, cdf, self._dest_counts, self._dest_table,
                self._mean, self._std, self._isolated,
            )  # fmt: skip
        length_index = np.zeros(origin.shape[0], dtype=np.intp)
        for edge in cdf[:-1]:
            length_index += u_length >= edge
        duration = length_index + 1
        key = origin * cdf.size
        key += length_index
        n_candidates = np.take(self._dest_counts, key)
        pick = np.minimum((u_dest * n_candidates).astype(np.int64), np.maximum(n_candidates - 1, 0))
        pick += origin * self._dest_table.shape[1]
        destination = np.take(self._dest_table, pick)
        if self._isolated:  # a one-cell city: the trip ends where it started
            destination = np.where(n_candidates > 0, destination, origin)
        mean = self._mean[length_index]
        price = mean + self._std[length_index] * z_price
        price = np.where(price > 0, price, mean)
        return duration.astype(np.int64), destination, price


class RecordedDemand:
    """Demand replayed from trip records: one recorded day per episode.

    ``"stochastic"`` mode draws the day uniformly with the episode's generator; ``"reference"``
    mode always replays day ``0``. Trips starting at or after ``episode_steps`` are left out.
    """

    def __init__(self, config: RideHailingConfig, trips: TripTable) -> None:
        if trips.n_cells != config.n_cells:
            raise ValueError(
                f"trips were mapped to {trips.n_cells} cells but the city has {config.n_cells} "
                f"({config.rows}x{config.cols}); load them with the same grid"
            )
        if trips.n_trips and float(trips.price.min()) < 0:
            raise ValueError(
                f"trip prices must be non-negative, got a minimum of {trips.price.min()}"
            )
        longest = int(trips.duration.max(initial=0))
        if longest > config.max_trip_steps:
            raise ValueError(
                f"trips last up to {longest} steps but max_trip_steps={config.max_trip_steps}; "
                f"raise max_trip_steps (and give duration/price tables that long) or filter the "
                f"trips"
            )
        self.config = config
        self.trips = trips

    def sample(self, rng: np.random.Generator) -> OrderStream:
        """The stream of one recorded day."""
        if self.config.demand == "reference":
            day = 0
        else:
            day = int(rng.integers(self.trips.n_days))
        trips = self.trips.day_slice(day)
        keep = trips["step"] < self.config.episode_steps
        return OrderStream.from_unsorted(
            self.config.episode_steps,
            trips["step"][keep],
            trips["origin"][keep],
            trips["destination"][keep],
            trips["duration"][keep],
            trips["price"][keep],
        )


def _demand_only(config: RideHailingConfig) -> RideHailingConfig:
    """``config`` with the fields that do not shape the order stream set to their defaults, so
    that configs differing only in, e.g., ``action_mode`` share one cached reference stream."""
    return config.replace(
        **{name: RideHailingConfig.__dataclass_fields__[name].default for name in _NOT_DEMAND}
    )


#: Config fields that do not change the order stream.
_NOT_DEMAND = (
    "drivers_per_cell",
    "demand",
    "action_mode",
    "max_orders",
    "patience",
    "reward_scale",
    "faithful",
)


@functools.lru_cache(maxsize=8)
def reference_stream(config: RideHailingConfig, seed_offset: int = 0) -> OrderStream:
    """The reference simulator's order stream, draw for draw (research note §2.4, §2.12).

    Every (cell g, step t) uses a fresh legacy ``RandomState(g + t)``: the order count, then
    per order its trip length, its price and its destination (uniform over the cells of rings
    1..d listed in breadth-first order). As in the reference, streams overlap: (g, t) and
    (g + 1, t - 1) share a seed. Built once per city (cached per process), then replayed every
    episode. ``seed_offset`` shifts every seed (``RandomState(g + t + offset)``): 0 is the
    reference; other offsets give other days of the same correlated scheme (for studies).
    """
    cfg = config
    grid = HexGrid(cfg.rows, cfg.cols)
    rates = SyntheticDemand(cfg, grid).rates
    mean = np.asarray(cfg.price_mean[: cfg.max_trip_steps], dtype=np.float64)
    std = np.asarray(cfg.price_std[: cfg.max_trip_steps], dtype=np.float64)
    lengths = np.arange(1, cfg.max_trip_steps + 1)
    probs = cfg.trip_length_probs()
    # Candidate destinations per (origin, trip length), in the reference's list order.
    destinations = []
    for g in range(grid.n_cells):
        rings = grid.bfs_rings(g, cfg.max_trip_steps)
        flat = [cell for ring in rings for cell in ring]
        ends = np.cumsum([len(ring) for ring in rings])
        destinations.append([flat[: ends[d - 1]] or [g] for d in lengths])
    step, origin, destination, duration, price = [], [], [], [], []
    for t in range(cfg.episode_steps):
        for g in range(grid.n_cells):
            draws = np.random.RandomState(g + t + seed_offset)
            for _ in range(int(draws.poisson(rates[t, g], 1)[0])):
                d = int(draws.choice(lengths, p=probs)) if cfg.max_trip_steps > 1 else 1
                value = float(draws.normal(mean[d - 1], std[d - 1], 1)[0])
                step.append(t)
                origin.append(g)
                duration.append(d)
                price.append(value if value > 0 else mean[d - 1])
                destination.append(int(draws.choice(destinations[g][d - 1], 1)[0]))
    step_arr = np.asarray(step, dtype=np.int64)
    return OrderStream(
        step=step_arr,
        origin=np.asarray(origin, dtype=np.int64),
        destination=np.asarray(destination, dtype=np.int64),
        duration=np.asarray(duration, dtype=np.int64),
        price=np.asarray(price, dtype=np.float64),
        step_start=np.searchsorted(step_arr, np.arange(cfg.episode_steps + 1)),
    )
