"""Throughput of the PPO core: PS vs NoPS IPPO on Ride-Hailing (2) (dispatch mode), on this CPU;
any algorithm × sharing strategy on request.

    python packages/alloc-agents/benchmarks/bench_ppo.py               # ride-hailing-2, 3 its
    python packages/alloc-agents/benchmarks/bench_ppo.py --iterations 5 --n-envs 2 --threads 1

Each configuration trains ``--iterations`` PPO iterations of the preset (144-step rollouts from
``--n-envs`` env copies, one epoch of 1024-agent-step minibatches) and reports, over the
iterations after the first (warm-up), the rollout and update seconds per iteration, env steps/s
and agent-steps/s (one agent-step = one cell's decision) for the rollout alone and end to end.
The env alone (all-STAY actions through the same PettingZoo view) is timed for reference. The
last lines are each strategy's time per iteration over PS's (the issue asks for NoPS within 2x
of PS; DyPS's group selection and role-model updates count in its rollout time).

    python packages/alloc-agents/benchmarks/bench_ppo.py --preset ride-hailing-1 --n-envs 5 \
        --sharing ps dyps --iterations 4

``--algorithms ippo copo`` times every sharing strategy with each algorithm (one process, the
same preset and seed) and prints each algorithm's time per iteration over IPPO's, per strategy;
CoPO's LCF meta-update is part of its update time (``lcf_s`` column of its runs).

    python packages/alloc-agents/benchmarks/bench_ppo.py --preset ride-hailing-1 --n-envs 5 \
        --sharing ps --algorithms ippo copo --iterations 4
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import numpy as np
import torch

from alloc_agents.ppo import get_preset, train
from alloc_envs.ride_hailing import RideHailingParallelEnv


def env_alone(preset: str, n_envs: int, steps: int) -> float:
    """Seconds for ``steps`` lockstep steps of ``n_envs`` copies with all-STAY actions."""
    envs = [RideHailingParallelEnv(preset=preset) for _ in range(n_envs)]
    stay = np.zeros(50, dtype=np.int64)
    for e, env in enumerate(envs):
        env.reset(seed=e)
    start = time.perf_counter()
    for _ in range(steps):
        for e, env in enumerate(envs):
            if not env.agents:
                env.reset(seed=e)
            env.step({a: stay for a in env.agents})
    return time.perf_counter() - start


def run(
    preset: str, sharing: str, n_envs: int, iterations: int, device: str, algorithm: str = "ippo"
) -> dict:
    config = get_preset(preset).config.replace(checkpoint_every=10**6)
    steps_per_iter = config.n_steps * n_envs

    def env_fn() -> RideHailingParallelEnv:
        return RideHailingParallelEnv(preset=preset)

    result = train(
        env_fn,
        algorithm=algorithm,
        sharing=sharing,
        total_env_steps=iterations * steps_per_iter,
        n_envs=n_envs,
        seed=0,
        device=device,
        config=config,
        progress=False,
    )
    rows = result.history[1:] if len(result.history) > 1 else result.history
    rollout = statistics.mean(r["rollout_s"] for r in rows)
    update = statistics.mean(r["update_s"] for r in rows)
    agents = result.history[-1]["agent_steps"] / len(result.history)  # per iteration
    n_params = sum(p.numel() for p in result.model.parameters())
    extra = {"lcf_s": statistics.mean(r["lcf_s"] for r in rows)} if "lcf_s" in rows[0] else {}
    return {
        **extra,
        "algorithm": algorithm,
        "sharing": sharing,
        "params": n_params,
        "rollout_s": rollout,
        "update_s": update,
        "rollout_env_sps": steps_per_iter / rollout,
        "rollout_agent_sps": agents / rollout,
        "total_env_sps": steps_per_iter / (rollout + update),
        "total_agent_sps": agents / (rollout + update),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="ride-hailing-2")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--n-envs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sharing", nargs="+", default=["ps", "nops"])
    parser.add_argument("--algorithms", nargs="+", default=["ippo"])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(
        f"# {args.preset}, dispatch, {'/'.join(a.upper() for a in args.algorithms)}, "
        f"{args.n_envs} env copies x 144 steps per iteration, "
        f"{args.iterations} iterations (first excluded), device {args.device}, "
        f"{args.threads} torch thread(s), {platform.machine()}, torch {torch.__version__}"
    )
    env_s = env_alone(args.preset, args.n_envs, 144)
    print(f"env alone (all STAY): {144 * args.n_envs / env_s:,.0f} env steps/s\n")
    print(
        "| algorithm | sharing | parameters | rollout s/it | update s/it | rollout env steps/s | "
        "rollout agent-steps/s | end-to-end env steps/s | end-to-end agent-steps/s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    results = {}
    by_algorithm: dict[tuple[str, str], dict] = {}
    for algorithm in args.algorithms:
        for sharing in args.sharing:
            r = run(args.preset, sharing, args.n_envs, args.iterations, args.device, algorithm)
            by_algorithm[(algorithm, sharing)] = r
            if algorithm == args.algorithms[0]:
                results[sharing] = r
            print(
                f"| {algorithm} | {sharing} | {r['params']:,} | {r['rollout_s']:.2f} | "
                f"{r['update_s']:.2f} | "
                f"{r['rollout_env_sps']:,.0f} | {r['rollout_agent_sps']:,.0f} | "
                f"{r['total_env_sps']:,.0f} | {r['total_agent_sps']:,.0f} |"
            )
    ps = results.get("ps")
    for sharing, r in results.items():
        if ps is None or sharing == "ps":
            continue
        print(
            f"{sharing} / PS time per iteration: rollout {r['rollout_s'] / ps['rollout_s']:.2f}x, "
            f"update {r['update_s'] / ps['update_s']:.2f}x, end to end "
            f"{(r['rollout_s'] + r['update_s']) / (ps['rollout_s'] + ps['update_s']):.2f}x"
        )
    for (algorithm, sharing), r in by_algorithm.items():
        base = by_algorithm.get(("ippo", sharing))
        if base is None or algorithm == "ippo":
            continue
        lcf = f" (of which the LCF meta-update {r['lcf_s']:.2f} s/it)" if "lcf_s" in r else ""
        print(
            f"{algorithm} / IPPO time per iteration with {sharing}: rollout "
            f"{r['rollout_s'] / base['rollout_s']:.2f}x, update "
            f"{r['update_s'] / base['update_s']:.2f}x{lcf}, end to end "
            f"{(r['rollout_s'] + r['update_s']) / (base['rollout_s'] + base['update_s']):.2f}x"
        )


if __name__ == "__main__":
    main()
