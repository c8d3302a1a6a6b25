"""The followers' shared policy and value networks, evaluated on the whole (t, s) grid.

Both are MLPs on the features ``[one-hot state (S), one-hot time (T)]``. The input is one-hot,
so the first layer is a sum of two embedding rows, ``W[s] + W[S + t] + b``; evaluating a network
on every (t, s) of steps ``start..T-1`` costs O((T - start) S H) for the first layer, never the
(T S, S + T) one-hot matrix. Every follower shares the parameters (homogeneous population), so
a rollout or a loss needs one grid evaluation, gathered at the samples' (t, s): its cost does
not grow with the number of followers.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.batched import ACTIVATION_FNS, BatchedLinear, BatchedMLP
from alloc_agents.ppo.distributions import MaskedCategorical
from alloc_agents.ppo.valuenorm import ValueNorm


class GridMLP(nn.Module):
    """An MLP on ``[one-hot s, one-hot t]`` evaluated on the (t, s) grid from a start step.

    Initialised as the PPO core's MLPs (orthogonal, gain sqrt(2) in the hidden layers and
    ``out_gain`` in the last one, zero biases; drawn from the global torch generator).
    """

    def __init__(
        self,
        n_states: int,
        horizon: int,
        hidden: tuple[int, ...],
        out_dim: int,
        activation: str,
        out_gain: float,
    ) -> None:
        super().__init__()
        self.n_states = n_states
        self.first = BatchedLinear(1, n_states + horizon, hidden[0], math.sqrt(2.0))
        self.rest = BatchedMLP(1, hidden[0], hidden[1:], out_dim, activation, out_gain)
        self.act = ACTIVATION_FNS[activation]

    def forward(self, start: int) -> Tensor:
        """(T - start, S, out_dim): the network at every step ``start..T-1`` and state."""
        weight, bias = self.first.weight[0], self.first.bias[0]
        states, times = weight[: self.n_states], weight[self.n_states + start :]
        return self.rest(self.act(states[None] + times[:, None] + bias))

    def at(self, times: Tensor, states: Tensor) -> Tensor:
        """(K, out_dim): the network at the K points ``(times[k], states[k])`` ((K,) long
        tensors), costing O(K) rather than the whole grid."""
        weight, bias = self.first.weight[0], self.first.bias[0]
        return self.rest(self.act(weight[states] + weight[self.n_states + times] + bias))


class FollowerNetwork(nn.Module):
    """Policy (masked categorical over the A actions) and value of a follower at (t, s).

    Args:
        action_mask: (S, A) bool, the game's valid actions (masked logits: invalid actions get
            probability 0).
        horizon: T.
        hidden_sizes, activation: the MLPs' hidden widths and activation.
    """

    def __init__(
        self,
        action_mask: np.ndarray,
        horizon: int,
        hidden_sizes: tuple[int, ...],
        activation: str,
    ) -> None:
        super().__init__()
        n_states, n_actions = action_mask.shape
        self.actor = GridMLP(n_states, horizon, hidden_sizes, n_actions, activation, 0.01)
        self.critic = GridMLP(n_states, horizon, hidden_sizes, 1, activation, 1.0)
        self.value_norm = ValueNorm(1)
        self.register_buffer("action_mask", torch.tensor(np.array(action_mask, dtype=bool)))

    def policy(self, start: int) -> MaskedCategorical:
        """The masked action distributions, batch shape (T - start, S)."""
        return MaskedCategorical(self.actor(start), self.action_mask)

    def values(self, start: int) -> Tensor:
        """(T - start, S) values in the value normaliser's units."""
        return self.critic(start).squeeze(-1)

    def denormalize(self, values: Tensor) -> Tensor:
        """Values of any shape from the normaliser's units to reward units."""
        return self.value_norm.denormalize(values.reshape(1, -1), None).reshape(values.shape)

    def normalize(self, returns: Tensor) -> Tensor:
        """Returns of any shape to the normaliser's units."""
        return self.value_norm.normalize(returns.reshape(1, -1), None).reshape(returns.shape)

    def update_value_norm(self, returns: Tensor) -> None:
        """Fold a batch of returns (any shape) into the normaliser's statistics."""
        flat = returns.reshape(1, -1)
        self.value_norm.update(flat, None, torch.ones_like(flat, dtype=torch.bool))
