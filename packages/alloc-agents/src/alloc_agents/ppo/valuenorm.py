"""Running normalisation of value targets (MAPPO's ``ValueNorm``), one set of statistics per
parameter member.

Statistics: debiased exponential averages of the mean and the mean square of the returns,
``m ← β m + (1 − β) mean(batch)``, ``d ← β d + (1 − β)`` (debiasing term), mean = m / d,
var = max(m2 / d − mean², 1e-2). The critic predicts normalised values; rollouts and GAE use
``denormalize(prediction)``; the critic is trained towards ``normalize(returns)`` after the
statistics have been updated with the minibatch's returns.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from alloc_agents.ppo.batched import Route


class ValueNorm(nn.Module):
    """Per-member running mean / variance of value targets.

    Values are agent-major ``(A, B)``; a route maps agents (``(A,)``) or agents in batch columns
    (``(A, B)``) to members as in :mod:`alloc_agents.ppo.batched`.
    """

    member_tensors = ("running_mean", "running_mean_sq", "debiasing_term")

    def __init__(
        self, n_members: int, beta: float = 0.99999, epsilon: float = 1e-5, min_var: float = 1e-2
    ) -> None:
        super().__init__()
        self.beta = beta
        self.epsilon = epsilon
        self.min_var = min_var
        self.register_buffer("running_mean", torch.zeros(n_members, dtype=torch.float64))
        self.register_buffer("running_mean_sq", torch.zeros(n_members, dtype=torch.float64))
        self.register_buffer("debiasing_term", torch.zeros(n_members, dtype=torch.float64))

    def _member_index(self, route: Route, n_agents: int) -> Tensor:
        device = self.running_mean.device
        if route is not None:
            return route
        if self.running_mean.shape[0] == 1:
            return torch.zeros(n_agents, dtype=torch.long, device=device)
        return torch.arange(n_agents, device=device)

    def mean_var(self) -> tuple[Tensor, Tensor]:
        """Per-member mean and variance, (M,) float64 each."""
        debias = self.debiasing_term.clamp(min=self.epsilon)
        mean = self.running_mean / debias
        var = (self.running_mean_sq / debias - mean**2).clamp(min=self.min_var)
        return mean, var

    @torch.no_grad()
    def update(self, x: Tensor, route: Route, active: Tensor) -> None:
        """Fold the active entries of ``x`` (A, B) into each member's statistics."""
        idx = self._member_index(route, x.shape[0])
        w = active.to(torch.float64)
        xd = x.to(torch.float64) * w
        sq = xd * x.to(torch.float64)
        if idx.dim() == 1:  # per agent: sum each agent's row first
            w, xd, sq = w.sum(1), xd.sum(1), sq.sum(1)
        else:  # per (agent, column)
            idx, w, xd, sq = idx.reshape(-1), w.reshape(-1), xd.reshape(-1), sq.reshape(-1)
        m = self.running_mean.shape[0]
        count = torch.zeros(m, dtype=torch.float64, device=x.device).index_add_(0, idx, w)
        total = torch.zeros_like(count).index_add_(0, idx, xd)
        total_sq = torch.zeros_like(count).index_add_(0, idx, sq)
        seen = count > 0
        safe = count.clamp(min=1.0)
        beta = torch.where(seen, torch.full_like(count, self.beta), torch.ones_like(count))
        self.running_mean.mul_(beta).add_((total / safe) * (1 - beta))
        self.running_mean_sq.mul_(beta).add_((total_sq / safe) * (1 - beta))
        self.debiasing_term.mul_(beta).add_(1 - beta)

    def _rows(self, route: Route, n_agents: int) -> tuple[Tensor, Tensor]:
        mean, var = self.mean_var()
        idx = self._member_index(route, n_agents)
        if idx.dim() == 1:
            idx = idx.unsqueeze(1)
        return mean[idx], var[idx].sqrt()

    def normalize(self, x: Tensor, route: Route) -> Tensor:
        """``(x − mean) / std`` per agent's member; (A, B) in, same dtype out."""
        mean, std = self._rows(route, x.shape[0])
        return ((x.to(torch.float64) - mean) / std).to(x.dtype)

    def denormalize(self, x: Tensor, route: Route) -> Tensor:
        """Inverse of :meth:`normalize`."""
        mean, std = self._rows(route, x.shape[0])
        return (x.to(torch.float64) * std + mean).to(x.dtype)
