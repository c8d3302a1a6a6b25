"""Throughput of the PPO core on Ride-Hailing (dispatch mode), today's code beside a baseline
revision, in CPU time and one torch thread.

    python packages/alloc-agents/benchmarks/bench_ppo.py                # RH(2), PS NoPS DyPS
    python packages/alloc-agents/benchmarks/bench_ppo.py --preset ride-hailing-1 --n-envs 5 \\
        --sharing ps dyps --algorithms ippo copo --iterations 3 --rounds 2

Each row trains ``--iterations`` PPO iterations of the preset's training config (144-step
rollouts from ``--n-envs`` env copies) from a fresh start in a worker process of each version
(``benchmarks/side_by_side.py``: the two versions are asked in turn, ``--rounds`` times) and
reports env steps per CPU second (the whole ``train`` call: building, rollouts and updates;
torch's one-off import of ``torch._dynamo`` at a process's first optimiser is done before the
clock) of the baseline and of this checkout, and the speed-up of the medians and of the
minima. The last lines give each strategy's time per env step over PS's, per version.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import side_by_side


def train_seconds(
    preset: str, algorithm: str, sharing: str, n_envs: int, iterations: int
) -> list[float]:
    """CPU seconds per env step of one ``train`` call of ``iterations`` iterations."""
    import time

    import torch

    from alloc_agents.ppo import get_preset, train
    from alloc_envs.ride_hailing import RideHailingParallelEnv

    torch.set_num_threads(1)
    # torch imports torch._dynamo (~1.5 CPU s) when a process builds its first optimiser: a
    # cost per process, not per env step, so it is paid before the clock starts.
    torch.optim.Adam([torch.zeros(1, requires_grad=True)])
    config = get_preset(preset).config.replace(checkpoint_every=10**6)
    steps = iterations * config.n_steps * n_envs
    start = time.process_time()
    train(
        lambda: RideHailingParallelEnv(preset=preset),
        algorithm=algorithm,
        sharing=sharing,
        total_env_steps=steps,
        n_envs=n_envs,
        seed=0,
        device="cpu",
        config=config,
        progress=False,
    )
    return [(time.process_time() - start) / steps]


JOBS = {"train": train_seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="ride-hailing-2")
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--sharing", nargs="+", default=["ps", "nops", "dyps"])
    parser.add_argument("--algorithms", nargs="+", default=["ippo"])
    parser.add_argument("--baseline", default=side_by_side.DEFAULT_BASELINE)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        side_by_side.serve(JOBS)
        return
    jobs = [
        (
            f"{algorithm} | {sharing}",
            "train",
            {
                "preset": args.preset,
                "algorithm": algorithm,
                "sharing": sharing,
                "n_envs": args.n_envs,
                "iterations": args.iterations,
            },
        )
        for algorithm in args.algorithms
        for sharing in args.sharing
    ]
    rows = side_by_side.compare(Path(__file__), jobs, args.baseline, args.rounds)
    print(
        f"# PPO on {args.preset}, dispatch, {args.n_envs} env copies x 144 steps per iteration, "
        f"{args.iterations} iterations per run, {args.rounds} runs per version, one torch "
        f"thread, CPU time, {side_by_side.machine()}, baseline {args.baseline}"
    )
    print("\n".join(side_by_side.table(rows, "algorithm | sharing", "env steps/s", True)))
    by_name = {row.name: row for row in rows}
    for algorithm in args.algorithms:
        ps = by_name.get(f"{algorithm} | ps")
        for sharing in args.sharing:
            row = by_name[f"{algorithm} | {sharing}"]
            if ps is None or sharing == "ps":
                continue
            print(
                f"{algorithm}: {sharing} / PS time per env step: baseline "
                f"{statistics.median(row.baseline) / statistics.median(ps.baseline):.2f}x, new "
                f"{statistics.median(row.new) / statistics.median(ps.new):.2f}x"
            )


if __name__ == "__main__":
    main()
