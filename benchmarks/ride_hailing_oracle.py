"""Ride-Hailing's limit: the hindsight oracle beside greedy, nearest and mpc, and what it costs.

Run from the repository root after installing the packages (one core, one thread)::

    OMP_NUM_THREADS=1 python benchmarks/ride_hailing_oracle.py [--presets ride-hailing-1 ...]
        [--modes dispatch reposition] [--seeds 0-4] [--no-reference] [--json out.json]
        [--milp-nodes 50]
    python benchmarks/ride_hailing_oracle.py --horizons 1,2,3,4,6 --presets ride-hailing-1

For each preset, action mode and day (``demand="reference"``, then ``demand="stochastic"`` with
each seed): the oracle (``alloc_envs.ride_hailing.oracle``, default options) — its LP bound, its
plan's GMV and ORR as the environment replays it (checked equal to the oracle's value), the
LP–plan gap and CPU seconds — and each method's GMV as a percentage of the oracle's plan on the
same day: greedy, nearest and mpc in dispatch mode; stay (no moves), random and mpc in
reposition mode (the dispatch rules do not apply there); mpc's CPU milliseconds per step.
Stochastic rows are means over the seeds. Then the best published GMV of the DyPS paper
(read from alloc-bench's shipped tables) and our best learned method (from the alloc-agents
README) as percentages of the mean bound: set against days they did not play (not paired).

``--horizons`` instead plays mpc with each horizon on the reference day and the first seed;
``--summarize a.json b.json ...`` prints the tables of rows saved by earlier ``--json`` runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any

import numpy as np

from alloc_agents import make_policy
from alloc_agents.rule_based import MPCDispatch
from alloc_bench.parsing import parse_seeds
from alloc_bench.published import load_published_tables
from alloc_envs.ride_hailing import RideHailingEnv
from alloc_envs.ride_hailing.oracle import DEFAULT_MILP_NODES, hindsight_oracle

PRESETS = ("ride-hailing-1", "ride-hailing-2")
MODES = ("dispatch", "reposition")
METHODS = {"dispatch": ("greedy", "nearest", "mpc"), "reposition": ("stay", "random", "mpc")}
#: Our best learned method per preset, dispatch mode, stochastic demand: mean GMV over seeds
#: 0-4 x 5 evaluation days (suite reward-sharing; docs/results/reward-sharing.md).
LEARNED_BEST = {
    "ride-hailing-1": ("PS+IPPO-team", 309_069.0),
    "ride-hailing-2": ("PS+IPPO-team", 791_826.0),
}


class _Stay:
    """Reposition mode without moves: every idle driver stays (the matching rule alone)."""

    def reset(self, seed: int | None = None) -> None:
        del seed

    def act(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        return np.zeros(observation["move_mask"].shape)


def _play(env: RideHailingEnv, policy: Any, seed: int) -> tuple[dict[str, Any], float]:
    """One episode: the last info and the policy's CPU milliseconds per step."""
    policy.reset(seed)
    obs, _ = env.reset(seed=seed)
    done, steps, cpu = False, 0, 0.0
    while not done:
        start = time.process_time()
        action = policy.act(obs)
        cpu += time.process_time() - start
        obs, _, _, done, info = env.step(action)
        steps += 1
    return info, 1000.0 * cpu / steps


def day_row(
    preset: str, mode: str, demand: str, seed: int, milp_nodes: int = DEFAULT_MILP_NODES
) -> dict[str, Any]:
    """The oracle (with ``milp_nodes`` branch-and-bound nodes) and every method of ``mode`` on
    one day."""
    env = RideHailingEnv(preset, action_mode=mode, demand=demand)
    env.reset(seed=seed)
    start = time.process_time()
    result = hindsight_oracle(env, milp_nodes=milp_nodes)
    oracle_cpu = time.process_time() - start
    sim, done = env.scenario.sim, False
    while not done:
        _, _, _, done, info = env.step(result.plan.action(sim))
    if abs(info["gmv"] - result.value) > 1e-6 * max(1.0, result.value):
        raise RuntimeError(f"replay gave {info['gmv']} but the oracle said {result.value}")
    row = {
        "preset": preset,
        "mode": mode,
        "demand": demand,
        "seed": seed,
        "bound": result.bound,
        "oracle": result.value,
        "orr": info["orr"],
        "gap": result.gap,
        "plan": result.method,
        "lp_cpu_s": result.lp_cpu_s,
        "milp_cpu_s": result.milp_cpu_s,
        "oracle_cpu_s": oracle_cpu,
    }
    for name in METHODS[mode]:
        policy = _Stay() if name == "stay" else make_policy(name, seed=seed, env=env)
        info, ms = _play(env, policy, seed)
        row[name] = 100.0 * info["gmv"] / result.value
        if name == "mpc":
            row["mpc_ms_per_step"] = ms
    return row


def _mean(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.mean(float(r[key]) for r in rows)


def summary(rows: list[dict[str, Any]]) -> str:
    """The Markdown table: one line per preset, mode and demand (stochastic: seed means)."""
    header = (
        "| preset | mode | demand | LP bound | oracle GMV (ORR) | gap | oracle CPU s (LP + MILP) "
        "| % of oracle | mpc ms/step |\n|---|---|---|---:|---:|---:|---:|---|---:|"
    )
    lines = [header]
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["preset"], row["mode"], row["demand"]), []).append(row)
    for (preset, mode, demand), group in groups.items():
        label = demand if demand == "reference" else f"stochastic, {len(group)} seeds"
        shares = ", ".join(f"{m} {_mean(group, m):.1f}" for m in METHODS[mode])
        cpu = (
            f"{_mean(group, 'oracle_cpu_s'):.0f} ({_mean(group, 'lp_cpu_s'):.0f} + "
            f"{_mean(group, 'milp_cpu_s'):.0f})"
        )
        lines.append(
            f"| {preset} | {mode} | {label} | {_mean(group, 'bound'):,.0f} | "
            f"{_mean(group, 'oracle'):,.0f} ({_mean(group, 'orr'):.3f}) | "
            f"{100 * _mean(group, 'gap'):.3f}% | {cpu} | {shares} | "
            f"{_mean(group, 'mpc_ms_per_step'):.0f} |"
        )
    return "\n".join(lines)


def references(rows: list[dict[str, Any]]) -> str:
    """The paper's best and our best learned GMV as % of the mean dispatch bound."""
    best: dict[str, tuple[float, str, str]] = {}
    for ref, table in load_published_tables().items():
        for e in table.entries:
            if e.metric == "gmv" and e.value > best.get(e.scenario, (0.0, "", ""))[0]:
                best[e.scenario] = (e.value, e.method, ref)
    lines = []
    for preset in dict.fromkeys(r["preset"] for r in rows):
        for demand in ("reference", "stochastic"):
            group = [
                r
                for r in rows
                if (r["preset"], r["mode"], r["demand"]) == (preset, "dispatch", demand)
            ]
            if not group or preset not in best:
                continue
            bound = _mean(group, "bound")
            value, method, ref = best[preset]
            learned, ours = LEARNED_BEST[preset]
            lines.append(
                f"- {preset}, {demand} days (mean bound {bound:,.0f}): paper's best {value:,.0f} "
                f"({method}, {ref}) = {100 * value / bound:.1f}%; our best learned {ours:,.0f} "
                f"({learned}) = {100 * ours / bound:.1f}%"
            )
    return "\n".join(lines)


def horizon_study(presets: list[str], horizons: list[int], seed: int) -> None:
    """mpc's GMV and CPU per step for each horizon (dispatch mode)."""
    for preset in presets:
        for demand, day in (("reference", 0), ("stochastic", seed)):
            env = RideHailingEnv(preset, demand=demand)
            for horizon in horizons:
                policy = MPCDispatch(horizon=horizon)
                policy.attach(env)
                info, ms = _play(env, policy, day)
                print(
                    f"{preset} {demand} seed {day} H={horizon}: GMV {info['gmv']:,.0f} "
                    f"ORR {info['orr']:.3f}, {ms:.1f} ms/step",
                    flush=True,
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", default=list(PRESETS), choices=PRESETS)
    parser.add_argument("--modes", nargs="+", default=list(MODES), choices=MODES)
    parser.add_argument("--seeds", default="0-4", help="stochastic days, e.g. 0-4 or 0,2")
    parser.add_argument("--json", help="write every day's row to this file")
    parser.add_argument(
        "--no-reference", action="store_true", help="play the stochastic seeds only"
    )
    parser.add_argument(
        "--milp-nodes",
        type=int,
        default=DEFAULT_MILP_NODES,
        help="the oracle's MILP nodes (0: the LP and its rounding only)",
    )
    parser.add_argument("--horizons", help="mpc horizon study instead, e.g. 1,2,3,4,6")
    parser.add_argument("--summarize", nargs="+", help="print the tables of saved --json rows")
    args = parser.parse_args()
    if args.summarize:
        rows = []
        for path in args.summarize:
            with open(path, encoding="utf-8") as saved:
                rows += json.load(saved)
        print(summary(rows))
        print(references(rows))
        return
    seeds = parse_seeds(args.seeds)
    if args.horizons:
        horizon_study(args.presets, [int(h) for h in args.horizons.split(",")], seeds[0])
        return
    rows = []
    for preset in args.presets:
        for mode in args.modes:
            days = [] if args.no_reference else [("reference", 0)]
            days += [("stochastic", s) for s in seeds]
            for demand, seed in days:
                row = day_row(preset, mode, demand, seed, args.milp_nodes)
                print(json.dumps(row), flush=True)
                rows.append(row)
    print(summary(rows))
    print(references(rows))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(rows, out, indent=2)


if __name__ == "__main__":
    main()
