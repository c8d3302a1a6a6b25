"""DyPS on the controlled task ``alloc/HiddenTypes-v0`` (36 agents of two hidden types whose
optimal actions conflict, noise observations): one shared network is capped at one half, and
DyPS's groups must learn the types' split. With M = 2 and M = 4 groups, at the end of training:
the selector's entropy <= 0.1 ln M, <= 5% of the (agent, copy) draws switch group, every
deployed group holds one type, and the deployed policy earns >= 0.95 per agent and step, where
PS earns <= 0.55. The benchmark ``benchmarks/dyps_selector.py`` runs the same task over seeds
and variants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from alloc_agents import train
from alloc_agents.ppo import evaluate, get_preset
from alloc_envs.hidden_types.parallel_env import HiddenTypesParallelEnv

#: The task's PPO setup: 60 iterations of one 8-step episode in each of 4 env copies.
PRESET = get_preset("hidden-types")
#: Small role models (the task's observations are noise; the selector is what is tested). With
#: the full-size ones, the VLSTM roles, which describe the behaviour of the member an agent is
#: on, keep a few agents on the wrong member (benchmarks/dyps_selector.py measures it).
ROLE_MODELS = {"cvae_steps": 2, "vlstm_sequences": 8, "role_dim": 16, "vlstm_hidden": 16}


def _env() -> HiddenTypesParallelEnv:
    return HiddenTypesParallelEnv(**PRESET.env_kwargs)


def _train(sharing: str, options: dict[str, Any] | None = None) -> Any:
    steps, copies = PRESET.total_env_steps, PRESET.n_envs
    return train(_env, sharing=sharing, sharing_options=options, total_env_steps=steps,
                 n_envs=copies, seed=0, device="cpu", config=PRESET.config)  # fmt: skip


def _score(result: Any) -> float:
    """Mean reward per agent and step of the deployed (greedy) policy."""
    return evaluate(result.policy, _env, episodes=2)["info/episode_accuracy"]


def test_one_shared_network_is_capped_at_one_half() -> None:
    assert _score(_train("ps")) <= 0.55


@pytest.mark.parametrize("n_groups", [2, 4])
def test_dyps_groups_learn_the_hidden_types(n_groups: int) -> None:
    result = _train("dyps", {"n_groups": n_groups, **ROLE_MODELS})
    last = result.history[-1]
    assert last["dyps_entropy_ratio"] <= 0.1
    assert last["dyps_switched"] <= 0.05
    deployed = result.model.groups[0].assignment.numpy()
    types = _env().types
    assert all(len(np.unique(types[deployed == m])) == 1 for m in np.unique(deployed))
    assert _score(result) >= 0.95
