"""``alloc-bench compare A B``: does method A beat method B on a scenario?

For each scenario and option set where both methods have finished runs in the store, the
difference of their means over seeds (A − B) on one metric (default: the scenario's ranking
metric) with a bootstrap confidence interval (:func:`alloc_bench.bootstrap.bootstrap_diff_ci`;
paired over the seeds both ran when they share at least :data:`MIN_PAIRED_SEEDS`, the seeds
only one of them ran left out and named; otherwise unpaired over all). Verdict: "A beats B"
only if the interval excludes 0 on A's side (above 0 for a higher-is-better metric, below 0
otherwise), "B beats A" if it excludes 0 on B's side, else "no clear difference".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from alloc_bench.aggregate import mean_std
from alloc_bench.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, bootstrap_diff_ci
from alloc_bench.config import canonical_json
from alloc_bench.errors import BenchError
from alloc_bench.parsing import format_options
from alloc_bench.rows import skip_note, unusable
from alloc_bench.scenarios import get_scenario
from alloc_bench.store import Store
from alloc_bench.suites import Suite

#: The fewest seeds two methods must share for a paired comparison (one pair has no spread).
MIN_PAIRED_SEEDS = 2


def _usable(rows: list[dict[str, Any]], warn: Callable[[str], None]) -> list[dict[str, Any]]:
    """The rows a comparison can use; ``warn`` names each one left out (:mod:`.rows`)."""
    out = []
    for row in rows:
        problem = unusable(row, get_scenario(row["scenario"]).metric_names)
        if problem is None:
            out.append(row)
        else:
            warn(skip_note(row, *problem))
    return out


def _groups(
    rows: list[dict[str, Any]], allowed: set[str] | None
) -> dict[tuple[str, str], dict[tuple[int, int], list[dict[str, Any]]]]:
    """Rows by (scenario, options JSON), then by budget (train_steps, eval_episodes)."""
    out: dict[tuple[str, str], dict[tuple[int, int], list[dict[str, Any]]]] = {}
    for row in rows:
        if allowed is not None and row["config_hash"] not in allowed:
            continue
        key = (row["scenario"], canonical_json(row["options"]))
        budget = (row["train_steps"], row["eval_episodes"])
        out.setdefault(key, {}).setdefault(budget, []).append(row)
    return out


def _one_budget(method: str, key: tuple[str, str], by_budget: dict) -> list[dict[str, Any]]:
    if len(by_budget) > 1:
        budgets = ", ".join(f"{s:,} train steps x {e} episodes" for s, e in sorted(by_budget))
        raise BenchError(
            f"{method} has runs with several budgets on {key[0]} ({budgets}); "
            "name the suite (--suite) to pick one"
        )
    return next(iter(by_budget.values()))


def compare_methods(
    store: Store,
    a: str,
    b: str,
    *,
    scenario: str | None = None,
    metric: str | None = None,
    options: Mapping[str, Any] | None = None,
    suite: Suite | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    warn: Callable[[str], None] = lambda note: None,
) -> list[dict[str, Any]]:
    """One comparison per (scenario, option set) where both methods have finished runs.

    Args:
        store: the results store.
        a, b: method names.
        scenario: only this scenario (default: every scenario both ran).
        metric: the metric (default: each scenario's ranking metric).
        options: only this option set.
        suite: only the runs of this suite (picks the budget when a store holds several).
        resamples, confidence: of the bootstrap.
        warn: called with a line naming each finished row left out (bad JSON, a missing or
            non-finite metric).

    Returns:
        Dicts with ``scenario``, ``options``, ``metric``, ``higher_is_better``, ``a`` / ``b``
        (``method``, ``mean``, ``std``, ``seeds`` compared, ``left_out``: the seeds only that
        method ran, left out of a paired comparison), ``difference``, ``ci`` ([low, high]),
        ``paired``, ``confidence``, ``resamples`` and ``verdict``.

    Raises:
        BenchError: no scenario where both have finished runs, an unknown metric, or several
            budgets for one method (pass ``suite``).
    """
    if a == b:
        raise BenchError("compare needs two different methods")
    allowed = None if suite is None else {c.config_hash for c in suite.configs()}
    groups_a = _groups(_usable(store.find(a, scenario), warn), allowed)
    groups_b = _groups(_usable(store.find(b, scenario), warn), allowed)
    keys = [k for k in groups_a if k in groups_b]
    if options is not None:
        keys = [k for k in keys if k[1] == canonical_json(dict(options))]
    if not keys:
        where = f" on {scenario}" if scenario else ""
        raise BenchError(
            f"no finished runs of both {a!r} and {b!r}{where} in the store "
            f"{str(store.path)!r}"
            + (f" with options {format_options(options)}" if options is not None else "")
        )
    out = []
    for key in keys:
        rows_a = _one_budget(a, key, groups_a[key])
        rows_b = _one_budget(b, key, groups_b[key])
        spec = get_scenario(key[0])
        name = metric or spec.rank_by
        try:
            higher = spec.metric(name).higher_is_better
        except KeyError:
            raise BenchError(
                f"scenario {key[0]!r} has no metric {name!r}; it reports {list(spec.metric_names)}"
            ) from None
        by_seed_a = {row["seed"]: row["metrics"][name] for row in rows_a}
        by_seed_b = {row["seed"]: row["metrics"][name] for row in rows_b}
        common = sorted(set(by_seed_a) & set(by_seed_b))
        paired = len(common) >= MIN_PAIRED_SEEDS
        seeds_a, seeds_b = (common, common) if paired else (sorted(by_seed_a), sorted(by_seed_b))
        values_a = [by_seed_a[s] for s in seeds_a]
        values_b = [by_seed_b[s] for s in seeds_b]
        diff, low, high = bootstrap_diff_ci(
            values_a, values_b, paired=paired, resamples=resamples, confidence=confidence
        )
        out.append(
            {
                "scenario": key[0],
                "options": rows_a[0]["options"],
                "metric": name,
                "higher_is_better": higher,
                "a": _side(a, values_a, seeds_a, sorted(set(by_seed_a) - set(seeds_a))),
                "b": _side(b, values_b, seeds_b, sorted(set(by_seed_b) - set(seeds_b))),
                "difference": diff,
                "ci": [low, high],
                "paired": paired,
                "confidence": confidence,
                "resamples": resamples,
                "verdict": verdict(a, b, low, high, higher),
            }
        )
    return out


def _side(
    method: str, values: list[float], seeds: list[int], left_out: list[int]
) -> dict[str, Any]:
    mean, std = mean_std(values)
    return {"method": method, "mean": mean, "std": std, "seeds": seeds, "left_out": left_out}


def verdict(a: str, b: str, low: float, high: float, higher_is_better: bool) -> str:
    """``"A beats B"``, ``"B beats A"`` or ``"no clear difference"`` from the CI of A − B."""
    if low > 0 or high < 0:
        a_better = (low > 0) == higher_is_better
        return f"{a} beats {b}" if a_better else f"{b} beats {a}"
    return f"no clear difference between {a} and {b} (the CI includes 0)"


def format_comparison(item: Mapping[str, Any]) -> str:
    """A few lines of text for one comparison."""
    spec = get_scenario(item["scenario"]).metric(item["metric"])
    a, b = item["a"], item["b"]
    direction = "higher" if item["higher_is_better"] else "lower"
    low, high = item["ci"]
    fmt = spec.fmt
    pairing = "paired over seeds" if item["paired"] else "unpaired"
    left_out = [
        f"{side['method']}'s seed{'s' if len(side['left_out']) > 1 else ''} "
        + ", ".join(map(str, side["left_out"]))
        for side in (a, b)
        if side.get("left_out")
    ]
    if left_out:  # paired over the seeds both ran
        pairing += f"; left out, not run by the other: {'; '.join(left_out)}"
    return "\n".join(
        [
            f"{item['scenario']} [{format_options(item['options'])}], {spec.label} "
            f"({direction} is better):",
            f"  {a['method']}: {a['mean']:{fmt}} ± {a['std']:{fmt}} (n={len(a['seeds'])})",
            f"  {b['method']}: {b['mean']:{fmt}} ± {b['std']:{fmt}} (n={len(b['seeds'])})",
            f"  {a['method']} − {b['method']}: {item['difference']:+{fmt}}, "
            f"{item['confidence']:.0%} CI [{low:+{fmt}}, {high:+{fmt}}] "
            f"(bootstrap, {item['resamples']:,} resamples, {pairing})",
            f"  verdict: {item['verdict']}",
        ]
    )
