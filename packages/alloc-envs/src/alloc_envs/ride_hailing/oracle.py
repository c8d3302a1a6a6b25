"""The hindsight oracle of Ride-Hailing: the most GMV any dispatcher could earn on one known day.

Given the whole order stream of one realised day (what a dispatcher with perfect foresight
would know), the initial fleet and the service rules of the action mode, the oracle solves the
time-expanded network of :mod:`alloc_envs.ride_hailing.network` over the day's ``T`` steps
(supply: ``drivers_per_cell`` idle drivers in every cell at step 0; one order arc per order and
step ``step .. step + patience`` it can be taken at, before step T; trips that end after the
last step end in the sink), with HiGHS through scipy:

* its **LP relaxation**, an upper bound on the GMV of every policy on that day;
* its **integer optimum** (the MILP; optimality proven unless a time limit stops it, in which
  case the MILP's proven bound is kept too), with a **plan** that the environment replays to
  exactly that GMV (:meth:`OraclePlan.action`).

The rules of each action mode, modelled exactly (so that the plan is a policy of the env):

* ``dispatch``: any subset of a cell's pending orders, one idle driver each; a cell sees only
  its ``max_orders`` oldest pending orders, so an order can be taken only while fewer than
  ``max_orders`` older orders of its cell are still pending (rows added only in cells that ever
  have that many; never in the presets at their default 50). Idle drivers stay in their cell.
* ``reposition``: the environment matches by itself, oldest order first, as long as the cell has
  idle drivers; then the drivers still idle stay or move to a neighbour, arriving one step
  later. Two families of rows make the program that: *first in, first out* (an order is taken
  only if every older order of its cell still pending is taken at the same step or was
  before), and *no idle driver beside a waiting order* (drivers may stay or move out of a cell
  only if its newest pending order is taken; a big-M row with M = the fleet size).

Randomness: the environment's only randomness is the order stream, drawn at ``reset`` from the
episode's generator and independent of the actions (the STAY / move split is deterministic).
So for a seed, the oracle of that seed's day bounds the GMV of every policy on that seed, and
the mean over seeds bounds the expected GMV; nothing else had to be relaxed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from alloc_envs.core.hexgrid import HexGrid
from alloc_envs.core.validation import check_int, check_number
from alloc_envs.ride_hailing.config import RideHailingConfig
from alloc_envs.ride_hailing.demand import OrderStream
from alloc_envs.ride_hailing.mpc import RollingHorizonPlanner
from alloc_envs.ride_hailing.network import FleetNetwork, OrderArcs
from alloc_envs.ride_hailing.rounding import dispatch_picks, move_weights, offered_values
from alloc_envs.ride_hailing.scenario import scenario_of
from alloc_envs.ride_hailing.sim import RideHailingSim, split_drivers

#: Default branch-and-bound nodes and wall-clock guard (seconds) of the MILP after the LP.
DEFAULT_MILP_NODES = 50
DEFAULT_MILP_TIME_LIMIT = 600.0
#: Lookahead, steps, of the rolling-horizon plan with the realised day (reposition mode).
HINDSIGHT_HORIZON = 8
#: An LP flow this close to an integer counts as integral.
INTEGRALITY_TOL = 1e-7


@dataclass(frozen=True)
class OraclePlan:
    """An integer plan for one day, replayable in the environment.

    Attributes:
        served_step: (n_orders,) int64 step at which each order of the stream is taken
            (``-1``: never).
        moves: (T, G, 7) int64 drivers left idle after matching that stay (column 0) or move to
            each neighbour clockwise from north (columns 1..6), per step and cell; None in
            dispatch mode.
    """

    served_step: np.ndarray
    moves: np.ndarray | None

    def action(self, sim: RideHailingSim) -> np.ndarray:
        """The joint action of the plan at the simulator's current step ``sim.t``.

        Dispatch: (G, K) picks, the candidate slots of the orders taken now, then STAY.
        Reposition: (G, 7) weights proportional to the plan's stay / move counts.

        Raises:
            ValueError: the plan takes an order the cells do not offer now (the simulator is
                not at the state the plan was made for: another day, or another past).
        """
        if self.moves is not None:
            return move_weights(self.moves[sim.t])
        wanted = (self.served_step == sim.t).astype(np.float64)
        flow = offered_values(sim, wanted)
        if int(flow.sum()) != int(wanted.sum()):
            raise ValueError(
                f"the plan takes {int(wanted.sum())} orders at step {sim.t} but the cells offer "
                f"{int(flow.sum())} of them: replay the plan on its own day from step 0"
            )
        return dispatch_picks(sim, flow)


@dataclass(frozen=True)
class OracleResult:
    """The hindsight oracle of one day (module doc).

    Attributes:
        bound: the LP relaxation's GMV, an upper bound on every policy's GMV that day.
        value: GMV of the integer plan, as the environment replays it (paper price unit).
        dual_bound: the best proven upper bound (the MILP's when it ran, else ``bound``).
        optimal: whether the plan is proven optimal (``value`` reaches ``dual_bound``).
        method: how the plan was found: ``"milp"``, ``"lp-rounding"`` or ``"hindsight-mpc"``.
        orders_served, orders_generated: orders the plan takes, orders of the day.
        lp_cpu_s, milp_cpu_s: CPU seconds of the solves (0 when the MILP did not run).
        n_vars, n_rows: size of the program.
        plan: the integer plan.
    """

    bound: float
    value: float
    dual_bound: float
    optimal: bool
    method: str
    orders_served: int
    orders_generated: int
    lp_cpu_s: float
    milp_cpu_s: float
    n_vars: int
    n_rows: int
    plan: OraclePlan

    @property
    def orr(self) -> float:
        """Order response rate of the plan: served / generated (0 for an empty day)."""
        return self.orders_served / self.orders_generated if self.orders_generated else 0.0

    @property
    def gap(self) -> float:
        """Relative LP–integer gap ``(bound - value) / bound`` (0 for a day without value)."""
        return (self.bound - self.value) / self.bound if self.bound > 0 else 0.0


def day_network(config: RideHailingConfig, orders: OrderStream, grid: HexGrid) -> FleetNetwork:
    """The network of a whole day, with the action mode's own rows (module doc)."""
    check_day(config, orders)
    t, g = config.episode_steps, config.n_cells
    supply = np.zeros((t, g))
    supply[0] = config.drivers_per_cell
    arcs = OrderArcs(
        origin=orders.origin,
        destination=orders.destination,
        duration=orders.duration,
        value=orders.price,
        first=orders.step,
        last=np.minimum(orders.step + config.patience, t - 1),
        capacity=np.ones(orders.n_orders),
    )
    reposition = config.action_mode == "reposition"
    network = FleetNetwork(supply, arcs, grid.neighbors if reposition else None)
    queues = _CellQueues(orders, config.patience, t)
    if reposition:
        network.add_rows(*queues.first_in_first_out(network))
        network.add_rows(*queues.no_idle_beside_orders(network, config.n_drivers))
    else:
        rows = queues.visibility(network, config.max_orders)
        if rows is not None:
            network.add_rows(*rows)
    return network


def check_day(config: RideHailingConfig, orders: OrderStream) -> None:
    """``ValueError`` naming what the oracle cannot model in ``orders`` for ``config``."""
    n = orders.n_orders
    if orders.step_start.shape != (config.episode_steps + 1,):
        raise ValueError(
            f"orders.step_start must have episode_steps + 1 = {config.episode_steps + 1} "
            f"entries, got shape {orders.step_start.shape}"
        )
    if n and (orders.step.min() < 0 or orders.step.max() >= config.episode_steps):
        raise ValueError(
            f"order steps must be in [0, {config.episode_steps - 1}] (episode_steps), got "
            f"[{orders.step.min()}, {orders.step.max()}]"
        )
    if n and np.any(np.diff(orders.step) < 0):
        raise ValueError("orders must be sorted by creation step (an OrderStream's order)")
    for name in ("origin", "destination"):
        cells = getattr(orders, name)
        if n and (cells.min() < 0 or cells.max() >= config.n_cells):
            raise ValueError(
                f"order {name} cells must be in [0, {config.n_cells - 1}], got "
                f"[{cells.min()}, {cells.max()}]"
            )
    if n and orders.duration.min() < 1:
        raise ValueError(f"order durations must be >= 1 step, got {orders.duration.min()}")
    if n and not (np.all(np.isfinite(orders.price)) and orders.price.min() >= 0):
        raise ValueError("order prices must be finite and non-negative")


def solve_day(
    config: RideHailingConfig,
    orders: OrderStream,
    grid: HexGrid | None = None,
    *,
    milp_nodes: int = DEFAULT_MILP_NODES,
    milp_time_limit: float = DEFAULT_MILP_TIME_LIMIT,
    restrict: bool = True,
) -> OracleResult:
    """The hindsight oracle of the day ``orders`` in the city ``config`` (module doc).

    The LP is always solved (interior point, then crossover to a vertex): its value is the
    bound. Plans, each played in a simulator (so its GMV is what the environment gives):

    * ``lp-rounding``: each step, each cell takes the orders with the largest LP flows and
      moves its idle drivers in proportion to the LP's moves;
    * ``hindsight-mpc`` (reposition mode): the rolling-horizon planner of
      :mod:`alloc_envs.ride_hailing.mpc` over ``HINDSIGHT_HORIZON`` steps of the realised day;
    * ``milp`` (unless ``milp_nodes`` is 0): with ``restrict``, the order arcs that the LP
      already takes integrally are fixed (a small program, solved fast; its optimum is the best
      plan that agrees with those, not always the global one), else the full MILP (small
      days, where it proves the optimum).

    The plan with the most GMV is kept.

    Args:
        config: the city and its service rules (``action_mode``, ``patience``, ``max_orders``,
            ``drivers_per_cell``, ``episode_steps``).
        orders: the realised day (e.g. ``sim.orders`` after ``reset``).
        grid: the city's grid (built from ``config`` when None).
        milp_nodes: branch-and-bound nodes for the MILP (deterministic); 0 skips it.
        milp_time_limit: wall-clock seconds, a guard (a plan cut short by it depends on the
            machine's speed).
        restrict: fix the order arcs the LP takes integrally before the MILP.

    Raises:
        ValueError: malformed orders (named), or bad MILP limits.
    """
    check_int("milp_nodes", milp_nodes, 0, 10**9)
    check_number("milp_time_limit", milp_time_limit, low=0.0, low_inclusive=False)
    grid = HexGrid(config.rows, config.cols) if grid is None else grid
    network = day_network(config, orders, grid)
    lp = network.solve(integer=False, interior=True)
    if lp.x is None:
        raise ValueError(f"the oracle's LP failed: {lp.message}")
    plans = {"lp-rounding": _play(config, orders, grid, _lp_rounding(network, lp.x))}
    if config.action_mode == "reposition":
        horizon = min(HINDSIGHT_HORIZON, config.episode_steps)
        planner = RollingHorizonPlanner(config, grid, None, horizon, hindsight=True)
        plans["hindsight-mpc"] = _play(config, orders, grid, planner.act)
    method = max(plans, key=lambda name: _gmv(orders, plans[name]))
    plan, dual, milp_cpu = plans[method], lp.value, 0.0
    if milp_nodes > 0:
        fixed = None
        if restrict:
            fixed = np.full(network.n_vars, np.nan)
            flows = lp.x[: network.order_of_var.size]
            integral = np.abs(flows - np.rint(flows)) <= INTEGRALITY_TOL
            fixed[: flows.size][integral] = np.rint(flows[integral])
        mip = network.solve(
            integer=True, time_limit=milp_time_limit, fixed=fixed, node_limit=milp_nodes
        )
        milp_cpu = mip.cpu_s
        if mip.x is not None:
            if not restrict:
                dual = min(dual, mip.dual_bound)
            exact = _plan(network, mip.x, orders.n_orders, network.neighbors is not None)
            if _gmv(orders, exact) >= _gmv(orders, plan):
                plan, method = exact, "milp"
    value = _gmv(orders, plan)
    return OracleResult(
        bound=lp.value,
        value=value,
        dual_bound=dual,
        optimal=value >= dual - 1e-6 * max(1.0, abs(dual)),
        method=method,
        orders_served=int((plan.served_step >= 0).sum()),
        orders_generated=orders.n_orders,
        lp_cpu_s=lp.cpu_s,
        milp_cpu_s=milp_cpu,
        n_vars=network.n_vars,
        n_rows=network.supply.size + sum(rows.shape[0] for rows in network.extra_rows),
        plan=plan,
    )


def hindsight_oracle(env: Any, **options: Any) -> OracleResult:
    """The oracle of the day a Ride-Hailing environment (either view) has just been reset to;
    ``options`` are :func:`solve_day`'s.

    Raises:
        ValueError: ``env`` is not a Ride-Hailing environment, or it is not at step 0.
    """
    scenario = scenario_of(env)
    sim = scenario.sim
    if not hasattr(sim, "orders") or sim.t != 0:
        raise ValueError(
            "the hindsight oracle plans a whole day from step 0: call env.reset() first "
            f"(the environment is at step {sim.t})"
        )
    return solve_day(sim.config, sim.orders, scenario.grid, **options)


def _gmv(orders: OrderStream, plan: OraclePlan) -> float:
    return float(orders.price[plan.served_step >= 0].sum())


def _plan(network: FleetNetwork, x: np.ndarray, n_orders: int, moves: bool) -> OraclePlan:
    """The plan of an integral solution ``x``."""
    x = np.rint(x).astype(np.int64)
    n_order_vars = network.order_of_var.size
    taken = x[:n_order_vars] > 0
    served_step = np.full(n_orders, -1, dtype=np.int64)
    served_step[network.order_of_var[taken]] = network.step_of_var[taken]
    if not moves:
        return OraclePlan(served_step, None)
    counts = np.zeros((network.n_steps, network.n_cells, 7), dtype=np.int64)
    counts[:, :, 0] = x[network.wait_index]
    has = network.move_index >= 0
    counts[:-1, :, 1:][has] = x[network.move_index[has]]
    return OraclePlan(served_step, counts)


def _play(
    config: RideHailingConfig,
    orders: OrderStream,
    grid: HexGrid,
    act: Callable[[RideHailingSim], np.ndarray],
) -> OraclePlan:
    """Play the day in a fresh simulator with ``act`` (simulator -> joint action); the plan is
    what was played."""
    sim = RideHailingSim(config, grid)
    sim.reset(orders)
    served_step = np.full(orders.n_orders, -1, dtype=np.int64)
    moves = None
    if config.action_mode == "reposition":
        moves = np.zeros((config.episode_steps, config.n_cells, 7), dtype=np.int64)
    while not sim.done:
        t = sim.t
        action = act(sim)
        if moves is None:
            sim.step_dispatch(action)
        else:
            matched = sim.fifo_matches()
            left = sim.idle - np.bincount(orders.origin[matched], minlength=sim.n_cells)
            moves[t] = split_drivers(left, action)
            sim.step_reposition(action)
        served_step[sim.served & (served_step < 0)] = t
    return OraclePlan(served_step, moves)


def _lp_rounding(network: FleetNetwork, x: np.ndarray) -> Callable[[RideHailingSim], np.ndarray]:
    """The rounding of the LP flows ``x`` (solve_day doc), as an action rule."""
    if network.neighbors is not None:
        planned = np.zeros((network.n_steps, network.n_cells, 7))
        planned[:, :, 0] = x[network.wait_index]
        has = network.move_index >= 0
        planned[:-1, :, 1:][has] = x[network.move_index[has]]
        return lambda sim: move_weights(planned[sim.t])
    arcs = network.orders
    flow_now = np.zeros(arcs.n_orders)

    def act(sim: RideHailingSim) -> np.ndarray:
        t = sim.t
        ids = sim.slots[:, 1:][sim.slots[:, 1:] >= 0]
        ids = ids[(arcs.first[ids] <= t) & (t <= arcs.last[ids])]
        flow_now[ids] = x[network.order_var(ids, np.full(ids.size, t))]
        return dispatch_picks(sim, offered_values(sim, flow_now))

    return act


class _CellQueues:
    """The orders of each cell in creation order, and the mode-specific rows built on them.

    ``by_cell`` (n,) order ids sorted by (origin, creation step, stream order); ``key`` their
    ``origin * T + step``.
    """

    def __init__(self, orders: OrderStream, patience: int, n_steps: int) -> None:
        self.orders = orders
        self.patience = patience
        self.n_steps = n_steps
        self.by_cell = np.argsort(orders.origin, kind="stable")
        self.key = orders.origin[self.by_cell] * n_steps + orders.step[self.by_cell]

    def _taken_by(
        self,
        network: FleetNetwork,
        order: np.ndarray,
        step: np.ndarray,
        row: np.ndarray,
        strict: bool,
    ):
        """COO entries (row, var) of ``sum over tau <= step (< step if strict) of x[order, tau]``
        for each (order, step, row) triple."""
        rows, cols = [], []
        first = network.orders.first[order]
        for offset in range(self.patience + 1):
            tau = first + offset
            keep = (tau < step) if strict else (tau <= step)
            rows.append(row[keep])
            cols.append(network.order_var(order[keep], tau[keep]))
        return np.concatenate(rows), np.concatenate(cols)

    def first_in_first_out(self, network: FleetNetwork) -> tuple[sparse.csr_array, np.ndarray]:
        """Rows ``x[i, k] - sum_{tau <= k} x[j, tau] <= 0`` for every pair of consecutive orders
        j (older), i of a cell and every step k at which both are pending (their chain gives
        every older order)."""
        o = self.orders
        same = o.origin[self.by_cell[1:]] == o.origin[self.by_cell[:-1]]
        older, newer = self.by_cell[:-1][same], self.by_cell[1:][same]
        pairs_j, pairs_i, steps = [], [], []
        for offset in range(self.patience + 1):
            k = o.step[newer] + offset
            keep = (k <= o.step[older] + self.patience) & (k < self.n_steps)
            pairs_j.append(older[keep])
            pairs_i.append(newer[keep])
            steps.append(k[keep])
        j, i, k = (np.concatenate(a) for a in (pairs_j, pairs_i, steps))
        row = np.arange(k.size)
        taken_rows, taken_cols = self._taken_by(network, j, k, row, strict=False)
        rows = np.concatenate([row, taken_rows])
        cols = np.concatenate([network.order_var(i, k), taken_cols])
        vals = np.concatenate([np.ones(k.size), -np.ones(taken_rows.size)])
        matrix = sparse.csr_array((vals, (rows, cols)), shape=(k.size, network.n_vars))
        return matrix, np.zeros(k.size)

    def no_idle_beside_orders(
        self, network: FleetNetwork, fleet: int
    ) -> tuple[sparse.csr_array, np.ndarray]:
        """Rows ``stay[g, k] + moves[g, k] - fleet * sum_{tau <= k} x[n, tau] <= 0`` for every
        (step k, cell g) with a pending order, n being its newest pending order."""
        t, g = network.n_steps, network.n_cells
        steps, cells = np.divmod(np.arange(t * g), g)
        position = np.searchsorted(self.key, cells * t + steps, side="right") - 1
        inside = position >= 0
        newest = self.by_cell[np.maximum(position, 0)]
        o = self.orders
        pending = inside & (o.origin[newest] == cells) & (o.step[newest] >= steps - self.patience)
        k, cell, n = steps[pending], cells[pending], newest[pending]
        row = np.arange(k.size)
        idle_rows = [row]
        idle_cols = [network.wait_index[k, cell]]
        if k.size and t > 1:
            inner = k < t - 1
            moves = network.move_index[k[inner], cell[inner]]
            has = moves >= 0
            idle_rows.append(np.broadcast_to(row[inner][:, None], moves.shape)[has])
            idle_cols.append(moves[has])
        taken_rows, taken_cols = self._taken_by(network, n, k, row, strict=False)
        idle_r = np.concatenate(idle_rows)
        rows = np.concatenate([idle_r, taken_rows])
        cols = np.concatenate([*idle_cols, taken_cols])
        vals = np.concatenate([np.ones(idle_r.size), -float(fleet) * np.ones(taken_rows.size)])
        matrix = sparse.csr_array((vals, (rows, cols)), shape=(k.size, network.n_vars))
        return matrix, np.zeros(k.size)

    def visibility(
        self, network: FleetNetwork, max_orders: int
    ) -> tuple[sparse.csr_array, np.ndarray] | None:
        """Rows ``(A - K + 1) x[i, k] - sum_{j older, pending at k} sum_{tau < k} x[j, tau] <= 0``
        for every order i and step k at which A >= K older orders of its cell can be pending
        (K = ``max_orders``): i is then visible only if enough of them were taken before k.
        None when no cell ever has that many."""
        o = self.orders
        order, k = network.order_of_var, network.step_of_var
        position = np.empty(o.n_orders, dtype=np.int64)
        position[self.by_cell] = np.arange(o.n_orders)
        first_alive = np.searchsorted(
            self.key, o.origin[order] * self.n_steps + np.maximum(k - self.patience, 0), side="left"
        )
        older = position[order] - first_alive
        crowded = np.flatnonzero(older >= max_orders)
        if crowded.size == 0:
            return None
        rows, cols, vals = [], [], []
        for row, var in enumerate(crowded):
            step = int(k[var])
            olds = self.by_cell[first_alive[var] : position[order[var]]]
            r, c = self._taken_by(
                network, olds, np.full(olds.size, step), np.full(olds.size, row), strict=True
            )
            rows += [np.array([row]), r]
            cols += [np.array([var]), c]
            vals += [np.array([float(older[var] - max_orders + 1)]), -np.ones(r.size)]
        matrix = sparse.csr_array(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(crowded.size, network.n_vars),
        )
        return matrix, np.zeros(crowded.size)
