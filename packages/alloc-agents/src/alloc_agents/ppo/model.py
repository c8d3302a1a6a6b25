"""The multi-agent model: per space group, an actor, a critic and a value normaliser.

IPPO: the critic reads the agent's local observation. MAPPO: the critic reads a centralised
input — the env's ``state()`` when it has one, else the concatenated flat observations of all
agents — plus a one-hot of the agent's position in its group.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.batched import Route, copy_member
from alloc_agents.ppo.config import PPOConfig
from alloc_agents.ppo.networks import Actor, Critic, MLPActor, ObsBatch
from alloc_agents.ppo.ride_hailing import (
    DispatchActor,
    RepositionActor,
    scenario_kind,
    state_features,
    symlog,
)
from alloc_agents.ppo.sharing import SharingStrategy
from alloc_agents.ppo.spaces import AgentLayout, SpaceGroup
from alloc_agents.ppo.valuenorm import ValueNorm

ALGORITHMS = ("ippo", "mappo")


def build_actor(group: SpaceGroup, n_members: int, id_dim: int, config: PPOConfig) -> Actor:
    """The actor for a space group: ride-hailing networks for their observations, else an MLP."""
    kind = scenario_kind(group)
    hidden, act = config.hidden_sizes, config.activation
    if kind == "dispatch":
        return DispatchActor(group, n_members, id_dim, hidden, act)
    if kind == "reposition":
        return RepositionActor(group, n_members, id_dim, hidden, act)
    return MLPActor(group.obs, group.action, n_members, id_dim, hidden, act, config.log_std_init)


class GroupModel(nn.Module):
    """Networks of one space group and the agent → member assignment (a buffer)."""

    def __init__(
        self,
        group: SpaceGroup,
        sharing: SharingStrategy,
        algorithm: str,
        central_dim: int,
        config: PPOConfig,
    ) -> None:
        super().__init__()
        self.group = group
        self.algorithm = algorithm
        n_agents = group.n_agents
        assignment = np.asarray(sharing.assign(n_agents), dtype=np.int64)
        n_members = max(int(sharing.n_members(n_agents)), int(assignment.max()) + 1)
        self.n_members = n_members
        self.actor_ids = sharing.agent_id
        id_dim = n_agents if sharing.agent_id else 0
        self.actor = build_actor(group, n_members, id_dim, config)
        self.rh = scenario_kind(group) is not None
        if algorithm == "mappo":
            self.critic_ids = True
        else:
            self.critic_ids = sharing.agent_id
        self.critic = self._build_critic(central_dim, n_members, config)
        self.value_norm = (
            ValueNorm(n_members, config.value_norm_beta) if config.value_norm else None
        )
        # PSA: a critic (and value normaliser) shared by every agent of the group.
        self.shared_critic: Critic | None = None
        self.shared_value_norm: ValueNorm | None = None
        if sharing.shared_critic:
            self.shared_critic = self._build_critic(central_dim, 1, config)
            if config.value_norm:
                self.shared_value_norm = ValueNorm(1, config.value_norm_beta)
        self.register_buffer("assignment", torch.as_tensor(assignment))
        self.register_buffer("eye", torch.eye(n_agents), persistent=False)
        self._update_route()

    def _build_critic(self, central_dim: int, n_members: int, config: PPOConfig) -> Critic:
        hidden, act = config.hidden_sizes, config.activation
        n_agents = self.group.n_agents
        if self.algorithm == "mappo":
            transform = symlog if self.rh else (lambda x: x)
            return Critic(transform, central_dim + n_agents, n_members, hidden, act)
        critic_id_dim = n_agents if self.critic_ids else 0
        features, dim = state_features(self.group)
        return Critic(features, dim + critic_id_dim, n_members, hidden, act)

    def _update_route(self) -> None:
        a = self.assignment
        identity = self.n_members == a.numel() and bool(
            torch.equal(a, torch.arange(a.numel(), device=a.device))
        )
        self.route: Route = None if self.n_members == 1 or identity else a

    def _apply(self, fn, recurse=True):  # keep the cached route on the module's device
        out = super()._apply(fn, recurse)
        self._update_route()
        return out

    def _load_from_state_dict(self, *args, **kwargs):  # the assignment buffer may change
        super()._load_from_state_dict(*args, **kwargs)
        self._update_route()

    def ids(self, batch: int) -> Tensor:
        """One-hot agent ids (A, batch, A)."""
        return self.eye.unsqueeze(1).expand(-1, batch, -1)

    def distribution(self, obs: ObsBatch):
        """The action distribution for ``obs`` ({key: (A, B, ...)})."""
        batch = next(iter(obs.values())).shape[1]
        ids = self.ids(batch) if self.actor_ids else None
        return self.actor(obs, ids, self.route)

    def value(self, obs: ObsBatch, central: Tensor | None, shared: bool = False) -> Tensor:
        """Critic output (A, B) in normalised units. ``central``: (B, S) for MAPPO.
        ``shared``: the output of the shared critic (PSA) instead of the per-member one."""
        if self.algorithm == "mappo":
            assert central is not None
            inputs: object = central.unsqueeze(0).expand(self.group.n_agents, -1, -1)
            batch = central.shape[0]
        else:
            inputs = obs
            batch = next(iter(obs.values())).shape[1]
        ids = self.ids(batch) if self.critic_ids else None
        if shared:
            assert self.shared_critic is not None
            return self.shared_critic(inputs, ids, None)
        return self.critic(inputs, ids, self.route)

    def denormalize(self, value: Tensor, shared: bool = False) -> Tensor:
        if shared:
            norm = self.shared_value_norm
            return value if norm is None else norm.denormalize(value, None)
        return value if self.value_norm is None else self.value_norm.denormalize(value, self.route)

    def reassign(self, assignment: np.ndarray, copy: dict[int, int] | None = None) -> None:
        """Change which member each agent uses (dynamic strategies: SePS, DyPS).

        ``assignment``: (A,) members in ``0 .. n_members - 1``; ``copy``: ``{dst: src}`` member
        parameters (actor, critic, value statistics) to copy first. Optimiser moments of a copied
        member are left as they were.
        """
        a = torch.as_tensor(np.asarray(assignment, dtype=np.int64), device=self.assignment.device)
        if a.shape != self.assignment.shape or int(a.min()) < 0 or int(a.max()) >= self.n_members:
            raise ValueError(
                f"assignment must be ({self.group.n_agents},) members in 0..{self.n_members - 1}"
            )
        members = [m for m in (self.actor, self.critic, self.value_norm) if m is not None]
        for dst, src in (copy or {}).items():
            for module in members:  # not the shared critic (one member, used by all)
                copy_member(module, src, dst)
        self.assignment.copy_(a)
        self._update_route()


class MultiAgentModel(nn.Module):
    """One :class:`GroupModel` per space group of ``layout``."""

    def __init__(
        self,
        layout: AgentLayout,
        sharing: SharingStrategy,
        algorithm: str,
        central_dim: int,
        config: PPOConfig,
    ) -> None:
        super().__init__()
        if algorithm not in ALGORITHMS:
            raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
        self.layout = layout
        self.algorithm = algorithm
        self.sharing = sharing.name
        self.sharing_options = sharing.options()
        self.groups = nn.ModuleList(
            GroupModel(g, sharing, algorithm, central_dim, config) for g in layout.groups
        )

    def actor_parameters(self) -> Iterator[nn.Parameter]:
        for g in self.groups:
            yield from g.actor.parameters()

    def critic_parameters(self) -> Iterator[nn.Parameter]:
        seen: set[int] = set()
        for g in self.groups:
            critics = [g.critic] if g.shared_critic is None else [g.critic, g.shared_critic]
            for critic in critics:
                for p in critic.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        yield p
