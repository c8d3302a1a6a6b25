"""PPO followers (model-free) vs the exact follower solver on the default EDRP and MTFG presets.

    python packages/alloc-agents/benchmarks/bench_stackelberg_followers.py
    python packages/alloc-agents/benchmarks/bench_stackelberg_followers.py --iterations 40 \
        --n-followers 1000 --leader rule

For each scenario (default presets: EDRP 63 zones / S = 189 / 36 slots, MTFG 10 x 10 / 24 steps)
and one leader (``none``: no incentive; ``rule``: EDRP's oversupply charge, closed loop on the
distribution, or MTFG's value-gap bonus), on one CPU thread:

* **exact**: :func:`~alloc_envs.stackelberg.solve_equilibrium` from the uniform policy at the
  preset's follower temperature and tolerance (OMD): wall-clock, exploitability, ORR / CR of its
  mean-field flow;
* **uniform**: the uniform policy's exploitability and ORR / CR (the starting point);
* **PPO**: :class:`~alloc_agents.stackelberg.FollowerPPO` with the default config (N followers
  per rollout, one rollout per iteration) trained ``--iterations`` iterations from scratch:
  wall-clock (training plus the exact scoring at the checkpoints), the exploitability of the
  learned policy table at 1/4, 1/2, 3/4 and all of the budget (regularised at the same
  temperature, on the mean-field model), ORR / CR of its mean-field flow, and the mean ORR / CR
  of the last 10 training episodes of N followers (the paper's "last 10 episodes").
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

from alloc_agents.stackelberg import FollowerPPO, FollowerPPOConfig, evaluate_policy  # noqa: E402
from alloc_envs.edrp import make_game as edrp_game  # noqa: E402
from alloc_envs.edrp import oversupply_charge  # noqa: E402
from alloc_envs.mtfg import make_game as mtfg_game  # noqa: E402
from alloc_envs.mtfg import value_gap_bonus  # noqa: E402
from alloc_envs.stackelberg import no_incentive, solve_equilibrium, uniform_policy  # noqa: E402

SCENARIOS = {
    "edrp": (edrp_game, "orr", oversupply_charge),
    "mtfg": (mtfg_game, "cr", value_gap_bonus),
}


def ppo_config(args: argparse.Namespace) -> FollowerPPOConfig:
    """The default config with the command line's N and iterations."""
    return FollowerPPOConfig(n_followers=args.n_followers, iterations=args.iterations)


def measure(name: str, args: argparse.Namespace) -> list[str]:
    """Markdown rows (exact, uniform, PPO) for scenario ``name``."""
    make_game, metric, rule = SCENARIOS[name]
    game = make_game(name)
    leader = no_incentive(game) if args.leader == "none" else rule(game)
    tau = game.config.follower_temperature

    began = time.perf_counter()
    exact = solve_equilibrium(game, leader, temperature=tau, tolerance=game.config.solver_tolerance)
    exact_s = time.perf_counter() - began
    uniform = evaluate_policy(game, uniform_policy(game, game.horizon), leader, temperature=tau)

    learner = FollowerPPO(game, ppo_config(args), seed=args.seed, device="cpu")
    began = time.perf_counter()
    history = learner.train(leader, evaluate_every=max(1, args.iterations // 4))
    ppo_s = time.perf_counter() - began
    learned = learner.evaluate(leader)
    curve = " / ".join(f"{r['exploitability']:.3g}" for r in history if "exploitability" in r)
    last10 = np.mean([r[metric] for r in history[-10:]])

    def row(method: str, seconds: str, expl: str, flow_metric: float, n_agent: str) -> str:
        return f"| {name} | {method} | {seconds} | {expl} | {flow_metric:.4f} | {n_agent} |"

    return [
        row(
            f"exact OMD, tol {game.config.solver_tolerance:g} ({exact.iterations} its)",
            f"{exact_s:.2f}",
            f"{exact.exploitability[-1]:.3g}",
            exact.flow.metrics[metric],
            "",
        ),
        row(
            "uniform policy", "", f"{uniform.exploitability:.3g}", uniform.flow.metrics[metric], ""
        ),
        row(
            f"PPO, N = {args.n_followers:,}, {args.iterations} its",
            f"{ppo_s:.1f}",
            curve,
            learned.flow.metrics[metric],
            f"{last10:.4f}",
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--n-followers", type=int, default=FollowerPPOConfig().n_followers)
    parser.add_argument("--leader", choices=("none", "rule"), default="none")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--scenarios", nargs="+", choices=sorted(SCENARIOS), default=["edrp", "mtfg"]
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    info: dict[str, Any] = {
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "load average": " ".join(f"{v:.1f}" for v in os.getloadavg()),
    }
    print(", ".join(f"{k}: {v}" for k, v in info.items()))
    print(f"leader: {args.leader}; PPO config: {ppo_config(args)}")
    print()
    print(
        "| scenario | followers | seconds | exploitability (regularised; PPO: at 1/4, 1/2, 3/4, "
        "end) | ORR / CR (mean field) | ORR / CR (N followers, last 10 episodes) |"
    )
    print("|---|---|---:|---|---:|---:|")
    for name in args.scenarios:
        for line in measure(name, args):
            print(line, flush=True)


if __name__ == "__main__":
    main()
