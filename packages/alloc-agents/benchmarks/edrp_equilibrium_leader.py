"""TIRL's equilibrium leader gradient (``leader_gradient="equilibrium"``) on EDRP v1, measured in
three parts, on one torch thread:

    python benchmarks/edrp_equilibrium_leader.py [--followers 1000] [--seed 0] [--steps 20]

1. **The gradient's tolerance**: ``alloc_envs.stackelberg.sensitivity.leader_gradient`` at
   random charges (uniform in [0, 0.5]) warm-started from the equilibrium of charges 0.01
   away, at the step's settings (exploitability 1e-4, fixed-point residual 1e-6) and at the
   defaults (1e-6, 1e-12): the process CPU seconds of each and the cosine between the two
   gradients.
2. **The learned model**: after TIRL's K1 = 10 N-agent episodes (N = ``--followers``), the
   model game (the learned matching laws) against the true game: the exact-equilibrium ORR of
   no charge and of the exact-gradient leader's fixed charges on each, and how many valid
   (state, action) pairs the model's unmatched move gets right.
3. **The steps**: ``--steps`` leader steps on the model game from the trained leader after K1,
   each followed by the trained (mean) leader's exact-equilibrium ORR on the true game; and the
   same from a fresh leader with the true game as the model (what the model costs).

References on the same game: no charge 0.8183, the exact leader's fixed charges 0.9398, its
schedule 0.9462, the planner's ceiling 0.9540.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from alloc_agents.stackelberg import FollowerPPOConfig, make_trainer
from alloc_agents.stackelberg.equilibrium_leader import (
    FIXED_POINT_RESIDUAL,
    SOLVER_TOLERANCE,
    EquilibriumLeaderStep,
    model_matching_game,
)
from alloc_envs.edrp import make_game
from alloc_envs.edrp.exact_leader import equilibrium_orr, exact_leader
from alloc_envs.stackelberg.sensitivity import leader_gradient


def tolerance_part(game) -> None:
    """Part 1 of the module docstring."""
    rng = np.random.default_rng(0)
    weights = np.full((game.horizon, game.n_sites), 1.0 / game.total_demand)
    u = rng.uniform(0.0, 0.5, (game.horizon, game.n_incentives))
    start = leader_gradient(game, u, weights, temperature=0.5).policy
    u = np.clip(u + rng.uniform(-0.01, 0.01, u.shape), game.incentive_low, game.incentive_high)
    results = {}
    for name, tolerance, residual in (
        ("step's", SOLVER_TOLERANCE, FIXED_POINT_RESIDUAL),
        ("default", 1e-6, 1e-12),
    ):
        began = time.process_time()
        results[name] = leader_gradient(
            game,
            u,
            weights,
            temperature=0.5,
            initial_policy=start,
            tolerance=tolerance,
            fixed_point_residual=residual,
        )
        print(f"gradient at the {name} settings: {time.process_time() - began:.2f} CPU s")
    a, b = results["step's"].gradient, results["default"].gradient
    cosine = float((a * b).sum() / np.linalg.norm(a) / np.linalg.norm(b))
    print(f"cosine between them {cosine:.6f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    torch.set_num_threads(1)
    game = make_game("edrp")
    tolerance_part(game)

    trainer = make_trainer(
        "tirl-equilibrium",
        game,
        seed=args.seed,
        device="cpu",
        follower=FollowerPPOConfig(n_followers=args.followers),
        progress=False,
    )
    trainer.train(trainer.config.model_episodes)
    model = model_matching_game(trainer.learned_game())
    valid = game.action_mask
    right = (model.next_if_unmatched == game.next_if_unmatched)[valid].sum()
    print(f"unmatched moves right on {right} of {valid.sum()} valid (state, action) pairs")
    fixed, _ = exact_leader(game)
    for name, charges in (
        ("no charge", np.zeros(game.n_incentives)),
        ("exact fixed", fixed.charges),
    ):
        print(
            f"{name}: exact ORR on the game {equilibrium_orr(game, charges):.4f}, "
            f"on the model {equilibrium_orr(model, charges):.4f}"
        )

    fresh = make_trainer("tirl-equilibrium", game, seed=args.seed, device="cpu", progress=False)
    runs = (
        ("learned model, after K1", trainer, trainer.equilibrium_objective()),
        ("true game, fresh leader", fresh, EquilibriumLeaderStep(game, fresh.leader, 0.5)),
    )
    for name, owner, objective in runs:
        began = time.process_time()
        line = []
        for step in range(1, args.steps + 1):
            objective.step()
            if step % 5 == 0 or step == 1:
                line.append(f"{step}: {equilibrium_orr(game, owner.leader_policy()):.4f}")
        spent = time.process_time() - began
        print(f"{name}: exact ORR after steps {', '.join(line)} ({spent:.0f} CPU s)")


if __name__ == "__main__":
    main()
