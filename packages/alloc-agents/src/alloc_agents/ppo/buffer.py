"""Rollout storage of one space group: agent-major tensors ``(A, T, E, ...)``.

Minibatches select (time step, env copy) samples — ``s = t * E + e`` — and keep every agent of a
sample, so a minibatch is ``(A, b, ...)``: exactly the layout the batched networks take.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from alloc_agents.ppo.spaces import SpaceGroup


@dataclass
class Minibatch:
    """One group's slice of a minibatch; every tensor is (A, b, ...)."""

    obs: dict[str, Tensor]
    actions: Tensor
    logp: Tensor
    values: Tensor
    advantages: Tensor
    returns: Tensor
    active: Tensor
    #: PSA's shared critic: its rollout values and GAE returns (``None`` otherwise).
    values_shared: Tensor | None = None
    returns_shared: Tensor | None = None
    #: CoPO: the agents' LCFs φ (``None`` otherwise), and per reward stream its critic's
    #: rollout values and GAE returns.
    lcf: Tensor | None = None
    #: DyPS's rollouts: the member of every agent in every sample (``None``: the assignment).
    members: Tensor | None = None
    stream_values: dict[str, Tensor] = field(default_factory=dict)
    stream_returns: dict[str, Tensor] = field(default_factory=dict)


@dataclass
class Stream:
    """A reward stream of a group with its own critic (CoPO's neighbourhood and global
    rewards): ``(A, T, E)`` rewards, critic values (normalised units), denormalised values of
    final observations where truncated, GAE advantages and returns; ``last_values`` (A, E)
    denormalised values after the last step."""

    rewards: Tensor
    values: Tensor
    final_values: Tensor
    advantages: Tensor
    returns: Tensor
    last_values: Tensor

    @classmethod
    def zeros(cls, shape: tuple[int, int, int], device: torch.device) -> Stream:
        z = lambda s: torch.zeros(s, dtype=torch.float32, device=device)  # noqa: E731
        return cls(z(shape), z(shape), z(shape), z(shape), z(shape), z((shape[0], shape[2])))


class GroupBuffer:
    """Per-step data of one space group for one iteration (T steps, E copies)."""

    def __init__(
        self,
        group: SpaceGroup,
        n_steps: int,
        n_envs: int,
        device: torch.device,
        shared_critic: bool = False,
        streams: Sequence[str] = (),
        lcf: bool = False,
    ):
        """``shared_critic``: also store PSA's shared critic; ``streams``: names of extra
        reward streams (:class:`Stream`); ``lcf``: store the agents' LCFs (CoPO)."""
        a, t, e = group.n_agents, n_steps, n_envs
        self.group = group
        self.shape = (a, t, e)
        self.device = device
        self.obs = {
            k.name: torch.zeros((a, t, e, *k.shape), dtype=torch.float32, device=device)
            for k in group.obs.keys
        }
        self.actions: Tensor | None = None  # allocated at the first insert (shape of the head)
        zeros = lambda dtype: torch.zeros((a, t, e), dtype=dtype, device=device)  # noqa: E731
        self.logp = zeros(torch.float32)
        self.values = zeros(torch.float32)  # critic output (normalised units)
        self.rewards = zeros(torch.float32)  # each agent's own reward, as the env gave it
        #: ``PPOConfig.reward_sharing="team"``: the rewards the PPO update learns from (the
        #: team's mean per step); ``None``: ``rewards``. DyPS, roles and SePS read ``rewards``.
        self.learning_rewards: Tensor | None = None
        self.final_values = zeros(torch.float32)  # denormalised V(final obs) where truncated
        self.active = zeros(torch.bool)
        self.terminated = zeros(torch.bool)
        self.truncated = zeros(torch.bool)
        self.advantages = zeros(torch.float32)
        self.returns = zeros(torch.float32)
        self.last_values = torch.zeros((a, e), dtype=torch.float32, device=device)
        # PSA's shared critic: the same quantities for its values.
        self.shared = shared_critic
        if shared_critic:
            self.values_shared = zeros(torch.float32)
            self.final_values_shared = zeros(torch.float32)
            self.returns_shared = zeros(torch.float32)
            self.last_values_shared = torch.zeros((a, e), dtype=torch.float32, device=device)
        self.streams = {name: Stream.zeros((a, t, e), device) for name in streams}
        self.lcf: Tensor | None = zeros(torch.float32) if lcf else None
        #: (A, T, E) member of every agent at every step of every copy, where the rollout gave
        #: every env copy its own assignment (DyPS); ``None`` otherwise.
        self.members: Tensor | None = None

    def insert(
        self,
        t: int,
        obs: dict[str, Tensor],
        actions: Tensor,
        logp: Tensor,
        values: Tensor,
        active: Tensor,
        lcf: Tensor | None = None,
        members: Tensor | None = None,
    ) -> None:
        """Store step t: ``obs`` {key: (A, E, ...)}, ``actions`` (A, E, ...), the rest (A, E)
        (``lcf``: the agents' LCFs, for a buffer that stores them; ``members``: the member of
        every agent in every copy, when the copies have their own assignments)."""
        for key, value in obs.items():
            self.obs[key][:, t] = value
        if self.actions is None:
            a, n_t, e = self.shape
            self.actions = torch.zeros(
                (a, n_t, e, *actions.shape[2:]), dtype=actions.dtype, device=self.device
            )
        self.actions[:, t] = actions
        if members is not None:
            if self.members is None:
                self.members = torch.zeros(self.shape, dtype=torch.long, device=self.device)
            self.members[:, t] = members
        self.logp[:, t] = logp
        self.values[:, t] = values
        self.active[:, t] = active
        if self.lcf is not None:
            if lcf is None:
                raise ValueError("this buffer stores LCFs (CoPO): insert(..., lcf=...)")
            self.lcf[:, t] = lcf

    def flat(self, x: Tensor) -> Tensor:
        """(A, T, E, ...) -> (A, T * E, ...)."""
        a, t, e = self.shape
        return x.reshape(a, t * e, *x.shape[3:])

    def flat_members(self) -> Tensor | None:
        """(A, T * E) members of every sample (:attr:`members`), or ``None``."""
        return None if self.members is None else self.flat(self.members)

    def minibatch(self, index: Tensor) -> Minibatch:
        """The samples ``index`` (into T * E) for every agent of the group."""
        assert self.actions is not None
        pick = lambda x: self.flat(x).index_select(1, index)  # noqa: E731  (x[:, index], faster)
        return Minibatch(
            obs={k: pick(v) for k, v in self.obs.items()},
            actions=pick(self.actions),
            logp=pick(self.logp),
            values=pick(self.values),
            advantages=pick(self.advantages),
            returns=pick(self.returns),
            active=pick(self.active),
            values_shared=pick(self.values_shared) if self.shared else None,
            returns_shared=pick(self.returns_shared) if self.shared else None,
            lcf=None if self.lcf is None else pick(self.lcf),
            members=None if self.members is None else pick(self.members),
            stream_values={name: pick(s.values) for name, s in self.streams.items()},
            stream_returns={name: pick(s.returns) for name, s in self.streams.items()},
        )


def minibatch_count(
    buffers: Sequence[GroupBuffer], n_minibatches: int, minibatch_size: int | None
) -> int:
    """Minibatches per pass over a rollout of (T, E) samples: ``max(1, round(agent-steps /
    minibatch_size))`` counting every agent of every group at every sample when
    ``minibatch_size`` is set, else ``n_minibatches``; at most T · E."""
    _, n_steps, n_envs = buffers[0].shape
    n_samples = n_steps * n_envs
    if minibatch_size is not None:
        rows = sum(b.shape[0] for b in buffers) * n_samples
        count = max(1, round(rows / minibatch_size))
    else:
        count = n_minibatches
    return min(count, n_samples)
