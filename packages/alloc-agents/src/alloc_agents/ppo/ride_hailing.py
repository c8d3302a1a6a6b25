"""Networks for the ``alloc/RideHailing-v0`` observation (dispatch and reposition modes).

Feature normalisation is fixed, not learned: every count, price and difference goes through
``symlog(x) = sign(x) · log(1 + |x|)`` (idle drivers 0..50 → 0..3.9, prices 0..150 → 0..5),
the step index is divided by the episode length (the ``time`` space's upper bound). Fixed scales
keep the policy a pure function of its parameters (no running statistics to checkpoint or to
drift under PPO's ratio) and work unchanged for any city size.

* The cell's *state features*: ``observation`` without column 0 (the cell id — agent identity
  enters only through the ``ps-id`` strategy's one-hot, so ``ps`` is the reference's "PS-noid"
  and ``ps-id`` its "PS"), symlog-ed, plus ``time / episode_steps`` (15 / 21 features).
* A candidate's features: price, trip length, type, Δratio, Δdrivers, Δorders and age
  (``candidates`` columns 2..8), symlog-ed. Origin and destination ids are left out (the origin
  is always the cell itself; the Δ features describe the destination).

**Dispatch actor** (a scorer over candidate slots): ``s = tanh(MLP(state ++ id))`` (one vector
per cell and step), then for every candidate j ``score_j = w · tanh(U s + V x_j + b)`` — a
one-hidden-layer MLP on (cell embedding, candidate features), evaluated only on the slots that
hold a candidate (packed rows; empty slots get no score and are masked); the picks
are drawn one after another without replacement for real orders while STAY stays available
(:class:`~alloc_agents.ppo.distributions.SequentialPicks`), only ``min(idle, K)`` of them
(idle = ``observation[1]``), padded with STAY.

**Reposition actor**: ``α = 1 + softplus(MLP(state ++ id))`` over the 7 moves, a Dirichlet over
the moves of ``move_mask`` (the others get weight exactly 0). α ≥ 1 keeps the density bounded and
the log-probabilities stable; concentrating on one move is still possible (α of that move large).

**Critic (IPPO)**: an MLP on the state features (+ id for ``ps-id``). With MAPPO the critic reads
the symlog of the env's ``state()`` plus a one-hot agent id instead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.batched import (
    ACTIVATION_FNS,
    AgentInputs,
    BatchedLinear,
    BatchedMLP,
    Route,
    routed_scores,
)
from alloc_agents.ppo.distributions import MaskedDirichlet, SequentialPicks
from alloc_agents.ppo.networks import Actor, ObsBatch, flat_features
from alloc_agents.ppo.spaces import SpaceGroup

#: Candidate-feature columns used by the scorer (price .. age of ``CANDIDATE_FEATURES``).
CANDIDATE_COLUMNS = slice(2, 9)
N_CANDIDATE_FEATURES = 7
#: Column of the idle-driver count in ``observation``.
IDLE = 1


def symlog(x: Tensor) -> Tensor:
    """``sign(x) · log1p(|x|)``: a fixed, scale-free squashing of counts and prices."""
    return torch.sign(x) * torch.log1p(torch.abs(x))


def scenario_kind(group: SpaceGroup) -> str | None:
    """``"dispatch"``, ``"reposition"`` or ``None`` (not a ride-hailing observation)."""
    names = set(group.obs.names)
    action = group.action
    if {"observation", "time", "candidates", "candidate_mask"} <= names:
        slots = group.obs.key("candidates").shape[0]
        if (
            action.kind == "multidiscrete"
            and len(action.shape) == 1
            and all(n == slots for n in action.nvec)
            and all(s == 0 for s in action.starts)
            and group.obs.key("candidate_mask").shape == (slots,)
            and group.obs.key("candidates").shape[1] >= 9
        ):
            return "dispatch"
    if {"observation", "time", "move_mask"} <= names:
        moves = group.obs.key("move_mask").shape
        if action.kind == "box" and action.shape == moves:
            return "reposition"
    return None


class StateFeatures(nn.Module):
    """``(A, B, F)`` state features of a ride-hailing observation (see the module docstring)."""

    def __init__(self, group: SpaceGroup) -> None:
        super().__init__()
        time_space = group.observation_space["time"]
        self.time_scale = float(max(1.0, np.max(time_space.high)))
        self.dim = group.obs.key("observation").shape[0] - 1 + 1

    def forward(self, obs: ObsBatch) -> Tensor:
        cell = symlog(obs["observation"][..., 1:])
        return torch.cat([cell, obs["time"] / self.time_scale], dim=-1)


def state_features(group: SpaceGroup) -> tuple[Callable[[ObsBatch], Tensor], int]:
    """The features ``obs -> (A, B, S)`` and S that critics and role models read: the compact
    :class:`StateFeatures` for ride-hailing groups, else the flat non-mask observation."""
    if scenario_kind(group) is not None:
        features = StateFeatures(group)
        return features, features.dim
    spec = group.obs
    return (lambda obs: flat_features(spec, obs)), spec.flat_dim


class DispatchActor(Actor):
    """Scores every candidate slot and samples ordered picks (module docstring)."""

    def __init__(
        self,
        group: SpaceGroup,
        n_members: int,
        id_dim: int,
        hidden: tuple[int, ...],
        activation: str,
    ) -> None:
        super().__init__()
        self.action = group.action
        self.max_picks = len(group.action.nvec)
        self.state = StateFeatures(group)
        width = hidden[-1]
        self.act = ACTIVATION_FNS[activation]
        self.state_mlp = BatchedMLP(
            n_members, self.state.dim + id_dim, hidden[:-1], width, activation, out_gain=2**0.5
        )
        self.query = BatchedLinear(n_members, width, width, 1.0)
        self.key = BatchedLinear(n_members, N_CANDIDATE_FEATURES, width, 1.0)
        self.score = BatchedLinear(n_members, width, 1, 0.01)

    def forward(self, obs: ObsBatch, ids: AgentInputs | None, route: Route) -> SequentialPicks:
        mask = obs["candidate_mask"] > 0
        a, b, _ = mask.shape
        # Slots past the last one holding a candidate anywhere in the batch are empty
        # everywhere: dropping them changes no probability.
        occupied = mask.reshape(-1, mask.shape[-1]).any(0).nonzero()
        n_slots = int(occupied.max()) + 1 if occupied.numel() else 1
        mask = mask[..., :n_slots]
        s = self.act(self.state_mlp(self.state(obs), route, agent=ids))  # (A, B, H)
        query = self.query(s, route).reshape(a * b, -1)  # (A * B, H)
        # Only the slots that hold a candidate are scored (packed rows, ordered by agent).
        packed = mask.reshape(-1).nonzero().squeeze(1)  # (n,) flat (agent, batch, slot) ids
        row = torch.div(packed, n_slots, rounding_mode="floor")  # (n,) (agent, batch) rows
        features = obs["candidates"][..., :n_slots, CANDIDATE_COLUMNS]
        x = symlog(features.reshape(-1, N_CANDIDATE_FEATURES).index_select(0, packed))
        if route is not None and route.dim() == 2:  # a member per (agent, batch) row
            member = route.reshape(-1).index_select(0, row)
            values = routed_scores(self.key, self.score, query, row, x, member, self.act)
            values = values.squeeze(-1)
        elif self.score.n_members == 1:  # one GEMM over all rows
            values = self.score(self.act(self.key.add_rows(query, row, x))).squeeze(-1)
        else:
            values = self._score_per_agent(query.index_select(0, row), x, row // b, a, route)
        scores = values.new_zeros(a * b * n_slots).index_put((packed,), values)
        idle = torch.round(obs["observation"][..., IDLE])
        return SequentialPicks(scores.reshape(a, b, n_slots), mask, idle, self.max_picks)

    def _score_per_agent(
        self, query: Tensor, x: Tensor, agent: Tensor, n_agents: int, route: Route
    ) -> Tensor:
        """Scores (n,) of packed candidate rows with several members routed per agent:
        ``query`` (n, H) their cell's query, ``x`` (n, 7) their features, ``agent`` (n,) their
        agent (ascending). The rows are laid out per agent, (A, W, ·) with W the most rows of
        one agent, for the members' batched matmuls."""
        count = torch.bincount(agent, minlength=n_agents)
        width = int(count.max()) if agent.numel() else 1
        first = torch.cumsum(count, 0) - count
        at = agent * width + torch.arange(agent.shape[0], device=agent.device) - first[agent]

        def per_agent(rows: Tensor) -> Tensor:
            out = rows.new_zeros(n_agents * width, rows.shape[-1]).index_put((at,), rows)
            return out.reshape(n_agents, width, -1)

        h = self.act(per_agent(query) + self.key(per_agent(x), route))  # (A, W, H)
        return self.score(h, route).reshape(-1).index_select(0, at)


class RepositionActor(Actor):
    """Dirichlet weights over the valid moves (module docstring)."""

    def __init__(
        self,
        group: SpaceGroup,
        n_members: int,
        id_dim: int,
        hidden: tuple[int, ...],
        activation: str,
    ) -> None:
        super().__init__()
        self.action = group.action
        self.state = StateFeatures(group)
        n_moves = group.action.size
        self.mlp = BatchedMLP(n_members, self.state.dim + id_dim, hidden, n_moves, activation, 0.01)

    def forward(self, obs: ObsBatch, ids: AgentInputs | None, route: Route) -> MaskedDirichlet:
        alpha = 1.0 + F.softplus(self.mlp(self.state(obs), route, agent=ids))
        return MaskedDirichlet(alpha, obs["move_mask"] > 0)

    def env_action(self, action: Tensor) -> np.ndarray:
        return np.clip(action.detach().cpu().numpy(), 0.0, 1.0).astype(np.float32)
