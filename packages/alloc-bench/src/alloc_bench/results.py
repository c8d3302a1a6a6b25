"""A suite's results, read back from the store and aggregated over seeds (report time).

One result per :class:`~alloc_bench.suites.RunSpec` (a leaderboard cell), JSON-able, with the
keys of :func:`alloc_bench.evaluate.evaluate` (``scenario``, ``method``, ``options``, ``seeds``
= the finished seeds, ``episodes``, ``mean``, ``std``, ``std_ddof``, ``per_seed``,
``wall_time_s``, ``versions``) plus:

* ``status``: ``"finished"`` (every seed), ``"partial"`` (some seeds finished), ``"failed"``
  (none finished, some failed), ``"not run"`` (none in the store yet) or ``"not implemented"``;
* ``reason``: why a cell is not (fully) there; ``planned_seeds``; ``train_steps``;
* ``ci``: per metric, ``[low, high]``, the bootstrap interval of the mean over seeds
  (:mod:`alloc_bench.bootstrap`);
* ``per_episode``: per seed (as a string key), the metric values of every evaluation episode;
* ``curves``: per seed, the learning-curve points a trainer logged (may be empty);
* ``groups``: per seed, the group maps a trainer logged (DyPS), with the run's config hash;
* ``config_hashes``: per seed, the store key of its run;
* ``skipped``: a warning per finished row left out because a report cannot use it (bad JSON, a
  missing or non-finite metric: :mod:`alloc_bench.rows`), naming the row and the column; such a
  seed counts as missing;
* the share of the scenario's limit (e.g. ``share_of_oracle``), like a metric in ``mean``,
  ``std``, ``ci`` and ``per_seed``, with its seeds in ``metric_seeds``
  (:func:`alloc_bench.limits.add_shares`), where the limit's results have numbers.
"""

from __future__ import annotations

from typing import Any

from alloc_bench.aggregate import STD_DDOF, summarize
from alloc_bench.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES
from alloc_bench.limits import add_shares
from alloc_bench.rows import skip_note, unusable
from alloc_bench.scenarios import get_scenario
from alloc_bench.store import Store
from alloc_bench.suites import RunSpec, Suite


def collect(
    suite: Suite,
    store: Store,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> list[dict[str, Any]]:
    """One aggregated result per run spec of ``suite``, in suite order (module doc)."""
    rows = store.rows(c.config_hash for c in suite.configs())
    results = [
        aggregate_spec(spec, rows, resamples=resamples, confidence=confidence)
        for spec in suite.runs
    ]
    add_shares(results, resamples=resamples, confidence=confidence)
    return results


def aggregate_spec(
    spec: RunSpec,
    rows: dict[str, dict[str, Any]],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> dict[str, Any]:
    """The result of one run spec from the store rows by config hash (module doc)."""
    configs = spec.configs()
    result: dict[str, Any] = {
        "scenario": spec.scenario,
        "method": spec.method,
        "options": dict(spec.options),
        "seeds": [],
        "planned_seeds": list(spec.seeds),
        "episodes": spec.budget.eval_episodes,
        "train_steps": spec.budget.train_steps,
        "status": "not implemented",
        "reason": "",
        "mean": {},
        "std": {},
        "ci": {},
        "std_ddof": STD_DDOF,
        "confidence": confidence,
        "per_seed": [],
        "per_episode": {},
        "curves": {},
        "groups": [],
        "config_hashes": {str(c.seed): c.config_hash for c in configs},
        "skipped": [],
        "wall_time_s": 0.0,
        "versions": {},
    }
    available = spec.availability()
    if not available.implemented:
        result["reason"] = available.reason
        return result
    metrics = get_scenario(spec.scenario).metric_names
    finished = []
    failed = []
    for config in configs:
        row = rows.get(config.config_hash)
        if row is not None and row["status"] == "finished":
            problem = unusable(row, metrics)
            if problem is None:
                finished.append(row)
            else:
                result["skipped"].append(skip_note(row, *problem))
        elif row is not None and row["status"] == "failed":
            failed.append(row)
    missing = len(configs) - len(finished)
    skipped = f"; {len(result['skipped'])} unusable row(s) skipped" if result["skipped"] else ""
    if not finished:
        result["status"] = "failed" if failed else "not run"
        result["reason"] = (
            failed[0]["error"] if failed else f"no finished run in the store{skipped}"
        )
        return result
    result["status"] = "finished" if not missing else "partial"
    if missing:
        errors = f"; first error: {failed[0]['error']}" if failed else ""
        result["reason"] = f"{len(finished)} of {len(configs)} seeds finished{errors}{skipped}"
    per_seed = [
        {"seed": row["seed"], **{m: row["metrics"][m] for m in metrics}} for row in finished
    ]
    stats = summarize(per_seed, metrics, with_ci=True, resamples=resamples, confidence=confidence)
    result.update(
        seeds=[row["seed"] for row in finished],
        mean=stats["mean"],
        std=stats["std"],
        ci=stats["ci"],
        per_seed=per_seed,
        per_episode={str(row["seed"]): row["episodes"] for row in finished},
        curves={str(row["seed"]): row["curve"] for row in finished if row["curve"]},
        groups=[
            {"seed": row["seed"], "config_hash": row["config_hash"], "maps": row["groups"]}
            for row in finished
            if row["groups"]
        ],
        wall_time_s=sum(float(row["wall_time_s"] or 0.0) for row in finished),
        versions=finished[0]["versions"],
    )
    return result
