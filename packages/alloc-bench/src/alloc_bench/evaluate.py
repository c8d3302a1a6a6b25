"""Evaluate one method on one scenario over a list of seeds.

Seeding (a run is a pure function of scenario, method, options, seeds and episodes):

* every seed ``s`` gets a fresh environment and a fresh policy
  ``make_policy(method, seed=s, family=scenario.family)``;
* episode 0 of seed ``s`` starts with ``policy.reset(s)`` and ``env.reset(seed=s)``;
* episodes 1..E-1 of seed ``s`` start with ``policy.reset()`` and ``env.reset()`` without a seed,
  so they continue the generators seeded at episode 0 (different, reproducible episodes).

A seed's numbers are the mean over its episodes of each metric, read from the ``info`` of the
episode's last step (the environment reports episode-to-date values). ``mean`` and ``std`` are
taken across seeds; ``std`` is the population standard deviation (``ddof=0``; one seed gives 0).
Both are computed exactly (``statistics.mean`` / ``statistics.pstdev``), so identical values give
a std of exactly 0.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping
from typing import Any

from alloc_agents import POLICIES, make_policy
from alloc_bench.errors import BenchError
from alloc_bench.parsing import check_seeds
from alloc_bench.scenarios import Scenario, get_scenario
from alloc_bench.versions import package_versions

#: Degrees of freedom of the reported standard deviation (0 = population std across seeds,
#: ``statistics.pstdev``).
STD_DDOF = 0
#: Upper bound on steps per episode; an environment that never ends is a bug, not a result.
MAX_EPISODE_STEPS = 10**6


def check_method(name: str, scenario: Scenario) -> str:
    """``name`` if it is a method of ``scenario``, else a :class:`BenchError` listing them."""
    known = POLICIES.get(scenario.family, {})
    if name not in known:
        raise BenchError(
            f"unknown method {name!r} for scenario {scenario.name!r}; known methods: "
            f"{', '.join(sorted(known))}"
        )
    return name


def run_episode(
    env: Any, policy: Any, scenario: Scenario, seed: int | None = None
) -> dict[str, float]:
    """Play one episode; the scenario's metrics from the last step's ``info``.

    ``seed`` is passed to ``env.reset`` and ``policy.reset`` (``None``: continue their
    generators).

    Raises:
        BenchError: the policy or the environment raised ``ValueError`` (e.g. a dispatch-only
            policy in reposition mode), or a metric is missing from ``info``.
    """
    try:
        policy.reset(seed)
        obs, info = env.reset(seed=seed)
        for _ in range(MAX_EPISODE_STEPS):
            obs, _, terminated, truncated, info = env.step(policy.act(obs))
            if terminated or truncated:
                break
        else:
            raise RuntimeError(f"episode did not end within {MAX_EPISODE_STEPS} steps")
    except ValueError as exc:
        if isinstance(exc, BenchError):
            raise
        raise BenchError(f"method {policy.name!r} on scenario {scenario.name!r}: {exc}") from exc
    missing = [name for name in scenario.metric_names if name not in info]
    if missing:
        raise BenchError(f"scenario {scenario.name!r}: info of the last step lacks {missing}")
    return {name: float(info[name]) for name in scenario.metric_names}


def evaluate(
    scenario: str,
    method: str,
    seeds: Iterable[int],
    episodes: int = 1,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Run ``episodes`` episodes per seed of ``method`` on ``scenario`` (see the module doc).

    Args:
        scenario: a name in :data:`alloc_bench.scenarios.SCENARIOS`.
        method: a name in ``alloc_agents.POLICIES[family]`` of the scenario's family.
        seeds: distinct non-negative ints.
        episodes: episodes per seed (>= 1).
        options: environment overrides (e.g. ``{"demand": "reference"}``), validated by the env.

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
    opts = dict(options or {})
    per_seed: list[dict[str, Any]] = []
    for seed in seed_list:
        env = spec.make_env(opts)
        policy = make_policy(method, seed=seed, family=spec.family)
        try:
            runs = [
                run_episode(env, policy, spec, seed if e == 0 else None) for e in range(episodes)
            ]
        finally:
            env.close()
        row: dict[str, Any] = {"seed": seed}
        row.update({m: float(statistics.mean(r[m] for r in runs)) for m in spec.metric_names})
        per_seed.append(row)
    table = {m: [row[m] for row in per_seed] for m in spec.metric_names}
    return {
        "scenario": spec.name,
        "method": method,
        "options": opts,
        "seeds": seed_list,
        "episodes": episodes,
        "mean": {m: float(statistics.mean(v)) for m, v in table.items()},
        "std": {m: float(statistics.pstdev(v)) for m, v in table.items()},
        "std_ddof": STD_DDOF,
        "per_seed": per_seed,
        "wall_time_s": time.perf_counter() - start,
        "versions": package_versions(),
    }
