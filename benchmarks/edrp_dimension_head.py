"""EDRP leaders with one head shared by the 63 zone charges (``leader_head="per_dimension"``),
trained at the paper suites' budget and scored at the followers' exact equilibrium:

    python benchmarks/edrp_dimension_head.py [--methods tirl smfu] [--seeds 0 1 2]
        [--heads per_dimension joint] [--followers 1000] [--iterations 300]

Each run is what ``alloc-bench run --suite tirl-edrp`` trains for ``edrp-n<followers>`` (K = 300
outer iterations, PPO followers with the defaults, N = ``--followers``), with the leader head
changed; it is then scored as ``edrp_leader_headroom.py`` scores leaders (exact ORR, the
charges over the equilibrium flow), against no charge. "train s" is the trainer's wall-clock on
one torch thread. The ``joint`` head is the paper's leader: the same runs as ``tirl-edrp``'s.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from edrp_leader_headroom import HEADER, score_row

from alloc_agents.stackelberg import FollowerPPOConfig, make_trainer
from alloc_bench.scenarios import get_scenario
from alloc_bench.stackelberg import game_of


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--methods", nargs="+", default=["tirl", "smfu"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--heads", nargs="+", default=["per_dimension", "joint"])
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    game = game_of(get_scenario(f"edrp-n{args.followers}").make_env)
    print(HEADER)
    print("|---|---:|---:|---:|---:|---:|")
    baseline = score_row("no charge", game, np.zeros(game.n_zones), None)
    for method in args.methods:
        for head in args.heads:
            for seed in args.seeds:
                trainer = make_trainer(
                    method,
                    game,
                    seed=seed,
                    iterations=args.iterations,
                    follower=FollowerPPOConfig(n_followers=args.followers),
                    leader_head=head,
                    progress=False,
                )
                start = time.perf_counter()
                trainer.train()
                seconds = time.perf_counter() - start
                name = f"{method}, {head}, seed {seed} ({seconds:.0f} s)"
                score_row(name, game, trainer.leader_policy(), baseline)


if __name__ == "__main__":
    main()
