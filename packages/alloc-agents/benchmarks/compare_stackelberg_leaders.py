"""A short learning run of several leader trainers, then the §5.1 evaluation of each trained
leader against the zero incentive and the scenario's hand-made rule.

    python packages/alloc-agents/benchmarks/compare_stackelberg_leaders.py
    python packages/alloc-agents/benchmarks/compare_stackelberg_leaders.py --preset edrp-small \
        --methods smfu m3rl ebpg --iterations 100
    python packages/alloc-agents/benchmarks/compare_stackelberg_leaders.py --preset mtfg \
        --methods smfu --iterations 300 --leader-lr 3e-3 --eval-seeds 0 [--blind-followers]

For each method (``make_trainer`` names; default SMFU and the M3RL and EBPG baselines), on one
CPU thread: train ``--iterations`` outer iterations with N = ``--followers`` followers and seed
``--seed`` (default settings otherwise), then fix the leader's deterministic policy and
re-train fresh PPO followers against it (:func:`evaluate_leader`: N = ``--followers``,
``--eval-iterations`` episodes, seeds ``--eval-seeds``), reporting the metric (CR on MTFG, ORR
on EDRP) and the leader's return over the last 10 episodes. The row ``none`` evaluates the
incentive closest to zero (:func:`alloc_envs.stackelberg.no_incentive`) the same way, and the
row ``rule`` the scenario's hand-made leader (MTFG: ``value_gap_bonus``; EDRP:
``oversupply_charge``). The ``exact`` columns score every leader against the followers' exact
regularised equilibrium (:func:`alloc_envs.stackelberg.solve_equilibrium`, the mean field, the
game's follower temperature): the leader's return and metric when the followers best respond,
with no learning noise. ``--leader-lr`` sets the trainers' leader learning rate and
``--blind-followers`` trains against followers that do not observe the incentive
(``FollowerPPOConfig(observe_incentive=False)``).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from alloc_agents.stackelberg import (  # noqa: E402
    METHODS,
    evaluate_leader,
    exact_leader_score,
    make_trainer,
)
from alloc_agents.stackelberg.config import FollowerPPOConfig  # noqa: E402
from alloc_envs.edrp import make_game as edrp_game  # noqa: E402
from alloc_envs.edrp import oversupply_charge  # noqa: E402
from alloc_envs.mtfg import make_game as mtfg_game  # noqa: E402
from alloc_envs.mtfg import value_gap_bonus  # noqa: E402
from alloc_envs.stackelberg import no_incentive  # noqa: E402

PRESETS = {"edrp": edrp_game, "edrp-small": edrp_game, "mtfg": mtfg_game, "mtfg-small": mtfg_game}
RULES = {"edrp": oversupply_charge, "mtfg": value_gap_bonus}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="mtfg-small")
    parser.add_argument(
        "--methods", nargs="+", choices=sorted(METHODS), default=["smfu", "m3rl", "ebpg"]
    )
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--followers", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--eval-iterations", type=int, default=40)
    parser.add_argument("--eval-seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--leader-lr", type=float, default=None)
    parser.add_argument("--blind-followers", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)

    def game():
        return PRESETS[args.preset](args.preset)

    evaluation = FollowerPPOConfig(n_followers=args.followers, iterations=args.eval_iterations)
    print(
        f"{args.preset}, N = {args.followers:,}, {args.iterations} iterations, seed {args.seed}; "
        f"evaluation: {args.eval_iterations} follower iterations, seeds {args.eval_seeds}, "
        f"leader lr {args.leader_lr or 'default'}, followers "
        f"{'blind to' if args.blind_followers else 'observing'} the incentive, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print()
    print(
        "| leader | train s | train s/it | train first 10 / last 10: leader return (metric) "
        "| eval metric (mean ± std) | eval leader return | exact metric | exact leader return |"
    )
    print("|---|---:|---:|---|---:|---:|---:|---:|")
    rule = RULES[args.preset.removesuffix("-small")](game())
    leaders: list[tuple[str, object, str, str, str]] = [
        ("none", no_incentive(game()), "-", "-", "-"),
        ("rule", rule, "-", "-", "-"),
    ]

    def summary(rows: list[dict], key: str) -> str:
        returns = np.mean([r["leader_return"] for r in rows])
        return f"{returns:.3f} ({np.mean([r[key] for r in rows]):.3f})"

    for method in args.methods:
        follower = FollowerPPOConfig(
            n_followers=args.followers, observe_incentive=not args.blind_followers
        )
        lr = {} if args.leader_lr is None else {"leader_lr": args.leader_lr}
        trainer = make_trainer(
            method,
            game(),
            seed=args.seed,
            device="cpu",
            iterations=args.iterations,
            follower=follower,
            progress=False,
            **lr,
        )
        began = time.perf_counter()
        rows = trainer.train()
        spent = time.perf_counter() - began
        key = "cr" if "cr" in rows[-1] else "orr"
        last = f"{summary(rows[:10], key)} / {summary(rows[-10:], key)}"
        leaders.append(
            (method, trainer.leader_policy(), f"{spent:.1f}", f"{spent / len(rows):.3f}", last)
        )
    for name, leader, spent, per_iteration, last in leaders:
        result = evaluate_leader(game, leader, evaluation, args.eval_seeds, device="cpu")
        exact = exact_leader_score(game(), leader, result.metric)
        print(
            f"| {name} | {spent} | {per_iteration} | {last} | {result.mean:.3f} ± "
            f"{result.std:.3f} | {result.leader_return.mean():.3f} | {exact[0]:.3f} | "
            f"{exact[1]:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
