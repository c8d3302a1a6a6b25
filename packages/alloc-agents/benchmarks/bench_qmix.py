"""QMIX's cost per env step against PS+IPPO's on Ride-Hailing, in CPU time on one torch thread.

    python packages/alloc-agents/benchmarks/bench_qmix.py                       # RH (1)
    python packages/alloc-agents/benchmarks/bench_qmix.py --preset ride-hailing-2 --rounds 2

In one process, alternating A and B ``--rounds`` times:

* A, PS+IPPO: one ``train`` call of ``--ppo-iterations`` iterations of the preset's PPO
  configuration (144-step rollouts from the preset's env copies; building, rollouts, updates);
* B, QMIX: ``--days`` days of the preset's QMIX configuration in steady state (one day played
  ε-greedily, then its ``updates_per_iteration`` updates on batches from a buffer already holding
  ``batch_episodes`` days, filled before the clock starts).

Prints CPU seconds per env step of each (min and median over rounds), and QMIX's over PS+IPPO's
of the minima and of the medians.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from alloc_agents.ppo import get_preset, train
from alloc_agents.ppo.runner import Runner
from alloc_agents.qmix import QMIX_PRESETS
from alloc_agents.qmix.episodes import ReplayBuffer, collate
from alloc_agents.qmix.learner import QMIXLearner
from alloc_agents.qmix.model import QMIXModel
from alloc_agents.qmix.trainer import play_episodes
from alloc_envs.ride_hailing import RideHailingParallelEnv


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


def qmix_seconds(preset: str, days: int) -> float:
    """CPU seconds per env step of QMIX in steady state (module docstring)."""
    config = QMIX_PRESETS[preset]
    device, generator = torch.device("cpu"), torch.Generator().manual_seed(0)
    runner = Runner(lambda: RideHailingParallelEnv(preset=preset), 1, 0, centralised=True)
    runner.reset_all()
    model = QMIXModel(runner.layout, "ps-id", runner.central_dim, config)
    learner, buffer = QMIXLearner(model, config), ReplayBuffer(config.buffer_episodes)
    while len(buffer) < config.batch_episodes:
        for episode in play_episodes(runner, model, 1.0, generator, config, device)[0]:
            buffer.add(episode)
    start, steps = time.process_time(), 0
    for _ in range(days):
        episodes, _ = play_episodes(runner, model, 0.1, generator, config, device)
        for episode in episodes:
            buffer.add(episode)
            steps += episode.length
        for _ in range(config.updates_per_iteration):
            learner.update(collate(buffer.sample(config.batch_episodes, generator), device))
    return (time.process_time() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--preset", default="ride-hailing-1", choices=["ride-hailing-1", "ride-hailing-2"]
    )
    parser.add_argument("--ppo-iterations", type=int, default=2)
    parser.add_argument("--days", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    ppo, qmix = [], []
    for _ in range(args.rounds):
        ppo.append(ppo_seconds(args.preset, args.ppo_iterations))
        qmix.append(qmix_seconds(args.preset, args.days))
    for name, values in (("PS+IPPO", ppo), ("QMIX", qmix)):
        print(f"{name}: {1e3 * min(values):.2f} ms per env step (min), "
              f"{1e3 * statistics.median(values):.2f} (median), {args.rounds} rounds")  # fmt: skip
    print(f"QMIX / PS+IPPO: x{min(qmix) / min(ppo):.2f} (minima), "
          f"x{statistics.median(qmix) / statistics.median(ppo):.2f} (medians)")  # fmt: skip


if __name__ == "__main__":
    main()
