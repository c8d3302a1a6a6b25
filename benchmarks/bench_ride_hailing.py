"""Speed of the ride-hailing environment, today's code beside a baseline revision, in CPU time.

Run from the repository root after installing the packages::

    python benchmarks/bench_ride_hailing.py [--episodes 5] [--rounds 4] [--baseline b506be5]

Every row times whole episodes (reset + 144 steps + the policy's actions) in process CPU time,
in two worker processes, one per version (``benchmarks/side_by_side.py``), asked in turn. It
prints the median milliseconds per episode of each version and the speed-up (baseline / new)
of the medians and of the minima. ``gym/stay`` steps the Gymnasium view with all-STAY actions
(the simulator's own cost); ``parallel/greedy`` is the PettingZoo view with the greedy
dispatcher's ``act_parallel``; the last lines give the PettingZoo view's cost over the
Gymnasium view's, per version.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import side_by_side  # a sibling module (the script's folder is on sys.path)

PRESETS = ("ride-hailing-1", "ride-hailing-2")
#: (name, view, policy, environment keyword arguments) of every row of a preset.
CASES = (
    ("gym/stay", "gym", "stay", {}),
    ("gym/greedy", "gym", "greedy", {}),
    ("gym/greedy, reference demand", "gym", "greedy", {"demand": "reference"}),
    ("gym/nearest", "gym", "nearest", {}),
    ("gym/random", "gym", "random", {}),
    ("parallel/greedy", "parallel", "greedy", {}),
    ("gym-reposition/random", "gym", "random", {"action_mode": "reposition"}),
)


def episode_seconds(
    preset: str, view: str, policy: str, env_kwargs: dict, episodes: int
) -> list[float]:
    """CPU seconds of each of ``episodes`` episodes (seeds 0, 1, ...) after a warm-up."""
    import numpy as np

    from alloc_agents import make_policy
    from alloc_envs.ride_hailing import RideHailingEnv, RideHailingParallelEnv

    if view == "gym":
        env = RideHailingEnv(preset=preset, **env_kwargs)
        act = make_policy(policy, seed=0).act if policy != "stay" else None
        stay = np.zeros(env.action_space.shape, dtype=np.int64)
        seeds = iter(range(10**6))

        def run() -> None:
            obs, _ = env.reset(seed=next(seeds))
            truncated = False
            while not truncated:
                obs, _, _, truncated, _ = env.step(stay if act is None else act(obs))

    else:
        par = RideHailingParallelEnv(preset=preset, **env_kwargs)
        chosen = make_policy(policy, seed=0)
        seeds = iter(range(10**6))

        def run() -> None:
            obs, _ = par.reset(seed=next(seeds))
            while par.agents:
                obs, _, _, _, _ = par.step(chosen.act_parallel(obs))

    return side_by_side.cpu_seconds(run, episodes)


JOBS = {"episode": episode_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=5, help="timed episodes per turn")
    parser.add_argument("--rounds", type=int, default=4, help="turns per version and row")
    parser.add_argument("--baseline", default=side_by_side.DEFAULT_BASELINE)
    parser.add_argument("--presets", nargs="+", default=list(PRESETS))
    parser.add_argument("--json", help="also write the rows to this JSON file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        side_by_side.serve(JOBS)
        return
    jobs = [
        (
            f"{preset} | {name}",
            "episode",
            {
                "preset": preset,
                "view": view,
                "policy": policy,
                "env_kwargs": kwargs,
                "episodes": args.episodes,
            },
        )
        for preset in args.presets
        for name, view, policy, kwargs in CASES
    ]
    rows = side_by_side.compare(Path(__file__), jobs, args.baseline, args.rounds)
    print(
        f"# ride-hailing episodes, CPU time, {side_by_side.machine()}, baseline "
        f"{args.baseline}, {args.rounds} x {args.episodes} episodes per version and row"
    )
    print("\n".join(side_by_side.table(rows, "preset | view/policy", "ms")))
    by_name = {row.name: row for row in rows}
    for preset in args.presets:
        gym, par = by_name[f"{preset} | gym/greedy"], by_name[f"{preset} | parallel/greedy"]
        print(
            f"{preset}: parallel / gym view (greedy): baseline "
            f"{par.baseline_ms / gym.baseline_ms:.2f}x, new {par.new_ms / gym.new_ms:.2f}x"
        )
    if args.json:
        out = [{"name": r.name, "baseline_s": r.baseline, "new_s": r.new} for r in rows]
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
