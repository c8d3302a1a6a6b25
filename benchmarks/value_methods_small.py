"""QMIX and RODE against IPPO at equal env steps where QMIX is known to learn: LBF (1), RWARE (1)
and mpe2's ``simple_spread_v3`` (3 agents, discrete actions, 25-step episodes).

    python benchmarks/value_methods_small.py run --env lbf-1 --method qmix --seed 0 \\
        --steps 200000 --results benchmarks/results/value-methods-small/runs.jsonl
    python benchmarks/value_methods_small.py table \\
        --results benchmarks/results/value-methods-small/runs.jsonl

``run`` trains one (env, method, seed) on one torch thread and appends a JSON line to the results
file (skipped when that run, at that budget, is already there): the greedy policy's team return
(the agents' rewards summed over an episode) on 10 evaluation episodes (reset seeds 10,000 to
10,009, the same for every method), the process CPU seconds of training, and the training curve
(the team return of the training episodes, every 20th iteration). ``table`` prints, per env,
every method's mean ± std over seeds, each value method's paired difference to IPPO with its
95% bootstrap CI (:func:`alloc_bench.bootstrap.bootstrap_diff_ci`), and the CPU time.

Methods, every one with one network shared by the agents reading their one-hot id (``ps-id``),
so they see the same inputs:

* ``ippo``: :func:`alloc_agents.train` with ``algorithm="ippo"``; the env's preset of
  :data:`alloc_agents.ppo.PRESETS` (DyPS Table 6's for LBF and RWARE), ``default`` for mpe2;
* ``qmix``: ``algorithm="qmix"`` with :class:`~alloc_agents.qmix.QMIXConfig`'s defaults
  (EPyMARL's QMIX: ε over 50,000 steps, 5,000-episode buffer, batches of 32 episodes);
* ``rode``: ``algorithm="rode"`` with :class:`~alloc_agents.rode.RODEConfig`'s defaults (the
  RODE reference's: roles formed after 50,000 steps);
* ``random``: no training, every agent uniformly random over its valid actions (the floor).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from alloc_bench.bootstrap import bootstrap_diff_ci

EVAL_SEEDS = range(10_000, 10_010)
ENVS = ("lbf-1", "rware-1", "mpe2-spread")
METHODS = ("ippo", "qmix", "rode", "random")
CURVE_EVERY = 20


def make_env_fn(name: str) -> Callable[[], Any]:
    """A zero-argument constructor of the ``ParallelEnv`` ``name``."""
    if name == "lbf-1":
        from alloc_envs.third_party.lbf_env import LBFParallelEnv

        return lambda: LBFParallelEnv(preset="lbf-1")
    if name == "rware-1":
        from alloc_envs.third_party.rware_env import RWAREParallelEnv

        return lambda: RWAREParallelEnv(preset="rware-1")
    if name == "mpe2-spread":
        from mpe2 import simple_spread_v3

        return lambda: simple_spread_v3.parallel_env(N=3, max_cycles=25, continuous_actions=False)
    raise ValueError(f"unknown env {name!r}; envs: {', '.join(ENVS)}")


class RandomPolicy:
    """Every agent uniformly random over its valid actions (its ``action_mask`` when it has
    one); :meth:`reset` seeds it from the run's seed and the episode's."""

    def __init__(self, env_fn: Callable[[], Any], seed: int) -> None:
        self.env = env_fn()
        self.seed = seed
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng([self.seed, 0 if seed is None else seed])

    def act_parallel(self, observations: dict[str, Any]) -> dict[str, int]:
        actions = {}
        for agent, obs in observations.items():
            n = self.env.action_space(agent).n
            mask = obs.get("action_mask") if isinstance(obs, dict) else None
            valid = np.flatnonzero(mask) if mask is not None else np.arange(n)
            actions[agent] = int(self.rng.choice(valid))
        return actions


class Untrained:
    """The result of "training" ``random``: its policy and an empty history."""

    def __init__(self, env_fn: Callable[[], Any], seed: int) -> None:
        self.policy = RandomPolicy(env_fn, seed)
        self.history: list[dict[str, Any]] = []


def train_method(name: str, env: str, seed: int, steps: int) -> Any:
    """Train ``name`` on ``env`` (module docstring); the trainer's result."""
    from alloc_agents import train
    from alloc_agents.ppo import PRESETS

    env_fn = make_env_fn(env)
    common = dict(total_env_steps=steps, seed=seed, device="cpu", progress=False, threads=1)
    if name == "ippo":
        preset = PRESETS.get(env, PRESETS["default"])
        return train(env_fn, algorithm="ippo", sharing="ps-id", config=preset.config,
                     n_envs=preset.n_envs, **common)  # fmt: skip
    if name in ("qmix", "rode"):
        return train(env_fn, algorithm=name, sharing="ps-id", **common)
    if name == "random":
        return Untrained(env_fn, seed)
    raise ValueError(f"unknown method {name!r}; methods: {', '.join(METHODS)}")


def team_returns(policy: Any, env_fn: Callable[[], Any]) -> list[float]:
    """The greedy policy's team return on every evaluation episode."""
    returns = []
    env = env_fn()
    for seed in EVAL_SEEDS:
        obs, _ = env.reset(seed=seed)
        policy.reset(seed)
        total = 0.0
        while env.agents:
            obs, rewards, *_ = env.step(policy.act_parallel(obs))
            total += float(sum(rewards.values()))
        returns.append(total)
    return returns


def load(path: Path) -> list[dict[str, Any]]:
    """The results file's rows (none when it does not exist)."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run(args: argparse.Namespace) -> None:
    key = (args.env, args.method, args.seed, args.steps)
    if any((r["env"], r["method"], r["seed"], r["steps"]) == key for r in load(args.results)):
        print(f"{key} is already in {args.results}")
        return
    start = time.process_time()
    result = train_method(args.method, args.env, args.seed, args.steps)
    cpu_s = time.process_time() - start
    history = result.history
    row = {
        "env": args.env,
        "method": args.method,
        "seed": args.seed,
        "steps": args.steps,
        "eval_returns": team_returns(result.policy, make_env_fn(args.env)),
        "train_cpu_s": cpu_s,
        "curve": [
            [h["env_steps"], h.get("episode_return")] for h in history[::CURVE_EVERY] + history[-1:]
        ],
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    with args.results.open("a") as out:
        out.write(json.dumps(row) + "\n")
    print(json.dumps({k: v for k, v in row.items() if k != "curve"}))


def table(args: argparse.Namespace) -> None:
    rows = load(args.results)
    print("| env | method | seeds | env steps | team return | − IPPO (paired 95% CI) | CPU s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for env in ENVS:
        by_method = {
            m: {r["seed"]: r for r in rows if r["env"] == env and r["method"] == m} for m in METHODS
        }
        ippo = by_method["ippo"]
        for method, runs in by_method.items():
            if not runs:
                continue
            seeds = sorted(runs)
            scores = [float(np.mean(runs[s]["eval_returns"])) for s in seeds]
            steps = {runs[s]["steps"] for s in seeds}
            cpu = np.mean([runs[s]["train_cpu_s"] for s in seeds])
            diff = ""
            paired = [s for s in seeds if s in ippo]
            if method != "ippo" and paired:
                mine = [float(np.mean(runs[s]["eval_returns"])) for s in paired]
                theirs = [float(np.mean(ippo[s]["eval_returns"])) for s in paired]
                d, low, high = bootstrap_diff_ci(mine, theirs, paired=True)
                diff = f"{d:+.2f} [{low:+.2f}, {high:+.2f}]"
            print(
                f"| {env} | {method} | {len(seeds)} | {'/'.join(f'{s:,}' for s in sorted(steps))} "
                f"| {np.mean(scores):.2f} ± {np.std(scores, ddof=1) if len(scores) > 1 else 0:.2f} "
                f"| {diff} | {cpu:,.0f} |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and evaluate one (env, method, seed)")
    r.add_argument("--env", choices=ENVS, required=True)
    r.add_argument("--method", choices=METHODS, required=True)
    r.add_argument("--seed", type=int, required=True)
    r.add_argument("--steps", type=int, required=True)
    r.add_argument("--results", type=Path, required=True)
    t = sub.add_parser("table", help="the Markdown table of a results file")
    t.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    (run if args.command == "run" else table)(args)


if __name__ == "__main__":
    main()
