"""EDRP as a site-matching mean-field game (the model both fidelities and all views share).

Definitions (ours; the paper fixes only the roles: the platform leader sets service charges to
raise the order response rate, drivers maximise their own income, TIRL paper §3.2 and §5):

* **States**: ``s = b * V + v``: zone v and remaining busy slots b in 0..B-1 (b = 0: idle;
  B = the city's longest trip in slots). S = V * B.
* **Actions**: 0 = stay, k = 1..D = move to the k-th zone within ``reach_hops`` hops
  (:meth:`EDRPCity.reachable_zones`: the neighbours first, then the zones 2, 3, ... hops away;
  D = the largest such set, missing targets are masked). Busy drivers have only action 0.
* **Step** (:mod:`alloc_envs.stackelberg.matching`): idle drivers move (to be available in the
  target zone y), then orders of slot t are matched with the min rule ``min(drivers(y),
  orders(y))``. A matched driver earns ``(1 - u_t(y)) f_t(y)`` (fare minus the platform's
  service charge) and is busy until it drops the passenger: next state ``(v', tau(y, v') - 1)``
  with ``v' ~ Q_t(. | y)``. An unmatched driver is idle in y at t + 1; a busy driver counts down
  in place. A move costs ``move_cost`` per hop.
* **Orders**: mean field ``rho_t(y)`` per driver; N drivers: ``Poisson(N rho_t(y))`` orders,
  so both fidelities have the same expected orders per driver.
* **Leader**: ``u_t(y)`` in ``[charge_low, charge_high]`` per zone (U = V). Reward
  ``served_t / sum_{t'} sum_v rho_{t'}(v)``: the episode's return is the mean-field ORR (N-agent:
  served orders over the *expected* order count).
* **Metric**: ``orr`` = served / orders over the steps so far (N-agent: realised orders).
* **Exogenous state**: ``x_t = rho_t`` (the orders expected in each zone this slot; zero after
  the horizon).
* **m_0**: idle drivers where slot 0's orders would drop them off (``rho_0 Q_0``, normalised).
"""

from __future__ import annotations

import os
from functools import cached_property
from typing import Any

import numpy as np

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.edrp.city import EDRPCity
from alloc_envs.edrp.config import LATEST_VERSION, EDRPConfig, build_config
from alloc_envs.edrp.synthetic import compact_neighbors, synthetic_city
from alloc_envs.rendering import Panel, as_grid, grid_shape, number_text
from alloc_envs.stackelberg.matching import MatchingGame, SiteOutcome


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den > 0 else 0.0


class EDRPGame(MatchingGame):
    """The EDRP model of ``city`` with the game parameters of ``config`` (module doc)."""

    render_name = "EDRP"

    def __init__(self, config: EDRPConfig, city: EDRPCity) -> None:
        self.config = config
        self.city = city
        v, t_max = city.n_zones, city.horizon
        busy = int(city.trip_steps.max())
        self.n_zones, self.busy_levels = v, busy
        n_states = v * busy
        #: Hops a driver may reposition per slot (the config's, or the city's one-slot reach).
        self.reach_hops = config.reach_hops or city.one_slot_reach()
        reach, hops = city.reachable_zones(self.reach_hops)
        n_actions = 1 + reach.shape[1]
        idle = np.arange(v)

        targets = np.concatenate([idle[:, None], reach], axis=1)  # (V, A): stay, moves
        mask = np.zeros((n_states, n_actions), dtype=bool)
        mask[:v] = targets >= 0
        mask[v:, 0] = True  # busy drivers: the no-op only
        site_of = np.full((n_states, n_actions), -1, dtype=np.int64)
        site_of[:v] = np.where(mask[:v], targets, -1)
        next_state = np.repeat((np.arange(n_states) - v)[:, None], n_actions, axis=1)  # busy: b-1
        next_state[:v] = np.where(mask[:v], targets, idle[:, None])  # idle, unmatched: the target
        move_cost = np.zeros((n_states, n_actions))
        move_cost[:v, 1:] = np.where(mask[:v, 1:], config.move_cost * hops, 0.0)

        # matched at y: drop-off zone v' ~ Q_t(.|y), busy for tau(y, v') slots -> level tau - 1
        success = np.zeros((t_max, v, n_states))
        dropoff_state = (city.trip_steps - 1) * v + np.arange(v)[None, :]  # (V, V)
        rows = np.broadcast_to(np.arange(v)[:, None], (v, v))
        for t in range(t_max):
            np.add.at(success[t], (rows, dropoff_state), city.destinations[t])

        dropoffs = city.demand[0] @ city.destinations[0]
        if dropoffs.sum() <= 0:  # no order in slot 0: spread the drivers evenly
            dropoffs = np.ones(v)
        initial = np.zeros(n_states)
        initial[:v] = dropoffs / dropoffs.sum()
        self.total_demand = float(city.demand.sum())
        super().__init__(
            horizon=t_max,
            action_mask=mask,
            site_of=site_of,
            next_if_unmatched=next_state,
            move_cost=move_cost,
            success_kernels=success,
            incentive_low=np.full(v, config.charge_low),
            incentive_high=np.full(v, config.charge_high),
            exogenous_high=city.demand.max(axis=0),
            initial_distribution=initial,
            initial_exogenous=city.demand[0],
        )

    # ------------------------------------------------------------------ hooks
    def capacity(self, t: int, exogenous: np.ndarray) -> np.ndarray:
        """Orders per driver in each zone: the exogenous state rho_t."""
        return exogenous

    def sample_capacity(
        self, t: int, exogenous: np.ndarray, n_followers: int, rng: np.random.Generator
    ) -> np.ndarray:
        """Poisson(N rho_t(y)) orders in every zone."""
        return rng.poisson(n_followers * exogenous)

    def payoff(self, t: int, exogenous: np.ndarray, incentive: np.ndarray) -> np.ndarray:
        """The driver's share of the fare, ``(1 - u_t(y)) f_t(y)`` ($)."""
        return (1.0 - incentive) * self.city.fares[t]

    def payoff_vjp(
        self, t: int, exogenous: np.ndarray, incentive: np.ndarray, cotangent: np.ndarray
    ) -> np.ndarray:
        """(U,) ``cotangent @ d payoff / d incentive`` = ``-f_t * cotangent`` (the exact
        leader gradient, :mod:`alloc_envs.stackelberg.sensitivity`)."""
        return -self.city.fares[t] * cotangent

    def leader_reward(
        self, t: int, outcome: SiteOutcome, exogenous: np.ndarray, incentive: np.ndarray
    ) -> float:
        """Served orders as a share of the episode's expected orders (returns sum to ORR)."""
        return _ratio(outcome.served.sum(), self.total_demand)

    def next_exogenous(self, t: int, outcome: SiteOutcome, exogenous: np.ndarray) -> np.ndarray:
        """rho_{t+1} (zeros after the last slot)."""
        if t + 1 < self.horizon:
            return self.city.demand[t + 1].copy()
        return np.zeros(self.n_zones)

    def step_statistics(
        self, t: int, outcome: SiteOutcome, exogenous: np.ndarray, incentive: np.ndarray
    ) -> dict[str, np.ndarray]:
        """``served`` and ``orders`` (per driver), ``charges`` (the platform's $ per driver)."""
        revenue = (incentive * self.city.fares[t] * outcome.served).sum()
        return {
            "served": np.float64(outcome.served.sum()),
            "orders": np.float64(outcome.capacity.sum()),
            "charges": np.float64(revenue),
        }

    def metrics(self, totals: dict[str, np.ndarray]) -> dict[str, Any]:
        """``orr`` (served / orders, 0 before any order) and ``charges`` ($ per driver)."""
        served = float(totals.get("served", 0.0))
        return {
            "orr": _ratio(served, float(totals.get("orders", 0.0))),
            "charges": float(totals.get("charges", 0.0)),
        }

    @cached_property
    def hex_layout(self) -> bool:
        """Whether the city's zones are the config's ``rows x cols`` hexagonal strip (its
        adjacency is that grid's, as in the synthetic city), for pictures."""
        cfg, v = self.config, self.n_zones
        if v != cfg.rows * cfg.cols or self.city.neighbors.shape != (v, 6):
            return False
        grid = compact_neighbors(HexGrid(cfg.rows, cfg.cols))
        return bool(np.array_equal(self.city.neighbors, grid))

    def _zone_map(self, values: np.ndarray) -> np.ndarray:
        """(V,) per-zone values on the picture's grid: the hexagonal strip (:attr:`hex_layout`)
        or a near-square grid in zone order."""
        if self.hex_layout:
            return values.reshape(self.config.rows, self.config.cols)
        return as_grid(values, grid_shape(self.n_zones))

    def render_panels(
        self, distribution: np.ndarray, exogenous: np.ndarray, incentive: np.ndarray
    ) -> tuple[Panel, ...]:
        """Three zone maps: idle drivers and this slot's expected orders (both per 100 drivers
        of the fleet) and the platform's service charge (% of the fare). Synthetic cities are
        drawn as their hexagonal strip (north at the top), other cities as a grid of zones in
        zone order."""
        idle, _ = self.zone_distribution(distribution)
        cfg = self.config
        hexes = self.hex_layout
        annotate = self.n_zones <= 128

        def panel(title: str, values: np.ndarray, **kwargs: Any) -> Panel:
            grid = self._zone_map(values)
            text = number_text(grid) if annotate else None
            return Panel(title, grid, text=text, hex_columns=hexes, **kwargs)

        orders_high = 100.0 * float(self.exogenous_high.max())
        return (
            panel("idle drivers / 100", 100.0 * idle, vmax=None),
            panel("orders / 100 drivers", 100.0 * exogenous, vmax=orders_high, cmap="magma"),
            panel(
                "service charge (% of fare)",
                100.0 * incentive,
                vmin=100.0 * cfg.charge_low,
                vmax=100.0 * cfg.charge_high,
                cmap="cividis",
            ),
        )

    def zone_distribution(self, distribution: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(V,) idle and (V,) busy driver shares per zone of an (S,) distribution."""
        levels = distribution.reshape(self.busy_levels, self.n_zones)
        return levels[0], levels[1:].sum(axis=0)


#: What a ``city`` argument may be: an :class:`EDRPCity`, the path of a city saved with
#: :meth:`EDRPCity.save`, or ``None`` (the config's synthetic city).
CityLike = EDRPCity | str | os.PathLike | None


def make_game(
    preset: str | None = None,
    *,
    version: int = LATEST_VERSION,
    config: EDRPConfig | None = None,
    city: CityLike = None,
    **overrides: Any,
) -> EDRPGame:
    """The EDRP model of a preset of ``version`` (default: ``"edrp"`` of the latest version;
    :data:`~alloc_envs.edrp.config.PRESETS_BY_VERSION`) or ``config``, with ``overrides`` of
    :class:`EDRPConfig` fields, on ``city`` (default: the synthetic city of the config)."""
    cfg = build_config(preset, config, overrides, version)
    if city is None:
        city = synthetic_city(cfg)
    elif isinstance(city, (str, os.PathLike)):
        city = EDRPCity.load(city)
    elif not isinstance(city, EDRPCity):
        raise ValueError(f"city must be an EDRPCity, a path or None, got {type(city).__name__}")
    return EDRPGame(cfg, city)
