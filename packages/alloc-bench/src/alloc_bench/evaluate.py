"""Evaluate one method on one scenario over a list of seeds, in this process, without a store.

Each seed is one run (:func:`alloc_bench.execute.perform_run`, whose module doc gives the
seeding); this function aggregates the runs across seeds (:mod:`alloc_bench.aggregate`). Suites
go through the runner and the store instead, and aggregate at report time the same way.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Any

from alloc_bench.aggregate import STD_DDOF, summarize
from alloc_bench.availability import availability
from alloc_bench.config import Budget, RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.execute import MAX_EPISODE_STEPS, perform_run, run_episode
from alloc_bench.methods import LEARNED, rule_based, trains
from alloc_bench.parsing import check_seeds
from alloc_bench.scenarios import Scenario, get_scenario
from alloc_bench.versions import package_versions

__all__ = ["MAX_EPISODE_STEPS", "STD_DDOF", "check_method", "evaluate", "run_episode"]


def check_method(name: str, scenario: Scenario) -> str:
    """``name`` if it can run on ``scenario`` now, else a :class:`BenchError`.

    The message lists the methods that can run (unknown name) or says why a known method cannot
    (e.g. a learned method whose trainer does not exist yet).
    """
    status = availability(scenario.name, name)
    if status.implemented:
        return name
    if name in LEARNED:
        raise BenchError(
            f"method {name!r} is not implemented yet for scenario {scenario.name!r}: "
            f"{status.reason}"
        )
    runnable = sorted(rule_based(scenario.family)) + sorted(
        m for m in LEARNED if availability(scenario.name, m).implemented
    )
    raise BenchError(
        f"unknown method {name!r} for scenario {scenario.name!r}; known methods: "
        f"{', '.join(runnable)}"
    )


def evaluate(
    scenario: str,
    method: str,
    seeds: Iterable[int],
    episodes: int = 1,
    options: Mapping[str, Any] | None = None,
    train_steps: int = 0,
    *,
    progress: bool = True,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run ``method`` on ``scenario`` once per seed, ``episodes`` evaluation episodes each.

    Args:
        scenario: a name in :data:`alloc_bench.scenarios.SCENARIOS`.
        method: a rule-based policy of the scenario's family, or a learned method whose trainer
            exists (see :mod:`alloc_bench.methods`).
        seeds: distinct non-negative ints.
        episodes: evaluation episodes per seed (>= 1).
        options: environment overrides (e.g. ``{"demand": "reference"}``), validated by the env.
        train_steps: environment steps of training (learned methods; ignored by rules).
        progress: a learned method's training shows its progress on stderr (a bar on a
            terminal, else a line every 30 s with steps done, steps/s and ETA); ``False``: none.
        threads: torch CPU threads of a learned method (``None``: one; ask for more with N).

    Returns:
        A JSON-able dict: ``scenario``, ``method``, ``options``, ``seeds``, ``episodes``,
        ``mean`` and ``std`` (per metric, across seeds; ``std_ddof`` = 0, the population std),
        ``per_seed`` (one dict per seed: ``seed`` and each metric averaged over its episodes),
        ``wall_time_s`` (seconds, the whole evaluation) and ``versions``.

    Raises:
        BenchError (a ``ValueError``): unknown scenario or method (the message lists the known
            names), bad seeds or episodes, options the environment rejects.
    """
    start = time.perf_counter()
    spec = get_scenario(scenario)
    check_method(method, spec)
    seed_list = check_seeds(list(seeds))
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise BenchError(f"episodes must be a positive integer, got {episodes!r}")
    budget = Budget(train_steps, episodes).effective(trains(method))
    opts = dict(options or {})
    per_seed: list[dict[str, Any]] = []
    for seed in seed_list:
        run = RunConfig(spec.name, method, seed, opts, budget)
        outcome = perform_run(run, progress=progress, threads=threads)
        per_seed.append({"seed": seed, **outcome["metrics"]})
    stats = summarize(per_seed, spec.metric_names)
    return {
        "scenario": spec.name,
        "method": method,
        "options": opts,
        "seeds": seed_list,
        "episodes": episodes,
        "mean": stats["mean"],
        "std": stats["std"],
        "std_ddof": STD_DDOF,
        "per_seed": per_seed,
        "wall_time_s": time.perf_counter() - start,
        "versions": package_versions(),
    }
