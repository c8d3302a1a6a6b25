"""The same methods at two training budgets, from two exported results of one protocol.

    python benchmarks/budget_comparison.py \\
        --results benchmarks/results/dyps-selector/results.json \\
                  benchmarks/results/dyps-selector-5x/results.json \\
        --scenario ride-hailing-1 --methods DyPS+IPPO PS+IPPO PS-id+IPPO SePS+IPPO

The exports (``benchmarks/dyps_selector_results.py --export``) must evaluate on the same days
(same seeds and evaluation episodes), so that runs of one seed pair across budgets. Prints two
Markdown tables:

1. every method's GMV at each budget (mean ± std over seeds) and its change from the first
   budget to the second, paired over the seeds both have (95% bootstrap CI,
   :func:`alloc_bench.bootstrap.bootstrap_diff_ci`, 10,000 resamples);
2. unequal budgets, as the DyPS reference code trains DyPS for 10× PS's episodes: the first
   method at the second (larger) budget minus every other method at the first, paired.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alloc_bench.bootstrap import bootstrap_diff_ci

METRIC = "gmv"


def per_seed(results: Sequence[Mapping[str, Any]], scenario: str, method: str) -> dict[int, float]:
    """``{seed: GMV}`` of ``method`` on ``scenario`` (empty when the export has no such run)."""
    for result in results:
        if result["scenario"] == scenario and result["method"] == method:
            return {int(row["seed"]): float(row[METRIC]) for row in result["per_seed"]}
    return {}


def budget_of(results: Sequence[Mapping[str, Any]], scenario: str) -> int:
    """The training budget (env steps) of the export's learned runs on ``scenario``."""
    budgets = {
        int(r["train_steps"])
        for r in results
        if r["scenario"] == scenario and r["per_seed"] and r["train_steps"]
    }
    if len(budgets) != 1:
        raise SystemExit(f"expected one training budget on {scenario}, found {sorted(budgets)}")
    return budgets.pop()


def _mean_std(values: Mapping[int, float]) -> str:
    if not values:
        return "–"
    x = np.array(list(values.values()))
    std = x.std(ddof=1) if x.size > 1 else 0.0
    return f"{x.mean():,.0f} ± {std:,.0f} (seeds {sorted(values)})"


def _paired(a: Mapping[int, float], b: Mapping[int, float]) -> str:
    """``a − b`` paired over the seeds both have, with its 95% CI."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return "–"
    d, low, high = bootstrap_diff_ci([a[s] for s in seeds], [b[s] for s in seeds], paired=True)
    return f"{d:+,.0f} [{low:+,.0f}, {high:+,.0f}] (seeds {seeds})"


def tables(
    short: Sequence[Mapping[str, Any]],
    long: Sequence[Mapping[str, Any]],
    scenario: str,
    methods: Sequence[str],
) -> list[str]:
    small, large = budget_of(short, scenario), budget_of(long, scenario)
    lines = [
        f"{scenario}: {small:,} and {large:,} env steps of training",
        "",
        f"| method | GMV at {small:,} | GMV at {large:,} | {large:,} − {small:,} (paired 95% CI) |",
        "|---|---|---|---|",
    ]
    for method in methods:
        a, b = per_seed(short, scenario, method), per_seed(long, scenario, method)
        lines.append(f"| {method} | {_mean_std(a)} | {_mean_std(b)} | {_paired(b, a)} |")
    first = methods[0]
    lines += [
        "",
        f"| {first} at {large:,} − method at {small:,} | paired 95% CI |",
        "|---|---|",
    ]
    long_first = per_seed(long, scenario, first)
    for method in methods[1:]:
        lines.append(f"| {method} | {_paired(long_first, per_seed(short, scenario, method))} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, nargs=2, required=True, metavar="EXPORT")
    parser.add_argument("--scenario", required=True)
    parser.add_argument("--methods", nargs="+", required=True, help="the first is compared")
    args = parser.parse_args()
    short, long = (json.loads(path.read_text())["results"] for path in args.results)
    print("\n".join(tables(short, long, args.scenario, args.methods)))


if __name__ == "__main__":
    main()
