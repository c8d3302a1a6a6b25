"""Rollout storage of one space group: agent-major tensors ``(A, T, E, ...)``.

Minibatches select (time step, env copy) samples — ``s = t * E + e`` — and keep every agent of a
sample, so a minibatch is ``(A, b, ...)``: exactly the layout the batched networks take.
"""

from __future__ import annotations

from dataclasses import dataclass

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


class GroupBuffer:
    """Per-step data of one space group for one iteration (T steps, E copies)."""

    def __init__(
        self,
        group: SpaceGroup,
        n_steps: int,
        n_envs: int,
        device: torch.device,
        shared_critic: bool = False,
    ):
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
        self.rewards = zeros(torch.float32)
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

    def insert(
        self,
        t: int,
        obs: dict[str, Tensor],
        actions: Tensor,
        logp: Tensor,
        values: Tensor,
        active: Tensor,
    ) -> None:
        """Store step t: ``obs`` {key: (A, E, ...)}, ``actions`` (A, E, ...), the rest (A, E)."""
        for key, value in obs.items():
            self.obs[key][:, t] = value
        if self.actions is None:
            a, n_t, e = self.shape
            self.actions = torch.zeros(
                (a, n_t, e, *actions.shape[2:]), dtype=actions.dtype, device=self.device
            )
        self.actions[:, t] = actions
        self.logp[:, t] = logp
        self.values[:, t] = values
        self.active[:, t] = active

    def flat(self, x: Tensor) -> Tensor:
        """(A, T, E, ...) -> (A, T * E, ...)."""
        a, t, e = self.shape
        return x.reshape(a, t * e, *x.shape[3:])

    def minibatch(self, index: Tensor) -> Minibatch:
        """The samples ``index`` (into T * E) for every agent of the group."""
        assert self.actions is not None
        pick = lambda x: self.flat(x)[:, index]  # noqa: E731
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
        )
