"""Role-As-State (the DyPS paper's §4.5 comparison): one shared network whose inputs end with the
agent's VLSTM role.

Sharing ``role-as-state`` (:class:`~alloc_agents.ppo.sharing.RoleAsState`) gives every space
group one parameter member, as ``ps``, whose actor and critic (IPPO's local critic and MAPPO's
centralised one) also read the agent's role h^(a) (A, H) from the group model's ``roles``
buffer (:class:`~alloc_agents.ppo.model.GroupModel`). The roles come from the VLSTM that DyPS
uses (:mod:`alloc_agents.ppo.agent_roles`), trained the same way: by its ELBO (Eq. 12) on each
agent's own (s, a, r) trajectory, never through the PPO loss. Per iteration of the trainer:

1. **Rollout** with the model's roles: fixed for the whole rollout and every env copy (zeros
   before the first rollout).
2. :meth:`RoleStateController.learn`: one VLSTM step on the rollout and the new roles (the
   LSTM state after each agent's trajectory, mean over env copies), kept here.
3. **PPO update**: the model still holds the roles the rollout sampled with, so the ratio's
   new and old log-probabilities read the same input.
4. :meth:`RoleStateController.apply`: the new roles go into the model, for the next rollout
   (and for the trained policy and the checkpoint, which store them with the weights).

What differs from DyPS: no groups (one set of parameters for all agents), so no group selection
and no CVAE; the role is an input instead of a choice of parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from alloc_agents.ppo.agent_roles import AgentRoles, seeded_generator
from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.model import MultiAgentModel
from alloc_agents.ppo.sharing import RoleAsStateConfig

#: Key of Role-As-State's random stream (:func:`~alloc_agents.ppo.agent_roles.seeded_generator`).
GENERATOR_KEY = 0x2A5


class RoleStateController:
    """Trains the VLSTM of every space group and refreshes the model's roles (module
    docstring). Every draw (sequence subsets, latent noise) comes from a torch generator seeded
    from the run's seed, saved by :meth:`state_dict` with the VLSTMs and their optimisers."""

    def __init__(
        self, config: RoleAsStateConfig, model: MultiAgentModel, seed: int, device: torch.device
    ) -> None:
        self.config = config
        self.parts = nn.ModuleList(AgentRoles(gm, config) for gm in model.groups).to(device)
        self.optimizers = [
            torch.optim.Adam(part.vlstm.parameters(), config.vlstm_lr) for part in self.parts
        ]
        self.generator = seeded_generator(seed, GENERATOR_KEY, device)

    def learn(self, buffers: list[GroupBuffer]) -> dict[str, float]:
        """Step 2 on the rollout in ``buffers`` (one per space group); the CSV columns:
        ``role_vlstm_loss`` (the step's −ELBO per learned step, mean over space groups),
        ``role_spread`` (standard deviation of the new roles across agents, mean over role
        dimensions and space groups: 0 when every agent has the same role) and ``role_shift``
        (mean Euclidean distance between an agent's new and previous role)."""
        losses, spreads, shifts = [], [], []
        for part, opt, buf in zip(self.parts, self.optimizers, buffers, strict=True):
            previous = part.roles.clone()
            states, actions = part.rollout_features(buf)
            losses.append(
                part.learn(buf, states, actions, opt, self.config.vlstm_sequences, self.generator)
            )
            roles = part.roles
            spreads.append(float(roles.std(0, correction=0).mean()))
            shifts.append(float((roles - previous).norm(dim=-1).mean()))
        return {
            "role_vlstm_loss": float(np.mean(losses)),
            "role_spread": float(np.mean(spreads)),
            "role_shift": float(np.mean(shifts)),
        }

    @torch.no_grad()
    def apply(self, model: MultiAgentModel) -> None:
        """Step 4: the roles of the latest :meth:`learn` into the model."""
        for part, gm in zip(self.parts, model.groups, strict=True):
            gm.set_roles(part.roles)

    def state_dict(self) -> dict[str, Any]:
        return {
            "parts": self.parts.state_dict(),
            "optimizers": [opt.state_dict() for opt in self.optimizers],
            "generator": self.generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.parts.load_state_dict(state["parts"])
        for opt, saved in zip(self.optimizers, state["optimizers"], strict=True):
            opt.load_state_dict(saved)
        self.generator.set_state(state["generator"])
