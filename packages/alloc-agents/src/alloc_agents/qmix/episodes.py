"""Whole episodes for QMIX: recorded while acting, kept in a FIFO replay buffer, batched padded.

An :class:`Episode` of T steps holds, per space group g (``A_g`` agents, group order), the
observations of steps ``0 .. T`` (step T: the final observation, zeros unless the episode was
truncated), which agents act at each of them, the actions of steps ``0 .. T - 1`` and named
per-agent records of those steps (``per_agent``: always ``"reward"``, each agent's own reward
times ``reward_scale``; RODE adds ``"role"``); and for the whole env the state of steps
``0 .. T``, the team reward of every step and whether the return ends after it (``terminal``:
no bootstrap from the next step).

A :class:`Batch` stacks B episodes agent-major for the networks, padded with zeros to the longest
episode (and, per observation key, to the largest shape); ``filled`` (B, T) marks the real steps.
Ride-Hailing episodes keep their candidate orders packed (:mod:`alloc_agents.qmix.orders`): the
batch holds them as :class:`~alloc_agents.qmix.orders.PackedOrders` per group (``orders``), not
as padded ``candidates``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from alloc_agents.qmix.orders import ORDER_FEATURES, PackedOrders, batch_orders, pack_episode


@dataclass
class Episode:
    """One recorded episode (module docstring); arrays are time-major numpy."""

    obs: list[dict[str, np.ndarray]]  # per group {key: (T + 1, A_g, ...)}
    acting: list[np.ndarray]  # per group (T + 1, A_g) bool
    actions: list[np.ndarray]  # per group (T, A_g, ...) int64
    per_agent: dict[str, list[np.ndarray]]  # name -> per group (T, A_g)
    state: np.ndarray  # (T + 1, S) float32
    reward: np.ndarray  # (T,) float32
    terminal: np.ndarray  # (T,) bool

    @property
    def length(self) -> int:
        return int(self.reward.shape[0])

    def to_tensors(self) -> dict[str, Any]:
        """Plain containers of tensors (checkpoints)."""
        return {
            "obs": [{k: torch.as_tensor(v) for k, v in g.items()} for g in self.obs],
            "acting": [torch.as_tensor(a) for a in self.acting],
            "actions": [torch.as_tensor(a) for a in self.actions],
            "per_agent": {k: [torch.as_tensor(a) for a in v] for k, v in self.per_agent.items()},
            "state": torch.as_tensor(self.state),
            "reward": torch.as_tensor(self.reward),
            "terminal": torch.as_tensor(self.terminal),
        }

    @classmethod
    def from_tensors(cls, data: dict[str, Any]) -> Episode:
        """The episode of :meth:`to_tensors`'s containers; Ride-Hailing episodes saved with
        their padded ``candidates`` (before the buffer packed them) are packed."""
        obs = [{k: v.numpy() for k, v in g.items()} for g in data["obs"]]
        return cls(
            obs=[pack_episode(g) if "candidates" in g else g for g in obs],
            acting=[a.numpy() for a in data["acting"]],
            actions=[a.numpy() for a in data["actions"]],
            per_agent={k: [a.numpy() for a in v] for k, v in data["per_agent"].items()},
            state=data["state"].numpy(),
            reward=data["reward"].numpy(),
            terminal=data["terminal"].numpy(),
        )


@dataclass
class EpisodeRecorder:
    """Collects one env copy's steps until its episode ends."""

    obs: list[list[dict[str, np.ndarray]]] = field(default_factory=list)  # per step, per group
    acting: list[list[np.ndarray]] = field(default_factory=list)
    actions: list[list[np.ndarray]] = field(default_factory=list)
    per_agent: list[dict[str, list[np.ndarray]]] = field(default_factory=list)
    state: list[np.ndarray] = field(default_factory=list)
    reward: list[float] = field(default_factory=list)

    def add(
        self,
        obs: Sequence[dict[str, np.ndarray]],
        acting: Sequence[np.ndarray],
        actions: Sequence[np.ndarray],
        per_agent: dict[str, list[np.ndarray]],
        state: np.ndarray,
        reward: float,
    ) -> None:
        """One step: per group the observations ``{key: (A_g, ...)}``, the acting agents
        (A_g,), their actions (A_g, ...) and per-agent records ``{name: per group (A_g,)}``;
        the state (S,) and the team reward."""
        self.obs.append(list(obs))
        self.acting.append(list(acting))
        self.actions.append(list(actions))
        self.per_agent.append(per_agent)
        self.state.append(state)
        self.reward.append(reward)

    def finish(
        self,
        final_obs: Sequence[dict[str, np.ndarray]],
        final_acting: Sequence[np.ndarray],
        final_state: np.ndarray,
        bootstrap: bool,
    ) -> Episode:
        """The episode, its step T the final observation (``final_acting``: the agents whose
        value is bootstrapped there); ``bootstrap=False`` ends the return at the last step."""
        n_groups = len(self.obs[0])
        steps = [*self.obs, list(final_obs)]
        obs = [
            {k: np.stack([s[g][k] for s in steps]) for k in steps[0][g]} for g in range(n_groups)
        ]
        acting = [
            np.stack([a[g] for a in [*self.acting, list(final_acting)]]) for g in range(n_groups)
        ]
        actions = [np.stack([a[g] for a in self.actions]) for g in range(n_groups)]
        per_agent = {
            k: [np.stack([step[k][g] for step in self.per_agent]) for g in range(n_groups)]
            for k in self.per_agent[0]
        }
        terminal = np.zeros(len(self.reward), dtype=bool)
        terminal[-1] = not bootstrap
        return Episode(
            obs,
            acting,
            actions,
            per_agent,
            np.stack([*self.state, final_state]).astype(np.float32),
            np.asarray(self.reward, dtype=np.float32),
            terminal,
        )


@dataclass
class Batch:
    """B episodes padded to T steps, agent-major per group (module docstring)."""

    obs: list[dict[str, Tensor]]  # per group {key: (A_g, B, T + 1, ...)}
    acting: list[Tensor]  # per group (A_g, B, T + 1) bool
    actions: list[Tensor]  # per group (A_g, B, T, ...) long
    per_agent: dict[str, list[Tensor]]  # name -> per group (A_g, B, T)
    state: Tensor  # (B, T + 1, S)
    reward: Tensor  # (B, T)
    terminal: Tensor  # (B, T) bool
    filled: Tensor  # (B, T) bool
    #: Per group, its packed candidate orders as (A_g, B * (T + 1)) rows (Ride-Hailing), or
    #: ``None``.
    orders: list[PackedOrders | None]

    @property
    def steps(self) -> int:
        return int(self.reward.shape[1])


def _pad_stack(arrays: Sequence[np.ndarray], dtype: Any) -> np.ndarray:
    """Stack arrays along a new axis 0, zero-padding every axis to the largest size."""
    shape = np.max([a.shape for a in arrays], axis=0)
    out = np.zeros((len(arrays), *shape), dtype=dtype)
    for i, a in enumerate(arrays):
        out[(i, *(slice(0, n) for n in a.shape))] = a
    return out


def _agent_major(array: np.ndarray, device: torch.device) -> Tensor:
    """(B, T, A, ...) -> (A, B, T, ...) tensor."""
    return torch.as_tensor(np.moveaxis(array, 2, 0)).to(device)


def collate(episodes: Sequence[Episode], device: torch.device) -> Batch:
    """A :class:`Batch` of ``episodes``."""
    n_groups = len(episodes[0].obs)
    obs = [
        {
            k: _agent_major(_pad_stack([ep.obs[g][k] for ep in episodes], np.float32), device)
            for k in episodes[0].obs[g]
            if k != ORDER_FEATURES
        }
        for g in range(n_groups)
    ]
    orders = [
        batch_orders([ep.obs[g] for ep in episodes], obs[g]["candidate_mask"])
        if ORDER_FEATURES in episodes[0].obs[g]
        else None
        for g in range(n_groups)
    ]
    acting = [
        _agent_major(_pad_stack([ep.acting[g] for ep in episodes], bool), device)
        for g in range(n_groups)
    ]
    actions = [
        _agent_major(_pad_stack([ep.actions[g] for ep in episodes], np.int64), device)
        for g in range(n_groups)
    ]
    per_agent = {
        k: [
            _agent_major(_pad_stack([ep.per_agent[k][g] for ep in episodes], v[g].dtype), device)
            for g in range(n_groups)
        ]
        for k, v in episodes[0].per_agent.items()
    }
    lengths = torch.as_tensor([ep.length for ep in episodes])
    filled = torch.arange(int(lengths.max())) < lengths.unsqueeze(1)

    def stacked(name: str, dtype: Any) -> Tensor:
        return torch.as_tensor(_pad_stack([getattr(ep, name) for ep in episodes], dtype)).to(device)

    return Batch(
        obs,
        acting,
        actions,
        per_agent,
        stacked("state", np.float32),
        stacked("reward", np.float32),
        stacked("terminal", bool),
        filled.to(device),
        orders,
    )


class ReplayBuffer:
    """The last ``capacity`` episodes; :meth:`sample` draws B distinct ones uniformly."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.episodes: deque[Episode] = deque(maxlen=capacity)

    def __len__(self) -> int:
        return len(self.episodes)

    def add(self, episode: Episode) -> None:
        self.episodes.append(episode)

    def sample(self, size: int, generator: torch.Generator) -> list[Episode]:
        """``size`` distinct episodes, uniformly (``generator`` draws)."""
        if size > len(self.episodes):
            raise ValueError(f"cannot sample {size} episodes from a buffer of {len(self)}")
        index = torch.randperm(len(self.episodes), generator=generator)[:size].tolist()
        return [self.episodes[i] for i in index]

    def state_dict(self) -> dict[str, Any]:
        return {"episodes": [ep.to_tensors() for ep in self.episodes]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.episodes = deque(
            (Episode.from_tensors(ep) for ep in state["episodes"]), maxlen=self.capacity
        )
