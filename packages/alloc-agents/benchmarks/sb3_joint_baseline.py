"""stable-baselines3 PPO as one controller on the Gymnasium joint view of Ride-Hailing, vs greedy.

    python packages/alloc-agents/benchmarks/sb3_joint_baseline.py              # RH (1), 30k steps
    python packages/alloc-agents/benchmarks/sb3_joint_baseline.py --steps 100000 --log-dir runs/sb3

Trains :func:`alloc_agents.baselines.sb3.train_sb3_ppo` on ``alloc/RideHailing-v0`` (dispatch,
``--preset``) for ``--steps`` env steps (seed ``--seed``, CPU, one torch thread; SB3's PPO
defaults except ``batch_size`` 256 and ``n_epochs`` 4 — the joint action has 1,800 components, so
a minibatch costs about a second — and γ 0.97 as the DyPS paper's Table 6), then plays
``--episodes`` episodes of the Gymnasium view with reset seeds 10000, 10001, ... with the SB3
policy (deterministic, then sampled), the rule-based ``greedy`` dispatcher and the ``random``
one, and prints GMV and ORR (``info["gmv"]``, ``info["orr"]`` of the last step: the episode's
totals), the team return and the wall-clock time. Needs ``pip install alloc-agents[sb3]``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from typing import Any

import gymnasium
import numpy as np
import torch

import alloc_envs  # noqa: F401  (registers alloc/RideHailing-v0)
from alloc_agents import Policy, make_policy
from alloc_agents.baselines.sb3 import train_sb3_ppo


def play(policy: Policy, env: gymnasium.Env, episodes: int) -> dict[str, float]:
    """Mean GMV, ORR and team return over episodes with reset seeds 10000, 10001, ..."""
    rows = []
    for k in range(episodes):
        obs, info = env.reset(seed=10_000 + k)
        policy.reset(seed=10_000 + k)
        total, done = 0.0, False
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy.act(obs))
            total += float(reward)
            done = terminated or truncated
        rows.append({"gmv": info["gmv"], "orr": info["orr"], "team_return": total})
    return {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="ride-hailing-1")
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=5)
    parser.add_argument("--n-steps", type=int, default=2048, help="SB3 rollout length")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--n-epochs", type=int, default=4)
    parser.add_argument("--gamma", type=float, default=0.97)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--log-dir")
    args = parser.parse_args()

    torch.set_num_threads(1)
    env_kwargs = {"preset": args.preset}
    ppo: dict[str, Any] = {
        "n_steps": args.n_steps,
        "batch_size": args.batch_size,
        "n_epochs": args.n_epochs,
        "gamma": args.gamma,
        "learning_rate": args.lr,
    }
    start = time.perf_counter()
    model, policy = train_sb3_ppo("alloc/RideHailing-v0", env_kwargs=env_kwargs,
                                  total_timesteps=args.steps, seed=args.seed, device="cpu",
                                  log_dir=args.log_dir, **ppo)  # fmt: skip
    train_s = time.perf_counter() - start
    env = gymnasium.make("alloc/RideHailing-v0", **env_kwargs)
    results: dict[str, Any] = {
        "scenario": f"alloc/RideHailing-v0 {env_kwargs} (dispatch), Gymnasium joint view",
        "sb3_ppo": ppo,
        "env_steps": int(model.num_timesteps),
        "parameters": int(sum(p.numel() for p in model.policy.parameters())),
        "train_s": round(train_s, 1),
        "eval_seeds": f"10000..{10_000 + args.episodes - 1}",
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
    t0 = time.perf_counter()
    results["sb3_ppo_det"] = play(policy, env, args.episodes)
    results["eval_s_per_episode"] = round((time.perf_counter() - t0) / args.episodes, 2)
    policy.deterministic = False
    results["sb3_ppo_sampled"] = play(policy, env, args.episodes)
    for name in ("greedy", "random"):
        rule = make_policy(name, 0, family="ride-hailing")
        results[name] = play(rule, env, args.episodes)
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
