"""Generic actors and critics for any supported space: MLPs on the flat observation features.

An actor maps a group's observation dict ``{key: (A, B, *shape)}`` (plus optional per-agent
inputs, :class:`~alloc_agents.ppo.batched.AgentInputs`: a one-hot id, roles, an LCF; ``id_dim``
columns of the first layer) to an action distribution over ``(A, B)``; a critic maps its input
features to values ``(A, B)`` (in the value normaliser's units). All layers are batched over the
group's parameter members (see :mod:`alloc_agents.ppo.batched`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.batched import AgentInputs, BatchedMLP, Route, route_columns, route_rows
from alloc_agents.ppo.distributions import (
    DiagGaussian,
    IndependentCategoricals,
    MaskedCategorical,
)
from alloc_agents.ppo.spaces import ACTION_MASK, ActionSpec, ObsKey, ObsSpec

ObsBatch = Mapping[str, Tensor]
Distribution = object  # any class of alloc_agents.ppo.distributions


def flat_key_features(key: ObsKey, value: Tensor) -> Tensor:
    """One observation entry ``(A, B, *shape)`` as flat float features ``(A, B, flat_dim)``."""
    lead = value.shape[:2]
    if key.kind in ("box", "multibinary"):
        return value.reshape(*lead, -1).float()
    if key.kind == "discrete":
        return F.one_hot((value.long() - key.start).clamp(0, key.n - 1), key.n).float()
    parts = value.reshape(*lead, -1).long()
    return torch.cat(
        [
            F.one_hot((parts[..., d] - s).clamp(0, n - 1), n).float()
            for d, (n, s) in enumerate(zip(key.nvec, key.starts, strict=True))
        ],
        dim=-1,
    )


def flat_features(spec: ObsSpec, obs: ObsBatch) -> Tensor:
    """The non-mask keys of ``obs`` concatenated: ``(A, B, spec.flat_dim)``."""
    return torch.cat([flat_key_features(k, obs[k.name]) for k in spec.feature_keys], dim=-1)


class Actor(nn.Module):
    """Base class: ``forward(obs, ids, route)`` -> distribution; :meth:`env_action`."""

    action: ActionSpec

    def env_action(self, action: Tensor) -> np.ndarray:
        """Buffer actions ``(A, B, ...)`` -> environment actions (numpy, space dtype/shape)."""
        spec = self.action
        a = action.detach().cpu().numpy()
        lead = a.shape[:2]
        if spec.kind == "discrete":
            return a.astype(np.int64) + spec.start
        if spec.kind == "multidiscrete":
            starts = np.asarray(spec.starts, dtype=np.int64)
            return (a.astype(np.int64) + starts).reshape(*lead, *spec.shape)
        low = np.asarray(spec.low, dtype=np.float32)
        high = np.asarray(spec.high, dtype=np.float32)
        return np.clip(a, low, high).astype(np.float32).reshape(*lead, *spec.shape)


class MLPActor(Actor):
    """A plain MLP on the flat features; the head follows the action space:

    * Discrete: categorical logits, masked by ``action_mask`` (n,) when the observation has one;
    * MultiDiscrete / MultiBinary: independent categoricals per component (a flat
      ``action_mask`` of length ``sum(nvec)`` masks them when present);
    * Box: Gaussian mean, state-independent log-std per member (``log_std``, (M, d)).
    """

    member_tensors = ("log_std",)

    def __init__(
        self,
        obs: ObsSpec,
        action: ActionSpec,
        n_members: int,
        id_dim: int,
        hidden: tuple[int, ...],
        activation: str,
        log_std_init: float,
    ) -> None:
        super().__init__()
        self.obs = obs
        self.action = action
        if action.kind == "discrete":
            out_dim = action.n
        elif action.kind == "multidiscrete":
            self.n_max = max(action.nvec)
            out_dim = len(action.nvec) * self.n_max
            valid = torch.zeros(len(action.nvec), self.n_max, dtype=torch.bool)
            # Index of each (component, value) in a flat action_mask; padding points past its end.
            flat_index = torch.full((len(action.nvec), self.n_max), sum(action.nvec))
            offset = 0
            for d, n in enumerate(action.nvec):
                valid[d, :n] = True
                flat_index[d, :n] = torch.arange(offset, offset + n)
                offset += n
            self.register_buffer("valid", valid, persistent=False)
            self.register_buffer("flat_index", flat_index, persistent=False)
        else:
            out_dim = action.size
            self.log_std = nn.Parameter(torch.full((n_members, action.size), log_std_init))
        self.mlp = BatchedMLP(
            n_members, obs.flat_dim + id_dim, hidden, out_dim, activation, out_gain=0.01
        )
        self.use_mask = obs.has(ACTION_MASK) and self._mask_fits(obs.key(ACTION_MASK))

    def _mask_fits(self, key: ObsKey) -> bool:
        if self.action.kind == "discrete":
            return key.shape == (self.action.n,)
        if self.action.kind == "multidiscrete":
            return key.shape == (sum(self.action.nvec),)
        return False

    def forward(self, obs: ObsBatch, ids: AgentInputs | None, route: Route) -> Distribution:
        out = self.mlp(flat_features(self.obs, obs), route, agent=ids)
        mask = obs[ACTION_MASK] > 0 if self.use_mask else None
        if self.action.kind == "discrete":
            return MaskedCategorical(out, mask)
        if self.action.kind == "multidiscrete":
            logits = out.reshape(*out.shape[:-1], len(self.action.nvec), self.n_max)
            valid = self.valid.expand_as(logits)
            if mask is not None:
                padded = F.pad(mask, (0, 1))  # the padding index reads False
                valid = valid & padded[..., self.flat_index]
            return IndependentCategoricals(logits, valid)
        log_std = route_rows(self.log_std, route, out.shape[0])
        return DiagGaussian(out, log_std)


class Critic(nn.Module):
    """Value = MLP(features(inputs) ++ ids) -> (A, B), in the value normaliser's units.

    ``features`` turns the critic's inputs into ``(A, B, in_dim)``: the flat local observation
    (IPPO) or the centralised input (MAPPO).
    """

    def __init__(
        self,
        features: Callable[[object], Tensor],
        in_dim: int,
        n_members: int,
        hidden: tuple[int, ...],
        activation: str,
    ) -> None:
        super().__init__()
        self.features = features
        self.mlp = BatchedMLP(n_members, in_dim, hidden, 1, activation, out_gain=1.0)

    def forward(self, inputs: object, ids: AgentInputs | None, route: Route) -> Tensor:
        return self.mlp(self.features(inputs), route, agent=ids).squeeze(-1)


class CentralCritic(Critic):
    """MAPPO's critic: value = MLP(transform(state) ++ agent inputs) -> (A, B), with the first
    layer taken apart by input. The state (B, S) is the same for every agent, so its part,
    ``transform(state) W_s[m]``, is computed once per member and batch row, (M, B, H), not once
    per agent; each agent adds its own part ``ids W_id[m] + b[m]`` (``ids``: K columns per
    agent, the one-hot id, gathered rather than multiplied, and the agent's other inputs).
    Parameters, initialisation and values are those of :class:`Critic` on the concatenation
    ``state ++ ids`` (values up to float rounding); the first layer's multiply-adds
    fall from A·B·(S + K)·H to M·B·S·H + A·B·K·H.
    """

    def __init__(
        self,
        transform: Callable[[Tensor], Tensor],
        state_dim: int,
        ids_dim: int,
        n_members: int,
        hidden: tuple[int, ...],
        activation: str,
    ) -> None:
        super().__init__(transform, state_dim + ids_dim, n_members, hidden, activation)
        self.state_dim = state_dim

    def forward(self, inputs: object, ids: AgentInputs | None, route: Route) -> Tensor:
        """``inputs``: the state (B, S); ``ids``: K columns per agent, required."""
        if ids is None:
            raise ValueError("the centralised critic reads every agent's inputs: pass ids")
        first = self.mlp.hidden[0]
        state_part = torch.matmul(self.features(inputs), first.weight[:, : self.state_dim])
        dense, one_hot_at = ids.append_to(state_part.new_zeros(ids.n_agents, ids.batch, 0))
        pre = first(dense, route, inputs=slice(self.state_dim, None), one_hot_at=one_hot_at)
        hidden = self.mlp.act(pre + route_columns(state_part, route))
        return self.mlp(hidden, route, start=1).squeeze(-1)
