"""RODE's agents as an :class:`~alloc_agents.qmix.acting.EpisodeActor`.

At episode step t each agent's role trunk steps; when ``t % role_interval == 0`` it chooses a
role ε-greedily on ``Q(τ, ρ)`` (the same ε as the actions; the reference's role ε has the
same schedule), else it keeps its role; then its action trunk steps and it acts ε-greedily
inside its role's subset (exploration too draws only from the role's valid actions: the
reference's explores over every valid action). The role of every step is recorded for the
replay buffer (``"role"``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from alloc_agents.qmix.acting import epsilon_greedy
from alloc_agents.qmix.orders import pack_episode
from alloc_agents.rode.model import RODEModel


class RODEActor:
    """Per group the state is ``(h, h_role, roles)``: the two trunks' hidden states (A, X, H)
    and the current roles (A, X) long."""

    def __init__(self, model: RODEModel, role_interval: int) -> None:
        self.model = model
        self.role_interval = role_interval

    def start(self, rows: int, device: torch.device) -> list[Any]:
        states = []
        for group, agents in zip(self.model.layout.groups, self.model.groups, strict=True):
            hidden = agents.trunk.initial_hidden(group.n_agents, rows, device)
            roles = torch.zeros(group.n_agents, rows, dtype=torch.long, device=device)
            states.append((hidden, hidden.clone(), roles))
        return states

    def act(
        self,
        g: int,
        obs: dict[str, Tensor],
        state: Any,
        step: int,
        epsilon: float,
        generator: torch.Generator | None,
    ) -> tuple[Tensor, Any, dict[str, Tensor]]:
        hidden, role_hidden, roles = state
        agents = self.model.groups[g]
        ids = self.model.ids(g, (hidden.shape[1],))
        role_hidden = agents.role_trunk.trunk_step(obs, ids, None, role_hidden)
        if step % self.role_interval == 0:
            roles = epsilon_greedy(agents.role_values(role_hidden), epsilon, generator)
        hidden = agents.trunk.trunk_step(obs, ids, None, hidden)
        actions = epsilon_greedy(agents.action_values(obs, hidden, roles), epsilon, generator)
        return actions, (hidden, role_hidden, roles), {"role": roles}

    def env_action(self, g: int, actions: Tensor) -> np.ndarray:
        return self.model.groups[g].env_action(actions)

    def compact(self, g: int, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return pack_episode(obs) if self.model.groups[g].kind == "picks" else obs
