"""Speed of the ride-hailing environment: episodes per second per preset, view and policy.

Run from the repository root after installing the packages::

    python benchmarks/bench_ride_hailing.py [--episodes 20] [--json out.json]

The process is pinned to one CPU core (where the OS allows it). Every row is timed over whole
episodes (reset + 144 steps + the policy's actions) and reported with its ratio to the baseline
row of the same preset, ``gym/stay``: the Gymnasium view stepped with an all-STAY action, i.e.
the simulator's own cost with no matching work and no policy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable

import numpy as np

from alloc_agents import make_policy
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv

PRESETS = ("ride-hailing-1", "ride-hailing-2")


def _gym_episode(env: RideHailingEnv, act: Callable, seed: int) -> None:
    obs, _ = env.reset(seed=seed)
    truncated = False
    while not truncated:
        obs, _, _, truncated, _ = env.step(act(obs))


def _parallel_episode(env: RideHailingParallelEnv, policy, seed: int) -> None:
    obs, _ = env.reset(seed=seed)
    while env.agents:
        obs, _, _, _, _ = env.step(policy.act_parallel(obs))


def _time(run: Callable[[int], None], episodes: int) -> float:
    """Seconds per episode (median over ``episodes`` timed episodes, after one warm-up)."""
    run(10_000)
    times = []
    for seed in range(episodes):
        start = time.perf_counter()
        run(seed)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bench(preset: str, episodes: int) -> list[dict]:
    rows = []
    for demand in ("stochastic", "reference"):
        env = RideHailingEnv(preset=preset, demand=demand)
        stay = np.zeros(env.action_space.shape, dtype=np.int64)
        cases: dict[str, Callable[[int], None]] = {
            "gym/stay": lambda s, env=env, a=stay: _gym_episode(env, lambda _obs: a, s)
        }
        for name in ("greedy", "nearest", "random"):
            policy = make_policy(name, seed=0)
            cases[f"gym/{name}"] = lambda s, env=env, p=policy: _gym_episode(env, p.act, s)
        par = RideHailingParallelEnv(preset=preset, demand=demand)
        greedy = make_policy("greedy", seed=0)
        cases["parallel/greedy"] = lambda s, par=par, p=greedy: _parallel_episode(par, p, s)
        repo = RideHailingEnv(preset=preset, demand=demand, action_mode="reposition")
        rnd = make_policy("random", seed=0)
        cases["gym-reposition/random"] = lambda s, e=repo, p=rnd: _gym_episode(e, p.act, s)
        baseline = None
        for case, run in cases.items():
            seconds = _time(run, episodes)
            baseline = baseline or seconds
            rows.append(
                {
                    "preset": preset,
                    "demand": demand,
                    "case": case,
                    "ms_per_episode": 1000 * seconds,
                    "episodes_per_s": 1 / seconds,
                    "ratio_to_gym_stay": seconds / baseline,
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=20, help="timed episodes per row")
    parser.add_argument("--json", help="also write the rows to this JSON file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    rows = [row for preset in PRESETS for row in bench(preset, args.episodes)]
    print(f"# ride-hailing speed, {platform.processor() or platform.machine()}, one core")
    print("| preset | demand | view/policy | ms/episode | episodes/s | x gym/stay |")
    print("|---|---|---|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['demand']} | {r['case']} | {r['ms_per_episode']:.1f} "
            f"| {r['episodes_per_s']:.1f} | {r['ratio_to_gym_stay']:.2f} |"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
