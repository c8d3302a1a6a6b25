"""Generalised advantage estimation with inactive entries, termination and truncation.

All arrays are time-major ``(T, ...)`` (any trailing agent/env axes). For an entry active at t:

* next value = 0 if the agent *terminated* at t; the value of the final observation
  (``final_values[t]``) if it was *truncated* at t (time limits are not terminal states);
  otherwise ``values[t + 1]`` (``last_values`` after the last step);
* ``δ_t = r_t + γ · next value − V_t``;
* ``A_t = δ_t + γ λ · (1 − done_t) · A_{t+1}`` with done = terminated or truncated.

Inactive entries (agents that are gone, or not yet there) get advantage 0 and return 0 and must
be masked out of the losses; an agent active at t and not done is active at t + 1 (the runner
treats an agent that disappears without a flag as terminated).
"""

from __future__ import annotations

import torch
from torch import Tensor


@torch.no_grad()
def compute_gae(
    rewards: Tensor,
    values: Tensor,
    active: Tensor,
    terminated: Tensor,
    truncated: Tensor,
    final_values: Tensor,
    last_values: Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[Tensor, Tensor]:
    """Advantages and returns (``advantages + values``), both (T, ...), zero where inactive.

    ``rewards``, ``values`` (denormalised), ``final_values``: float (T, ...); ``active``,
    ``terminated``, ``truncated``: bool (T, ...); ``last_values``: (...) values of the
    observation after the last step.
    """
    steps = rewards.shape[0]
    advantages = torch.zeros_like(rewards)
    next_adv = torch.zeros_like(last_values)
    for t in reversed(range(steps)):
        next_value = last_values if t == steps - 1 else values[t + 1]
        next_value = torch.where(truncated[t], final_values[t], next_value)
        next_value = torch.where(terminated[t], torch.zeros_like(next_value), next_value)
        done = terminated[t] | truncated[t]
        delta = rewards[t] + gamma * next_value - values[t]
        adv = delta + gamma * gae_lambda * (~done).to(rewards.dtype) * next_adv
        adv = torch.where(active[t], adv, torch.zeros_like(adv))
        advantages[t] = adv
        next_adv = adv
    returns = torch.where(active, advantages + values, torch.zeros_like(values))
    return advantages, returns


@torch.no_grad()
def standardize(x: Tensor, active: Tensor) -> Tensor:
    """``(x − mean) / (std + 1e-8)`` over the ``active`` entries of ``x``, 0 elsewhere; ``x``
    unchanged when fewer than two entries are active."""
    if int(active.sum()) <= 1:
        return x
    values = x[active]
    return torch.where(active, (x - values.mean()) / (values.std() + 1e-8), torch.zeros_like(x))
