"""Reference ride-hailing policies that plan with more than their observations.

* ``mpc``: an online rolling-horizon LP dispatcher (what an operator would deploy instead of
  MARL), using the orders pending now, its fleet's state and the scenario's demand model —
  :class:`alloc_envs.ride_hailing.mpc.RollingHorizonPlanner`;
* ``oracle``: the hindsight oracle, which knows the whole realised day in advance and plays its
  plan — :mod:`alloc_envs.ride_hailing.oracle` — the limit every other method is set against.

Both work in either view and both action modes. They read the environment given to
:meth:`~alloc_agents.policy.Policy.attach` (the benchmark attaches it before the episodes):
``make_policy("mpc", env=env)`` or ``policy.attach(env)``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from alloc_agents.policy import BatchObservation, Policy
from alloc_envs.ride_hailing.demand import SyntheticDemand
from alloc_envs.ride_hailing.scenario import RideHailingScenario, scenario_of

# The planners (scipy's HiGHS) are imported when a policy is attached, so that importing
# alloc_agents stays light.


class _Attached(Policy):
    """A policy that acts on the state of the Ride-Hailing scenario it is attached to."""

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(seed)
        self._scenario: RideHailingScenario | None = None

    def attach(self, env: Any) -> None:
        self._scenario = scenario_of(env)

    def _sim(self, observation: BatchObservation) -> Any:
        """The attached simulator, checked to be at the step of ``observation``."""
        if self._scenario is None:
            raise ValueError(
                f"{self.name} plans with its environment: call policy.attach(env) (or "
                f"make_policy({self.name!r}, env=env)) before act()"
            )
        sim = self._scenario.sim
        time = np.asarray(observation["time"]).reshape(-1)
        if time.size == 0 or int(time[0]) != sim.t:
            raise ValueError(
                f"{self.name}: the observation is of step {int(time[0]) if time.size else '?'} "
                f"but the attached environment is at step {sim.t}; attach the environment "
                "being played"
            )
        return sim


class MPCDispatch(_Attached):
    """Online rolling-horizon LP over the next steps: pending orders plus the demand model's
    expected orders, first step executed (dispatch picks or moves).

    Args:
        seed: unused (the policy is deterministic); kept for the common signature.
        horizon: steps planned at each step (None: ``alloc_envs.ride_hailing.mpc``'s
            ``DEFAULT_HORIZON``).
        expected_demand: add the scenario's expected orders (its :class:`SyntheticDemand`);
            False plans with the pending orders only (and is the only choice with recorded
            trips, which have no demand model).
    """

    name = "mpc"
    knowledge = "demand model"

    def __init__(
        self, seed: int | None = None, horizon: int | None = None, expected_demand: bool = True
    ) -> None:
        super().__init__(seed)
        self.horizon = horizon
        self.expected_demand = expected_demand
        self._planner: Any = None

    def attach(self, env: Any) -> None:
        from alloc_envs.ride_hailing.mpc import DEFAULT_HORIZON, RollingHorizonPlanner

        super().attach(env)
        scenario = self._scenario
        demand = scenario.demand if self.expected_demand else None
        if demand is not None and not isinstance(demand, SyntheticDemand):
            raise ValueError(
                "mpc needs the scenario's demand model, and recorded trips have none: use "
                "expected_demand=False to plan with the pending orders only"
            )
        horizon = DEFAULT_HORIZON if self.horizon is None else self.horizon
        self._planner = RollingHorizonPlanner(scenario.config, scenario.grid, demand, horizon)

    def act(self, observation: BatchObservation) -> np.ndarray:
        sim = self._sim(observation)
        return self._planner.act(sim)


class HindsightOracle(_Attached):
    """Plays the hindsight oracle's plan: the day's orders are read in advance at step 0 and
    the integer plan of ``alloc_envs.ride_hailing.oracle.solve_day`` is replayed.

    Args:
        seed: unused (the policy is deterministic).
        **options: :func:`~alloc_envs.ride_hailing.oracle.solve_day` options
            (``milp_nodes``, ``milp_time_limit``, ``restrict``).
    """

    name = "oracle"
    knowledge = "hindsight"

    def __init__(self, seed: int | None = None, **options: Any) -> None:
        super().__init__(seed)
        self.options = options
        self.result: Any = None  # the OracleResult of the current day
        self._day: Any = None

    def act(self, observation: BatchObservation) -> np.ndarray:
        sim = self._sim(observation)
        if sim.t == 0 and self._day is not sim.orders:
            self.result = _solve(sim, self._scenario.grid, self.options)
            self._day = sim.orders
        if self._day is not sim.orders:
            raise ValueError("oracle: the day changed mid-episode; reset the environment first")
        return self.result.plan.action(sim)


#: Days this process has solved, by (city, content of the day, options), oldest first: the
#: seeds of a reference-demand suite replay one day, which a worker then solves once.
_SOLVED: dict[tuple[Any, ...], Any] = {}
_SOLVED_KEPT = 4


def _solve(sim: Any, grid: Any, options: dict[str, Any]) -> Any:
    """The oracle of the simulator's day (``solve_day``), from the cache when already solved."""
    from alloc_envs.ride_hailing.oracle import solve_day  # scipy: imported when used

    o = sim.orders
    digest = hashlib.sha256()
    for array in (o.step, o.origin, o.destination, o.duration, o.price):
        digest.update(np.ascontiguousarray(array).tobytes())
    key = (sim.config, digest.hexdigest(), tuple(sorted(options.items())))
    if key not in _SOLVED:
        _SOLVED[key] = solve_day(sim.config, o, grid, **options)
        while len(_SOLVED) > _SOLVED_KEPT:
            del _SOLVED[next(iter(_SOLVED))]
    return _SOLVED[key]
