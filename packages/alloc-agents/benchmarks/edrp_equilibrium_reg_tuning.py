"""The §4.3 regularisers of Reg-TIRL-equilibrium (entropy weight lambda, L1 weight delta, weight
clip c), tuned on a seed that no results table reports:

    python benchmarks/edrp_equilibrium_reg_tuning.py [--seed 9] [--followers 1000] \\
        [--settings 0.01,1e-4,1 0.001,1e-5,1 ...]

Each setting ``lambda,delta,c`` (``c`` = ``none``: no clip) trains ``tirl-equilibrium`` on EDRP
v1 with those regularisers for K1 + ``equilibrium_steps`` outer iterations (10 N-agent episodes,
then the 50 leader steps on the learned model: everything the leader learns in a suite run; the
generated follower iterations after them do not move it) and prints the trained leader's
exact-equilibrium ORR and the process CPU seconds, on one torch thread. The default settings are
the grid the chosen values (:data:`alloc_agents.stackelberg.methods.EQUILIBRIUM_REGULARISERS`)
were picked from: the largest regularisation whose ORR is within 0.001 of the best.

References on the same game: no charge 0.8183, the exact leader's schedule 0.9462.
"""

from __future__ import annotations

import argparse
import time

import torch

from alloc_agents.stackelberg import FollowerPPOConfig, make_trainer, method_config
from alloc_envs.edrp import make_game
from alloc_envs.edrp.exact_leader import equilibrium_orr

#: The grid measured (lambda, delta, c), the untuned defaults first.
GRID = (
    "0.01,1e-4,1",
    "0.01,1e-4,none",
    "0,1e-4,1",
    "0.001,1e-4,1",
    "0,1e-5,1",
    "0.001,1e-5,1",
    "0.003,1e-5,1",
)


def parse_setting(text: str) -> tuple[float, float, float | None]:
    """``"lambda,delta,c"`` -> the three values (``c`` ``none`` -> ``None``)."""
    parts = text.split(",")
    if len(parts) != 3:
        raise ValueError(f"a setting is lambda,delta,c (c may be 'none'), got {text!r}")
    clip = None if parts[2].strip().lower() == "none" else float(parts[2])
    return float(parts[0]), float(parts[1]), clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--followers", type=int, default=1000)
    parser.add_argument("--settings", nargs="+", default=list(GRID))
    args = parser.parse_args()
    torch.set_num_threads(1)
    game = make_game("edrp")
    defaults = method_config("tirl-equilibrium")
    iterations = defaults.model_episodes + defaults.equilibrium_steps
    print(f"seed {args.seed}, N = {args.followers}, {iterations} outer iterations\n")
    print("| lambda | delta | c | exact ORR | CPU s |")
    print("|---:|---:|---:|---:|---:|")
    for text in args.settings:
        entropy, l1, clip = parse_setting(text)
        began = time.process_time()
        trainer = make_trainer(
            "tirl-equilibrium",
            game,
            seed=args.seed,
            device="cpu",
            iterations=iterations,
            entropy_coef=entropy,
            l1_coef=l1,
            weight_clip=clip,
            follower=FollowerPPOConfig(n_followers=args.followers),
            progress=False,
        )
        trainer.train()
        orr = equilibrium_orr(game, trainer.leader_policy())
        seconds = time.process_time() - began
        shown = "none" if clip is None else f"{clip:g}"
        print(f"| {entropy:g} | {l1:g} | {shown} | {orr:.4f} | {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
