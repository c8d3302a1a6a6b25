"""The followers' shared policy and value networks, evaluated on the whole (t, s) grid.

Both are MLPs on the features ``[one-hot state (S), one-hot time (T), z_t (U)]``, where ``z_t``
is the leader's incentive of the step scaled to [0, 1] over the incentive box, when the
followers observe it (the leader acts first, TIRL paper §3.2; :class:`FollowerPPOConfig`
``observe_incentive``). The state and time inputs are one-hot, so the first layer is
``W[s] + W[S + t] + z_t W_u + b``; evaluating a network on every (t, s) of steps ``start..T-1``
costs O((T - start) S H) for the first layer, never the (T S, S + T) one-hot matrix. Every
follower shares the parameters (homogeneous population), so a rollout or a loss needs one grid
evaluation, gathered at the samples' (t, s): its cost does not grow with the number of
followers.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.batched import ACTIVATION_FNS, BatchedLinear, BatchedMLP
from alloc_agents.ppo.distributions import MaskedCategorical
from alloc_agents.ppo.valuenorm import ValueNorm


class GridMLP(nn.Module):
    """An MLP on ``[one-hot s, one-hot t, z]`` evaluated on the (t, s) grid from a start step
    (``z``: ``n_incentives`` scaled incentive features, none by default).

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
        n_incentives: int = 0,
    ) -> None:
        super().__init__()
        self.n_states = n_states
        self.horizon = horizon
        self.n_incentives = n_incentives
        in_dim = n_states + horizon + n_incentives
        self.first = BatchedLinear(1, in_dim, hidden[0], math.sqrt(2.0))
        self.rest = BatchedMLP(1, hidden[0], hidden[1:], out_dim, activation, out_gain)
        self.act = ACTIVATION_FNS[activation]

    def _incentive_term(self, features: Tensor | None, rows: int) -> Tensor | float:
        """(rows, H) ``z W_u`` of (rows, U) scaled incentives (0 without incentive inputs)."""
        if self.n_incentives == 0:
            return 0.0
        if features is None or features.shape != (rows, self.n_incentives):
            got = None if features is None else tuple(features.shape)
            raise ValueError(
                f"incentive features must have shape {(rows, self.n_incentives)}, got {got}"
            )
        return features @ self.first.weight[0, self.n_states + self.horizon :]

    def forward(self, start: int, incentives: Tensor | None = None) -> Tensor:
        """(T - start, S, out_dim): the network at every step ``start..T-1`` and state, with
        the (T - start, U) scaled ``incentives`` of those steps when it observes them."""
        weight, bias = self.first.weight[0], self.first.bias[0]
        states = weight[: self.n_states]
        times = weight[self.n_states + start : self.n_states + self.horizon]
        times = times + self._incentive_term(incentives, times.shape[0])
        return self.rest(self.act(states[None] + times[:, None] + bias))

    def at(self, times: Tensor, states: Tensor, incentives: Tensor | None = None) -> Tensor:
        """(K, out_dim): the network at the K points ``(times[k], states[k])`` ((K,) long
        tensors; (K, U) scaled ``incentives`` when it observes them), costing O(K) rather
        than the whole grid."""
        weight, bias = self.first.weight[0], self.first.bias[0]
        hidden = weight[states] + weight[self.n_states + times] + bias
        return self.rest(self.act(hidden + self._incentive_term(incentives, times.shape[0])))


class FollowerNetwork(nn.Module):
    """Policy (masked categorical over the A actions) and value of a follower at (t, s), and
    at the step's incentive u_t when ``incentive_box`` is given.

    Args:
        action_mask: (S, A) bool, the game's valid actions (masked logits: invalid actions get
            probability 0).
        horizon: T.
        hidden_sizes, activation: the MLPs' hidden widths and activation.
        incentive_box: ``(low, high)``, the (U,) bounds of the leader's incentive, when the
            followers observe it (inputs ``(u_t - low) / (high - low)``); ``None``: they do not.
    """

    def __init__(
        self,
        action_mask: np.ndarray,
        horizon: int,
        hidden_sizes: tuple[int, ...],
        activation: str,
        incentive_box: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        super().__init__()
        n_states, n_actions = action_mask.shape
        low, high = (np.zeros(0), np.ones(0)) if incentive_box is None else incentive_box
        low, high = np.asarray(low, dtype=np.float64), np.asarray(high, dtype=np.float64)
        u = low.shape[0]
        self.actor = GridMLP(n_states, horizon, hidden_sizes, n_actions, activation, 0.01, u)
        self.critic = GridMLP(n_states, horizon, hidden_sizes, 1, activation, 1.0, u)
        self.value_norm = ValueNorm(1)
        self.register_buffer("action_mask", torch.tensor(np.array(action_mask, dtype=bool)))
        width = np.where(high > low, high - low, 1.0)
        self.register_buffer("incentive_low", torch.tensor(low, dtype=torch.float32))
        self.register_buffer("incentive_scale", torch.tensor(1.0 / width, dtype=torch.float32))

    @property
    def observes_incentive(self) -> bool:
        """Whether the networks read the step's incentive."""
        return self.actor.n_incentives > 0

    def features(self, incentives: Any) -> Tensor | None:
        """(T', U) scaled incentive inputs of (T', U) incentives (array or tensor), or ``None``
        when the networks do not observe them."""
        if not self.observes_incentive:
            return None
        if incentives is None:
            raise ValueError("these followers observe the incentive: pass the steps' incentives")
        low = self.incentive_low
        u = torch.as_tensor(incentives, dtype=low.dtype, device=low.device)
        return (u - low) * self.incentive_scale

    def policy(self, start: int, incentives: Any = None) -> MaskedCategorical:
        """The masked action distributions, batch shape (T - start, S); ``incentives``: the
        (T - start, U) incentives of those steps (needed when the followers observe them)."""
        return MaskedCategorical(self.actor(start, self.features(incentives)), self.action_mask)

    def step_policy(self, t: int, incentive: Any = None) -> MaskedCategorical:
        """The masked action distributions of every state at step ``t`` (batch shape (S,)),
        with the (U,) ``incentive`` of the step when the followers observe it (an array, or a
        tensor through which the distributions are differentiable:
        :mod:`~alloc_agents.stackelberg.pathwise`)."""
        n_states = self.action_mask.shape[0]
        states = torch.arange(n_states, device=self.action_mask.device)
        times = torch.full_like(states, t)
        if incentive is None or isinstance(incentive, Tensor):
            row = None if incentive is None else incentive[None]
        else:
            row = np.asarray(incentive, dtype=np.float64)[None]
        features = self.features(row)
        features = None if features is None else features.expand(n_states, -1)
        logits = self.actor.at(times, states, features)
        return MaskedCategorical(logits, self.action_mask)

    def values(self, start: int, incentives: Any = None) -> Tensor:
        """(T - start, S) values in the value normaliser's units (``incentives`` as in
        :meth:`policy`)."""
        return self.critic(start, self.features(incentives)).squeeze(-1)

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
