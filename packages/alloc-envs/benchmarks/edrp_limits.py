"""EDRP's headroom: what leaders with full knowledge of the model reach, against no charge and
the planner's ceiling, at the mean field and with N sampled drivers; and what the limits cost.

    python packages/alloc-envs/benchmarks/edrp_limits.py [--version 1] [--evaluations 40]
        [--populations 300 1000 10000 100000] [--seeds 0 1 2 3 4] [--save charges.npz]

Rows (every leader is answered by the drivers' regularised equilibrium, exact solver, the
preset's temperature; the planner moves the drivers itself):

* ``no charge``; ``oversupply rule`` (:class:`alloc_envs.edrp.OversupplyCharge` at the top of
  the charge box and at 0.5); ``closed-form rule`` (``u = 1 - 1 / premium``: fixed, from the
  day's mean premium, and per slot; v1 only, v0 has no premium);
* ``exact-leader (fixed)``: L-BFGS-B on the exact gradient from the closed-form rule (v0: from
  no charge); ``exact-leader (schedule)``: the same per slot, from the fixed optimum;
* ``planner (ceiling)``: the LP over the mean-field flow.

Columns: the mean-field ORR, its share of the headroom ``(ORR - no charge) / (ceiling - no
charge)``, then the ORR of N sampled drivers playing the mean-field policy (the equilibrium's, or
the planner's) against the same leader (closed-loop rules see the empirical distribution), mean
over ``--seeds``. Costs: process CPU time of the LP and of each optimisation, one core.
``--save``: the exact leaders as the package stores them
(``alloc_envs.edrp.exact_leader.save_exact_leaders``; the package's own are
``src/alloc_envs/edrp/data/exact_leader_v<version>.npz``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from alloc_envs.edrp import OversupplyCharge, make_game  # noqa: E402
from alloc_envs.edrp.exact_leader import (  # noqa: E402
    exact_leader,
    fare_equalising_charges,
    save_exact_leaders,
)
from alloc_envs.edrp.limits import planner_ceiling  # noqa: E402
from alloc_envs.stackelberg.leader import no_incentive  # noqa: E402
from alloc_envs.stackelberg.sampled import play_sampled  # noqa: E402
from alloc_envs.stackelberg.solver import solve_equilibrium  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", type=int, default=1, help="EDRP's dynamics (0 or 1)")
    parser.add_argument("--evaluations", type=int, default=40, help="L-BFGS-B evaluations")
    parser.add_argument("--populations", type=int, nargs="*", default=[300, 1000, 10000, 100000])
    parser.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--save", type=Path, help="write the exact leaders' charges here")
    args = parser.parse_args()
    game = make_game("edrp", version=args.version)
    temperature = game.config.follower_temperature
    zones = game.n_incentives

    costs: list[str] = []

    def timed(label: str, run):
        clock = time.process_time()
        result = run()
        spent = time.process_time() - clock
        evaluations = getattr(result, "evaluations", None)
        costs.append(
            f"{label}: {spent:.1f} s" + (f", {evaluations} evaluations" if evaluations else "")
        )
        return result

    ceiling = timed("planner LP", lambda: planner_ceiling(game))
    levels = sorted({game.config.charge_high, 0.5})
    leaders: list[tuple[str, object]] = [("no charge", no_incentive(game))]
    leaders += [
        (f"oversupply rule ({level:g})", OversupplyCharge(zones, level)) for level in levels
    ]
    if game.config.premium_peak != 1.0:
        leaders += [
            ("closed-form rule (fixed)", fare_equalising_charges(game)),
            ("closed-form rule (schedule)", fare_equalising_charges(game, schedule=True)),
        ]
    fixed, schedule = timed(
        "exact-leader (fixed, then schedule)",
        lambda: exact_leader(game, max_evaluations=args.evaluations, use_stored=False),
    )
    costs[-1] += f", {fixed.evaluations} + {schedule.evaluations} evaluations"
    leaders += [
        ("exact-leader (fixed)", fixed.charges),
        ("exact-leader (schedule)", schedule.charges),
    ]
    if args.save is not None:
        save_exact_leaders(args.save, game, fixed, schedule)

    rows = []
    for name, leader in leaders:
        equilibrium = solve_equilibrium(game, leader, temperature=temperature, tolerance=1e-6)
        rows.append((name, leader, equilibrium.flow.metrics["orr"], equilibrium.policy))
    rows.append(("planner (ceiling)", no_incentive(game), ceiling.orr, ceiling.policy))
    floor = rows[0][2]
    columns = " | ".join(f"N = {n:,}" for n in args.populations)
    print(f"EDRP v{args.version}, seeds {args.seeds} for the sampled columns\n")
    print(f"| leader | mean field | % of headroom | {columns} |")
    print("|---|---:|---:|" + "---:|" * len(args.populations))
    for name, leader, orr, policy in rows:
        share = 100 * (orr - floor) / (ceiling.orr - floor)
        sampled = [
            np.mean([play_sampled(game, policy, leader, n, seed)["orr"] for seed in args.seeds])
            for n in args.populations
        ]
        cells = " | ".join(f"{value:.4f}" for value in sampled)
        print(f"| {name} | {orr:.4f} | {share:.0f}% | {cells} |", flush=True)
    print(f"\nplanner LP rolled out in the model: {ceiling.rollout_orr:.4f}")
    print("CPU time (one core): " + "; ".join(costs))


if __name__ == "__main__":
    main()
