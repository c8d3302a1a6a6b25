"""Did a speed-up change what a method learns? The same runs before and after, paired by seed.

The runs are one suite's, made twice: by the code before the change (its sources extracted with
``git archive`` and put first on ``PYTHONPATH``) into one store, and by the code after it into
another. The same seeds evaluate on the same days, so the two sides pair seed by seed::

    git archive --format=tar b506be5 packages | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before/packages/alloc-envs/src:/tmp/before/packages/alloc-agents/src:\\
    /tmp/before/packages/alloc-bench/src alloc-bench run --suite-file SUITE.toml \\
        --store before.sqlite --jobs 1
    alloc-bench run --suite-file SUITE.toml --store after.sqlite --jobs 1
    python benchmarks/ppo_speedup_learning.py --before before.sqlite --after after.sqlite \\
        --scenario ride-hailing-2 --method PS+IPPO \\
        --export benchmarks/results/ppo-speedup/learning.json
    python benchmarks/ppo_speedup_learning.py \\
        --results benchmarks/results/ppo-speedup/learning.json

Prints (Markdown) every seed's GMV and ORR on each side, their means ± sample std, the paired
difference after − before with its 95% bootstrap CI (:func:`alloc_bench.bootstrap.
bootstrap_diff_ci`, 10,000 resamples) and each side's wall-clock seconds per run (a shared
machine: read the ratio with care). ``--export`` writes the per-seed rows as JSON, so that the
table regenerates without the stores.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from alloc_bench.bootstrap import bootstrap_diff_ci
from alloc_bench.store import Store

METRICS = ("gmv", "orr")


def side_rows(store: Path, scenario: str, method: str) -> dict[int, dict[str, Any]]:
    """Per seed, the finished run of ``method`` on ``scenario`` in ``store``: its metrics,
    budget and wall-clock seconds."""
    with Store(store) as opened:
        rows = opened.find(method, scenario)
    return {
        int(row["seed"]): {
            **{name: float(row["metrics"][name]) for name in METRICS},
            "train_steps": int(row["train_steps"]),
            "eval_episodes": int(row["eval_episodes"]),
            "wall_time_s": row["wall_time_s"],
        }
        for row in rows
    }


def paired(before: Mapping[int, Any], after: Mapping[int, Any]) -> list[int]:
    """The seeds both sides have run, or ``ValueError`` when they have none in common or
    differ in budget."""
    seeds = sorted(set(before) & set(after))
    if not seeds:
        raise ValueError(f"no seed on both sides (before {sorted(before)}, after {sorted(after)})")
    for seed in seeds:
        for field in ("train_steps", "eval_episodes"):
            if before[seed][field] != after[seed][field]:
                raise ValueError(
                    f"seed {seed}: {field} is {before[seed][field]} before and "
                    f"{after[seed][field]} after; the runs do not pair"
                )
    return seeds


def _mean_std(values: Sequence[float], scale: float, digits: int) -> str:
    mean = statistics.fmean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:,.{digits}f} ± {std:,.{digits}f}"


def table(results: Mapping[str, Any]) -> list[str]:
    """The Markdown table of an export (:func:`main`'s ``--export``)."""
    before, after = results["before"], results["after"]
    seeds = [int(s) for s in results["seeds"]]
    b = {int(k): v for k, v in before.items()}
    a = {int(k): v for k, v in after.items()}
    lines = [
        f"{results['method']} on {results['scenario']}, {b[seeds[0]]['train_steps']:,} env "
        f"steps, {b[seeds[0]]['eval_episodes']} evaluation days per seed, seeds "
        f"{', '.join(map(str, seeds))}; before: {results['before_code']}; after: "
        f"{results['after_code']}",
        "",
        "| seed | GMV before | GMV after | ORR before | ORR after | run s before | run s after |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for seed in seeds:
        lines.append(
            f"| {seed} | {b[seed]['gmv']:,.0f} | {a[seed]['gmv']:,.0f} | {b[seed]['orr']:.3f} "
            f"| {a[seed]['orr']:.3f} | {b[seed]['wall_time_s']:,.0f} "
            f"| {a[seed]['wall_time_s']:,.0f} |"
        )
    for name, scale, digits in (("gmv", 1.0, 0), ("orr", 1.0, 3)):
        x = [a[s][name] for s in seeds]
        y = [b[s][name] for s in seeds]
        diff, low, high = bootstrap_diff_ci(x, y, paired=True)
        lines.append(
            f"| {name.upper()} | {_mean_std(y, scale, digits)} | {_mean_std(x, scale, digits)} "
            f"| after − before {diff:+,.{digits}f} [{low:+,.{digits}f}, {high:+,.{digits}f}] "
            "(paired bootstrap 95% CI) | | | |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--before", type=Path, help="store of the runs of the code before")
    parser.add_argument("--after", type=Path, help="store of the runs of the code after")
    parser.add_argument("--scenario", default="ride-hailing-2")
    parser.add_argument("--method", default="PS+IPPO")
    parser.add_argument("--before-code", default="b506be5", help="what ran before (a label)")
    parser.add_argument("--after-code", default="", help="what ran after (a label)")
    parser.add_argument("--results", type=Path, help="an export instead of the stores")
    parser.add_argument("--export", type=Path, help="write the per-seed rows as JSON")
    args = parser.parse_args()
    if args.results is not None:
        results = json.loads(args.results.read_text())
    else:
        if args.before is None or args.after is None:
            parser.error("give --before and --after stores, or --results")
        before = side_rows(args.before, args.scenario, args.method)
        after = side_rows(args.after, args.scenario, args.method)
        seeds = paired(before, after)
        results = {
            "scenario": args.scenario,
            "method": args.method,
            "seeds": seeds,
            "before_code": args.before_code,
            "after_code": args.after_code,
            "before": {str(s): before[s] for s in seeds},
            "after": {str(s): after[s] for s in seeds},
        }
    print("\n".join(table(results)))
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        args.export.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
