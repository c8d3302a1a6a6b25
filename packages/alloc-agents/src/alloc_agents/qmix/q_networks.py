"""QMIX's agent networks: a trunk (encoder, optionally a GRU) and a head per action kind.

Every network holds ``M`` parameter sets ("members", :mod:`alloc_agents.ppo.batched`); a static
sharing strategy routes agents to members (``ps``/``ps-id``: one member, ``nops``: one per
agent). Inputs are agent-major, ``(A, X, ...)`` for A agents and X batch rows (env copies while
acting, episodes × steps while learning).

* **Trunk**: ``e = relu(W x + b)`` on the agent's features (the flat non-mask observation, or
  the compact ride-hailing state features of :func:`alloc_agents.ppo.ride_hailing.
  state_features`), plus the one-hot agent id for ``ps-id``; then, when recurrent, a GRU cell
  ``h' = GRU(e, h)`` (QMIX's agent), else ``h' = e``.
* **Discrete head**: ``q = W h' + b`` over the ``n`` actions, masked by ``action_mask`` when the
  observation has one (:class:`~alloc_agents.qmix.action_values.DiscreteValues`).
* **Pick head** (Ride-Hailing dispatch): ``q[STAY] = w_0 · h' + b_0``, and for every candidate
  order j, ``q[j] = w · relu(U h' + V x_j + b)`` on its features ``x_j`` (price, trip length,
  type, Δratio, Δdrivers, Δorders, age, symlog-ed, as the PPO dispatch actor reads them),
  scored on the occupied slots only (:class:`~alloc_agents.qmix.action_values.PickValues`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.batched import AgentInputs, BatchedLinear, Route, routed_scores
from alloc_agents.ppo.fast_tanh import tanh
from alloc_agents.ppo.ride_hailing import (
    IDLE,
    N_CANDIDATE_FEATURES,
    scenario_kind,
    state_features,
)
from alloc_agents.ppo.spaces import ACTION_MASK, SpaceGroup
from alloc_agents.qmix.action_values import ActionValues, DiscreteValues, PickValues
from alloc_agents.qmix.orders import PackedOrders, pack_episode, pack_orders

ObsBatch = Mapping[str, Tensor]


def q_head_kind(group: SpaceGroup) -> str:
    """``"discrete"`` or ``"picks"`` (Ride-Hailing dispatch); ``ValueError`` naming the agents
    and the space for any other action space."""
    if group.action.kind == "discrete":
        return "discrete"
    if scenario_kind(group) == "dispatch":
        return "picks"
    raise ValueError(
        f"QMIX acts on Discrete action spaces and on Ride-Hailing's dispatch picks; agents "
        f"{list(group.names)[:3]} have {group.action_space}"
    )


class BatchedGRUCell(nn.Module):
    """A GRU cell with ``M`` members (PyTorch's gate equations): ``r = σ(x W_r + h U_r)``,
    ``z = σ(x W_z + h U_z)``, ``n = tanh(x W_n + r ⊙ (h U_n))``, ``h' = (1 − z) n + z h``."""

    def __init__(self, n_members: int, size: int) -> None:
        super().__init__()
        self.x_gates = BatchedLinear(n_members, size, 3 * size, 1.0)
        self.h_gates = BatchedLinear(n_members, size, 3 * size, 1.0)

    def forward(self, x: Tensor, h: Tensor, route: Route) -> Tensor:
        """``x``, ``h`` (A, X, H) -> (A, X, H)."""
        xr, xz, xn = self.x_gates(x, route).chunk(3, -1)
        hr, hz, hn = self.h_gates(h, route).chunk(3, -1)
        r, z = torch.sigmoid(xr + hr), torch.sigmoid(xz + hz)
        n = tanh(xn + r * hn)
        return (1.0 - z) * n + z * h


class AgentTrunk(nn.Module):
    """The trunk of an agent network: ``e = relu(W x + b)`` on the agent's features (plus its
    one-hot id), then, when recurrent, ``h' = GRU(e, h)``, else ``h' = e`` (module docstring).

    Args:
        group: the space group.
        n_members: parameter sets M.
        id_dim: width of the one-hot agent id appended to the features (0: none).
        hidden: width H of the trunk.
        recurrent: a GRU trunk.
    """

    def __init__(
        self, group: SpaceGroup, n_members: int, id_dim: int, hidden: int, recurrent: bool
    ) -> None:
        super().__init__()
        self.hidden_size = hidden
        self.recurrent = recurrent
        self.features, self.feature_dim = state_features(group)
        self.encoder = BatchedLinear(n_members, self.feature_dim + id_dim, hidden, 2**0.5)
        self.gru = BatchedGRUCell(n_members, hidden) if recurrent else None

    def initial_hidden(self, n_agents: int, rows: int, device: torch.device) -> Tensor:
        """``(A, X, H)`` zeros: the hidden state at an episode's start."""
        return torch.zeros(n_agents, rows, self.hidden_size, device=device)

    def encode(self, obs: ObsBatch, ids: AgentInputs | None, route: Route) -> Tensor:
        """``obs`` ``{key: (A, X, ...)}``, ``ids``: the agents' one-hot ids for X rows
        (``id_dim`` inputs, gathered rather than multiplied) or ``None`` -> the encoder's output
        ``e`` (A, X, H)."""
        x, one_hot_at = self.features(obs), None
        if ids is not None:
            x, one_hot_at = ids.append_to(x)
        return F.relu(self.encoder(x, route, one_hot_at=one_hot_at))

    def trunk_step(
        self, obs: ObsBatch, ids: AgentInputs | None, route: Route, hidden: Tensor
    ) -> Tensor:
        """One step: the trunk's output ``h'`` (A, X, H) (also the next hidden state)."""
        e = self.encode(obs, ids, route)
        return e if self.gru is None else self.gru(e, hidden, route)

    def trunk_unroll(self, obs: ObsBatch, ids: AgentInputs | None, route: Route) -> Tensor:
        """Whole episodes: ``obs`` ``{key: (A, B, T, ...)}``, ``ids`` for B·T rows or ``None``
        -> the trunk's output at every step (A, B, T, H), the hidden state starting at zero at
        step 0."""
        a, b, t = next(iter(obs.values())).shape[:3]
        flat = {k: v.flatten(1, 2) for k, v in obs.items()}
        e = self.encode(flat, ids, route).unflatten(1, (b, t))
        if self.gru is None:
            return e
        h = self.initial_hidden(a, b, e.device)
        steps = []
        for step in range(t):
            h = self.gru(e[:, :, step], h, route)
            steps.append(h)
        return torch.stack(steps, dim=2)


class AgentQNetwork(AgentTrunk):
    """The agent network of one space group: the trunk and a Discrete or pick head (module
    docstring; arguments as :class:`AgentTrunk`)."""

    def __init__(
        self, group: SpaceGroup, n_members: int, id_dim: int, hidden: int, recurrent: bool
    ) -> None:
        super().__init__(group, n_members, id_dim, hidden, recurrent)
        self.kind = q_head_kind(group)
        self.action = group.action
        if self.kind == "discrete":
            self.q_head = BatchedLinear(n_members, hidden, group.action.n, 0.01)
            self.has_mask = group.obs.has(ACTION_MASK)
        else:
            self.max_picks = len(group.action.nvec)
            self.stay = BatchedLinear(n_members, hidden, 1, 0.01)
            self.query = BatchedLinear(n_members, hidden, hidden, 1.0)
            self.key = BatchedLinear(n_members, N_CANDIDATE_FEATURES, hidden, 1.0)
            self.score = BatchedLinear(n_members, hidden, 1, 0.01)

    def forward(
        self, obs: ObsBatch, ids: AgentInputs | None, route: Route, hidden: Tensor
    ) -> tuple[ActionValues, Tensor]:
        """One step: ``obs`` ``{key: (A, X, ...)}``, ``hidden`` (A, X, H) -> the action values
        and the next hidden state."""
        h = self.trunk_step(obs, ids, route, hidden)
        return self.head(obs, h, route), h

    def unroll(
        self,
        obs: ObsBatch,
        ids: AgentInputs | None,
        route: Route,
        orders: PackedOrders | None = None,
    ) -> ActionValues:
        """Whole episodes: ``obs`` ``{key: (A, B, T, ...)}`` -> the action values of every step
        (A, B, T, ...) (:meth:`AgentTrunk.trunk_unroll`); ``orders``: the episodes' packed orders
        as (A, B * T) rows (:attr:`~alloc_agents.qmix.episodes.Batch.orders`; needed when
        ``obs`` has no ``candidates``)."""
        b, t = next(iter(obs.values())).shape[1:3]
        h = self.trunk_unroll(obs, ids, route).flatten(1, 2)
        flat = {k: v.flatten(1, 2) for k, v in obs.items()}
        return self.head(flat, h, route, orders).map(lambda x: x.unflatten(1, (b, t)))

    def head(
        self, obs: ObsBatch, h: Tensor, route: Route, orders: PackedOrders | None = None
    ) -> ActionValues:
        """The utilities of ``h`` (A, X, H), the trunk's output, under ``obs``'s masks
        (``orders``: ``pack_orders(obs)`` if the caller has it)."""
        if self.kind == "discrete":
            q = self.q_head(h, route)
            return DiscreteValues(q, discrete_valid(obs, q, self.has_mask))
        return self._picks(obs, h, route, orders)

    def compact(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """An episode's observations ``{key: (T + 1, A, ...)}`` as the replay buffer keeps them
        (:func:`~alloc_agents.qmix.orders.pack_episode`)."""
        return pack_episode(obs) if self.kind == "picks" else obs

    def _picks(
        self, obs: ObsBatch, h: Tensor, route: Route, orders: PackedOrders | None
    ) -> PickValues:
        orders = pack_orders(obs) if orders is None else orders
        a, x_rows, _ = orders.mask.shape
        query = self.query(h, route).reshape(a * x_rows, -1)
        if self.score.n_members == 1:  # one GEMM over all rows
            hidden = self.key.add_rows(query, orders.row, orders.features).relu_()
            values = self.score(hidden).squeeze(-1)
        else:
            members = _members(route, self.score.n_members, a, x_rows, h.device)
            member = members.reshape(-1).index_select(0, orders.row)
            rows = query, orders.row, orders.features
            values = routed_scores(self.key, self.score, *rows, member, F.relu).squeeze(-1)
        q = torch.cat([self.stay(h, route), orders.scatter(values)], dim=-1)
        return PickValues(q, orders.mask, idle_picks(obs, self.max_picks), self.max_picks)

    def env_action(self, actions: Tensor) -> np.ndarray:
        """Buffer actions ``(A, X[, K])`` -> environment actions (the Discrete start added)."""
        return env_action(self.kind, self.action, actions)


def discrete_valid(obs: ObsBatch, q: Tensor, has_mask: bool) -> Tensor:
    """``(..., n)`` bool: the actions ``obs``'s ``action_mask`` allows (all when it has none)."""
    if has_mask:
        return obs[ACTION_MASK] > 0
    return torch.ones_like(q, dtype=torch.bool)


def idle_picks(obs: ObsBatch, max_picks: int) -> Tensor:
    """``(A, X)`` long: the picks that count, ``min(idle drivers, K)``."""
    return torch.round(obs["observation"][..., IDLE]).long().clamp(0, max_picks)


def env_action(kind: str, action: Any, actions: Tensor) -> np.ndarray:
    """Buffer actions ``(A, X[, K])`` of a ``kind`` head (``"discrete"`` or ``"picks"``) ->
    environment actions (a Discrete space's ``start`` added)."""
    out = actions.detach().cpu().numpy()
    if kind == "discrete":
        return (out + action.start).astype(np.int64)
    return out.astype(np.int64)


def _members(
    route: Route, n_members: int, n_agents: int, rows: int, device: torch.device
) -> Tensor:
    """(A, X) long: the member of every agent and row."""
    if route is None:
        if n_members == 1:
            return torch.zeros(n_agents, rows, dtype=torch.long, device=device)
        return torch.arange(n_agents, device=device).unsqueeze(1).expand(n_agents, rows)
    if route.dim() == 1:
        return route.unsqueeze(1).expand(n_agents, rows)
    return route
