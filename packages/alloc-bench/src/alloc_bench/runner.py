"""Run a suite into the store: skip finished runs, retry failed ones, execute the rest.

A suite expands into runs (one per seed of each :class:`~alloc_bench.suites.RunSpec`). Each run
is either *not implemented* (its scenario or method does not exist yet; never executed, reported
as such), *finished* in the store (skipped unless ``force``), or *pending* (never run, failed, or
left ``running`` by an interrupted invocation): pending runs are marked ``running`` and executed
by the chosen executor, and each outcome is written to the store in its own transaction as soon
as it arrives. Aggregation over seeds happens at report time (:mod:`alloc_bench.results`).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alloc_bench.config import RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.executors import check_executor, default_jobs, execute
from alloc_bench.output import write_atomic
from alloc_bench.rows import damage, describe_row
from alloc_bench.rundirs import run_dir
from alloc_bench.scenarios import get_scenario
from alloc_bench.store import Store, artifacts_dir
from alloc_bench.suites import Suite
from alloc_bench.versions import package_versions

#: ``progress(done, total, outcome, elapsed_s)``: called after each executed run.
Progress = Callable[[int, int, dict[str, Any], float], None]


@dataclass
class Plan:
    """What an invocation will do with a suite's runs. ``damaged``: warnings for the finished
    rows that are damaged (:func:`alloc_bench.rows.damage`) and will run again (their configs
    are in ``pending``)."""

    pending: list[RunConfig] = field(default_factory=list)
    finished: list[RunConfig] = field(default_factory=list)
    not_implemented: list[tuple[RunConfig, str]] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        """Every run of the suite."""
        return len(self.pending) + len(self.finished) + len(self.not_implemented)


@dataclass
class RunSummary:
    """What :func:`run_suite` did."""

    plan: Plan
    executed: int = 0
    failed: list[dict[str, Any]] = field(default_factory=list)
    wall_time_s: float = 0.0
    jobs: int = 1
    log_errors: list[str] = field(default_factory=list)


def plan_suite(suite: Suite, store: Store, force: bool = False) -> Plan:
    """Sort the suite's runs into pending, finished (skipped) and not implemented; a damaged
    finished row is pending again (module doc of :mod:`alloc_bench.rows`)."""
    plan = Plan()
    implemented = []
    for spec in suite.runs:
        status = spec.availability()
        for config in spec.configs():
            if status.implemented:
                implemented.append(config)
            else:
                plan.not_implemented.append((config, status.reason))
    rows = {} if force else store.rows(c.config_hash for c in implemented)
    for config in implemented:
        row = rows.get(config.config_hash)
        if row is None or row["status"] != "finished":
            plan.pending.append(config)
            continue
        problem = damage(row, get_scenario(config.scenario).metric_names)
        if problem is None:
            plan.finished.append(config)
        else:
            plan.pending.append(config)
            plan.damaged.append(f"{describe_row(row)}, column {problem[0]}: {problem[1]}")
    return plan


def check_options(configs: list[RunConfig]) -> None:
    """Build each distinct (scenario, options) environment once, so that options the
    environment rejects stop the invocation before any run starts (a :class:`BenchError`)."""
    seen: set[tuple[str, str]] = set()
    for config in configs:
        key = (config.scenario, repr(sorted(config.options.items())))
        if key in seen:
            continue
        seen.add(key)
        get_scenario(config.scenario).make_env(config.options).close()


def run_suite(
    suite: Suite,
    store: Store,
    *,
    jobs: int | None = None,
    executor: str = "process",
    force: bool = False,
    progress: Progress | None = None,
    ray_address: str | None = None,
    on_plan: Callable[[Plan, int], None] | None = None,
    on_interrupt: Callable[[int], None] | None = None,
    threads: int | None = None,
) -> RunSummary:
    """Execute the suite's pending runs into ``store`` (module doc).

    Args:
        suite: the suite.
        store: the open store (written by this process only).
        jobs: parallel runs; default the CPUs available, at most the pending runs.
        executor: ``"process"`` or ``"ray"`` (:mod:`alloc_bench.executors`).
        force: re-run finished runs too (their rows are replaced when the new runs finish).
        progress: called after each executed run.
        ray_address: a running Ray cluster's address (``executor="ray"``).
        on_plan: called once with the plan and the number of parallel runs, before running.
        on_interrupt: called with the number of runs in progress when an interrupt
            (``KeyboardInterrupt``, e.g. SIGINT to this process) arrives: their outcomes are
            then awaited and recorded (a second interrupt stops them) before the interrupt
            propagates; runs not started stay ``running`` in the store and run next time.
        threads: torch (and math-library) threads per run; ``None``: one.
    """
    if jobs is not None and jobs < 1:
        raise BenchError(f"--jobs must be >= 1, got {jobs}")
    if threads is not None and threads < 1:
        raise BenchError(f"--threads must be >= 1, got {threads}")
    check_executor(executor)
    start = time.perf_counter()
    plan = plan_suite(suite, store, force)
    workers = max(1, min(jobs or default_jobs(), len(plan.pending) or 1))
    summary = RunSummary(plan, jobs=workers)
    if on_plan is not None:
        on_plan(plan, workers)
    if not plan.pending:
        summary.wall_time_s = time.perf_counter() - start
        return summary
    check_options(plan.pending)
    workdir = artifacts_dir(store.path)
    store.mark_running(plan.pending)
    execution = execute(
        plan.pending,
        workdir=workdir,
        jobs=workers,
        executor=executor,
        ray_address=ray_address,
        threads=threads,
    )
    unrecorded: list[dict[str, Any]] = []

    def keep(outcome: dict[str, Any]) -> None:
        unrecorded.append(outcome)
        try:
            write_run_log(workdir, outcome)
        except OSError as exc:  # the result matters more than its log: keep going
            summary.log_errors.append(f"{outcome['config_hash']}: {exc}")
        store.record(outcome)
        unrecorded.remove(outcome)
        summary.executed += 1
        if outcome["status"] != "finished":
            summary.failed.append(outcome)
        if progress is not None:
            progress(summary.executed, len(plan.pending), outcome, time.perf_counter() - start)

    try:
        for outcome in execution:
            keep(outcome)
    except KeyboardInterrupt:
        # Keep what is done or under way: the outcome being recorded, then the runs in progress.
        if on_interrupt is not None:
            on_interrupt(execution.in_progress())
        try:
            for outcome in itertools.chain(list(unrecorded), execution.finish_running()):
                keep(outcome)
        except KeyboardInterrupt:  # a second interrupt: stop now
            execution.close(kill=True)
            raise
        raise
    finally:
        execution.close()
    summary.wall_time_s = time.perf_counter() - start
    return summary


def write_run_log(workdir: Path, outcome: dict[str, Any]) -> Path:
    """``run.log`` in the run's folder (:func:`alloc_bench.rundirs.run_dir`:
    ``<artifacts>/<scenario>/<method>/seed<k>-<short hash>``): the run's config, result or
    traceback, and any lines the trainer logged (written atomically before the store row)."""
    folder = run_dir(workdir, {**outcome["config"], "config_hash": outcome["config_hash"]})
    folder.mkdir(parents=True, exist_ok=True)
    lines = [
        f"config_hash: {outcome['config_hash']}",
        f"config: {outcome['config']}",
        f"status: {outcome['status']}",
        f"started_at: {outcome.get('started_at')}",
        f"finished_at: {outcome.get('finished_at')}",
        f"wall_time_s: {outcome.get('wall_time_s')}",
        f"host: {outcome.get('host')}  device: {outcome.get('device')}",
        f"versions: {outcome.get('versions')}",
        f"metrics: {outcome.get('metrics')}",
        *(f"log: {line}" for line in outcome.get("log", [])),
    ]
    if outcome.get("traceback"):
        lines += ["traceback:", outcome["traceback"]]
    return write_atomic(folder / "run.log", "\n".join(lines) + "\n")


def suite_document(
    suite: Suite, results: list[dict[str, Any]], wall_time_s: float | None = None
) -> dict[str, Any]:
    """The aggregated results of a suite as one JSON-able dict (``results.json``)."""
    return {
        "suite": suite.name,
        "description": suite.description,
        "source": suite.source,
        "compare": list(suite.compare),
        "wall_time_s": wall_time_s,
        "versions": package_versions(),
        "results": results,
    }
