"""The exact-gradient leader of EDRP: service charges optimised on the known model (a reference
that uses knowledge no learner has, not a learner).

The platform's objective is the mean-field ORR of the drivers' regularised equilibrium against
its charges. Its exact gradient comes from the implicit function theorem at the equilibrium
(:func:`alloc_envs.stackelberg.sensitivity.leader_gradient`); the charges are optimised in their
box ``[charge_low, charge_high]`` by L-BFGS-B (scipy), each evaluation warm-started from the last
equilibrium. Two forms:

* a **fixed vector** u (V,): the same charge in a zone all day (its gradient is the schedule's
  summed over the slots);
* a **schedule** u (T, V): a charge per zone and slot (open loop).

The closed-form rule :func:`fare_equalising_charges` (``u = 1 - 1 / premium``: a charge that
takes away exactly the zone's fare premium, so every zone pays the tariff again) is the
default starting point, so the optimiser starts where a modeller with the fare table would.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from alloc_envs.edrp.game import EDRPGame
from alloc_envs.edrp.synthetic import city_premiums, synthetic_city
from alloc_envs.stackelberg.sensitivity import leader_gradient
from alloc_envs.stackelberg.solver import solve_equilibrium


@dataclass(frozen=True)
class ExactLeader:
    """The optimised charges.

    Attributes:
        charges: (V,) a fixed vector, or (T, V) a schedule, in ``[charge_low, charge_high]``.
        orr: the exact-equilibrium (mean-field) ORR of ``charges``.
        start_orr: the ORR of the starting charges.
        evaluations: equilibrium solves with a gradient (one per L-BFGS-B evaluation).
        history: the ORR of every evaluation, in order.
    """

    charges: np.ndarray
    orr: float
    start_orr: float
    evaluations: int
    history: tuple[float, ...]

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        """The leader policy ``(t, m_t, x_t) -> u_t`` (open loop: ``m`` and ``x`` unused)."""
        return self.charges if self.charges.ndim == 1 else self.charges[t]


def fare_equalising_charges(game: EDRPGame, schedule: bool = False) -> np.ndarray:
    """The closed-form charges ``u = 1 - 1 / premium`` clipped to the box: (T, V) per slot, or
    (V,) from the zone's premium averaged over the day (``schedule=False``). The premium is the
    synthetic city's (:func:`~alloc_envs.edrp.synthetic.city_premiums`); ``ValueError`` for
    another city (a TLC city's fares have no tariff to compare with)."""
    if not np.array_equal(game.city.fares, synthetic_city(game.config).fares):
        raise ValueError("fare_equalising_charges needs the config's synthetic city")
    premium = city_premiums(game.config)
    if not schedule:
        premium = premium.mean(axis=0)
    return np.clip(1.0 - 1.0 / premium, game.incentive_low, game.incentive_high)


def optimise_charges(
    game: EDRPGame,
    *,
    schedule: bool = False,
    start: np.ndarray | None = None,
    max_evaluations: int = 60,
) -> ExactLeader:
    """Charges that maximise the exact-equilibrium ORR (module doc).

    Args:
        game: the EDRP model (its follower temperature is the equilibrium's).
        schedule: optimise a (T, V) schedule instead of a (V,) vector.
        start: the starting charges ((V,) or (T, V) as ``schedule`` says); default: no charge.
        max_evaluations: cap on L-BFGS-B's function evaluations.
    """
    steps, size = game.horizon, game.n_incentives
    shape = (steps, size) if schedule else (size,)
    x0 = np.zeros(shape) if start is None else np.asarray(start, dtype=np.float64)
    if x0.shape != shape:
        raise ValueError(f"start must have shape {shape}, got {x0.shape}")
    low = np.broadcast_to(game.incentive_low, shape)
    high = np.broadcast_to(game.incentive_high, shape)
    x0 = np.clip(x0, low, high)
    weights = np.full((steps, game.n_sites), 1.0 / game.total_demand)
    temperature = game.config.follower_temperature
    history: list[float] = []
    points: list[np.ndarray] = []
    warm: list[np.ndarray] = []

    def negative_orr(x: np.ndarray) -> tuple[float, np.ndarray]:
        u = np.broadcast_to(x.reshape(shape), (steps, size))
        result = leader_gradient(
            game,
            u,
            weights,
            temperature=temperature,
            initial_policy=warm[-1] if warm else None,
        )
        warm[:] = [result.policy]
        history.append(result.value)
        points.append(x.reshape(shape).copy())
        gradient = result.gradient if schedule else result.gradient.sum(axis=0)
        return -result.value, -gradient.ravel()

    minimize(
        negative_orr,
        x0.ravel(),
        jac=True,
        method="L-BFGS-B",
        bounds=list(zip(low.ravel(), high.ravel(), strict=True)),
        options={"maxfun": max_evaluations},
    )
    best = int(np.argmax(history))  # the best point evaluated (L-BFGS-B's last may be worse)
    return ExactLeader(points[best], history[best], history[0], len(history), tuple(history))


def equilibrium_orr(game: EDRPGame, charges: np.ndarray) -> float:
    """The exact-equilibrium ORR of fixed (V,) or scheduled (T, V) charges (the game's follower
    temperature, exploitability 1e-6)."""
    temperature = game.config.follower_temperature
    flow = solve_equilibrium(game, charges, temperature=temperature, tolerance=1e-6).flow
    return float(flow.metrics["orr"])
