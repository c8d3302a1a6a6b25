"""DyPS's group selector on the noise-free oracle and on the controlled task (issue 23).

    python packages/alloc-agents/benchmarks/dyps_selector.py oracle       # ~1 min
    python packages/alloc-agents/benchmarks/dyps_selector.py controlled   # ~10 min, one core

``oracle``: the noise-free oracle test (:mod:`alloc_agents.ppo.dyps_oracle`: Ride-Hailing-like
roles and latents, 36 agents, 5 env copies per update, targets balanced over M groups) after the
42 updates of a 30k-step Ride-Hailing (1) run, per selector setting and M, seeds 0-2: the share
of agents whose most probable group is their target, the mean target probability and the
agents per most probable group (seed 0).

``controlled``: DyPS+IPPO on ``alloc/HiddenTypes-v0`` (the ``hidden-types`` preset: 36 agents,
2 hidden types, 60 iterations of 4 env copies), per setting and M, seeds 0-3, against PS: at
the last iteration the selector's entropy / ln M and switching rate, whether every deployed
group holds one type, and the deployed policy's reward per agent and step (2 episodes); a run
*passes* when entropy <= 0.1, switching <= 0.05, the groups are type-pure and the reward
>= 0.95 (the test's criteria).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import torch

from alloc_agents import train
from alloc_agents.ppo import DYPS_TABLE6, DyPSConfig, evaluate, get_preset
from alloc_agents.ppo.dyps_oracle import oracle_probs, oracle_scores, ride_hailing_like_inputs
from alloc_envs.hidden_types.parallel_env import HiddenTypesParallelEnv

#: Oracle settings: (label, DyPSConfig options, updates).
ORACLE = (
    ("default (agent credit, normalised, lr 3e-2)", {}, 42),
    ("lr 1e-2", {"selector_lr": 1e-2}, 42),
    ("raw Eq. 13 inputs", {"conditioning": "raw"}, 42),
    ("team credit", {"credit": "team"}, 42),
    (
        "team credit, critic lr 3e-2, 420 updates",
        {"credit": "team", "selector_critic_lr": 3e-2},
        420,
    ),
    ("Table 6 (team, raw, lr 1e-4)", DYPS_TABLE6, 42),
)
#: Small role models for the controlled task (its observations are noise).
SMALL_ROLES = {"cvae_steps": 2, "vlstm_sequences": 8, "role_dim": 16, "vlstm_hidden": 16}
#: Controlled-task settings: (label, DyPSConfig options).
CONTROLLED = (
    ("default, small role models", SMALL_ROLES),
    ("default, full-size role models", {}),
    ("no-vlstm (id and latents only), small", {**SMALL_ROLES, "variant": "no-vlstm"}),
    ("raw Eq. 13 inputs, small", {**SMALL_ROLES, "conditioning": "raw"}),
    ("3 selector steps per iteration, small", {**SMALL_ROLES, "selector_steps": 3}),
    ("team credit, small", {**SMALL_ROLES, "credit": "team"}),
    ("Table 6, small", {**SMALL_ROLES, **DYPS_TABLE6}),
)


def oracle_table() -> None:
    print("| setting | M | argmax on target (seeds 0-2) | target probability | sizes (seed 0) |")
    print("|---|---|---|---|---|")
    for label, options, updates in ORACLE:
        for m in (2, 4):
            scores = []
            for seed in range(3):
                roles, latents, targets = ride_hailing_like_inputs(m)
                config = DyPSConfig(n_groups=m, **options)
                probs = oracle_probs(config, roles, latents, targets, updates, seed=seed)
                scores.append(oracle_scores(probs, targets))
            acc = " / ".join(f"{s['accuracy']:.2f}" for s in scores)
            prob = " / ".join(f"{s['target_prob']:.2f}" for s in scores)
            print(f"| {label} ({updates} updates) | {m} | {acc} | {prob} | {scores[0]['sizes']} |")


def _controlled_run(sharing: str, options: dict[str, Any] | None, seed: int) -> dict[str, Any]:
    preset = get_preset("hidden-types")

    def env() -> HiddenTypesParallelEnv:
        return HiddenTypesParallelEnv(**preset.env_kwargs)

    start = time.process_time()
    result = train(env, sharing=sharing, sharing_options=options, seed=seed, device="cpu",
                   total_env_steps=preset.total_env_steps, n_envs=preset.n_envs,
                   config=preset.config, threads=1)  # fmt: skip
    out = {
        "reward": evaluate(result.policy, env, episodes=2)["info/episode_accuracy"],
        "cpu_s": time.process_time() - start,
    }
    if sharing == "dyps":
        last, types = result.history[-1], env().types
        deployed = result.model.groups[0].assignment.numpy()
        out["pure"] = all(len(np.unique(types[deployed == m])) == 1 for m in np.unique(deployed))
        out["entropy"] = last["dyps_entropy_ratio"]
        out["switched"] = last["dyps_switched"]
        out["passed"] = (out["entropy"] <= 0.1 and out["switched"] <= 0.05 and out["pure"]) and out[
            "reward"
        ] >= 0.95
    return out


def controlled_table(seeds: range) -> None:
    ps = [_controlled_run("ps", None, s)["reward"] for s in seeds]
    print(f"PS+IPPO reward per agent and step, seeds {list(seeds)}: "
          + ", ".join(f"{r:.3f}" for r in ps))  # fmt: skip
    print()
    print("| setting | M | passed | entropy / ln M | switched | type-pure | reward | CPU s/run |")
    print("|---|---|---|---|---|---|---|---|")
    for label, options in CONTROLLED:
        for m in (2, 4):
            runs = [_controlled_run("dyps", {"n_groups": m, **options}, s) for s in seeds]

            def mean(key: str, runs: list[dict[str, Any]] = runs) -> float:
                return float(np.mean([r[key] for r in runs]))

            print(
                f"| {label} | {m} | {sum(r['passed'] for r in runs)}/{len(runs)} | "
                f"{mean('entropy'):.3f} (max {max(r['entropy'] for r in runs):.3f}) | "
                f"{mean('switched'):.3f} | {sum(r['pure'] for r in runs)}/{len(runs)} | "
                f"{mean('reward'):.3f} (min {min(r['reward'] for r in runs):.3f}) | "
                f"{mean('cpu_s'):.1f} |",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=("oracle", "controlled"))
    parser.add_argument("--seeds", type=int, default=4, help="controlled: seeds 0..N-1")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.part == "oracle":
        oracle_table()
    else:
        controlled_table(range(args.seeds))


if __name__ == "__main__":
    main()
