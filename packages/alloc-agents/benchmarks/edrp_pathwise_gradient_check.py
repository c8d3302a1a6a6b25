"""Where the pathwise leader's gradient points on EDRP: after ``--iterations`` of TIRL with
``leader_gradient="pathwise"``, the gradient of the ORR in the (T, U) charge schedule that the
trained leader plays at the followers' exact equilibrium, three ways:

    python benchmarks/edrp_pathwise_gradient_check.py [--method tirl-pathwise] [--iterations 60]
        [--followers 1000] [--seed 0] [--transition-model kernel|matching]

1. ``model``: the leader's own gradient, through the learned model and the followers' current
   PPO policy (:meth:`~alloc_agents.stackelberg.pathwise.ModelReturn.step`);
2. ``game``: the same through the true game's dynamics (its success kernels and unmatched moves
   as a :class:`~alloc_agents.stackelberg.learned_game.LearnedMatchingGame`), the same followers;
3. ``exact``: at the followers' exact equilibrium (``alloc_envs.stackelberg.sensitivity``,
   temperature 0.5, the scoring of ``edrp_pathwise_leader.py``).

Printed: the three ORRs, the gradients' norms and the cosines between them. ``model`` against
``game`` is P_eta's part of the leader's error; ``game`` against ``exact`` the followers' part
(their learned response to the charge against the equilibrium's). One torch thread.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from edrp_pathwise_leader import v1_trainer  # the sibling script (its folder is on sys.path)

from alloc_agents.stackelberg.learned_game import LearnedMatchingGame
from alloc_agents.stackelberg.pathwise import ModelReturn
from alloc_agents.stackelberg.trainer_config import TRANSITION_MODELS
from alloc_envs.edrp.game import EDRPGame
from alloc_envs.stackelberg.sensitivity import leader_gradient
from alloc_envs.stackelberg.solver import solve_equilibrium

TEMPERATURE = 0.5


def true_dynamics(game: EDRPGame) -> LearnedMatchingGame:
    """The game's own follower laws as a learned matching game (matched: its success kernels;
    unmatched: one-hot rows at ``next_if_unmatched``)."""
    s, a = game.n_states, game.n_actions
    unmatched = np.zeros((game.horizon, s * a, s))
    unmatched[:, np.arange(s * a), game.next_if_unmatched.ravel()] = 1.0
    destinations = np.array(game.success_kernels)
    return LearnedMatchingGame(game, destinations, unmatched.reshape(game.horizon, s, a, s))


def schedule_gradient(objective: ModelReturn, schedule: np.ndarray) -> tuple[float, np.ndarray]:
    """The return of ``objective`` under the (T, U) ``schedule`` and its (T, U) gradient."""
    game = objective.game
    m = torch.tensor(game.initial_distribution, dtype=objective.dtype)
    x = np.array(game.initial_exogenous, dtype=np.float64)
    charges = [torch.tensor(u, dtype=objective.dtype, requires_grad=True) for u in schedule]
    total = torch.zeros((), dtype=objective.dtype)
    for t, u in enumerate(charges):
        reward, m, x = objective.step(t, m, x, u)
        total = total + reward
    gradient = torch.autograd.grad(total, charges)
    return float(total.detach()), torch.stack(gradient).double().numpy()


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float((a * b).sum() / (np.linalg.norm(a) * np.linalg.norm(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--method", default="tirl-pathwise")
    parser.add_argument("--iterations", type=int, default=60)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--transition-model", default=None, choices=TRANSITION_MODELS)
    args = parser.parse_args()
    torch.set_num_threads(1)
    began = time.process_time()
    game, trainer = v1_trainer(
        args.method,
        args.seed,
        args.iterations,
        args.followers,
        transition_model=args.transition_model,
    )
    trainer.train()
    solved = solve_equilibrium(
        game, trainer.leader_policy(), temperature=TEMPERATURE, tolerance=1e-3
    )
    schedule = np.asarray(solved.flow.incentives)
    network, leader = trainer.followers.network, trainer.leader
    results = {
        "model": schedule_gradient(trainer.model_return(), schedule),
        "game": schedule_gradient(ModelReturn(true_dynamics(game), network, leader), schedule),
    }
    weights = np.full((game.horizon, game.n_sites), 1.0 / game.total_demand)
    exact = leader_gradient(game, schedule, weights, temperature=TEMPERATURE, tolerance=1e-3)
    results["exact"] = (exact.value, exact.gradient)
    print(f"{args.method} ({trainer.config.transition_model}) seed {args.seed}, {args.iterations}")
    for name, (orr, gradient) in results.items():
        print(f"  {name}: ORR {orr:.4f}, |dORR/du| {np.linalg.norm(gradient):.4f}")
    for first, second in (("model", "game"), ("game", "exact"), ("model", "exact")):
        print(f"  cos({first}, {second}) = {cosine(results[first][1], results[second][1]):.3f}")
    print(f"  cpu {time.process_time() - began:.0f} s")


if __name__ == "__main__":
    main()
