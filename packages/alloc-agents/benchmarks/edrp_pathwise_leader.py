"""TIRL with the pathwise leader gradient (``leader_gradient="pathwise"``) on EDRP, the trained
(mean) leader scored at the followers' exact equilibrium every ``--every`` iterations:

    python benchmarks/edrp_pathwise_leader.py [--method tirl-pathwise] [--iterations 320]
        [--every 20] [--followers 1000] [--seed 0] [--pathwise-steps 10]
        [--transition-model kernel|matching]

EDRP is the default preset (``alloc_envs.edrp.make_game("edrp")``, v1), PPO followers with the
defaults and N = ``--followers``; ``--transition-model`` sets TIRL's P_eta (default: the
method's). Each line: the iteration, the exact-equilibrium ORR of the mean
leader (``solve_equilibrium``, temperature 0.5, exploitability 1e-3), the model's ORR of the last
generated episode, the model's error: the ORR of the mean-field flow of the followers' current
policy and the mean leader on the learned game against the same flow on the true game (the
same policies, so the difference is P_eta's alone), the charges over the equilibrium flow (mean
and sd over the T x U entries) and the process CPU seconds of training and of the scoring, on
one torch thread. References on the same game (alloc-envs): no charge 0.8183, the exact-gradient
leader's fixed per-zone charges 0.9398, the planner's ceiling 0.9540.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg import FollowerPPOConfig, make_trainer
from alloc_agents.stackelberg.trainer_config import TRANSITION_MODELS
from alloc_envs.edrp import make_game
from alloc_envs.stackelberg.fokker_planck import rollout
from alloc_envs.stackelberg.solver import solve_equilibrium


def v1_trainer(
    method: str, seed: int, iterations: int, followers: int, **options: Any
) -> tuple[Any, Any]:
    """EDRP v1 and a ``method`` trainer on it (CPU, N = ``followers``); ``options`` that are
    None are left at the method's defaults."""
    game = make_game("edrp")
    extra = {key: value for key, value in options.items() if value is not None}
    trainer = make_trainer(
        method,
        game,
        seed=seed,
        iterations=iterations,
        follower=FollowerPPOConfig(n_followers=followers),
        progress=False,
        device="cpu",
        **extra,
    )
    return game, trainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="tirl-pathwise")
    parser.add_argument("--iterations", type=int, default=320)
    parser.add_argument("--every", type=int, default=20)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pathwise-steps", type=int, default=None)
    parser.add_argument("--transition-model", default=None, choices=TRANSITION_MODELS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    began = time.process_time()
    game, trainer = v1_trainer(
        args.method,
        args.seed,
        args.iterations,
        args.followers,
        pathwise_steps=args.pathwise_steps,
        transition_model=args.transition_model,
    )
    train_cpu, score_cpu = time.process_time() - began, 0.0
    while trainer.iteration < args.iterations:
        began = time.process_time()
        rows = trainer.train(min(args.every, args.iterations - trainer.iteration))
        train_cpu += time.process_time() - began
        began = time.process_time()
        solved = solve_equilibrium(game, trainer.leader_policy(), temperature=0.5, tolerance=1e-3)
        score_cpu += time.process_time() - began
        u = np.asarray(solved.flow.incentives)
        policy, leader = trainer.followers.acting_policy(0), trainer.leader_policy()
        on_model = rollout(trainer.learned_game(), policy, leader).metrics["orr"]
        on_game = rollout(game, policy, leader).metrics["orr"]
        print(
            f"{args.method} ({trainer.config.transition_model}) seed {args.seed} "
            f"iteration {trainer.iteration}: "
            f"exact ORR {solved.flow.metrics['orr']:.4f}, model ORR {rows[-1]['orr']:.4f}, "
            f"same followers on model / game {on_model:.4f} / {on_game:.4f}, "
            f"charge mean {u.mean():.3f} sd {u.std():.3f}, "
            f"train cpu {train_cpu:.0f} s, scoring cpu {score_cpu:.0f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
