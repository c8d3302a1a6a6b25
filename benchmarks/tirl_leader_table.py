"""The TIRL runs of an alloc-bench store as one table: per (scenario, method) the §5.1 metric
(followers re-trained from scratch against the fixed leader, what the bench stores), the same
leader scored at the followers' exact equilibrium, their shares of the headroom, the paired
differences to no leader and the training time.

    alloc-bench run --suite tirl-edrp-equilibrium --store results/tirl.sqlite
    python benchmarks/tirl_leader_table.py --store results/tirl.sqlite [--scenarios ...] \\
        [--export benchmarks/results/tirl-edrp-equilibrium/results.json]
    python benchmarks/tirl_leader_table.py \\
        --results benchmarks/results/tirl-edrp-equilibrium/results.json \\
        [--figure2 docs/assets/edrp-figure2.png]

``--store`` restores every finished leader run's trainer from its ``checkpoint.pt`` (the exact
column needs the trained leader; the checkpoints hold TIRL's learned model and are too large to
commit); ``--export`` writes the per-run numbers as JSON, from which ``--results`` prints the
same tables anywhere; ``--previous`` takes the exact score and training time from an earlier
export for the runs it holds (matched by config hash: the same run, scored from the same
checkpoint, so only new runs are restored) and for runs whose checkpoints are no longer kept (by
hash, or, in an export without hashes, by scenario, method and seed). Columns, mean ± std (ddof 0)
over the seeds found:

* **§5.1**: the stored metric (CR on MTFG, ORR on EDRP), averaged over the last
  ``eval_episodes`` episodes of the PPO followers re-trained against the leader;
* **exact**: the trained leader (``trainer.leader_policy()``) against the followers' regularised
  mean-field equilibrium (``alloc_agents.stackelberg.exact_leader_score``: the game's follower
  temperature, exploitability 1e-3): the same metric without the learned followers' noise or
  local optima. For the references: the exact-gradient leaders' charges at their equilibrium
  and the planner's LP value;
* **% of headroom** (EDRP, where the store has the planner and SMFU-w/o-L): ``(x - no leader) /
  (planner - no leader)`` per seed, then mean ± std; §5.1 against SMFU-w/o-L's §5.1 on the same
  seed (the seeds both have), exact against SMFU-w/o-L's exact ORR (no charge: the same for
  every seed, so every seed counts);
* **Δ vs SMFU-w/o-L**: the mean difference to no leader with its paired (same seeds, as for %;
  "(n paired)" when fewer than the method's seeds) 95%
  percentile-bootstrap interval (``alloc_bench.bootstrap.bootstrap_diff_ci``, 10,000
  resamples), for §5.1 and exact;
* **paper**: the TIRL paper's Table 2 value (mean ± std; ``alloc_bench.published``,
  ``tirl-aaai24/edrp``) of the method, or of the paper's method ours varies (``TIRL`` for
  ``TIRL-equilibrium``, named in brackets);
* **train s**: the trainer's wall-clock (the sum of its ``progress.csv`` ``seconds``, one torch
  thread, two or three runs at a time on the 2-core machine; a run resumed after an interruption
  includes the iterations of both processes). References train nothing.

After the tables, the spread over seeds of every trained method (the paper's Figure 2 in
numbers: sd and range of both scores, the worst seed's exact share of the headroom);
``--figure2`` draws the figure itself on ``edrp-v1-n1000`` (each seed's training curve per
method, no leader's mean in black, and every seed's two scores).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
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
#: The paper's Figure 2 setting: 10 seeds at N = 1,000.
FIGURE2_SCENARIO = "edrp-v1-n1000"


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
        "config_hash": row["config_hash"],
        "metric": row["metrics"][key],
        "return": row["metrics"]["return"],
        "exact": exact,
        "exact_return": exact_return,
        "train_s": train_s,
        "curve": [round(point["metrics"][key], 4) for point in row.get("curve") or []],
    }


def _previous_record(previous: list[dict[str, Any]], run: dict[str, Any]) -> dict[str, Any]:
    """The record of ``run`` in an earlier export: by config hash, or for an export without
    hashes by scenario, method and seed (``ValueError`` if it has none)."""
    for record in previous:
        if record.get("config_hash") == run["config_hash"]:
            return record
        same = (record["scenario"], record["method"], record["seed"])
        if "config_hash" not in record and same == (run["scenario"], run["method"], run["seed"]):
            return record
    raise ValueError(
        f"run {run['config_hash']} ({run['scenario']} {run['method']} seed {run['seed']}) has no "
        "checkpoint in the store's artifacts and no record in the --previous export"
    )


def collect(
    store: Path, scenarios: Sequence[str] | None, previous: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """One record per finished leader run and EDRP reference run of ``store`` (module doc). A
    leader run that ``previous`` (an earlier export) holds, or whose checkpoint is gone, takes
    its exact score and training time from ``previous``."""
    records = []
    scored = {r["config_hash"]: r for r in previous or [] if "config_hash" in r}
    for run in finished_leader_runs(store):
        if scenarios and run["scenario"] not in scenarios:
            continue
        key = get_scenario(run["scenario"]).rank_by
        if run["config_hash"] in scored or (
            previous is not None
            and not (run_dir(artifacts_dir(store), run) / "checkpoint.pt").exists()
        ):
            old = _previous_record(previous, run)
            records.append(_record(run, key, old["exact"], old["exact_return"], old["train_s"]))
            continue
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


def _pairs(
    cell: dict[int, dict], floor: dict[int, dict], key: str
) -> tuple[list[float], list[float]]:
    """``key`` of ``cell`` and of no leader, paired by seed. The exact scores of no leader and of
    the planner do not depend on the seed (no charge; the LP value), so for ``"exact"`` every
    seed of ``cell`` pairs with no leader's one value; ``"metric"`` pairs the shared seeds."""
    if key == "exact" and floor:
        constant = next(iter(floor.values()))["exact"]
        return [r["exact"] for r in cell.values()], [constant] * len(cell)
    seeds = sorted(s for s in cell if s in floor)
    return [cell[s][key] for s in seeds], [floor[s][key] for s in seeds]


def _shares(cell: dict[int, dict], floor: dict[int, dict], top: dict[int, dict], key: str):
    """Per paired seed of ``cell`` (:func:`_pairs`), ``(x - no leader) / (planner - no
    leader)`` of ``key`` (``"metric"`` or ``"exact"``; module doc); empty without the limits."""
    if not top:
        return []
    ceiling = next(iter(top.values()))[key]  # the LP value, the same for every seed
    return [(x - low) / (ceiling - low) for x, low in zip(*_pairs(cell, floor, key), strict=True)]


def _difference(cell: dict[int, dict], floor: dict[int, dict], key: str) -> str:
    """The paired difference to no leader (:func:`_pairs`), ``+d [low, high]``, with the number
    of pairs when it is smaller than the cell's seeds (empty for no leader itself)."""
    a, b = _pairs(cell, floor, key)
    if not a or cell is floor:
        return ""
    diff, low, high = bootstrap_diff_ci(a, b, paired=True)
    paired = f" ({len(a)} paired)" if len(a) < len(cell) else ""
    return f"{diff:+.3f} [{low:+.3f}, {high:+.3f}]{paired}"


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


def spread(records: list[dict[str, Any]]) -> str:
    """Per scenario, the spread over seeds of every trained method (the paper's Figure 2 as
    numbers): sd and range of §5.1 and exact, and the worst seed's exact % of headroom."""
    lines = [
        "| scenario | method | seeds | §5.1 sd | §5.1 min – max | exact sd | exact min – max "
        "| worst seed's exact % of headroom |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in dict.fromkeys(r["scenario"] for r in records):
        floor = _by_seed(records, scenario, NO_LEADER)
        top = _by_seed(records, scenario, CEILING)
        for method in dict.fromkeys(r["method"] for r in records if r["scenario"] == scenario):
            cell = _by_seed(records, scenario, method)
            if method == NO_LEADER or any(r["train_s"] is None for r in cell.values()):
                continue
            values = [r["metric"] for r in cell.values()]
            exacts = [r["exact"] for r in cell.values()]
            shares = _shares(cell, floor, top, "exact")
            worst = f"{round(100 * min(shares))}" if shares else ""
            lines.append(
                f"| {scenario} | {method} | {len(cell)} | {statistics.pstdev(values):.3f} "
                f"| {min(values):.3f} – {max(values):.3f} | {statistics.pstdev(exacts):.4f} "
                f"| {min(exacts):.4f} – {max(exacts):.4f} | {worst} |"
            )
    return "\n".join(lines) + "\n"


def figure2(records: list[dict[str, Any]], scenario: str, path: Path) -> None:
    """The paper's Figure 2 for ``scenario``: one panel per trained leader method, the training
    curve of each seed (the metric per outer iteration: in the environment for TIRL's first
    K1, in its learned model after) and no leader's mean curve in black; and a panel of every
    seed's §5.1 and exact score. Written as a PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    floor = _by_seed(records, scenario, NO_LEADER)
    methods = [
        m
        for m in dict.fromkeys(r["method"] for r in records if r["scenario"] == scenario)
        if m != NO_LEADER
        and all(r["train_s"] is not None for r in _by_seed(records, scenario, m).values())
    ]
    fig, axes = plt.subplots(1, len(methods) + 1, figsize=(4.2 * (len(methods) + 1), 3.6))
    no_leader = np.mean([r["curve"] for r in floor.values()], axis=0) if floor else None
    for ax, method in zip(axes, methods, strict=False):
        if ax is not axes[0]:
            ax.sharey(axes[0])
        for record in _by_seed(records, scenario, method).values():
            ax.plot(np.arange(1, len(record["curve"]) + 1), record["curve"], lw=0.8)
        if no_leader is not None:
            steps = np.arange(1, len(no_leader) + 1)
            ax.plot(steps, no_leader, color="black", lw=1.5, label=f"{NO_LEADER}, mean")
            ax.legend(fontsize=7, loc="lower right")
        ax.set(title=f"{method}: {len(_by_seed(records, scenario, method))} seeds")
        ax.set(xlabel="outer iteration", ylabel="training ORR")
    ax = axes[-1]
    for i, method in enumerate([NO_LEADER, *methods]):
        cell = _by_seed(records, scenario, method)
        for j, key in enumerate(("metric", "exact")):
            x = np.full(len(cell), 2 * i + j) + np.linspace(-0.2, 0.2, len(cell))
            ax.scatter(
                x,
                [r[key] for r in cell.values()],
                s=10,
                color=f"C{j}",
                label=("§5.1", "exact")[j] if i == 0 else None,
            )
    ax.set_xticks(
        [2 * i + 0.5 for i in range(len(methods) + 1)],
        [NO_LEADER, *methods],
        rotation=20,
        fontsize=7,
    )
    ax.set(title=f"{scenario}: every seed", ylabel="ORR")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--store", type=Path, help="the alloc-bench SQLite store")
    source.add_argument("--results", type=Path, help="an --export file")
    parser.add_argument("--scenarios", nargs="+", help="only these scenarios (default: all)")
    parser.add_argument("--export", type=Path, help="write the per-run numbers here (JSON)")
    parser.add_argument(
        "--previous",
        type=Path,
        help="an earlier --export of the same store: the exact score and training time of runs "
        "whose checkpoints are no longer kept",
    )
    parser.add_argument(
        "--figure2", type=Path, help=f"draw the paper's Figure 2 on {FIGURE2_SCENARIO} here (PNG)"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.store is not None:
        previous = None
        if args.previous is not None:
            previous = json.loads(args.previous.read_text(encoding="utf-8"))["runs"]
        records = collect(args.store, args.scenarios, previous)
    else:
        records = json.loads(args.results.read_text(encoding="utf-8"))["runs"]
        if args.scenarios:
            records = [r for r in records if r["scenario"] in args.scenarios]
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        args.export.write_text(json.dumps({"runs": records}, indent=1) + "\n", encoding="utf-8")
    print(tables(records), end="")
    print("\nSpread over seeds\n\n" + spread(records), end="")
    if args.figure2 is not None:
        figure2(records, FIGURE2_SCENARIO, args.figure2)


if __name__ == "__main__":
    main()
