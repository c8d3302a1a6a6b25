"""Evaluate any :class:`~alloc_agents.policy.Policy` on a PettingZoo ``ParallelEnv``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from alloc_agents.policy import Policy
from alloc_agents.ppo.runner import _scalar_metrics


def evaluate(
    policy: Policy, env_fn: Callable[[], Any], episodes: int = 5, seed: int = 10_000
) -> dict[str, float]:
    """Mean over ``episodes`` episodes (reset seeds ``seed``, ``seed + 1``, ...) of the team
    return (sum over agents), the per-agent mean return, the episode length and the numeric
    scalars of the final ``info`` of the first agent (``info/<key>``, e.g. ``info/gmv``)."""
    if episodes < 1:
        raise ValueError(f"episodes must be at least 1, got {episodes}")
    env = env_fn()
    rows: list[dict[str, float]] = []
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + k)
        policy.reset(seed=seed + k)
        returns: dict[str, float] = {}
        length = 0
        infos: dict[str, Any] = {}
        while env.agents:
            actions = policy.act_parallel({a: obs[a] for a in env.agents})
            obs, rewards, _, _, infos = env.step(actions)
            for agent, r in rewards.items():
                returns[agent] = returns.get(agent, 0.0) + float(r)
            length += 1
        row = {
            "episode_return": float(sum(returns.values())),
            "agent_return": float(np.mean(list(returns.values()))) if returns else 0.0,
            "episode_length": float(length),
        }
        for agent in env.possible_agents:
            metrics = _scalar_metrics(infos.get(agent))
            if metrics:
                row.update({f"info/{key}": v for key, v in metrics.items()})
                break
        rows.append(row)
    keys = rows[0].keys()
    return {key: float(np.mean([r.get(key, np.nan) for r in rows])) for key in keys}
