"""RODE's learnable parts (Wang et al., ICLR 2021, §3): per space group, the agents' two
trunks, the role policies, the role selector, the action encoder and the roles; over all agents,
an action mixer and a role mixer (QMIX's, :class:`~alloc_agents.qmix.mixer.QMixer`).

Per group (shapes for A agents and X batch rows; ``h`` and ``h_ρ`` from two separate trunks,
:class:`~alloc_agents.qmix.q_networks.AgentTrunk`, on the same observation and id):

* **Role policies** (the reference's dot roles): role ρ's utility of action a is
  ``Q_ρ(τ, a) = (W_ρ h) · z_a`` with ``z_a`` the action's representation from the action
  encoder (:mod:`~alloc_agents.rode.action_encoder`, no gradient into it), over the actions in
  ρ's subset only: a Discrete action is in role ρ when k-means put its ``z_a`` in cluster ρ; a
  Ride-Hailing order when its ``z_j`` is nearest to centre ρ, and STAY is in every role. If the
  env's mask leaves a Discrete agent no action of its role, it may take any valid action (the
  reference's SMAC roles always hold the no-op; a general env need not).
* **Role selector** (the reference's dot selector): ``Q(τ, ρ) = g(h_ρ) · z̄_ρ`` with ``g`` a
  two-layer MLP (2H ReLU units) and ``z̄_ρ`` the mean representation of ρ's actions (the
  cluster's centre).
* **Roles**: before they are formed every role spans every action and ``z̄_ρ = 0`` (the
  selector is indifferent); :meth:`RODEAgents.form_roles` sets them once.

Sharing: ``ps`` (one set of networks per group) or ``ps-id`` (plus the agent's one-hot id, the
reference's ``obs_agent_id``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.batched import AgentInputs, BatchedLinear
from alloc_agents.ppo.spaces import ACTION_MASK, AgentLayout, SpaceGroup
from alloc_agents.qmix.action_values import ActionValues, DiscreteValues, PickValues
from alloc_agents.qmix.mixer import QMixer
from alloc_agents.qmix.model import agent_ids
from alloc_agents.qmix.orders import PackedOrders, pack_orders
from alloc_agents.qmix.q_networks import (
    AgentTrunk,
    ObsBatch,
    discrete_valid,
    env_action,
    idle_picks,
    q_head_kind,
)
from alloc_agents.rode.action_encoder import ActionEncoder
from alloc_agents.rode.config import RODEConfig

#: The parameter-sharing strategies RODE takes.
RODE_SHARING = ("ps", "ps-id")
#: Orthogonal gain of the layers that output the role policies' and the selector's keys (the
#: utilities are their dot products with action representations): small, as QMIX's output
#: layers (:mod:`alloc_agents.qmix.q_networks`), so that the first TD targets are of the
#: rewards' size.
OUTPUT_GAIN = 0.01
#: Candidate orders' representations ``z`` (n, d) and roles (n,) (``None`` before the roles
#: form): :meth:`RODEAgents.order_codes`.
OrderCodes = tuple[Tensor, Tensor | None]


class RODEAgents(nn.Module):
    """The RODE agents of one space group (module docstring).

    Args:
        group: the space group.
        id_dim: width of the one-hot agent id (0: none).
        config: the hyper-parameters.
    """

    def __init__(self, group: SpaceGroup, id_dim: int, config: RODEConfig) -> None:
        super().__init__()
        self.kind = q_head_kind(group)
        self.action = group.action
        hidden, latent = config.hidden_size, config.action_latent_dim
        self.trunk = AgentTrunk(group, 1, id_dim, hidden, config.recurrent)
        self.role_trunk = AgentTrunk(group, 1, id_dim, hidden, config.recurrent)
        n_actions = group.action.n if self.kind == "discrete" else 0
        self.n_roles = min(config.n_roles, n_actions) if self.kind == "discrete" else config.n_roles
        self.role_keys = BatchedLinear(self.n_roles, hidden, latent, OUTPUT_GAIN)
        self.selector = nn.Sequential(
            nn.Linear(hidden, 2 * hidden), nn.ReLU(), nn.Linear(2 * hidden, latent)
        )
        nn.init.orthogonal_(self.selector[2].weight, gain=OUTPUT_GAIN)
        nn.init.zeros_(self.selector[2].bias)
        self.encoder = ActionEncoder(
            self.kind, n_actions, self.trunk.feature_dim, latent, config.state_latent_dim
        )
        self.has_mask = group.obs.has(ACTION_MASK)
        self.max_picks = 0 if self.kind == "discrete" else len(group.action.nvec)
        self.register_buffer("centres", torch.zeros(self.n_roles, latent))
        self.register_buffer("formed", torch.tensor(False))
        self.register_buffer("action_roles", torch.zeros(n_actions, dtype=torch.long))

    def role_values(self, h_role: Tensor) -> DiscreteValues:
        """``Q(τ, ρ)`` (A, X, K) of the role trunk's output ``h_role`` (A, X, H)."""
        q = self.selector(h_role) @ self.centres.T
        return DiscreteValues(q, torch.ones_like(q, dtype=torch.bool))

    def action_values(
        self,
        obs: ObsBatch,
        h: Tensor,
        roles: Tensor,
        orders: PackedOrders | None = None,
        codes: OrderCodes | None = None,
    ) -> ActionValues:
        """``Q_ρ(τ, a)`` of agents in roles ``roles`` (A, X) long, over their roles' actions
        (``h`` (A, X, H) the action trunk's output; ``orders``: ``pack_orders(obs)`` and
        ``codes``: ``order_codes(orders)``, if the caller has them)."""
        keys = self.role_keys(h, roles)  # (A, X, d)
        if self.kind == "discrete":
            q = keys @ self.encoder.discrete_representations().detach().T
            valid = discrete_valid(obs, q, self.has_mask)
            if bool(self.formed):
                in_role = self.action_roles == roles.unsqueeze(-1)
                allowed = valid & in_role
                valid = torch.where(allowed.any(-1, keepdim=True), allowed, valid)
            return DiscreteValues(q, valid)
        orders = pack_orders(obs) if orders is None else orders
        z, order_roles = self.order_codes(orders) if codes is None else codes
        a, x_rows, _ = orders.mask.shape
        flat_keys = keys.reshape(a * x_rows, -1)
        q_orders = (flat_keys.index_select(0, orders.row) * z).sum(-1)
        q_stay = keys @ self.encoder.stay.detach().unsqueeze(-1)
        mask = orders.mask
        if order_roles is not None:
            in_role = order_roles == roles.reshape(-1).index_select(0, orders.row)
            mask = mask.clone()
            mask[..., 1:] &= orders.scatter(in_role)
        q = torch.cat([q_stay, orders.scatter(q_orders)], dim=-1)
        return PickValues(q, mask, idle_picks(obs, self.max_picks), self.max_picks)

    def order_codes(self, orders: PackedOrders) -> OrderCodes:
        """The orders' representations ``z`` (n, d), detached, and, once the roles are formed,
        their roles (n,) long (else ``None``)."""
        with torch.no_grad():  # detached anyway: no graph to build
            z = self.encoder.order_representations(orders.features)
        return z, (self.order_roles(z) if bool(self.formed) else None)

    def same_order_codes(self, other: RODEAgents) -> bool:
        """Whether ``other`` gives every order the same :meth:`order_codes` (the same action
        encoder and role centres; the target copy of a frozen encoder does)."""
        mine = [*self.encoder.action_net.parameters(), self.centres, self.formed]
        theirs = [*other.encoder.action_net.parameters(), other.centres, other.formed]
        return all(torch.equal(a, b) for a, b in zip(mine, theirs, strict=True))

    def order_roles(self, z: Tensor) -> Tensor:
        """``(n,)`` long: the role of orders with representations ``z`` (n, d) (nearest
        centre)."""
        return torch.cdist(z, self.centres).argmin(-1)

    def action_representation(
        self, obs: ObsBatch, actions: Tensor, orders: PackedOrders | None = None
    ) -> Tensor:
        """``u`` (A, X, d): the representation of agents' actions ``actions`` ((A, X) or picks
        (A, X, K)), with gradients into the encoder (module docstring of
        :mod:`~alloc_agents.rode.action_encoder`); ``orders``: ``obs``'s packed orders (needed
        when ``obs`` has no ``candidates``)."""
        if self.kind == "discrete":
            return self.encoder.discrete_representations()[actions]
        orders = pack_orders(obs) if orders is None else orders
        where, position = orders.taken(actions)
        # Only the taken orders are encoded: row 0 is STAY's representation, row i + 1 the
        # i-th taken order's.
        z = torch.cat(
            [
                self.encoder.stay.unsqueeze(0),
                self.encoder.order_representations(orders.features[position]),
            ]
        )
        index = torch.zeros(actions.numel(), dtype=torch.long, device=actions.device)
        index[where] = torch.arange(1, z.shape[0], device=index.device)
        picked = z[index.reshape(actions.shape)]  # (A, X, K, d)
        n_picks = idle_picks(obs, self.max_picks)
        counted = torch.arange(self.max_picks, device=actions.device) < n_picks.unsqueeze(-1)
        mean = (picked * counted.unsqueeze(-1)).sum(2) / n_picks.clamp_min(1).unsqueeze(-1)
        return torch.where((n_picks > 0).unsqueeze(-1), mean, self.encoder.stay.expand_as(mean))

    def form_roles(self, centres: Tensor, action_roles: Tensor | None) -> None:
        """Set the roles: their centres (K, d) and, for a Discrete group, every action's role
        (n,) long."""
        self.centres.copy_(centres)
        if action_roles is not None:
            self.action_roles.copy_(action_roles)
        self.formed.fill_(True)

    def env_action(self, actions: Tensor) -> np.ndarray:
        """Buffer actions -> environment actions."""
        return env_action(self.kind, self.action, actions)


class RODEModel(nn.Module):
    """RODE's agents of every space group and its two mixers (module docstring).

    Args:
        layout: the env's agents and space groups.
        sharing: one of :data:`RODE_SHARING`.
        state_dim: width of the mixers' state input.
        config: the hyper-parameters.
    """

    def __init__(
        self, layout: AgentLayout, sharing: str, state_dim: int, config: RODEConfig
    ) -> None:
        super().__init__()
        if sharing not in RODE_SHARING:
            raise ValueError(f"RODE sharing must be one of {RODE_SHARING}, got {sharing!r}")
        self.layout = layout
        self.sharing = sharing
        self.state_dim = state_dim
        self.agent_id = sharing == "ps-id"
        self.groups = nn.ModuleList(
            RODEAgents(group, group.n_agents if self.agent_id else 0, config)
            for group in layout.groups
        )
        n = layout.n_agents
        self.mixer = QMixer(n, state_dim, config.mixer_embed, config.hypernet_embed)
        self.role_mixer = QMixer(n, state_dim, config.mixer_embed, config.hypernet_embed)

    def ids(self, g: int, lead: tuple[int, ...]) -> AgentInputs | None:
        """Group ``g``'s one-hot agent ids (:func:`~alloc_agents.qmix.model.agent_ids`) for
        ``ps-id``, else ``None``."""
        if not self.agent_id:
            return None
        return agent_ids(self.layout.groups[g].n_agents, lead)

    def encoder_parameters(self) -> list[nn.Parameter]:
        """The action encoders' parameters (trained on the forward model's loss)."""
        return [p for group in self.groups for p in group.encoder.parameters()]

    def value_parameters(self) -> list[nn.Parameter]:
        """Every other parameter (trained on the TD losses)."""
        encoder = {id(p) for p in self.encoder_parameters()}
        return [p for p in self.parameters() if id(p) not in encoder]

    @property
    def roles_formed(self) -> bool:
        """Whether every group's roles are formed."""
        return all(bool(group.formed) for group in self.groups)
