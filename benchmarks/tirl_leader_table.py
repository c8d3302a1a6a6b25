"""The TIRL runs of an alloc-bench store as one table: per (scenario, method) the §5.1 metric
(followers re-trained from scratch against the fixed leader, what the bench stores), the same
leader scored at the followers' exact equilibrium, and the training time.

    alloc-bench run --suite tirl-mtfg --store results/tirl.sqlite
    python benchmarks/tirl_leader_table.py results/tirl.sqlite [--scenarios mtfg-n1000 ...]

Columns, mean ± std (ddof 0) over the seeds found:

* **§5.1**: the stored metric (CR on MTFG, ORR on EDRP) and the leader's return, averaged over
  the last ``eval_episodes`` episodes of the PPO followers re-trained against the leader;
* **exact**: the trained leader (``trainer.leader_policy()``, restored from the run's
  ``checkpoint.pt``) against the followers' regularised mean-field equilibrium
  (``alloc_envs.stackelberg.solve_equilibrium`` at the game's follower temperature): the same
  metric and return without the learned followers' noise or local optima;
* **train s**: the trainer's wall-clock (the sum of its ``progress.csv`` ``seconds``; a run
  resumed after an interruption includes the iterations of both processes).
"""

from __future__ import annotations

import argparse
import csv
import statistics
from pathlib import Path

import torch

from alloc_agents.stackelberg import exact_leader_score
from alloc_bench.rundirs import run_dir
from alloc_bench.scenarios import get_scenario
from alloc_bench.stackelberg import finished_leader_runs, restore_leader_run
from alloc_bench.store import artifacts_dir


def mean_std(values: list[float], fmt: str) -> str:
    """``mean ± std`` (ddof 0) of ``values``."""
    return f"{statistics.mean(values):{fmt}} ± {statistics.pstdev(values):{fmt}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("store", type=Path, help="the alloc-bench SQLite store")
    parser.add_argument("--scenarios", nargs="+", help="only these scenarios (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cells: dict[tuple[str, str], list[tuple[float, ...]]] = {}
    for run in finished_leader_runs(args.store):
        if args.scenarios and run["scenario"] not in args.scenarios:
            continue
        key = get_scenario(run["scenario"]).rank_by
        game, trainer = restore_leader_run(args.store, run)
        exact = exact_leader_score(game, trainer.leader_policy(), key)
        with open(run_dir(artifacts_dir(args.store), run) / "progress.csv") as handle:
            train = sum(float(row["seconds"]) for row in csv.DictReader(handle))
        row = (run["metrics"][key], run["metrics"]["return"], *exact, train)
        cells.setdefault((run["scenario"], run["method"]), []).append(row)
    print(
        "| scenario | method | seeds | §5.1 metric | §5.1 leader return | exact metric "
        "| exact leader return | train s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for (scenario, method), rows in cells.items():  # in finished_leader_runs' order
        columns = list(zip(*rows, strict=True))
        print(
            f"| {scenario} | {method} | {len(rows)} | {mean_std(columns[0], '.3f')} | "
            f"{mean_std(columns[1], '.2f')} | {mean_std(columns[2], '.3f')} | "
            f"{mean_std(columns[3], '.2f')} | {statistics.mean(columns[4]):.0f} |"
        )


if __name__ == "__main__":
    main()
