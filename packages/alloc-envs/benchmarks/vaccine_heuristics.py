"""Infections and deaths averted by the rule-based vaccine allocators (``alloc_agents``).

Plays one episode per seed of every policy of ``alloc_agents.POLICIES["vaccine"]`` on each preset
(seed s: ``policy.reset(s)``, ``env.reset(seed=s)``, as the benchmark runner does) and prints
Markdown tables of the last step's metrics, mean ± std (population std) over the seeds:
infections averted (people and % of the no-vaccination infections of the same seed) and deaths
averted (deaths within the 63 days, and the eventual deaths of the infections averted).

    python packages/alloc-envs/benchmarks/vaccine_heuristics.py [--seeds 5]
        [--preset medical-small --preset medical] [--csv results.csv] [key=value ...]

Extra ``key=value`` arguments are environment options (e.g. ``dynamics=stochastic``). Needs
``alloc-agents`` installed next to ``alloc-envs``.
"""

from __future__ import annotations

import argparse
import ast
import csv
import time

import numpy as np

from alloc_agents import POLICIES, make_policy
from alloc_envs.vaccine import VaccineAllocationEnv

METRICS = (
    "infections_averted",
    "infections_averted_pct",
    "deaths_averted",
    "deaths_averted_pct",
    "deaths_averted_eventual",
    "infections_no_vaccine",
    "deaths_no_vaccine",
    "doses_given",
)


def play(env: VaccineAllocationEnv, name: str, seed: int) -> dict[str, float]:
    """The last step's metrics of one episode of policy ``name`` with ``seed``."""
    policy = make_policy(name, seed=seed, family="vaccine")
    policy.reset(seed)
    obs, info = env.reset(seed=seed)
    truncated = False
    while not truncated:
        obs, _, _, truncated, info = env.step(policy.act(obs))
    return {key: float(info[key]) for key in METRICS}


def _parse_option(text: str) -> tuple[str, object]:
    key, _, value = text.partition("=")
    try:
        return key, ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return key, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--preset", action="append", choices=["medical-small", "medical"])
    parser.add_argument("--csv", help="also write one row per (preset, policy, seed) here")
    parser.add_argument("options", nargs="*", help="environment options key=value")
    args = parser.parse_args()
    options = dict(_parse_option(o) for o in args.options)
    rows = []
    for preset in args.preset or ["medical-small", "medical"]:
        env = VaccineAllocationEnv(preset, **options)
        start = time.perf_counter()
        results = {
            name: [play(env, name, seed) for seed in range(args.seeds)]
            for name in POLICIES["vaccine"]
        }
        elapsed = time.perf_counter() - start
        base = results["none"]
        cfg = env.config
        print(
            f"\n### {preset}: {cfg.n_regions} regions, {cfg.population:,} people, "
            f"{args.seeds} seeds, options {options or 'none'} ({elapsed:.1f} s)\n"
        )
        inf0 = np.array([r["infections_no_vaccine"] for r in base])
        d0 = np.array([r["deaths_no_vaccine"] for r in base])
        print(
            f"No vaccination: {inf0.mean():,.0f} ± {inf0.std():,.0f} infections, "
            f"{d0.mean():,.1f} ± {d0.std():,.1f} deaths in 63 days.\n"
        )
        print(
            "| policy | infections averted | % | deaths averted (63 days) | % "
            "| eventual deaths averted |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        for name, runs in results.items():
            cols = {k: np.array([r[k] for r in runs]) for k in METRICS}

            def cell(key: str, fmt: str, cols=cols) -> str:
                return f"{cols[key].mean():{fmt}} ± {cols[key].std():{fmt}}"

            print(
                f"| {name} | {cell('infections_averted', ',.0f')} "
                f"| {cell('infections_averted_pct', '.1f')} | {cell('deaths_averted', ',.1f')} "
                f"| {cell('deaths_averted_pct', '.1f')} "
                f"| {cell('deaths_averted_eventual', ',.1f')} |"
            )
            rows += [{"preset": preset, "policy": name, "seed": s, **r} for s, r in enumerate(runs)]
    if args.csv:
        with open(args.csv, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["preset", "policy", "seed", *METRICS])
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
