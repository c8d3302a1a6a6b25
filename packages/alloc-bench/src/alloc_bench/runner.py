"""Run every run of a suite, one after the other, in this process."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from alloc_bench.evaluate import evaluate
from alloc_bench.suites import RunSpec, Suite
from alloc_bench.versions import package_versions

#: ``progress(done, total, run, result, elapsed_s)``, called after each run.
Progress = Callable[[int, int, RunSpec, dict[str, Any], float], None]


def run_suite(suite: Suite, progress: Progress | None = None) -> list[dict[str, Any]]:
    """The :func:`~alloc_bench.evaluate.evaluate` results of ``suite.runs``, in order.

    ``progress`` is called after each run with the runs done, the total, the run, its result and
    the seconds elapsed since the suite started.
    """
    start = time.perf_counter()
    results: list[dict[str, Any]] = []
    for i, run in enumerate(suite.runs, start=1):
        result = evaluate(run.scenario, run.method, run.seeds, run.episodes, run.options)
        results.append(result)
        if progress is not None:
            progress(i, len(suite.runs), run, result, time.perf_counter() - start)
    return results


def suite_document(
    suite: Suite, results: list[dict[str, Any]], wall_time_s: float
) -> dict[str, Any]:
    """The raw results of a suite as one JSON-able dict (what ``results.json`` holds)."""
    return {
        "suite": suite.name,
        "description": suite.description,
        "source": suite.source,
        "compare": list(suite.compare),
        "wall_time_s": wall_time_s,
        "versions": package_versions(),
        "results": results,
    }
