"""What a leader can gain on EDRP, and how far the trained leaders moved from their initial law,
all scored at the followers' exact regularised equilibrium (stopped at exploitability 1e-3, as
``exact_leader_score``):

    python benchmarks/edrp_leader_headroom.py [--store results/tirl.sqlite]

Three tables (ORR = the leader's metric and return; "charge" = the service charge u_t(y), a
share of the fare in the box [0, 0.5], over the 36 steps and 63 zones of the equilibrium flow):

* **fixed leaders**: no charge, uniform charges, and the hand-made oversupply rule
  (``alloc_envs.edrp.OversupplyCharge``) at several levels;
* **untrained leaders**: each learning method's leader as its trainer initialises it (seed 0),
  before any update;
* **trained leaders** (with ``--store``): every finished ``edrp-n<N>`` run of the store, the
  leader restored from its checkpoint (``tirl_leader_table.py`` gives the same exact ORR).

The exact equilibrium does not depend on N, so one game (``edrp-n1000``'s model) scores the fixed
and untrained leaders. One torch thread.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg import make_trainer
from alloc_bench.scenarios import get_scenario
from alloc_bench.stackelberg import (
    TRAINER_NAMES,
    finished_leader_runs,
    game_of,
    restore_leader_run,
)
from alloc_envs.edrp import OversupplyCharge
from alloc_envs.stackelberg.solver import solve_equilibrium

UNIFORM_CHARGES = (0.1, 0.25, 0.5)
OVERSUPPLY_LEVELS = (0.1, 0.2, 0.3, 0.5)
HEADER = "| leader | exact ORR | Δ no charge (points) | mean charge | min charge | max charge |"


def score_row(name: str, game: Any, leader: Any, baseline: float | None) -> float:
    """Print the table row of ``leader`` at the exact equilibrium; return its ORR."""
    temperature = game.config.follower_temperature
    flow = solve_equilibrium(game, leader, temperature=temperature, tolerance=1e-3).flow
    orr, charges = float(flow.metrics["orr"]), np.asarray(flow.incentives)
    delta = "" if baseline is None else f"{100 * (orr - baseline):+.2f}"
    print(
        f"| {name} | {orr:.4f} | {delta} | {charges.mean():.3f} | {charges.min():.3f} "
        f"| {charges.max():.3f} |"
    )
    return orr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", type=Path, help="an alloc-bench store with edrp-n<N> runs")
    args = parser.parse_args()
    torch.set_num_threads(1)
    game = game_of(get_scenario("edrp-n1000").make_env)
    zones = game.incentive_low.shape[0]

    print("Fixed leaders\n\n" + HEADER + "\n|---|---:|---:|---:|---:|---:|")
    baseline = score_row("no charge", game, np.zeros(zones), None)
    for charge in UNIFORM_CHARGES:
        score_row(f"uniform {charge:g}", game, np.full(zones, charge), baseline)
    for level in OVERSUPPLY_LEVELS:
        score_row(f"oversupply, level {level:g}", game, OversupplyCharge(zones, level), baseline)

    print("\nUntrained leaders (seed 0)\n\n" + HEADER + "\n|---|---:|---:|---:|---:|---:|")
    for method, name in TRAINER_NAMES.items():
        if method == "SMFU-w/o-L":
            continue  # no leader to initialise
        trainer = make_trainer(name, game, seed=0, iterations=0, progress=False, device="cpu")
        score_row(method, game, trainer.leader_policy(), baseline)

    if args.store is None:
        return
    print("\nTrained leaders\n\n" + HEADER.replace("| leader |", "| N | method | seed |"))
    print("|---:|---|---:|---:|---:|---:|---:|---:|")
    for run in finished_leader_runs(args.store):
        spec = get_scenario(run["scenario"])
        if spec.family != "edrp":
            continue
        run_game, trainer = restore_leader_run(args.store, run)
        n = int(spec.env_kwargs["n_followers"])
        label = f"{n:,} | {run['method']} | {run['seed']}"
        score_row(label, run_game, trainer.leader_policy(), baseline)


if __name__ == "__main__":
    main()
