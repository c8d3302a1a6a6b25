"""Execute one run: a pure function of its :class:`~alloc_bench.config.RunConfig`.

Seeding (the same as :func:`alloc_bench.evaluate.evaluate` for one seed ``s``):

* a fresh environment and a fresh policy: ``make_policy(method, seed=s, family=...)`` for a
  rule-based method, or the policy the method's trainer returns after ``train_steps`` steps
  seeded with ``s`` (see :mod:`alloc_bench.methods`);
* evaluation episode 0 starts with ``policy.reset(s)`` and ``env.reset(seed=s)``; episodes
  1..E-1 with ``reset()`` without a seed, continuing the generators seeded at episode 0.

The run's value of a metric is its mean over the E evaluation episodes (``statistics.mean``);
the per-episode values are kept too. :func:`execute_run` is what workers call: it takes and
returns JSON-able dicts and never raises (a failure is an outcome with ``status="failed"``).
"""

from __future__ import annotations

import platform
import statistics
import time
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alloc_bench.config import RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.methods import LEARNED, load_entry, rule_based
from alloc_bench.scenarios import EPISODE_RETURN, Scenario, get_scenario
from alloc_bench.versions import run_versions

#: Upper bound on steps per episode; an environment that never ends is a bug, not a result.
MAX_EPISODE_STEPS = 10**6


class RunLog:
    """What a trainer reports during a run: learning-curve points, group maps, device, notes;
    and two settings it honours: ``progress`` (show training progress on stderr: ``alloc-bench
    evaluate``; suites show their own per-run lines instead) and ``threads`` (torch CPU
    threads; ``None``: one)."""

    def __init__(self, *, progress: bool = False, threads: int | None = None) -> None:
        self.progress = progress
        self.threads = threads
        self.curve_points: list[dict[str, Any]] = []
        self.group_maps: list[dict[str, Any]] = []
        self.device = "cpu"
        self.lines: list[str] = []

    def curve(self, step: int, **metrics: float) -> None:
        """A learning-curve point: ``metrics`` (e.g. ``gmv=...``) after ``step`` env steps."""
        self.curve_points.append(
            {"step": int(step), "metrics": {k: float(v) for k, v in metrics.items()}}
        )

    def groups(
        self,
        step: int,
        assignment: Sequence[int],
        shape: Sequence[int] | None = None,
        diagnostics: Mapping[str, float] | None = None,
    ) -> None:
        """The group of every agent after ``step`` env steps (DyPS); ``shape`` = (rows,
        columns) of Ride-Hailing's hexagonal grid (agent i on cell i), drawn as the paper's
        Figure 6b map; ``None`` draws the agents in a row. ``diagnostics``: the selector's
        numbers at that step (e.g. ``entropy_ratio``, ``switched``), kept with the map."""
        record: dict[str, Any] = {
            "step": int(step),
            "assignment": [int(g) for g in assignment],
            "shape": None if shape is None else [int(n) for n in shape],
        }
        if diagnostics:
            record["diagnostics"] = {k: float(v) for k, v in diagnostics.items()}
        self.group_maps.append(record)

    def note(self, line: str) -> None:
        """A line for the run's log file."""
        self.lines.append(str(line))


def run_episode(
    env: Any, policy: Any, scenario: Scenario, seed: int | None = None
) -> dict[str, float]:
    """Play one episode; the scenario's metrics from the last step's ``info``.

    The metric ``"return"`` (:data:`~alloc_bench.scenarios.EPISODE_RETURN`) is the sum of the
    environment's (team) rewards over the episode; every other metric is read from ``info``.
    ``seed`` is passed to ``env.reset`` and ``policy.reset`` (``None``: continue their
    generators).

    Raises:
        BenchError: the policy or the environment raised ``ValueError`` (e.g. a dispatch-only
            policy in reposition mode), or a metric is missing from ``info``.
    """
    try:
        policy.reset(seed)
        obs, info = env.reset(seed=seed)
        episode_return = 0.0
        for _ in range(MAX_EPISODE_STEPS):
            obs, reward, terminated, truncated, info = env.step(policy.act(obs))
            episode_return += float(reward)
            if terminated or truncated:
                break
        else:
            raise RuntimeError(f"episode did not end within {MAX_EPISODE_STEPS} steps")
    except ValueError as exc:
        if isinstance(exc, BenchError):
            raise
        name = getattr(policy, "name", type(policy).__name__)
        raise BenchError(f"method {name!r} on scenario {scenario.name!r}: {exc}") from exc
    values = {**info, EPISODE_RETURN: episode_return}
    missing = [name for name in scenario.metric_names if name not in values]
    if missing:
        raise BenchError(f"scenario {scenario.name!r}: info of the last step lacks {missing}")
    return {name: float(values[name]) for name in scenario.metric_names}


def make_run_policy(config: RunConfig, spec: Scenario, workdir: Path | None, log: RunLog) -> Any:
    """The policy a run evaluates: a rule-based one, or the result of training."""
    rules = rule_based(spec.family)
    if config.method in rules:
        return rules[config.method](seed=config.seed)
    if config.method in LEARNED:
        trainer = LEARNED[config.method].load_trainer()
        if workdir is not None:
            workdir.mkdir(parents=True, exist_ok=True)
        return trainer(
            lambda: spec.make_env(config.options),
            method=config.method,
            seed=config.seed,
            train_steps=config.budget.train_steps,
            workdir=workdir,
            log=log,
            scenario=spec.name,
            make_parallel_env=lambda: spec.make_parallel_env(config.options),
        )
    raise BenchError(f"method {config.method!r} is not available for scenario {spec.name!r}")


def evaluate_policy(policy: Any, spec: Scenario, config: RunConfig) -> list[dict[str, float]]:
    """The metrics of each of the run's ``eval_episodes`` evaluation episodes: played on a
    fresh Gymnasium view (:func:`run_episode`), or given by the scenario's ``evaluator``."""
    episodes = config.budget.eval_episodes
    if spec.evaluator:
        evaluator = load_entry(spec.evaluator)
        return evaluator(policy, spec, config.options, config.seed, episodes)
    env = spec.make_env(config.options)
    attach = getattr(policy, "attach", None)
    if callable(attach):  # reference policies (mpc, oracle) plan with their environment
        attach(env)
    try:
        return [
            run_episode(env, policy, spec, config.seed if e == 0 else None) for e in range(episodes)
        ]
    finally:
        env.close()


def perform_run(
    config: RunConfig,
    workdir: Path | None = None,
    *,
    progress: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """Run ``config``; raises on failure (see :func:`execute_run` for the outcome dict).

    ``progress``: the trainer shows its progress on stderr; ``threads``: torch CPU threads of a
    learned method's run (``None``: one; set here and by the trainer). Neither changes the
    run's numbers' definition (they are not part of the config).

    Returns:
        ``metrics`` (per metric, mean over episodes), ``episodes`` (one dict per evaluation
        episode), ``curve`` and ``groups`` (what a trainer logged), ``device`` and ``log`` lines.
    """
    spec = get_scenario(config.scenario)
    log = RunLog(progress=progress, threads=threads)
    if config.method in LEARNED:  # rule-based runs need no torch
        from alloc_agents.threads import set_threads

        set_threads(threads)
    policy = make_run_policy(config, spec, workdir, log)
    episodes = evaluate_policy(policy, spec, config)
    metrics = {m: float(statistics.mean(ep[m] for ep in episodes)) for m in spec.metric_names}
    return {
        "metrics": metrics,
        "episodes": episodes,
        "curve": log.curve_points,
        "groups": log.group_maps,
        "device": log.device,
        "log": log.lines,
    }


def utc_now() -> str:
    """The current UTC time, ISO 8601 with microseconds."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


def execute_run(
    config: dict[str, Any], workdir: str | None = None, threads: int | None = None
) -> dict[str, Any]:
    """Worker entry point: run the config dict (:meth:`RunConfig.to_dict`) with ``threads``
    torch threads (``None``: one), never raise.

    Returns:
        An outcome dict: ``config_hash``, ``config``, ``status`` (``"finished"`` or
        ``"failed"``), ``metrics``, ``episodes``, ``curve``, ``groups`` (empty when failed),
        ``error`` (one line, failed only), ``traceback``, ``wall_time_s`` (seconds of this run),
        ``started_at`` / ``finished_at`` (UTC ISO 8601), ``versions``, ``device``, ``host``,
        ``log`` (lines).
    """
    started = utc_now()
    start = time.perf_counter()
    run = RunConfig.from_dict(config)
    outcome: dict[str, Any] = {
        "config_hash": run.config_hash,
        "config": run.to_dict(),
        "status": "finished",
        "metrics": {},
        "episodes": [],
        "curve": [],
        "groups": [],
        "error": "",
        "traceback": "",
        "device": "cpu",
        "log": [],
    }
    try:
        folder = None if workdir is None else Path(workdir)
        outcome.update(perform_run(run, folder, threads=threads))
    except Exception as exc:  # a failed run is an outcome, recorded and retried later
        outcome.update(
            status="failed",
            error=f"{type(exc).__name__}: {exc}".splitlines()[0],
            traceback=traceback.format_exc(),
        )
    outcome.update(
        wall_time_s=time.perf_counter() - start,
        started_at=started,
        finished_at=utc_now(),
        versions=run_versions(),
        host=platform.node(),
    )
    return outcome
