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
takes away exactly the zone's fare premium, so every zone pays the tariff again) is where
:func:`exact_leader` starts the fixed vector, so the optimiser starts where a modeller with the
fare table would; the schedule starts from the fixed optimum (from no charge, L-BFGS-B stops in
a worse local optimum: 0.818 against 0.890 on ``edrp-small``).

The optimisation takes minutes on the 63-zone city, so the package ships its result for the
default preset of each version (``data/exact_leader_v<k>.npz``, written by
``packages/alloc-envs/benchmarks/edrp_limits.py --save``). :func:`exact_leader` uses it when the
game is exactly that preset (same config, same city), and optimises otherwise.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

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


def _fingerprint(game: EDRPGame) -> str:
    """SHA-256 of the game's config and city arrays (what the stored charges were made for),
    the float arrays rounded to 9 decimals so that last-bit differences between machines'
    floating point do not change it."""
    digest = hashlib.sha256(json.dumps(dataclasses.asdict(game.config), sort_keys=True).encode())
    for array in (game.city.demand, game.city.destinations, game.city.fares):
        digest.update(np.round(array, 9).tobytes())
    digest.update(np.ascontiguousarray(game.city.trip_steps).tobytes())
    return digest.hexdigest()


#: The exact leaders the package ships (one archive per version's default preset).
STORED = Path(str(files("alloc_envs.edrp") / "data"))


def save_exact_leaders(
    path: str | Path, game: EDRPGame, fixed: ExactLeader, schedule: ExactLeader
) -> None:
    """Write the fixed and scheduled exact leaders of ``game`` to ``path`` (``.npz``, no
    pickle), with the game's fingerprint."""
    np.savez_compressed(
        path,
        fingerprint=np.array(_fingerprint(game)),
        fixed=fixed.charges,
        fixed_orr=np.float64(fixed.orr),
        schedule=schedule.charges,
        schedule_orr=np.float64(schedule.orr),
    )


def load_exact_leaders(path: str | Path, game: EDRPGame) -> tuple[ExactLeader, ExactLeader] | None:
    """The (fixed, schedule) exact leaders stored at ``path`` for ``game``; ``None`` when the
    file was made for another game (or does not exist). ``ValueError`` naming the file when it
    is not such an archive."""
    if not Path(path).exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {
                key: npz[key]
                for key in ("fingerprint", "fixed", "fixed_orr", "schedule", "schedule_orr")
            }
    except (OSError, ValueError, KeyError) as exc:
        raise ValueError(f"{path}: not an exact-leader archive ({exc})") from exc
    if str(data["fingerprint"]) != _fingerprint(game):
        return None
    leaders = []
    for name in ("fixed", "schedule"):
        orr = float(data[f"{name}_orr"])
        leaders.append(ExactLeader(data[name], orr, orr, 0, (orr,)))
    return leaders[0], leaders[1]


def exact_leader(
    game: EDRPGame, *, max_evaluations: int = 40, use_stored: bool = True
) -> tuple[ExactLeader, ExactLeader]:
    """The (fixed, schedule) exact leaders of ``game``: those the package ships when one was
    made for this very game (:data:`STORED`, module doc; unless ``use_stored`` is false), else
    optimised here: the fixed vector from the closed-form rule (from no charge where the city
    has no premium table), then the schedule from the fixed optimum, each with
    ``max_evaluations``."""
    for path in sorted(STORED.glob("exact_leader_*.npz")) if use_stored else ():
        stored = load_exact_leaders(path, game)
        if stored is not None:
            return stored
    try:
        start = fare_equalising_charges(game)
    except ValueError:  # a city without a premium table (NYC TLC)
        start = np.zeros(game.n_incentives)
    fixed = optimise_charges(game, start=start, max_evaluations=max_evaluations)
    broadcast = np.broadcast_to(fixed.charges, (game.horizon, game.n_incentives))
    schedule = optimise_charges(
        game, schedule=True, start=broadcast, max_evaluations=max_evaluations
    )
    return fixed, schedule
