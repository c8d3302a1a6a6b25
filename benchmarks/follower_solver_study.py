"""How close the §5.1 follower solver (fresh PPO followers) comes to the followers' equilibrium,
per learning rate: the study behind ``alloc_bench.stackelberg.EVAL_FOLLOWER_LR``.

    python benchmarks/follower_solver_study.py --scenario mtfg-n1000 --lr 1e-3 3e-3 --seeds 0 1 2

For every (learning rate, seed): fresh PPO followers (``FollowerPPOConfig`` defaults but ``lr``)
trained for ``--iterations`` N-agent episodes against no incentive (the incentive closest to 0),
then

* **last 10**: the scenario's metric (CR on MTFG, ORR on EDRP) averaged over the last 10
  episodes, what the bench's evaluator reports;
* **mean field**: the same policy's metric on the mean-field flow of the exact model;
* **exploitability**: what a soft best response gains over the policy on its own flow (reward
  units per follower and episode; 0 at the regularised equilibrium);

and one row for the exact equilibrium (``exact_leader_score``: ``solve_equilibrium`` at the
game's follower temperature). One torch thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from alloc_agents.stackelberg import (
    FollowerPPO,
    FollowerPPOConfig,
    evaluate_policy,
    exact_leader_score,
)
from alloc_bench.scenarios import get_scenario
from alloc_bench.stackelberg import game_of
from alloc_envs.stackelberg import no_incentive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default="mtfg-n1000", help="an edrp-n<N> or mtfg-n<N>")
    parser.add_argument("--lr", type=float, nargs="+", default=[1e-3, 3e-3])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--iterations", type=int, default=100, help="follower episodes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    spec = get_scenario(args.scenario)
    game = game_of(spec.make_env)
    metric, tau = spec.rank_by, game.config.follower_temperature
    zero = no_incentive(game)
    exact_metric, _ = exact_leader_score(game, zero, metric)
    print(f"{args.scenario}, no incentive, {args.iterations} follower episodes")
    print(f"| lr | seed | last 10 {metric} | mean-field {metric} | exploitability | s |")
    print("|---|---:|---:|---:|---:|---:|")
    print(f"| exact equilibrium | | | {exact_metric:.4f} | | |")
    for lr in args.lr:
        for seed in args.seeds:
            start = time.perf_counter()
            config = FollowerPPOConfig(
                n_followers=int(spec.env_kwargs["n_followers"]),
                iterations=args.iterations,
                lr=lr,
            )
            followers = FollowerPPO(game, config, seed=seed, device="cpu")
            history = followers.train(zero)
            scored = evaluate_policy(game, followers.acting_policy(), zero, temperature=tau)
            last = np.mean([row[metric] for row in history[-10:]])
            print(
                f"| {lr:g} | {seed} | {last:.4f} | {scored.flow.metrics[metric]:.4f} "
                f"| {scored.exploitability:.2f} | {time.perf_counter() - start:.0f} |"
            )


if __name__ == "__main__":
    main()
