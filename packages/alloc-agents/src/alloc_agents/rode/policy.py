"""A trained RODE model behind the :class:`~alloc_agents.policy.Policy` interface: every agent
chooses its role greedily every ``role_interval`` steps and its action greedily inside the role
(:class:`~alloc_agents.qmix.policy.ValuePolicy`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alloc_agents.qmix.policy import ValuePolicy, load_value_model
from alloc_agents.rode.acting import RODEActor
from alloc_agents.rode.config import RODEConfig
from alloc_agents.rode.model import RODEModel


class RODEPolicy(ValuePolicy):
    """Greedy roles and actions of a :class:`~alloc_agents.rode.model.RODEModel`."""

    def __init__(self, model: RODEModel, role_interval: int, seed: int | None = None) -> None:
        actor = RODEActor(model, role_interval)
        super().__init__(actor, model, f"RODE ({model.sharing})", seed)


def load_rode_policy(
    path: str | Path, env: Any, device: str = "cpu", seed: int | None = None
) -> RODEPolicy:
    """The greedy policy of a RODE checkpoint, for a ``ParallelEnv`` ``env`` with the training
    env's agents and spaces."""
    model, config = load_value_model(path, env, "rode", RODEConfig, RODEModel, device)
    return RODEPolicy(model, config.role_interval, seed=seed)
