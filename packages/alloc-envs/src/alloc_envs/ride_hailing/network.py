"""The time-expanded network of a ride-hailing fleet, as a linear program (scipy's HiGHS).

Nodes are (step, cell) pairs of a window of ``W`` consecutive steps; the value of a flow is a
number of drivers. Arcs, each one variable:

* **order arcs**: one per (order, step at which it can be taken), from (k, origin) to
  (k + duration, destination), paying the order's value per unit; an order's arcs together carry
  at most its capacity (1 for a real order; an expected count for a class of expected orders);
* **wait arcs**: from (k, g) to (k + 1, g), free: idle drivers stay;
* **move arcs** (optional, reposition mode): from (k, g) to (k + 1, neighbour), for ``k < W - 1``.

Arcs whose head lies past the window end in a sink (their drivers are not seen again). Every node
conserves drivers: what leaves it equals what enters it plus its *supply* (drivers that appear
there: the initial fleet, trips and moves already under way). This module only builds and solves
the program; :mod:`alloc_envs.ride_hailing.oracle` (hindsight) and
:mod:`alloc_envs.ride_hailing.mpc` (rolling horizon) say what goes in and add their own rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

#: Status codes of :func:`scipy.optimize.milp` that come with a usable solution.
SOLVED, LIMIT_REACHED = 0, 1
#: Relative optimality gap at which a MILP stops (HiGHS's default is 1e-4).
MIP_REL_GAP = 1e-6


@dataclass(frozen=True)
class OrderArcs:
    """The orders of a network, (n,) arrays each.

    Attributes:
        origin, destination: int64 cell ids.
        duration: int64 trip length in steps (>= 1).
        value: float64 price paid per unit taken (paper price unit).
        first, last: int64 local steps (0 .. W-1, inclusive) at which the order can be taken.
        capacity: float64 units available (1 for a real order).
    """

    origin: np.ndarray
    destination: np.ndarray
    duration: np.ndarray
    value: np.ndarray
    first: np.ndarray
    last: np.ndarray
    capacity: np.ndarray

    @property
    def n_orders(self) -> int:
        """Number of orders."""
        return int(self.origin.shape[0])

    @staticmethod
    def concatenate(parts: list[OrderArcs]) -> OrderArcs:
        """The orders of ``parts``, in that order."""
        return OrderArcs(
            *(
                np.concatenate([getattr(p, name) for p in parts])
                for name in OrderArcs.__dataclass_fields__
            )
        )


@dataclass
class Solution:
    """A solved program.

    Attributes:
        x: (n_vars,) float64 flows (None when the solver found no solution).
        value: objective (GMV of the flows, minus move costs), paper price unit.
        dual_bound: the solver's proven upper bound on the value (equals ``value`` for an LP).
        optimal: whether optimality was proven (a MILP can stop at its time limit).
        cpu_s: CPU seconds of the solve (this process, ``time.process_time``).
        message: the solver's status message.
    """

    x: np.ndarray | None
    value: float
    dual_bound: float
    optimal: bool
    cpu_s: float
    message: str


@dataclass
class FleetNetwork:
    """The linear program of a time-expanded network (module doc).

    Variables, in this order: order arcs (grouped by order, then step), wait arcs (``W * G``,
    step-major), move arcs (``(W - 1) * G * 6`` slots, only those with a neighbour exist).

    Attributes:
        supply: (W, G) float64 drivers appearing at each node.
        orders: the order arcs' orders.
        neighbors: (G, 6) int64 neighbour ids (``-1`` = none), or None for no move arcs.
        move_cost: cost per moved driver (breaks ties towards staying).
        order_start: (n_orders,) int64 index of each order's first variable (its step
            ``orders.first``; the next ones are the following steps).
        order_of_var, step_of_var: (n_order_vars,) int64 order and local step of each order arc.
        wait_index: (W, G) int64 variable index of each wait arc.
        move_index: (W - 1, G, 6) int64 variable index of each move arc (``-1``: no neighbour).
        extra_rows, extra_upper: rows ``A x <= b`` added by the caller (:meth:`add_rows`).
    """

    supply: np.ndarray
    orders: OrderArcs
    neighbors: np.ndarray | None = None
    move_cost: float = 0.0
    order_start: np.ndarray = field(init=False)
    order_of_var: np.ndarray = field(init=False)
    step_of_var: np.ndarray = field(init=False)
    wait_index: np.ndarray = field(init=False)
    move_index: np.ndarray = field(init=False)
    extra_rows: list[sparse.csr_array] = field(init=False, default_factory=list)
    extra_upper: list[np.ndarray] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        w, g = self.supply.shape
        o = self.orders
        counts = np.maximum(o.last - o.first + 1, 0)
        self.order_start = np.cumsum(counts) - counts
        self.order_of_var = np.repeat(np.arange(o.n_orders), counts)
        n_order_vars = int(counts.sum())
        self.step_of_var = o.first[self.order_of_var] + (
            np.arange(n_order_vars) - self.order_start[self.order_of_var]
        )
        self.wait_index = n_order_vars + np.arange(w * g).reshape(w, g)
        self.move_index = np.full((max(w - 1, 0), g, 6), -1, dtype=np.int64)
        if self.neighbors is not None and w > 1:
            has = np.broadcast_to(self.neighbors >= 0, self.move_index.shape)
            self.move_index[has] = n_order_vars + w * g + np.arange(int(has.sum()))

    @property
    def n_steps(self) -> int:
        """Steps W in the window."""
        return int(self.supply.shape[0])

    @property
    def n_cells(self) -> int:
        """Cells G."""
        return int(self.supply.shape[1])

    @property
    def n_vars(self) -> int:
        """Number of variables."""
        return int(self.wait_index.size + self.order_of_var.size + (self.move_index >= 0).sum())

    def order_var(self, order: np.ndarray, step: np.ndarray) -> np.ndarray:
        """Variable indices of ``order`` taken at local ``step`` (arrays; the caller keeps the
        step within the order's window)."""
        return self.order_start[order] + (step - self.orders.first[order])

    def add_rows(self, matrix: sparse.csr_array, upper: np.ndarray) -> None:
        """Add the constraints ``matrix @ x <= upper`` (``matrix`` has :attr:`n_vars` columns)."""
        self.extra_rows.append(sparse.csr_array(matrix))
        self.extra_upper.append(np.asarray(upper, dtype=np.float64))

    def _node(self, step: np.ndarray, cell: np.ndarray) -> np.ndarray:
        """Node row of (step, cell), ``-1`` past the window (the sink)."""
        return np.where(step < self.n_steps, step * self.n_cells + cell, -1)

    def _arcs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(tail node, head node or -1, variable) of every arc."""
        o = self.orders
        w, g = self.supply.shape
        order = self.order_of_var
        step = self.step_of_var
        tails = [self._node(step, o.origin[order])]
        heads = [self._node(step + o.duration[order], o.destination[order])]
        steps, cells = np.divmod(np.arange(w * g), g)
        tails.append(self._node(steps, cells))
        heads.append(self._node(steps + 1, cells))
        has = self.move_index >= 0
        if has.any():
            k, cell, direction = np.nonzero(has)
            tails.append(self._node(k, cell))
            heads.append(self._node(k + 1, self.neighbors[cell, direction]))
        variables = np.concatenate(
            [np.arange(order.size), self.wait_index.ravel(), self.move_index[has]]
        )
        return np.concatenate(tails), np.concatenate(heads), variables

    def conservation(self) -> sparse.csr_array:
        """(W * G, n_vars): out-flow minus in-flow of every node (row ``k * G + g``)."""
        tail, head, var = self._arcs()
        into = head >= 0
        rows = np.concatenate([tail, head[into]])
        cols = np.concatenate([var, var[into]])
        vals = np.concatenate([np.ones(tail.size), -np.ones(int(into.sum()))])
        return sparse.csr_array((vals, (rows, cols)), shape=(self.supply.size, self.n_vars))

    def capacity_rows(self) -> tuple[sparse.csr_array, np.ndarray]:
        """Each order with several arcs: their sum is at most its capacity."""
        counts = np.bincount(self.order_of_var, minlength=self.orders.n_orders)
        multi = counts[self.order_of_var] > 1
        order = self.order_of_var[multi]
        rows = np.unique(order, return_inverse=True)[1]
        matrix = sparse.csr_array(
            (np.ones(order.size), (rows, np.flatnonzero(multi))),
            shape=(int(rows.max(initial=-1)) + 1, self.n_vars),
        )
        return matrix, self.orders.capacity[np.unique(order)]

    def objective(self) -> np.ndarray:
        """(n_vars,) cost vector of the minimisation: minus order values, plus move costs."""
        c = np.zeros(self.n_vars)
        c[: self.order_of_var.size] = -self.orders.value[self.order_of_var]
        c[self.move_index[self.move_index >= 0]] = self.move_cost
        return c

    def solve(
        self,
        integer: bool,
        time_limit: float | None = None,
        *,
        interior: bool = False,
        fixed: np.ndarray | None = None,
        node_limit: int | None = None,
    ) -> Solution:
        """Maximise the value: the LP (``integer=False``) or the MILP with every flow integral.

        Args:
            integer: solve the MILP (every flow integral) rather than the LP.
            time_limit: seconds (wall clock); a MILP stops early with its best plan and its proven
                bound.
            interior: solve the LP by HiGHS's interior point method (then crossover to a vertex)
                rather than its dual simplex: faster on whole days.
            fixed: (n_vars,) values to fix variables at (NaN: free), e.g. an LP's integral flows.
            node_limit: branch-and-bound nodes a MILP may explore (a limit that, unlike time,
                gives the same plan on every machine).
        """
        lower = np.zeros(self.n_vars)
        upper = np.full(self.n_vars, np.inf)
        upper[: self.order_of_var.size] = self.orders.capacity[self.order_of_var]
        if fixed is not None:
            pinned = ~np.isnan(fixed)
            lower[pinned] = upper[pinned] = fixed[pinned]
        cap_matrix, cap_upper = self.capacity_rows()
        a_ub = sparse.vstack([cap_matrix, *self.extra_rows]).tocsr()
        b_ub = np.concatenate([cap_upper, *self.extra_upper])
        a_eq, b_eq = self.conservation(), self.supply.ravel().astype(np.float64)
        start = time.process_time()
        if integer:
            options: dict[str, float | bool] = {"disp": False, "mip_rel_gap": MIP_REL_GAP}
            if time_limit is not None:
                options["time_limit"] = float(time_limit)
            if node_limit is not None:
                options["node_limit"] = int(node_limit)
            res = milp(
                self.objective(),
                integrality=np.ones(self.n_vars),
                bounds=Bounds(lower, upper),
                constraints=[
                    LinearConstraint(a_eq, b_eq, b_eq),
                    LinearConstraint(a_ub, -np.inf, b_ub),
                ],
                options=options,
            )
        else:
            res = linprog(
                self.objective(),
                A_ub=a_ub if b_ub.size else None,
                b_ub=b_ub if b_ub.size else None,
                A_eq=a_eq,
                b_eq=b_eq,
                bounds=np.stack([lower, upper], axis=1),
                method="highs-ipm" if interior else "highs-ds",
                options={} if time_limit is None else {"time_limit": float(time_limit)},
            )
        cpu = time.process_time() - start
        if res.x is None or res.status not in (SOLVED, LIMIT_REACHED):
            return Solution(None, float("nan"), float("nan"), False, cpu, str(res.message))
        value = -float(res.fun)
        bound = getattr(res, "mip_dual_bound", None) if integer else None
        dual = -float(bound) if bound is not None else value
        return Solution(np.asarray(res.x), value, dual, res.status == SOLVED, cpu, str(res.message))
