"""The utilities of one agent's actions, and the three things QMIX does with them.

An agent network returns, for a batch of agents and steps, an :class:`ActionValues`: its
per-action utilities and which actions are valid. QMIX needs three operations on it, all
vectorised over any leading axes ``(...)`` (agents, batch columns, steps):

* :meth:`~ActionValues.greedy`: the action of the highest utility among the valid ones (the
  policy, and the next action of the TD target);
* :meth:`~ActionValues.chosen`: the utility of given actions (the mixer's inputs);
* :meth:`~ActionValues.random`: a uniformly random valid action (ε-greedy exploration).

Two action kinds:

* :class:`DiscreteValues`: a ``Discrete(n)`` space; utilities ``(..., n)``, masked by the
  observation's ``action_mask`` when it has one; actions ``(...)`` long (0-based).
* :class:`PickValues`: Ride-Hailing's dispatch action, up to ``K`` ordered picks over ``S``
  candidate slots, slot 0 = STAY (the env reads the first ``n_picks = min(idle drivers, K)``).
  The agent's utility is the mean over its counted picks, ``Q(picks) = (1 / n_picks)
  Σ_{p < n_picks} q[picks_p]`` (0 when no driver is idle): every idle driver either takes one
  order (each order once) or stays, and dividing by ``n_picks`` keeps the scale of ``Q`` from
  growing with the number of idle drivers (up to 50) without moving its argmax (``n_picks`` is
  fixed by the observation). The maximum is exact and greedy: take the orders in decreasing
  ``q`` while ``q > q[STAY]``, at most ``n_picks`` of them, and let the other drivers stay.
  Actions ``(..., K)`` long.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor


class ActionValues(ABC):
    """Utilities of the actions of agents ``(...)``; see the module docstring."""

    @abstractmethod
    def greedy(self) -> Tensor:
        """The valid action of the highest utility."""

    @abstractmethod
    def chosen(self, actions: Tensor) -> Tensor:
        """``(...)`` the utility of ``actions``."""

    @abstractmethod
    def random(self, generator: torch.Generator) -> Tensor:
        """A uniformly random valid action, drawn from ``generator``."""

    @abstractmethod
    def map(self, fn: Callable[[Tensor], Tensor]) -> ActionValues:
        """The values with ``fn`` applied to every tensor (which must keep the last axis of the
        utilities: e.g. a range of steps, or unflattening a leading axis)."""

    def best(self) -> Tensor:
        """``(...)`` the utility of the greedy action."""
        return self.chosen(self.greedy())


@dataclass
class DiscreteValues(ActionValues):
    """``q`` (..., n) utilities; ``valid`` (..., n) bool (a row with no valid action, e.g. a
    padded step, counts every action valid)."""

    q: Tensor
    valid: Tensor

    def __post_init__(self) -> None:
        self.valid = self.valid | ~self.valid.any(-1, keepdim=True)

    def greedy(self) -> Tensor:
        return self.q.masked_fill(~self.valid, -torch.inf).argmax(-1)

    def chosen(self, actions: Tensor) -> Tensor:
        return self.q.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def random(self, generator: torch.Generator) -> Tensor:
        weights = self.valid.reshape(-1, self.valid.shape[-1]).float().cpu()
        draw = torch.multinomial(weights, 1, generator=generator).squeeze(-1)
        return draw.reshape(self.valid.shape[:-1]).to(self.q.device)

    def map(self, fn: Callable[[Tensor], Tensor]) -> DiscreteValues:
        return DiscreteValues(fn(self.q), fn(self.valid))


@dataclass
class PickValues(ActionValues):
    """``q`` (..., S) slot utilities (slot 0 = STAY); ``valid`` (..., S) bool, the slots that
    hold an order (slot 0 is always valid); ``n_picks`` (...) long, the picks that count;
    ``max_picks``: K, the length of an action."""

    q: Tensor
    valid: Tensor
    n_picks: Tensor
    max_picks: int

    def __post_init__(self) -> None:
        self.valid = self.valid.clone()
        self.valid[..., 0] = True

    def _fill(self, order: Tensor, take: Tensor) -> Tensor:
        """Picks (..., K): positions r with ``take[..., r]`` get order slot ``order[..., r] + 1``
        (``order`` ranks the orders, ``take`` is a prefix of that ranking), the others STAY."""
        width = min(order.shape[-1], self.max_picks)
        picks = torch.zeros(
            *order.shape[:-1], self.max_picks, dtype=torch.long, device=order.device
        )
        picks[..., :width] = torch.where(take[..., :width], order[..., :width] + 1, 0)
        return picks

    def _ranks(self) -> Tensor:
        return torch.arange(self.q.shape[-1] - 1, device=self.q.device)

    def greedy(self) -> Tensor:
        orders = self.q[..., 1:].masked_fill(~self.valid[..., 1:], -torch.inf)
        values, order = torch.sort(orders, dim=-1, descending=True, stable=True)
        take = (values > self.q[..., :1]) & (self._ranks() < self.n_picks.unsqueeze(-1))
        return self._fill(order, take)

    def chosen(self, actions: Tensor) -> Tensor:
        counted = torch.arange(self.max_picks, device=actions.device) < self.n_picks.unsqueeze(-1)
        total = (self.q.gather(-1, actions) * counted).sum(-1)
        return total / self.n_picks.clamp_min(1)

    def random(self, generator: torch.Generator) -> Tensor:
        """A uniform number of orders ``k ∈ {0 .. min(orders, n_picks)}``, then ``k`` orders
        uniformly without replacement; the other drivers stay."""
        valid = self.valid[..., 1:].cpu()
        keys = torch.rand(valid.shape, generator=generator).masked_fill(~valid, -1.0)
        order = torch.argsort(keys, dim=-1, descending=True, stable=True)
        most = torch.minimum(valid.sum(-1), self.n_picks.cpu())
        k = (torch.rand(most.shape, generator=generator) * (most + 1)).floor().long()
        take = torch.arange(valid.shape[-1]) < torch.minimum(k, most).unsqueeze(-1)
        return self._fill(order, take).to(self.q.device)

    def map(self, fn: Callable[[Tensor], Tensor]) -> PickValues:
        return PickValues(fn(self.q), fn(self.valid), fn(self.n_picks), self.max_picks)
