"""How far each result is from its scenario's limit: the leaderboards' "% of <limit>" figure.

A scenario may declare a :class:`~alloc_bench.scenarios.Limit`: the method whose result is the
limit of the ranking metric (EDRP: ``planner (ceiling)``; Ride-Hailing: the hindsight oracle)
and, optionally, the method that counts as 0 % (EDRP: ``SMFU-w/o-L``, no charge). A result's
share is

    share = (value - floor) / (limit - floor)

on the scenario's ranking metric (``floor = 0`` without a floor method), with the limit's and the
floor's results on the same scenario and options:

* :func:`share_of_limit`: from the means over each result's seeds (the leaderboard's figure);
* :func:`seed_shares`: per seed, from each seed's mean over its evaluation episodes, for the
  seeds the result shares with the limit (and the floor): paired by seed (marl-eval JSON).

No share where the limit (or floor) has no numbers yet, or the limit equals the floor.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from typing import Any

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


def _share(value: float, limit: float, floor: float) -> float | None:
    return None if limit == floor else (value - floor) / (limit - floor)


def share_of_limit(result: Result, by_cell: ByCell) -> float | None:
    """``result``'s share of its scenario's limit from the means over seeds (module doc), or
    ``None``; ``by_cell`` holds the results of the same option set."""
    scenario = result["scenario"]
    limit = limit_of(scenario)
    if limit is None:
        return None
    metric = get_scenario(scenario).rank_by
    top = by_cell.get((limit.method, scenario))
    bottom = by_cell.get((limit.floor, scenario)) if limit.floor else None
    if not _numbers(result, metric) or not _numbers(top, metric):
        return None
    if limit.floor and not _numbers(bottom, metric):
        return None
    floor = bottom["mean"][metric] if bottom is not None else 0.0
    return _share(result["mean"][metric], top["mean"][metric], floor)


def _seed_means(result: Result | None, metric: str) -> dict[str, float]:
    if result is None or not _numbers(result, metric):
        return {}
    episodes = result.get("per_episode", {})
    return {seed: statistics.fmean(ep[metric] for ep in rows) for seed, rows in episodes.items()}


def seed_shares(result: Result, by_cell: ByCell) -> dict[str, float]:
    """Per seed (string keys), ``result``'s share of the limit paired by seed (module doc)."""
    scenario = result["scenario"]
    limit = limit_of(scenario)
    if limit is None:
        return {}
    metric = get_scenario(scenario).rank_by
    own = _seed_means(result, metric)
    top = _seed_means(by_cell.get((limit.method, scenario)), metric)
    bottom = _seed_means(by_cell.get((limit.floor, scenario)), metric) if limit.floor else None
    out = {}
    for seed, value in own.items():
        if seed not in top or (bottom is not None and seed not in bottom):
            continue
        share = _share(value, top[seed], 0.0 if bottom is None else bottom[seed])
        if share is not None:
            out[seed] = share
    return out


def share_text(share: float | None, limit: Limit | None) -> str:
    """``"74% of headroom"`` (empty without a share)."""
    if share is None or limit is None:
        return ""
    return f"{100 * share:.0f}% of {limit.label}"
