"""QMIX's learnable parts: one agent network per space group and the mixer over all agents.

Sharing follows the static strategies of :mod:`alloc_agents.ppo.sharing`: ``ps`` (one network per
space group), ``ps-id`` (the same, reading a one-hot of the agent's position in its group: QMIX's
usual configuration, pymarl's ``obs_agent_id``) and ``nops`` (a network per agent, batched). The
mixer sees the agents of every group, in group order (:meth:`QMIXModel.agent_order`).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from alloc_agents.ppo.batched import AgentInputs
from alloc_agents.ppo.spaces import AgentLayout
from alloc_agents.qmix.action_values import ActionValues
from alloc_agents.qmix.config import QMIXConfig
from alloc_agents.qmix.mixer import QMixer
from alloc_agents.qmix.orders import PackedOrders
from alloc_agents.qmix.q_networks import AgentQNetwork

#: The parameter-sharing strategies QMIX takes (static ones: no strategy decides groups while
#: training, as SePS and DyPS do for PPO).
QMIX_SHARING = ("ps", "ps-id", "nops")


def agent_ids(n_agents: int, lead: tuple[int, ...]) -> AgentInputs:
    """Every agent's one-hot id (its position in its group) for inputs ``(A, *lead, ...)``
    flattened to ``(A, prod(lead), ...)``; never built: the trunk's first layer gathers the
    agent's weight row (:class:`~alloc_agents.ppo.batched.AgentInputs`)."""
    return AgentInputs(n_agents, math.prod(lead), True)


class QMIXModel(nn.Module):
    """Agent networks and mixer of QMIX (module docstring).

    Args:
        layout: the env's agents and space groups.
        sharing: one of :data:`QMIX_SHARING`.
        state_dim: width of the mixer's state input.
        config: the hyper-parameters (the widths, ``recurrent``).
    """

    def __init__(
        self, layout: AgentLayout, sharing: str, state_dim: int, config: QMIXConfig
    ) -> None:
        super().__init__()
        if sharing not in QMIX_SHARING:
            raise ValueError(f"QMIX sharing must be one of {QMIX_SHARING}, got {sharing!r}")
        self.layout = layout
        self.sharing = sharing
        self.state_dim = state_dim
        self.agent_id = sharing == "ps-id"
        self.agents = nn.ModuleList(
            AgentQNetwork(
                group,
                group.n_agents if sharing == "nops" else 1,
                group.n_agents if self.agent_id else 0,
                config.hidden_size,
                config.recurrent,
            )
            for group in layout.groups
        )
        self.mixer = QMixer(layout.n_agents, state_dim, config.mixer_embed, config.hypernet_embed)

    def agent_order(self) -> list[int]:
        """Indices in ``possible_agents`` of the mixer's inputs, in order."""
        return [i for group in self.layout.groups for i in group.agents]

    def ids(self, g: int, lead: tuple[int, ...]) -> AgentInputs | None:
        """Group ``g``'s one-hot agent ids (:func:`agent_ids`) for ``ps-id``, else ``None``."""
        if not self.agent_id:
            return None
        return agent_ids(self.layout.groups[g].n_agents, lead)

    def step(self, g: int, obs: dict[str, Tensor], hidden: Tensor) -> tuple[ActionValues, Tensor]:
        """Group ``g``'s action values for one step (``obs`` ``{key: (A, X, ...)}``)."""
        rows = next(iter(obs.values())).shape[1]
        return self.agents[g](obs, self.ids(g, (rows,)), None, hidden)

    def unroll(
        self, g: int, obs: dict[str, Tensor], orders: PackedOrders | None = None
    ) -> ActionValues:
        """Group ``g``'s action values over whole episodes (``obs`` ``{key: (A, B, T, ...)}``;
        ``orders``: their packed orders, :attr:`~alloc_agents.qmix.episodes.Batch.orders`)."""
        lead = tuple(next(iter(obs.values())).shape[1:3])
        return self.agents[g].unroll(obs, self.ids(g, lead), None, orders)

    def initial_hidden(self, rows: int, device: torch.device) -> list[Tensor]:
        """Per group the ``(A_g, rows, H)`` hidden state at an episode's start."""
        return [
            net.initial_hidden(group.n_agents, rows, device)
            for net, group in zip(self.agents, self.layout.groups, strict=True)
        ]
