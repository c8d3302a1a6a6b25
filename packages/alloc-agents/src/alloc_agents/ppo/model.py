"""The multi-agent model: per space group, an actor, a critic and a value normaliser.

IPPO: the critic reads the agent's local observation. MAPPO: the critic reads a centralised
input — the env's ``state()`` when it has one, else the concatenated flat observations of all
agents — plus a one-hot of the agent's position in its group.

Role-As-State (a strategy with ``input_role_dim`` H > 0): every agent's role (``roles``, a
buffer (A, H), set with :meth:`GroupModel.set_roles`) is appended to the actor's input and to
the critic's (IPPO and MAPPO), after the one-hot id where there is one.

CoPO (:mod:`alloc_agents.ppo.copo`): critics on the local observation as IPPO's, plus one critic
(and value normaliser) per extra reward stream — neighbourhood and global — whose members are
routed like the actor's; the actor and every critic also read the agent's LCF feature
``(φ + 1) / 2`` as the last input column. :class:`MultiAgentModel` holds the LCF distribution.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.batched import AgentInputs, Route, copy_member
from alloc_agents.ppo.config import PPOConfig
from alloc_agents.ppo.copo_lcf import LCF, STREAMS, CoPOConfig
from alloc_agents.ppo.networks import Actor, CentralCritic, Critic, MLPActor, ObsBatch
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

ALGORITHMS = ("ippo", "mappo", "copo")


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
        self.role_dim = int(sharing.input_role_dim)
        #: CoPO: the networks read the agent's LCF (one input column).
        self.reads_lcf = algorithm == "copo"
        id_dim = (n_agents if sharing.agent_id else 0) + self.role_dim + int(self.reads_lcf)
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
        # CoPO: a critic and a value normaliser per extra reward stream, members as the actor's.
        self.streams: tuple[str, ...] = STREAMS if self.reads_lcf else ()
        self.stream_critics = nn.ModuleDict(
            {name: self._build_critic(central_dim, n_members, config) for name in self.streams}
        )
        norms = self.streams if config.value_norm else ()
        self.stream_value_norms = nn.ModuleDict(
            {name: ValueNorm(n_members, config.value_norm_beta) for name in norms}
        )
        self.register_buffer("assignment", torch.as_tensor(assignment))
        #: (A, E) the member of every agent in every env copy during a rollout (DyPS: one
        #: assignment per copy); ``None``: every copy uses :attr:`assignment`.
        self.rollout_members: Tensor | None = None
        if self.role_dim:
            self.register_buffer("roles", torch.zeros(n_agents, self.role_dim))
        self._update_route()

    def _build_critic(self, central_dim: int, n_members: int, config: PPOConfig) -> Critic:
        hidden, act = config.hidden_sizes, config.activation
        n_agents = self.group.n_agents
        if self.algorithm == "mappo":
            transform = symlog if self.rh else (lambda x: x)
            ids_dim = n_agents + self.role_dim
            return CentralCritic(transform, central_dim, ids_dim, n_members, hidden, act)
        critic_id_dim = (n_agents if self.critic_ids else 0) + self.role_dim + int(self.reads_lcf)
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

    def agent_inputs(self, batch: int, ids: bool, lcf: Tensor | None = None) -> AgentInputs | None:
        """The per-agent inputs a network reads after its own features, for ``batch`` columns:
        the one-hot id (when ``ids``), the role (Role-As-State), then the LCF feature
        ``(φ + 1) / 2`` (CoPO; ``lcf``: the agents' φ, (A, batch)); ``None`` when there are
        none."""
        parts = []
        if self.role_dim:
            parts.append(self.roles.unsqueeze(1).expand(-1, batch, -1))
        if self.reads_lcf:
            if lcf is None:
                raise ValueError("CoPO networks read the agents' LCFs: pass lcf, (A, batch)")
            parts.append(LCF.feature(lcf).float().unsqueeze(-1))
        if not ids and not parts:
            return None
        dense = torch.cat(parts, -1) if parts else None
        return AgentInputs(self.group.n_agents, batch, ids, dense)

    def set_roles(self, roles: Tensor) -> None:
        """Set every agent's role (Role-As-State): ``roles`` (A, input_role_dim), finite."""
        if not self.role_dim:
            raise ValueError("these networks read no roles (only role-as-state sharing does)")
        expected = (self.group.n_agents, self.role_dim)
        if tuple(roles.shape) != expected:
            raise ValueError(f"roles must have shape {expected}, got {tuple(roles.shape)}")
        if not bool(torch.isfinite(roles).all()):
            raise ValueError("roles must be finite")
        self.roles.copy_(roles)

    def route_for(self, members: Tensor | None) -> Route:
        """The route of a batch: ``members`` (A, B), the member of every agent in every batch
        column (DyPS's rollouts: one assignment per env copy), or ``None`` for the group's
        assignment (:attr:`assignment`)."""
        return self.route if members is None else members

    def distribution(
        self,
        obs: ObsBatch,
        lcf: Tensor | None = None,
        actor: Actor | None = None,
        members: Tensor | None = None,
    ):
        """The action distribution for ``obs`` ({key: (A, B, ...)}); ``lcf``: the agents' LCFs
        φ (A, B) (CoPO only); ``actor``: a copy of the actor to use instead (CoPO's θ_old);
        ``members``: (A, B) members instead of the assignment (:meth:`route_for`)."""
        batch = next(iter(obs.values())).shape[1]
        inputs = self.agent_inputs(batch, self.actor_ids, lcf)
        return (self.actor if actor is None else actor)(obs, inputs, self.route_for(members))

    def value(
        self,
        obs: ObsBatch,
        central: Tensor | None,
        shared: bool = False,
        lcf: Tensor | None = None,
        stream: str | None = None,
        members: Tensor | None = None,
    ) -> Tensor:
        """Critic output (A, B) in normalised units. ``central``: (B, S) for MAPPO.
        ``shared``: the output of the shared critic (PSA) instead of the per-member one;
        ``lcf``: the agents' LCFs φ (A, B) (CoPO only); ``stream``: the critic of that reward
        stream (CoPO: ``"neighbour"``, ``"global"``); ``members``: as for
        :meth:`distribution`."""
        if self.algorithm == "mappo":
            assert central is not None
            inputs: object = central
            batch = central.shape[0]
        else:
            inputs = obs
            batch = next(iter(obs.values())).shape[1]
        ids = self.agent_inputs(batch, self.critic_ids, lcf)
        route = self.route_for(members)
        if stream is not None:
            return self.stream_critics[stream](inputs, ids, route)
        if shared:
            assert self.shared_critic is not None
            return self.shared_critic(inputs, ids, None)
        return self.critic(inputs, ids, route)

    def normalizer(
        self, shared: bool = False, stream: str | None = None, members: Tensor | None = None
    ) -> tuple[ValueNorm | None, Route]:
        """The value normaliser of a critic (``None`` without value normalisation) and the
        route of its statistics: ``(ValueNorm | None, Route)``."""
        if stream is not None:
            norms = self.stream_value_norms
            return (norms[stream] if stream in norms else None), self.route_for(members)
        if shared:
            return self.shared_value_norm, None
        return self.value_norm, self.route_for(members)

    def denormalize(
        self,
        value: Tensor,
        shared: bool = False,
        stream: str | None = None,
        members: Tensor | None = None,
    ) -> Tensor:
        """A critic's output (A, B) in reward units (arguments as for :meth:`value`)."""
        norm, route = self.normalizer(shared, stream, members)
        return value if norm is None else norm.denormalize(value, route)

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
        members += [*self.stream_critics.values(), *self.stream_value_norms.values()]
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
        copo: CoPOConfig | None = None,
    ) -> None:
        """``copo``: CoPO's options (the LCF's initial μ and σ; ``None``: defaults), used
        with ``algorithm="copo"`` only."""
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
        #: CoPO's LCF distribution (``None`` for the other algorithms).
        self.lcf: LCF | None = None
        if algorithm == "copo":
            copo = CoPOConfig() if copo is None else copo
            self.lcf = LCF(copo.lcf_init_mean, copo.lcf_init_std)

    def deployed_lcf(self, g: int, batch: int) -> Tensor | None:
        """The LCFs the trained policy acts with, (A_g, batch): the LCF mean μ for every agent
        of group ``g`` (CoPO); ``None`` for the other algorithms."""
        if self.lcf is None:
            return None
        mean = self.lcf.mean.detach()
        return mean.expand(self.groups[g].group.n_agents, batch)

    def actor_parameters(self) -> Iterator[nn.Parameter]:
        for g in self.groups:
            yield from g.actor.parameters()

    def critic_parameters(self) -> Iterator[nn.Parameter]:
        seen: set[int] = set()
        for g in self.groups:
            critics = [g.critic] if g.shared_critic is None else [g.critic, g.shared_critic]
            critics += list(g.stream_critics.values())
            for critic in critics:
                for p in critic.parameters():
                    if id(p) not in seen:
                        seen.add(id(p))
                        yield p
