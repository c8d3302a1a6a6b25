"""How far each result is from its scenario's limit: the leaderboards' "% of <label>" column.

A scenario may declare a :class:`~alloc_bench.scenarios.Limit`: the method whose result is the
limit of one of its metrics (Ride-Hailing: the hindsight ``oracle``'s GMV; EDRP: ``planner
(ceiling)``'s ORR) and, optionally, the method that counts as 0 % (EDRP: ``SMFU-w/o-L``, no
charge). With the limit's and the floor's results on the same scenario and options, a result's
share is computed **paired per seed** (:func:`seed_shares`): seed ``s`` of every method plays
the same days (each run's episodes start from ``env.reset(seed=s)``), so

    share[s] = (value[s] - floor[s]) / (limit[s] - floor[s])

with ``value[s]`` the seed's mean over its evaluation episodes (``floor = 0`` without a floor
method), over the seeds the result shares with the limit (and the floor). :func:`add_shares`
adds it to each result like a metric under :attr:`Limit.key` (``share_of_oracle``): ``mean``
and population ``std`` over those seeds, the same bootstrap CI as every metric, each seed's
value in ``per_seed``, and the seeds in ``metric_seeds``. A published value is set against the
mean of our limit's (and floor's) results (:func:`published_share`; not paired: the papers
publish no per-seed values). No share where the limit (or floor) has no numbers yet, or the
limit equals the floor.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from alloc_bench.aggregate import summarize
from alloc_bench.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES
from alloc_bench.parsing import format_options
from alloc_bench.scenarios import SCENARIOS, Limit, get_scenario

Result = Mapping[str, Any]
#: Results of one option set by (method, scenario).
ByCell = Mapping[tuple[str, str], Result]


def limit_of(scenario: str) -> Limit | None:
    """The scenario's declared limit (``None`` for none, or an unregistered scenario)."""
    return get_scenario(scenario).limit if scenario in SCENARIOS else None


def _numbers(result: Result | None, metric: str) -> bool:
    return (
        result is not None
        and result.get("status", "finished") in ("finished", "partial")
        and metric in result.get("mean", {})
    )


def by_options(results: Sequence[Result]) -> dict[str, dict[tuple[str, str], Result]]:
    """Results by option-set text, then by (method, scenario)."""
    out: dict[str, dict[tuple[str, str], Result]] = {}
    for result in results:
        cells = out.setdefault(format_options(result["options"]), {})
        cells[(result["method"], result["scenario"])] = result
    return out


def _seed_means(result: Result | None, metric: str) -> dict[str, float]:
    if result is None or not _numbers(result, metric):
        return {}
    episodes = result.get("per_episode", {})
    return {seed: statistics.fmean(ep[metric] for ep in rows) for seed, rows in episodes.items()}


def seed_shares(result: Result, by_cell: ByCell) -> dict[str, float]:
    """Per seed (string keys), ``result``'s share of the limit paired by seed (module doc);
    ``by_cell`` holds the results of the same option set."""
    scenario = result["scenario"]
    limit = limit_of(scenario)
    if limit is None:
        return {}
    metric = get_scenario(scenario).limited_metric
    own = _seed_means(result, metric)
    top = _seed_means(by_cell.get((limit.method, scenario)), metric)
    bottom = _seed_means(by_cell.get((limit.floor, scenario)), metric) if limit.floor else None
    out = {}
    for seed, value in own.items():
        if seed not in top or (bottom is not None and seed not in bottom):
            continue
        share = limit.share(value, top[seed], 0.0 if bottom is None else bottom[seed])
        if share is not None:
            out[seed] = share
    return out


def add_shares(
    results: Sequence[dict[str, Any]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> None:
    """Add each result's share of its limit to it, in place (module doc)."""
    groups = by_options(results)
    for result in results:
        limit = limit_of(result["scenario"])
        if limit is None:
            continue
        shares = seed_shares(result, groups[format_options(result["options"])])
        rows = [{"seed": row["seed"]} for row in result["per_seed"] if str(row["seed"]) in shares]
        if not rows:
            continue
        for row in rows:
            row[limit.key] = shares[str(row["seed"])]
        stats = summarize(
            rows, [limit.key], with_ci=True, resamples=resamples, confidence=confidence
        )
        for key in ("mean", "std", "ci"):
            result[key][limit.key] = stats[key][limit.key]
        for row in result["per_seed"]:
            if str(row["seed"]) in shares:
                row[limit.key] = shares[str(row["seed"])]
        result.setdefault("metric_seeds", {})[limit.key] = [row["seed"] for row in rows]


def published_share(value: float, scenario: str, by_cell: ByCell) -> float | None:
    """A published ``value`` of ``scenario``'s limited metric as a share of the means of our
    limit's (and floor's) results in ``by_cell`` (one option set); None without them."""
    limit = limit_of(scenario)
    if limit is None:
        return None
    metric = get_scenario(scenario).limited_metric
    top = by_cell.get((limit.method, scenario))
    bottom = by_cell.get((limit.floor, scenario)) if limit.floor else None
    if not _numbers(top, metric) or (limit.floor and not _numbers(bottom, metric)):
        return None
    floor = bottom["mean"][metric] if bottom is not None else 0.0
    return limit.share(value, top["mean"][metric], floor)


def with_shares(
    cells: Sequence[tuple[str, str]], results: Sequence[Result]
) -> list[tuple[str, str]]:
    """``(scenario, metric)`` columns with the limit's share right after the metric it bounds,
    where some of ``results`` has that share."""
    shown = {
        (r["scenario"], limit.key)
        for r in results
        if (limit := limit_of(r["scenario"])) is not None and limit.key in r.get("mean", {})
    }
    out = []
    for scenario, metric in cells:
        out.append((scenario, metric))
        limit = limit_of(scenario)
        if limit is not None and metric == get_scenario(scenario).limited_metric:
            if (scenario, limit.key) in shown:
                out.append((scenario, limit.key))
    return out


def legend(results: Sequence[Result]) -> list[str]:
    """One line per limit the results show, saying what its share is."""
    lines = []
    seen: set[Limit] = set()
    for result in results:
        limit = limit_of(result["scenario"])
        if limit is None or limit in seen or limit.key not in result.get("mean", {}):
            continue
        seen.add(limit)
        m = get_scenario(result["scenario"]).limited_metric
        if limit.floor:
            formula = f"({m} − {limit.floor}'s) / ({limit.method}'s − {limit.floor}'s)"
        else:
            formula = f"{m} / {limit.method}'s {m}"
        lines.append(
            f"% of {limit.label}: {formula}, paired per seed (the same days), mean ± std over "
            f"the seeds that have both; its paper cells set the published {m} against the "
            f"mean of our {limit.method} runs."
        )
    return lines
