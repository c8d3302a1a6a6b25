"""QMIX's and RODE's cost per env step against PS+IPPO's on Ride-Hailing, in CPU time on one
torch thread.

    python packages/alloc-agents/benchmarks/bench_value_methods.py              # RH (1)
    python packages/alloc-agents/benchmarks/bench_value_methods.py --preset ride-hailing-2

In one process, alternating A, B and C ``--rounds`` times:

* A, PS+IPPO: one ``train`` call of ``--ppo-iterations`` iterations of the preset's PPO
  configuration (144-step rollouts from the preset's env copies; building, rollouts, updates);
* B, QMIX, and C, RODE: ``--days`` days of the preset's configuration in steady state (one day
  played ε-greedily, then its ``updates_per_iteration`` updates on batches from a buffer already
  holding ``batch_episodes`` days, filled before the clock starts; RODE with its roles formed,
  its forward model no longer training, as in most of a run).

With ``--baseline`` a third row times RODE before its roles form (its forward model training
at every update, the first ``role_update_steps`` of a run).

Prints CPU seconds per env step of each (min and median over rounds), and each value method's
over PS+IPPO's of the minima and of the medians.

With ``--baseline REV`` it instead times QMIX and RODE (B and C) of this checkout beside those
of the git revision ``REV``, in two worker processes asked in turn
(``benchmarks/side_by_side.py``), and prints the speed-ups (baseline / new) of the medians and
of the minima::

    python packages/alloc-agents/benchmarks/bench_value_methods.py --preset ride-hailing-2 \
        --days 2 --rounds 3 --baseline 573bdde
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from alloc_agents.ppo import get_preset, train
from alloc_agents.ppo.runner import Runner
from alloc_agents.qmix import QMIX_PRESETS
from alloc_agents.qmix.acting import play_episodes
from alloc_agents.qmix.episodes import ReplayBuffer, collate
from alloc_agents.qmix.learner import QMIXLearner
from alloc_agents.qmix.model import QMIXModel
from alloc_agents.rode import RODE_PRESETS
from alloc_agents.rode.learner import RODELearner
from alloc_agents.rode.model import RODEModel
from alloc_envs.ride_hailing import RideHailingParallelEnv

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "benchmarks"))
import side_by_side  # the repository's benchmarks folder


def ppo_seconds(preset: str, iterations: int) -> float:
    """CPU seconds per env step of one PS+IPPO ``train`` call."""
    setup = get_preset(preset)
    config = setup.config.replace(checkpoint_every=10**6)
    steps = iterations * config.n_steps * setup.n_envs
    start = time.process_time()
    train(lambda: RideHailingParallelEnv(preset=preset), algorithm="ippo", sharing="ps",
          total_env_steps=steps, n_envs=setup.n_envs, seed=0, device="cpu", config=config,
          progress=False)  # fmt: skip
    return (time.process_time() - start) / steps


def value_seconds(algorithm: str, preset: str, days: int) -> float:
    """CPU seconds per env step of ``algorithm``: ``"qmix"`` or ``"rode"`` in steady state, or
    ``"rode-before-roles"`` (module docstring)."""
    device, generator = torch.device("cpu"), torch.Generator().manual_seed(0)
    runner = Runner(lambda: RideHailingParallelEnv(preset=preset), 1, 0, centralised=True)
    runner.reset_all()
    if algorithm == "qmix":
        config = QMIX_PRESETS[preset]
        model = QMIXModel(runner.layout, "ps-id", runner.central_dim, config)
        learner = QMIXLearner(model, config)
    else:
        config = RODE_PRESETS[preset]
        learner = RODELearner(RODEModel(runner.layout, "ps-id", runner.central_dim, config), config)
    buffer = ReplayBuffer(config.buffer_episodes)

    def play(epsilon: float) -> tuple:
        return play_episodes(
            runner, learner.actor(), epsilon, generator, config.reward_scale, False, device
        )

    while len(buffer) < config.batch_episodes:
        for episode in play(1.0)[0]:
            buffer.add(episode)
    if algorithm == "rode":
        learner.form_roles(buffer, generator)
    start, steps = time.process_time(), 0
    for _ in range(days):
        episodes, _ = play(0.1)
        for episode in episodes:
            buffer.add(episode)
            steps += episode.length
        for _ in range(config.updates_per_iteration):
            learner.update(collate(buffer.sample(config.batch_episodes, generator), device))
    return (time.process_time() - start) / steps


def value_job(algorithm: str, preset: str, days: int) -> list[float]:
    """:func:`value_seconds` as a ``side_by_side`` job (one thread)."""
    torch.set_num_threads(1)
    return [value_seconds(algorithm, preset, days)]


def compare_with(baseline: str, preset: str, days: int, rounds: int) -> None:
    """QMIX and RODE of this checkout beside ``baseline``'s (module docstring)."""
    jobs = [
        (name, "value", {"algorithm": algorithm, "preset": preset, "days": days})
        for name, algorithm in (
            ("QMIX", "qmix"),
            ("RODE", "rode"),
            ("RODE, before the roles", "rode-before-roles"),
        )
    ]
    rows = side_by_side.compare(Path(__file__), jobs, baseline, rounds)
    print(
        f"# {preset}, {days} days per run after the buffer is filled, {rounds} runs per "
        f"version, one torch thread, CPU time, {side_by_side.machine()}, baseline {baseline}"
    )
    print("\n".join(side_by_side.table(rows, "method", "ms/env step")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset", default="ride-hailing-1", choices=["ride-hailing-1", "ride-hailing-2"]
    )
    parser.add_argument("--ppo-iterations", type=int, default=2)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision to time QMIX and RODE beside")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        side_by_side.serve({"value": value_job})
        return
    if args.baseline:
        compare_with(args.baseline, args.preset, args.days, args.rounds)
        return
    torch.set_num_threads(1)
    seconds: dict[str, list[float]] = {"PS+IPPO": [], "QMIX": [], "RODE": []}
    for _ in range(args.rounds):
        seconds["PS+IPPO"].append(ppo_seconds(args.preset, args.ppo_iterations))
        seconds["QMIX"].append(value_seconds("qmix", args.preset, args.days))
        seconds["RODE"].append(value_seconds("rode", args.preset, args.days))
    for name, values in seconds.items():
        print(f"{name}: {1e3 * min(values):.2f} ms per env step (min), "
              f"{1e3 * statistics.median(values):.2f} (median), {args.rounds} rounds")  # fmt: skip
    ppo = seconds["PS+IPPO"]
    for name in ("QMIX", "RODE"):
        values = seconds[name]
        print(f"{name} / PS+IPPO: x{min(values) / min(ppo):.2f} (minima), "
              f"x{statistics.median(values) / statistics.median(ppo):.2f} (medians)")  # fmt: skip


if __name__ == "__main__":
    main()
