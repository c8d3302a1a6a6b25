"""The ``dyps-selector`` suite's tables (or another suite's), from the store or from its export.

    alloc-bench run --suite dyps-selector --store results/dyps-selector.sqlite --jobs 1
    python benchmarks/dyps_selector_results.py --store results/dyps-selector.sqlite \\
        --export benchmarks/results/dyps-selector/results.json
    python benchmarks/dyps_selector_results.py \\
        --results benchmarks/results/dyps-selector/results.json
    python benchmarks/dyps_selector_results.py --suite reward-sharing --reference PS+IPPO-team \\
        --store results/rs.sqlite --export benchmarks/results/reward-sharing/results.json
    python benchmarks/dyps_selector_results.py --suite value-based --reference QMIX \\
        --store results/value-based.sqlite \\
        --beside benchmarks/results/dyps-selector/results.json \\
        --export benchmarks/results/value-based/results.json

Prints, per scenario (Markdown):

1. every method's GMV (mean ± sample std over seeds, 95% percentile-bootstrap CI of the mean),
   its share of the hindsight oracle's GMV on the same seeds (the same days; mean ± std over
   seeds) and the reference method's (``--reference``, default DyPS+IPPO) difference to it,
   paired over seeds
   (:func:`alloc_bench.bootstrap.bootstrap_diff_ci`; 10,000 resamples), with the seeds and the
   budget;
   then each DyPS method other than the reference against its PS counterpart (``DyPS+X`` against
   ``PS+X``, e.g. DyPS+MAPPO against PS+MAPPO), paired over seeds;
2. for each DyPS method, the selector at the first, middle and last iteration, means over seeds:
   entropy / ln M, switching, members used (sampled, argmax), the spread of the members' CVAE
   latents, η² of the cells' log demand and supply beside their permutation nulls, neighbour
   agreement beside chance
   (:mod:`alloc_bench.dyps_maps`);
3. seed 0's deployed group map at those iterations (hex grid rows; odd columns sit half a cell
   lower);
4. wall-clock seconds per run and per iteration (shared machine: read the ratio, not the level;
   a run resumed from its checkpoint counts only the time after the resume).

``--earlier EXPORT`` (repeatable) fills the rows with no finished seed from an earlier export
of the same suite (e.g. a store that holds only the runs added since), as the suite's own rows.
``--beside EXPORT`` (repeatable) adds another suite's exported results on the same scenarios,
for the methods this one does not have (the same seeds evaluate on the same days, so they pair)
to the score and cost tables; the export names them (``beside``).
``--export`` writes the aggregated results (``alloc_bench.results``: per-seed metrics, curves,
group maps with the selector's diagnostics) as JSON, so that the tables regenerate without the
store.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alloc_bench.bootstrap import bootstrap_ci, bootstrap_diff_ci
from alloc_bench.dyps_maps import cell_features, map_association
from alloc_bench.limits import seed_shares
from alloc_bench.results import collect
from alloc_bench.store import Store
from alloc_bench.suites import load_suite

SUITE = "dyps-selector"
METRIC = "gmv"
REFERENCE = "DyPS+IPPO"
STAGES = ("first", "middle", "last")


def load_results(suite: str, store: Path | None, results: Path | None) -> list[dict[str, Any]]:
    """The suite's aggregated results from the store or from an exported JSON."""
    if results is not None:
        return json.loads(results.read_text())["results"]
    assert store is not None
    return collect(load_suite(suite), Store(store))


def with_beside(
    results: list[dict[str, Any]], other: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``results`` plus ``other``'s results on the same scenarios and budgets for methods
    ``results`` does not have there. A method of ``results`` with no finished seed counts as
    not had (``other``'s row takes its place); ``other``'s rows with no finished seed add
    nothing. Budgets: an ``other`` row is taken only when its
    ``train_steps`` is 0 (no training) or one of ``results``' on that scenario, so that a
    table never mixes training budgets."""
    have = {(r["scenario"], r["method"]) for r in results if r["per_seed"]}
    budgets: dict[str, set[int]] = {}
    for r in results:
        budgets.setdefault(r["scenario"], {0}).add(int(r["train_steps"]))
    taken = {
        (r["scenario"], r["method"]): r
        for r in other
        if r["per_seed"]
        and int(r["train_steps"]) in budgets.get(r["scenario"], set())
        and (r["scenario"], r["method"]) not in have
    }
    merged = [taken.pop((r["scenario"], r["method"]), r) for r in results]  # in their places
    return [*merged, *taken.values()]


def with_earlier(
    results: list[dict[str, Any]], earlier: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], list[list[str]]]:
    """``results`` with the rows of an earlier export of the same suite (``earlier``: the
    export's document) where they have no finished seed, as :func:`with_beside` does; the rows
    taken count as this suite's own, except those the earlier export had itself set beside.
    Returns the results and the [scenario, method] pairs of the rows taken that are beside."""
    before = {id(r) for r in results}
    merged = with_beside(results, earlier["results"])
    was_beside = {tuple(pair) for pair in earlier.get("beside", [])}
    beside = [
        [r["scenario"], r["method"]]
        for r in merged
        if id(r) not in before and (r["scenario"], r["method"]) in was_beside
    ]
    return merged, beside


def _per_seed(result: Mapping[str, Any]) -> dict[int, float]:
    return {int(row["seed"]): float(row[METRIC]) for row in result["per_seed"]}


def _share(result: Mapping[str, Any], by_cell: Mapping[tuple[str, str], Any]) -> str:
    """The result's share of its scenario's limit, paired per seed
    (:func:`alloc_bench.limits.seed_shares`): mean ± std over seeds, naming the seeds when the
    limit has only some of the result's."""
    by_seed = seed_shares(result, by_cell)
    shares = np.array(list(by_seed.values()))
    if shares.size == 0:
        return "–"
    std = shares.std(ddof=1) if shares.size > 1 else 0.0
    text = f"{100 * shares.mean():.1f}% ± {100 * std:.1f}%"
    if len(by_seed) < len(result["per_seed"]):
        text += f" (seeds {sorted(int(s) for s in by_seed)})"
    return text


def score_table(
    results: Sequence[Mapping[str, Any]], scenario: str, reference_method: str = REFERENCE
) -> list[str]:
    rows = [r for r in results if r["scenario"] == scenario and r["per_seed"]]
    reference = next((r for r in rows if r["method"] == reference_method), None)
    by_cell = {(r["method"], r["scenario"]): r for r in rows}
    lines = [
        "| method | seeds | GMV mean ± std | 95% CI | % of oracle (paired) | "
        f"{reference_method} − method (paired 95% CI) |",
        "|---|---|---|---|---|---|",
    ]
    for result in rows:
        values = _per_seed(result)
        x = np.array(list(values.values()))
        low, high = bootstrap_ci(x)
        diff = ""
        if reference is not None and result is not reference:
            ref = _per_seed(reference)
            seeds = sorted(set(ref) & set(values))
            d, dl, dh = bootstrap_diff_ci(
                [ref[s] for s in seeds], [values[s] for s in seeds], paired=True
            )
            diff = f"{d:+,.0f} [{dl:+,.0f}, {dh:+,.0f}] (seeds {seeds})"
        std = x.std(ddof=1) if len(x) > 1 else 0.0
        lines.append(
            f"| {result['method']} | {sorted(values)} | {x.mean():,.0f} ± {std:,.0f} | "
            f"[{low:,.0f}, {high:,.0f}] | {_share(result, by_cell)} | {diff} |"
        )
    budget = rows[0]["train_steps"] if rows else 0
    episodes = rows[0]["episodes"] if rows else 0
    return [
        f"{budget:,} env steps of training, {episodes} evaluation episodes per seed",
        "",
        *lines,
    ]


def counterpart_table(
    results: Sequence[Mapping[str, Any]], scenario: str, reference_method: str = REFERENCE
) -> list[str]:
    """Every ``DyPS+X`` method of ``scenario`` other than the reference against ``PS+X``:
    the difference of their GMVs paired over their common seeds (empty: no such pair)."""
    rows = {r["method"]: r for r in results if r["scenario"] == scenario and r["per_seed"]}
    lines = []
    for method, result in rows.items():
        partner = rows.get("PS+" + method.removeprefix("DyPS+"))
        if not method.startswith("DyPS+") or method == reference_method or partner is None:
            continue
        own, other = _per_seed(result), _per_seed(partner)
        seeds = sorted(set(own) & set(other))
        d, low, high = bootstrap_diff_ci(
            [own[s] for s in seeds], [other[s] for s in seeds], paired=True
        )
        lines.append(
            f"| {method} | {partner['method']} | {seeds} | {d:+,.0f} [{low:+,.0f}, {high:+,.0f}] |"
        )
    if not lines:
        return []
    head = [
        "| DyPS method | PS counterpart | seeds | DyPS − PS (paired 95% CI) |",
        "|---|---|---|---|",
    ]
    return [*head, *lines]


def _stage_maps(maps: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    return {"first": maps[0], "middle": maps[(len(maps) - 1) // 2], "last": maps[-1]}


def diagnostics_table(result: Mapping[str, Any]) -> list[str]:
    features = cell_features(result["scenario"], tuple(sorted(result["options"].items())))
    head = (
        "| iteration (env steps) | entropy / ln M | switched | members sampled | members argmax | "
        "latent spread | η² demand (null; p<.05) | η² supply (null; p<.05) | "
        "neighbours same group (chance) |"
    )
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    runs = [run["maps"] for run in result["groups"] if run["maps"]]
    for stage in STAGES:
        values = []
        for maps in runs:
            chosen = _stage_maps(maps)[stage]
            values.append(
                {
                    **chosen.get("diagnostics", {}),
                    **map_association(chosen["assignment"], features),
                    "step": chosen["step"],
                }
            )

        def mean(key: str, values: list[dict[str, float]] = values) -> float:
            found = [v[key] for v in values if key in v]
            return float(np.mean(found)) if found else float("nan")

        def eta(name: str, values: list[dict[str, float]] = values) -> str:
            hits = sum(v[f"eta2_{name}_p"] < 0.05 for v in values)
            null = mean(f"eta2_{name}_null")
            return f"{mean(f'eta2_{name}'):.3f} ({null:.3f}; {hits}/{len(values)})"

        lines.append(
            f"| {stage} ({mean('step'):,.0f}) | {mean('entropy_ratio'):.3f} | "
            f"{mean('switched'):.3f} | {mean('members_sampled'):.2f} | "
            f"{mean('members_argmax'):.2f} | {mean('latent_spread'):.3f} | {eta('demand')} | "
            f"{eta('supply')} | "
            f"{mean('neighbour_agreement'):.3f} ({mean('neighbour_chance'):.3f}) |"
        )
    return lines


def group_maps(result: Mapping[str, Any]) -> list[str]:
    run = min(result["groups"], key=lambda r: r["seed"])
    stages = _stage_maps(run["maps"])
    rows, cols = stages["first"]["shape"]
    grids = {stage: np.asarray(m["assignment"]).reshape(rows, cols) for stage, m in stages.items()}
    lines = [f"seed {run['seed']}, " + ", ".join(f"{s} at {m['step']:,} steps" for s, m in
                                                 stages.items()), "```"]  # fmt: skip
    lines.append("   ".join(f"{stage:<{2 * cols}}" for stage in STAGES))
    for r in range(rows):
        lines.append("   ".join(" ".join(str(g) for g in grids[s][r]) + " " for s in STAGES))
    lines.append("```")
    return lines


def cost_table(results: Sequence[Mapping[str, Any]], scenario: str) -> list[str]:
    lines = ["| method | s per run | s per iteration |", "|---|---|---|"]
    for result in results:
        if result["scenario"] != scenario or not result["per_seed"]:
            continue
        per_run = result["wall_time_s"] / len(result["per_seed"])
        curve = next(iter(result["curves"].values()), [])
        iterations = max(len(curve), 1)
        lines.append(f"| {result['method']} | {per_run:,.0f} | {per_run / iterations:.1f} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--store", type=Path, help="the results store (SQLite)")
    source.add_argument("--results", type=Path, help="an exported results JSON")
    parser.add_argument("--export", type=Path, help="write the aggregated results here")
    parser.add_argument("--suite", default=SUITE, help=f"with --store (default {SUITE})")
    parser.add_argument("--reference", default=REFERENCE, help="the paired differences' method")
    parser.add_argument(
        "--beside", type=Path, action="append", default=[], help="another suite's export"
    )
    parser.add_argument(
        "--earlier",
        type=Path,
        action="append",
        default=[],
        help="an earlier export of this suite: fills the rows with no finished seed, as its own",
    )
    args = parser.parse_args()
    results = load_results(args.suite, args.store, args.results)
    beside = [] if args.results is None else json.loads(args.results.read_text()).get("beside", [])
    for path in args.earlier:
        results, carried = with_earlier(results, json.loads(path.read_text()))
        beside += carried
    for path in args.beside:
        before = {id(r) for r in results}
        results = with_beside(results, json.loads(path.read_text())["results"])
        beside += [[r["scenario"], r["method"]] for r in results if id(r) not in before]
    if args.export is not None:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        document = {"suite": args.suite, "results": results, "beside": beside}
        args.export.write_text(json.dumps(document, indent=1) + "\n")
    own = [r for r in results if [r["scenario"], r["method"]] not in beside]
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        print(f"## {scenario}\n")
        print("\n".join(score_table(results, scenario, args.reference)), "\n")
        pairs = counterpart_table(results, scenario, args.reference)
        if pairs:
            print("\n".join(pairs), "\n")
        for result in own:  # the selectors of this suite's DyPS runs, not of those beside
            if result["scenario"] == scenario and result["groups"]:
                print(f"### {result['method']}: the selector\n")
                print("\n".join(diagnostics_table(result)), "\n")
                print("\n".join(group_maps(result)), "\n")
        print("### Cost\n")
        print("\n".join(cost_table(results, scenario)), "\n")


if __name__ == "__main__":
    main()
