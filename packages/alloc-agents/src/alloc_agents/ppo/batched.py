"""Layers holding several parameter sets ("members") used by many agents in one matmul.

Inputs are agent-major: ``x`` has shape ``(A, ..., in)`` for A agents. A *route* says which
member each agent uses:

* ``None`` with one member: every agent uses member 0 (parameter sharing) and the layer is one
  plain matmul over all ``A * ...`` rows;
* ``None`` with ``A`` members: agent i uses member i (no sharing) — one batched matmul
  (``torch.baddbmm``) over the stacked ``(A, in, out)`` weights, so 100 agents cost one call;
* an ``(A,)`` long tensor: agent i uses member ``route[i]`` (grouped sharing, e.g. SePS or
  DyPS's deployed groups). With fewer members than agents the rows are sorted by member and
  each member's rows take one matmul, as for an ``(A, B)`` route below (gathering a weight copy
  per agent would cost A·in·out numbers a layer: 3,130 copies on Medical); with as many or more
  members, the member weights are gathered per agent, then one batched matmul. Gradients flow
  back to the shared members;
* an ``(A, B)`` long tensor, for inputs ``(A, B, ..., in)``: agent i in batch column j uses
  member ``route[i, j]`` (DyPS's rollouts, where every env copy has its own assignment): the rows
  are sorted by member and each member's rows take one matmul (:meth:`BatchedLinear.rows`). A
  stack of layers (:class:`BatchedMLP`, :func:`routed_scores`) sorts the rows once
  (:class:`MemberBlocks`) and restores their order after its last layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.fast_tanh import tanh

Route = Tensor | None

#: Hidden-layer activations by config name; tanh is numpy's on the CPU (:mod:`.fast_tanh`).
ACTIVATION_FNS = {"tanh": tanh, "relu": F.relu}


class MemberBlocks:
    """Rows sorted by their member once, for several layers: ``member`` (n,) long.

    ``sort(x)`` puts the rows of ``x`` (n, ...) in member order (stable), ``unsort(y)`` puts
    them back, and ``counts`` gives the size of every member's block of the sorted rows.
    """

    def __init__(self, member: Tensor, n_members: int) -> None:
        self.order = torch.argsort(member, stable=True)
        self.counts: list[int] = torch.bincount(member, minlength=n_members).tolist()

    def sort(self, x: Tensor) -> Tensor:
        return x.index_select(0, self.order)

    def unsort(self, y: Tensor) -> Tensor:
        return torch.empty_like(y).index_copy(0, self.order, y)


def row_members(route: Route, x: Tensor, n_members: int) -> Tensor | None:
    """The member of every row of ``x`` (A, ..., in), shape ``x.shape[:-1]``, when its rows are
    best sorted into per-member blocks: an (A, B) route, or an (A,) route with fewer members
    than agents (module docstring); else ``None``."""
    if route is None or (route.dim() == 1 and n_members >= x.shape[0]):
        return None
    return route.reshape(*route.shape, *(1,) * (x.dim() - 1 - route.dim())).expand(x.shape[:-1])


def agent_rows(id_weight: Tensor, route: Route, ndim: int) -> Tensor:
    """Every agent's row of its member's one-hot-id weight: ``id_weight`` (M, A, out), row i
    read by agent i -> (A, 1, ..., out) with ``ndim`` dimensions, or (A, B, 1, ..., out) with a
    per-column route (A, B)."""
    m, a = id_weight.shape[:2]
    agents = torch.arange(a, device=id_weight.device)
    if route is None:
        rows = id_weight[0] if m == 1 else id_weight[agents, agents]
    elif route.dim() == 1:
        rows = id_weight[route, agents]
    else:
        rows = id_weight[route, agents.unsqueeze(1)]
    lead = rows.shape[:-1]
    return rows.reshape(*lead, *(1,) * (ndim - len(lead) - 1), rows.shape[-1])


@dataclass(frozen=True)
class AgentInputs:
    """What a network appends to each agent's own features, in this order: the agent's one-hot
    id (``one_hot_id``: ``n_agents`` columns, never built, see :meth:`BatchedLinear.forward`'s
    ``one_hot_at``), then ``dense`` (A, B, D) features (e.g. Role-As-State roles, CoPO's LCF)
    or ``None``."""

    n_agents: int
    batch: int
    one_hot_id: bool
    dense: Tensor | None = None

    def append_to(self, x: Tensor) -> tuple[Tensor, int | None]:
        """``x`` (A, B, F) -> (``x`` with the dense features appended, the column F at which
        the first layer reads the one-hot id, or ``None`` without one)."""
        if tuple(x.shape[:2]) != (self.n_agents, self.batch):
            raise ValueError(
                f"agent inputs are for ({self.n_agents}, {self.batch}) rows, the features "
                f"have {tuple(x.shape[:2])}"
            )
        at = x.shape[-1] if self.one_hot_id else None
        return (x if self.dense is None else torch.cat([x, self.dense], -1)), at


class BatchedLinear(nn.Module):
    """``y = x W[m] + b[m]`` with ``M`` members; weights ``(M, in, out)``, bias ``(M, out)``.

    Every member is initialised independently: orthogonal with ``gain``, zero bias (the usual
    PPO initialisation), drawn from the global torch generator.
    """

    def __init__(self, n_members: int, in_features: int, out_features: int, gain: float) -> None:
        super().__init__()
        self.n_members = n_members
        self.in_features = in_features
        self.out_features = out_features
        weight = torch.empty(n_members, in_features, out_features)
        for m in range(n_members):
            w = torch.empty(out_features, in_features)
            if in_features > 0:
                nn.init.orthogonal_(w, gain=gain)
            weight[m] = w.T
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(n_members, out_features))

    def forward(
        self,
        x: Tensor,
        route: Route = None,
        inputs: slice | None = None,
        one_hot_at: int | None = None,
    ) -> Tensor:
        """``x`` (A, ..., in) -> (A, ..., out). ``inputs``: only these of the layer's inputs
        (rows of W) are given, ``x`` (A, ..., n_given): the layer's part on them, bias
        included (the rest of the inputs' part is added by the caller). ``one_hot_at``: from
        that column of the given inputs come A columns holding the agent's one-hot id, which
        ``x`` leaves out (``x`` (A, ..., n_given - A)): agent i's part is row
        ``one_hot_at + i`` of its member's weight, gathered instead of multiplied by the
        identity (the same values up to float rounding, A·B·A·out fewer multiply-adds)."""
        weight = self.weight if inputs is None else self.weight[:, inputs]
        if one_hot_at is None:
            return self._affine(x, route, weight)
        end = one_hot_at + x.shape[0]
        if end > weight.shape[1]:
            raise ValueError(
                f"{x.shape[0]} agents' one-hot ids from input {one_hot_at} do not fit in "
                f"{weight.shape[1]} inputs"
            )
        rest = torch.cat([weight[:, :one_hot_at], weight[:, end:]], 1)
        y = self._affine(x, route, rest)
        return y + agent_rows(weight[:, one_hot_at:end], route, y.dim())

    def _affine(self, x: Tensor, route: Route, weight: Tensor) -> Tensor:
        """``x W[m] + b[m]`` routed (module docstring); ``weight`` (M, n_in, out)."""
        n_in = weight.shape[1]
        if route is None and self.n_members == 1:
            if x.dim() < 2:
                return torch.matmul(x, weight[0]) + self.bias[0]
            y = torch.addmm(self.bias[0], x.flatten(0, -2), weight[0])  # bias in the GEMM
            return y.reshape(*x.shape[:-1], self.out_features)
        member = row_members(route, x, self.n_members)
        if member is not None:
            rows = x.reshape(math.prod(x.shape[:-1]), n_in)  # explicit: n_in may be 0
            y = self.rows(rows, member.reshape(-1), weight)
            return y.reshape(*x.shape[:-1], self.out_features)
        a = x.shape[0]
        lead = x.shape[1:-1]
        x3 = x.reshape(a, math.prod(lead), n_in)  # explicit: n_in may be 0
        if route is None:
            if a != self.n_members:
                raise ValueError(f"{a} agents but {self.n_members} members and no route")
            bias = self.bias
        else:
            weight, bias = weight[route], self.bias[route]
        y = torch.baddbmm(bias.unsqueeze(1), x3, weight)
        return y.reshape(a, *lead, self.out_features)

    def add_rows(self, base: Tensor, row: Tensor, x: Tensor) -> Tensor:
        """``base[row] + x W + b`` of a one-member layer as one gather and one GEMM: ``base``
        (R, out) per source row, ``row`` (n,) long each row's source row, ``x`` (n, in) ->
        (n, out). The bias is added to the R source rows before the gather (R is usually
        much smaller than n)."""
        if self.n_members != 1:
            raise ValueError(f"add_rows needs one member, this layer has {self.n_members}")
        shifted = (base + self.bias[0]).index_select(0, row)
        return torch.addmm(shifted, x, self.weight[0])

    def rows(self, x: Tensor, member: Tensor, weight: Tensor | None = None) -> Tensor:
        """``x`` (n, in) rows, ``member`` (n,) the member of each row -> (n, out): the rows are
        sorted by member and every member's contiguous block takes one matmul. ``weight``:
        (M, in, out) in place of the layer's (e.g. some of its input rows)."""
        blocks = MemberBlocks(member, self.n_members)
        return blocks.unsort(self.sorted_rows(blocks.sort(x), blocks, weight))

    def sorted_rows(self, x: Tensor, blocks: MemberBlocks, weight: Tensor | None = None) -> Tensor:
        """``x`` (n, in) rows already in ``blocks``' member order -> (n, out), same order;
        ``weight`` as for :meth:`rows`."""
        weight = self.weight if weight is None else weight
        counts = blocks.counts
        y = [
            torch.addmm(self.bias[m], block, weight[m])
            for m, block in enumerate(x.split(counts))
            if counts[m]
        ]
        return torch.cat(y) if y else x.new_zeros(0, self.out_features)

    def copy_member(self, src: int, dst: int) -> None:
        """Overwrite member ``dst``'s parameters with member ``src``'s (no gradient)."""
        with torch.no_grad():
            self.weight[dst].copy_(self.weight[src])
            self.bias[dst].copy_(self.bias[src])


class BatchedMLP(nn.Module):
    """An MLP whose every layer is a :class:`BatchedLinear` (``M`` members).

    ``in_dim -> hidden... -> out_dim``; hidden layers use ``activation`` and gain √2, the last
    layer ``out_gain`` and no activation.
    """

    def __init__(
        self,
        n_members: int,
        in_dim: int,
        hidden: tuple[int, ...],
        out_dim: int,
        activation: str = "tanh",
        out_gain: float = 1.0,
    ) -> None:
        super().__init__()
        sizes = (in_dim, *hidden)
        self.hidden = nn.ModuleList(
            BatchedLinear(n_members, i, o, math.sqrt(2.0)) for i, o in pairwise(sizes)
        )
        self.out = BatchedLinear(n_members, sizes[-1], out_dim, out_gain)
        self.act = ACTIVATION_FNS[activation]

    def forward(
        self,
        x: Tensor,
        route: Route = None,
        start: int = 0,
        agent: AgentInputs | None = None,
    ) -> Tensor:
        """``x`` (A, ..., in_dim) -> (A, ..., out_dim). ``start``: begin at that hidden layer,
        ``x`` being the activation of the one before it (its caller computed the first ones).
        ``agent``: inputs appended to ``x`` (A, B, F) (:class:`AgentInputs`), ``in_dim``
        counting them."""
        if agent is not None:
            x, one_hot_at = agent.append_to(x)
            if one_hot_at is not None:
                first = self.hidden[start] if start < len(self.hidden) else self.out
                x = first(x, route, one_hot_at=one_hot_at)
                if first is self.out:
                    return x
                x, start = self.act(x), start + 1
        hidden = self.hidden[start:]
        member = row_members(route, x, self.out.n_members)
        if member is not None:  # one sort for every layer
            blocks = MemberBlocks(member.reshape(-1), self.out.n_members)
            y = blocks.sort(x.reshape(-1, x.shape[-1]))
            for layer in hidden:
                y = self.act(layer.sorted_rows(y, blocks))
            y = blocks.unsort(self.out.sorted_rows(y, blocks))
            return y.reshape(*x.shape[:-1], y.shape[-1])
        for layer in hidden:
            x = self.act(layer(x, route))
        return self.out(x, route)


def routed_scores(
    key: BatchedLinear,
    score: BatchedLinear,
    query: Tensor,
    row: Tensor,
    x: Tensor,
    member: Tensor,
    activation: Callable[[Tensor], Tensor],
) -> Tensor:
    """``score(activation(query[row] + key(x)))`` of n rows each through its own member, sorted
    once: ``query`` (R, H) per source row, ``row`` (n,) long the rows' source rows, ``x`` (n,
    in) their inputs, ``member`` (n,) their members; returns (n, out) in the rows' order. The
    queries are gathered straight into member order (one gather, one scatter back)."""
    blocks = MemberBlocks(member, key.n_members)
    queries = query.index_select(0, blocks.sort(row))
    hidden = activation(queries + key.sorted_rows(blocks.sort(x), blocks))
    return blocks.unsort(score.sorted_rows(hidden, blocks))


def copy_member(module: nn.Module, src: int, dst: int) -> None:
    """Copy member ``src`` to ``dst`` in every batched parameter of ``module``.

    Batched parameters are :class:`BatchedLinear` layers and any parameter or buffer whose
    leading axis is the member axis and that is listed in the module's ``member_tensors``.
    """
    for sub in module.modules():
        if isinstance(sub, BatchedLinear):
            sub.copy_member(src, dst)
        for name in getattr(sub, "member_tensors", ()):
            tensor = getattr(sub, name, None)
            if tensor is None:  # e.g. log_std of an actor without Gaussian actions
                continue
            with torch.no_grad():
                tensor[dst].copy_(tensor[src])


def route_rows(values: Tensor, route: Route, n_agents: int) -> Tensor:
    """The rows of a per-member tensor ``values`` (M, ...) for inputs (A, B, ...): (A, 1, ...)
    per agent, or (A, B, ...) with a per-column route (A, B)."""
    if route is not None:
        rows = values[route]
        return rows if route.dim() == 2 else rows.unsqueeze(1)
    if values.shape[0] == 1:
        return values.expand(n_agents, *values.shape[1:]).unsqueeze(1)
    return values.unsqueeze(1)


def route_columns(values: Tensor, route: Route) -> Tensor:
    """Values per member and batch column ``values`` (M, B, ...) -> every agent's member's,
    broadcastable to (A, B, ...): ``values`` itself without a route (one member: (1, B, ...);
    one member per agent: (A, B, ...)), else (A, B, ...) by the (A,) or (A, B) route."""
    if route is None:
        return values
    if route.dim() == 1:
        return values.index_select(0, route)
    return values[route, torch.arange(values.shape[1], device=values.device)]
