"""Parameters, memory and time of one PPO iteration per sharing strategy on Medical (3,130 agents).

    python packages/alloc-agents/benchmarks/bench_medical_memory.py
    python packages/alloc-agents/benchmarks/bench_medical_memory.py --sharing ps nops --n-envs 1

Each strategy runs in a fresh process (so that its peak resident memory is its own): it builds
the ``medical`` scenario's PettingZoo view and trains IPPO with the strategy for one iteration of
the ``medical`` preset's configuration (62-step rollouts from ``--n-envs`` env copies, then the
update), on one torch thread. Printed per strategy: parameter sets (members) and parameters of
the actor and critic networks, their size in MiB (float32), the process's peak resident memory
(``ru_maxrss``) and the CPU seconds of the iteration (the whole ``train`` call, the building
of its env copies included). SePS and DyPS: the iteration runs their pre-training / first
selection, not a later re-clustering.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
from typing import Any

STRATEGIES = ("ps", "ps-id", "nops", "psa", "seps", "dyps")


def measure(sharing: str, n_envs: int) -> dict[str, Any]:
    """One strategy's figures (module docstring), measured in this process."""
    import torch

    from alloc_agents.ppo import get_preset, train
    from alloc_envs.vaccine import VaccineAllocationParallelEnv

    torch.set_num_threads(1)
    preset = get_preset("medical")
    config = preset.config.replace(checkpoint_every=10**6)
    start = time.process_time()

    def env_fn() -> VaccineAllocationParallelEnv:
        return VaccineAllocationParallelEnv(preset="medical")

    result = train(env_fn, algorithm="ippo", sharing=sharing,
                   total_env_steps=config.n_steps * n_envs, n_envs=n_envs, seed=0, device="cpu",
                   config=config, progress=False)  # fmt: skip
    seconds = time.process_time() - start
    params = sum(p.numel() for p in result.model.parameters())
    members = sum(int(g.n_members) for g in result.model.groups)
    return {
        "sharing": sharing,
        "members": members,
        "params": params,
        "mib": params * 4 / 2**20,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "cpu_s": seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sharing", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    parser.add_argument("--n-envs", type=int, default=1)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    print("| sharing | members | parameters | MiB | peak RSS MiB | CPU s per iteration |")
    print("|---|---:|---:|---:|---:|---:|")
    for sharing in args.sharing:
        with context.Pool(1) as pool:
            row = pool.apply(measure, (sharing, args.n_envs))
        print(f"| {row['sharing']} | {row['members']:,} | {row['params']:,} | {row['mib']:.2f} | "
              f"{row['peak_rss_mib']:,.0f} | {row['cpu_s']:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
