"""The TIRL runs of an alloc-bench store as one table: per (scenario, method) the §5.1 metric
(followers re-trained from scratch against the fixed leader, what the bench stores), the same
leader scored at the followers' exact equilibrium, their shares of the headroom, the paired
differences to no leader and the training time.

    alloc-bench run --suite tirl-edrp-equilibrium --store results/tirl.sqlite
    python benchmarks/tirl_leader_table.py --store results/tirl.sqlite [--scenarios ...] \\
        [--export benchmarks/results/tirl-edrp-equilibrium/results.json]
    python benchmarks/tirl_leader_table.py \\
        --results benchmarks/results/tirl-edrp-equilibrium/results.json

``--store`` restores every finished leader run's trainer from its ``checkpoint.pt`` (the exact
column needs the trained leader; the checkpoints hold TIRL's learned model and are too large to
commit); ``--export`` writes the per-run numbers as JSON, from which ``--results`` prints the
same tables anywhere. Columns, mean ± std (ddof 0) over the seeds found:

* **§5.1**: the stored metric (CR on MTFG, ORR on EDRP), averaged over the last
  ``eval_episodes`` episodes of the PPO followers re-trained against the leader;
* **exact**: the trained leader (``trainer.leader_policy()``) against the followers' regularised
  mean-field equilibrium (``alloc_agents.stackelberg.exact_leader_score``: the game's follower
  temperature, exploitability 1e-3): the same metric without the learned followers' noise or
  local optima. For the references: the exact-gradient leaders' charges at their equilibrium
  and the planner's LP value;
* **% of headroom** (EDRP, where the store has the planner and SMFU-w/o-L): ``(x - no leader) /
  (planner - no leader)`` per seed, then mean ± std; §5.1 against SMFU-w/o-L's §5.1 on the same
  seed, exact against SMFU-w/o-L's exact ORR (no charge: the same for every seed);
* **Δ vs SMFU-w/o-L**: the mean difference to no leader with its paired (same seeds) 95%
  percentile-bootstrap interval (``alloc_bench.bootstrap.bootstrap_diff_ci``, 10,000
  resamples), for §5.1 and exact;
* **paper**: the TIRL paper's Table 2 value (mean ± std; ``alloc_bench.published``,
  ``tirl-aaai24/edrp``) of the method, or of the paper's method ours varies (``TIRL`` for
  ``TIRL-equilibrium``, named in brackets);
* **train s**: the trainer's wall-clock (the sum of its ``progress.csv`` ``seconds``, one torch
  thread, two runs at a time on the 2-core machine; a run resumed after an interruption
  includes the iterations of both processes). References train nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from alloc_agents.stackelberg import exact_leader_score
from alloc_bench.bootstrap import bootstrap_diff_ci
from alloc_bench.published import get_tables
from alloc_bench.rundirs import run_dir
from alloc_bench.scenarios import get_scenario
from alloc_bench.stackelberg import (
    EDRP_REFERENCES,
    finished_leader_runs,
    game_of,
    restore_leader_run,
)
from alloc_bench.store import Store, artifacts_dir

NO_LEADER = "SMFU-w/o-L"
CEILING = "planner (ceiling)"
#: Suffixes of our variants of the paper's methods (``TIRL-equilibrium`` varies ``TIRL``).
VARIANTS = ("-equilibrium", "-pathwise")


def paper_value(scenario: str, method: str) -> str:
    """The paper's Table 2 cell for ``method`` (or the paper's method it varies) on
    ``scenario``, ``value ± std``; empty when the paper has none."""
    base = method
    for suffix in VARIANTS:
        base = base.removesuffix(suffix)
    for table in get_tables(["tirl-aaai24/edrp"]):
        for entry in table.entries:
            if entry.scenario == scenario and entry.method == base:
                std = "" if entry.std is None else f" ± {entry.std:.2f}"
                named = "" if base == method else f" ({base})"
                return f"{entry.value:.2f}{std}{named}"
    return ""


def mean_std(values: Sequence[float], fmt: str) -> str:
    """``mean ± std`` (ddof 0) of ``values``."""
    return f"{statistics.mean(values):{fmt}} ± {statistics.pstdev(values):{fmt}}"


def _train_seconds(store: Path, row: dict[str, Any]) -> float:
    with open(run_dir(artifacts_dir(store), row) / "progress.csv") as handle:
        return sum(float(line["seconds"]) for line in csv.DictReader(handle))


def _reference_exact(row: dict[str, Any]) -> float:
    """The exact-equilibrium ORR of an EDRP reference run's charges, or the planner's LP value."""
    from alloc_envs.edrp.exact_leader import exact_leader
    from alloc_envs.edrp.limits import planner_ceiling

    spec = get_scenario(row["scenario"])
    game = game_of(lambda: spec.make_env(row["options"]))
    if row["method"] == CEILING:
        return planner_ceiling(game).orr
    fixed, schedule = exact_leader(game)
    return (schedule if row["method"] == "exact-leader" else fixed).orr


def _record(
    row: dict[str, Any],
    key: str,
    exact: float,
    exact_return: float | None,
    train_s: float | None,
) -> dict[str, Any]:
    """The export's record of a store row: its §5.1 ``key`` metric and return, and the given
    exact score and training time (``None`` for a reference)."""
    return {
        "scenario": row["scenario"],
        "method": row["method"],
        "seed": int(row["seed"]),
        "metric": row["metrics"][key],
        "return": row["metrics"]["return"],
        "exact": exact,
        "exact_return": exact_return,
        "train_s": train_s,
    }


def collect(store: Path, scenarios: Sequence[str] | None) -> list[dict[str, Any]]:
    """One record per finished leader run and EDRP reference run of ``store`` (module doc)."""
    records = []
    for run in finished_leader_runs(store):
        if scenarios and run["scenario"] not in scenarios:
            continue
        key = get_scenario(run["scenario"]).rank_by
        game, trainer = restore_leader_run(store, run)
        exact = exact_leader_score(game, trainer.leader_policy(), key)
        records.append(_record(run, key, *exact, _train_seconds(store, run)))
    with Store(store, create=False) as opened:
        references = [
            row
            for row in opened.rows().values()
            if row["status"] == "finished" and row["method"] in EDRP_REFERENCES
        ]
    for row in sorted(references, key=lambda r: (r["scenario"], r["method"], int(r["seed"]))):
        if scenarios and row["scenario"] not in scenarios:
            continue
        key = get_scenario(row["scenario"]).rank_by
        records.append(_record(row, key, _reference_exact(row), None, None))
    return records


def _by_seed(records: list[dict[str, Any]], scenario: str, method: str) -> dict[int, dict]:
    return {r["seed"]: r for r in records if r["scenario"] == scenario and r["method"] == method}


def _shares(cell: dict[int, dict], floor: dict[int, dict], top: dict[int, dict], key: str):
    """Per seed of ``cell``, ``(x - no leader) / (planner - no leader)`` of ``key`` (``"metric"``
    or ``"exact"``; module doc); empty without the limits."""
    seeds = [s for s in cell if s in floor and s in top]
    return [(cell[s][key] - floor[s][key]) / (top[s][key] - floor[s][key]) for s in seeds]


def _difference(cell: dict[int, dict], floor: dict[int, dict], key: str) -> str:
    """The paired difference to no leader on the shared seeds, ``+d [low, high]`` (empty for
    no leader itself)."""
    seeds = sorted(s for s in cell if s in floor)
    if not seeds or cell is floor:
        return ""
    a = [cell[s][key] for s in seeds]
    b = [floor[s][key] for s in seeds]
    diff, low, high = bootstrap_diff_ci(a, b, paired=True)
    return f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]"


def _percent(shares: list[float]) -> str:
    """``mean ± std`` of ``shares`` in percent (empty without shares)."""
    if not shares:
        return ""
    mean, std = round(100 * statistics.mean(shares)), round(100 * statistics.pstdev(shares))
    return f"{mean} ± {std}"  # integers: no "-0" for a share that rounds to zero from below


def tables(records: list[dict[str, Any]]) -> str:
    """The Markdown tables of ``records``, one per scenario (module doc)."""
    lines = []
    scenarios = list(dict.fromkeys(r["scenario"] for r in records))
    for scenario in scenarios:
        edrp = get_scenario(scenario).family == "edrp"
        floor = _by_seed(records, scenario, NO_LEADER)
        top = _by_seed(records, scenario, CEILING) if edrp else {}
        no_charge = f" (no charge, exact: {floor[min(floor)]['exact']:.4f})" if floor else ""
        lines += [
            f"**{scenario}**" + no_charge,
            "",
            "| method | seeds | §5.1 | §5.1 % of headroom | Δ §5.1 vs SMFU-w/o-L | exact "
            "| exact % of headroom | Δ exact vs SMFU-w/o-L | paper | train s |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        methods = list(dict.fromkeys(r["method"] for r in records if r["scenario"] == scenario))
        for method in methods:
            cell = floor if method == NO_LEADER else _by_seed(records, scenario, method)
            values = [r["metric"] for r in cell.values()]
            exacts = [r["exact"] for r in cell.values()]
            trained = [r["train_s"] for r in cell.values() if r["train_s"] is not None]
            train = f"{statistics.mean(trained):.0f}" if trained else "–"
            first, exact = (_percent(_shares(cell, floor, top, k)) for k in ("metric", "exact"))
            lines.append(
                f"| {method} | {len(cell)} | {mean_std(values, '.3f')} | {first} | "
                f"{_difference(cell, floor, 'metric')} | {mean_std(exacts, '.4f')} | "
                f"{exact} | {_difference(cell, floor, 'exact')} | "
                f"{paper_value(scenario, method)} | {train} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--store", type=Path, help="the alloc-bench SQLite store")
    source.add_argument("--results", type=Path, help="an --export file")
    parser.add_argument("--scenarios", nargs="+", help="only these scenarios (default: all)")
    parser.add_argument("--export", type=Path, help="write the per-run numbers here (JSON)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.store is not None:
        records = collect(args.store, args.scenarios)
    else:
        records = json.loads(args.results.read_text(encoding="utf-8"))["runs"]
        if args.scenarios:
            records = [r for r in records if r["scenario"] in args.scenarios]
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        args.export.write_text(json.dumps({"runs": records}, indent=1) + "\n", encoding="utf-8")
    print(tables(records), end="")


if __name__ == "__main__":
    main()
