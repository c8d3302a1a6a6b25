"""PPO on third-party PettingZoo envs with heterogeneous agents (mpe2), against a random policy.

    python packages/alloc-agents/benchmarks/third_party_mpe.py                  # speaker-listener
    python packages/alloc-agents/benchmarks/third_party_mpe.py --env world_comm --steps 200000 \\
        --algorithm mappo --sharing ps --set truncation_bootstrap=False

Trains ``alloc_agents.train`` unchanged on ``mpe2.<env>.parallel_env(continuous_actions=False)``
(``--steps`` env steps, 8 env copies, one torch thread, the default ``PPOConfig`` plus ``--set``
overrides), then evaluates the final policy deterministically and sampled, and a uniform random
policy, on the same ``--episodes`` episodes (reset seeds 10000, 10001, ...). Prints the team
return (sum over agents), the per-agent returns and the wall-clock time. ``--ablate AGENT``
(repeatable) also evaluates the trained policy with AGENT acting at random (e.g. the speaker: does
the listener use its messages?).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import time
from collections.abc import Mapping
from functools import partial
from typing import Any

import numpy as np

from alloc_agents import Policy, PPOConfig, evaluate, train

ENVS = {
    "speaker_listener": "mpe2.simple_speaker_listener_v4",
    "world_comm": "mpe2.simple_world_comm_v3",
    "tag": "mpe2.simple_tag_v3",
    "spread": "mpe2.simple_spread_v3",
}


class UniformRandom(Policy):
    """Uniform over each agent's (Discrete) action space, drawn from the policy's generator."""

    name = "random"

    def __init__(self, env: Any, seed: int | None = None) -> None:
        super().__init__(seed)
        self.sizes = {a: int(env.action_space(a).n) for a in env.possible_agents}

    def act(self, observation: Any) -> np.ndarray:  # pragma: no cover - not used
        raise NotImplementedError("heterogeneous agents: use act_parallel")

    def act_parallel(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return {a: np.int64(self.rng.integers(self.sizes[a])) for a in observations}


class Ablated(Policy):
    """``policy`` for every agent but ``agent``, which acts uniformly at random."""

    def __init__(self, policy: Policy, agent: str, env: Any, seed: int = 0) -> None:
        super().__init__(seed)
        self.policy, self.agent = policy, agent
        self.random = UniformRandom(env, seed)

    def reset(self, seed: int | None = None) -> None:
        self.policy.reset(seed)
        self.random.reset(seed)

    def act(self, observation: Any) -> np.ndarray:  # pragma: no cover - not used
        raise NotImplementedError("use act_parallel")

    def act_parallel(self, observations: Mapping[str, Any]) -> dict[str, np.ndarray]:
        actions = self.policy.act_parallel(observations)
        if self.agent in observations:
            actions.update(self.random.act_parallel({self.agent: observations[self.agent]}))
        return actions


def per_agent_returns(policy: Policy, env_fn: Any, episodes: int) -> dict[str, float]:
    """Mean return of every agent over the evaluation episodes (seeds 10000, ...)."""
    env = env_fn()
    totals: dict[str, float] = dict.fromkeys(env.possible_agents, 0.0)
    for k in range(episodes):
        obs, _ = env.reset(seed=10_000 + k)
        policy.reset(seed=10_000 + k)
        while env.agents:
            obs, rewards, _, _, _ = env.step(policy.act_parallel(obs))
            for agent, r in rewards.items():
                totals[agent] += float(r) / episodes
    return totals


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--env", default="speaker_listener", choices=sorted(ENVS))
    parser.add_argument("--algorithm", default="ippo")
    parser.add_argument("--sharing", default="ps")
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--n-envs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE")
    parser.add_argument(
        "--ablate", action="append", default=[], metavar="AGENT",
        help="also evaluate the trained policy with AGENT acting uniformly at random",
    )  # fmt: skip
    args = parser.parse_args()

    overrides = {}
    for pair in args.set:
        key, _, value = pair.partition("=")
        overrides[key] = ast.literal_eval(value)
    config = PPOConfig().replace(**overrides)
    module = importlib.import_module(ENVS[args.env])
    env_fn = partial(module.parallel_env, continuous_actions=False)

    start = time.perf_counter()
    result = train(env_fn, algorithm=args.algorithm, sharing=args.sharing,
                   total_env_steps=args.steps, n_envs=args.n_envs, seed=args.seed,
                   device="cpu", config=config, threads=1, progress=False)  # fmt: skip
    train_s = time.perf_counter() - start
    first = next(r for r in result.history if r["episodes_iter"])
    rows = {"training, first iteration": first["episode_return"],
            "training, last iteration": result.history[-1]["episode_return"]}  # fmt: skip
    policy = result.policy
    report: dict[str, Any] = {
        "env": ENVS[args.env],
        "method": f"{args.sharing}+{args.algorithm}",
        "config": overrides,
        "env_steps": result.history[-1]["env_steps"],
        "space_groups": [list(g.names) for g in result.model.layout.groups],
        "train_s": round(train_s, 1),
        "training_team_return": rows,
    }
    for label, mode in (("det", True), ("sampled", False)):
        policy.deterministic = mode
        report[label] = {
            "team_return": evaluate(policy, env_fn, args.episodes)["episode_return"],
            "agents": per_agent_returns(policy, env_fn, args.episodes),
        }
    for agent in args.ablate:  # the trained policy with one agent acting at random
        policy.deterministic = True
        report[f"det, {agent} random"] = {
            "team_return": evaluate(Ablated(policy, agent, env_fn()), env_fn, args.episodes)[
                "episode_return"
            ]
        }
    random = UniformRandom(env_fn(), seed=0)
    report["random"] = {
        "team_return": evaluate(random, env_fn, args.episodes)["episode_return"],
        "agents": per_agent_returns(random, env_fn, args.episodes),
    }
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
