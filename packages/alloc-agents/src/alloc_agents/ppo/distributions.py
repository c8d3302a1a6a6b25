"""Action distributions over batched agents (leading dims ``(A, B)`` or any ``batch_shape``).

Every distribution has ``sample()``, ``mode()`` (deterministic action), ``log_prob(action)``
(one number per agent-step) and ``entropy()`` (ditto). Actions are what the buffer stores; the
head converts them to environment actions (:meth:`~alloc_agents.ppo.heads.ActorHead.env_action`).
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F


def _neg_inf(x: Tensor) -> float:
    return torch.finfo(x.dtype).min


def _safe_mask(mask: Tensor) -> Tensor:
    """Rows with no valid entry (e.g. inactive agents' zero observations) become all-valid."""
    return mask | ~mask.any(dim=-1, keepdim=True)


class MaskedCategorical:
    """Categorical over the last axis of ``logits`` (..., n); ``mask`` (..., n) bool keeps the
    valid entries (invalid ones get probability 0)."""

    def __init__(self, logits: Tensor, mask: Tensor | None = None) -> None:
        if mask is not None:
            logits = logits.masked_fill(~_safe_mask(mask), _neg_inf(logits))
        self.logits = logits
        self.log_probs = F.log_softmax(logits, dim=-1)

    def sample(self) -> Tensor:
        probs = self.log_probs.exp()
        flat = probs.reshape(-1, probs.shape[-1])
        return torch.multinomial(flat, 1).reshape(probs.shape[:-1])

    def mode(self) -> Tensor:
        return self.log_probs.argmax(dim=-1)

    def log_prob(self, action: Tensor) -> Tensor:
        return self.log_probs.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)

    def entropy(self) -> Tensor:
        p = self.log_probs.exp()
        return -(p * self.log_probs).sum(dim=-1)


class IndependentCategoricals:
    """D independent categoricals (a MultiDiscrete action): ``logits`` (..., D, n_max) with
    ``mask`` (..., D, n_max) marking each component's valid values. Log-prob and entropy are
    sums over the D components."""

    def __init__(self, logits: Tensor, mask: Tensor) -> None:
        self.dist = MaskedCategorical(logits, mask)

    def sample(self) -> Tensor:
        return self.dist.sample()

    def mode(self) -> Tensor:
        return self.dist.mode()

    def log_prob(self, action: Tensor) -> Tensor:
        return self.dist.log_prob(action).sum(dim=-1)

    def entropy(self) -> Tensor:
        return self.dist.entropy().sum(dim=-1)


class DiagGaussian:
    """Gaussian with diagonal covariance over the last axis: ``mean`` (..., d), ``log_std``
    broadcastable to it. Log-prob and entropy sum over d. Samples are unbounded (the head clips
    what it sends to the environment; log-probs are of the unclipped sample)."""

    def __init__(self, mean: Tensor, log_std: Tensor) -> None:
        self.mean = mean
        self.log_std = log_std.expand_as(mean)

    def sample(self) -> Tensor:
        return self.mean + self.log_std.exp() * torch.randn_like(self.mean)

    def mode(self) -> Tensor:
        return self.mean

    def log_prob(self, action: Tensor) -> Tensor:
        z = (action - self.mean) * torch.exp(-self.log_std)
        return (-0.5 * z.pow(2) - self.log_std - 0.5 * torch.log(torch.tensor(2 * torch.pi))).sum(
            -1
        )

    def entropy(self) -> Tensor:
        return (0.5 + 0.5 * torch.log(torch.tensor(2 * torch.pi)) + self.log_std).sum(-1)


class MaskedDirichlet:
    """Dirichlet over the valid entries of the last axis: ``concentration`` (..., k) > 0,
    ``mask`` (..., k) bool. Invalid entries get weight exactly 0; the density, log-prob and
    entropy are those of the Dirichlet of the valid entries alone (with one valid entry the
    action is that vertex, log-prob 0, entropy 0). ``mode()`` returns the mean α / Σα (the
    Dirichlet mode is undefined for α < 1 and sits on the boundary when α → 1)."""

    #: Floor applied to sampled weights before taking logs (Gamma draws can underflow).
    TINY = 1e-12

    def __init__(self, concentration: Tensor, mask: Tensor) -> None:
        self.mask = _safe_mask(mask)
        self.alpha = torch.where(self.mask, concentration, torch.ones_like(concentration))

    def _normalise(self, weights: Tensor) -> Tensor:
        weights = torch.where(self.mask, weights.clamp_min(self.TINY), torch.zeros_like(weights))
        return weights / weights.sum(-1, keepdim=True)

    def sample(self) -> Tensor:
        return self._normalise(torch._standard_gamma(self.alpha.detach()))

    def mode(self) -> Tensor:
        return self._normalise(self.alpha.detach())

    def log_prob(self, action: Tensor) -> Tensor:
        m = self.mask
        alpha = torch.where(m, self.alpha, torch.zeros_like(self.alpha))
        log_x = torch.log(action.clamp_min(self.TINY))
        total = alpha.sum(-1)
        log_norm = torch.lgamma(total) - torch.where(m, torch.lgamma(self.alpha), 0.0).sum(-1)
        return log_norm + torch.where(m, (alpha - 1.0) * log_x, 0.0).sum(-1)

    def entropy(self) -> Tensor:
        m = self.mask
        alpha = torch.where(m, self.alpha, torch.zeros_like(self.alpha))
        total = alpha.sum(-1)
        k = m.sum(-1).to(alpha.dtype)
        log_beta = torch.where(m, torch.lgamma(self.alpha), 0.0).sum(-1) - torch.lgamma(total)
        digamma_terms = torch.where(m, (alpha - 1.0) * torch.digamma(self.alpha), 0.0).sum(-1)
        return log_beta + (total - k) * torch.digamma(total) - digamma_terms


class SequentialPicks:
    """The ride-hailing dispatch action: up to K ordered picks over S candidate slots.

    ``scores`` (..., S) are logits of the slots, ``mask`` (..., S) bool the slots that hold a
    candidate (slot 0 = STAY is always valid), ``n_picks`` (...) the number of picks that count
    (the env reads the first ``min(idle drivers, K)``). Picks are drawn one after another from
    the softmax over the still-available slots: a picked real order is removed, STAY never is.
    Positions from ``n_picks`` on are padded with STAY (0). Once every real order is taken only
    STAY is left, and those picks have probability 1.

    * ``log_prob(picks)`` = Σ over counted picks j of log p(pick_j | slots available at j);
    * ``entropy()`` = entropy of the first pick's distribution (the reference's choice: the
      exact entropy of the pick sequence has no closed form);
    * ``mode()``: at every pick, STAY if it is at least as probable as all the available orders
      together, else the most probable order: the mode of "dispatch or stay", then of "which
      order". (The most probable single slot at every pick would stay for good as soon as STAY
      beats each order alone, even when an order is taken with probability 0.9: on Ride-Hailing
      (1) that mode cost a PSA+IPPO policy a third of its sampled GMV.)
    """

    def __init__(self, scores: Tensor, mask: Tensor, n_picks: Tensor, max_picks: int) -> None:
        self.batch_shape = scores.shape[:-1]
        self.n_slots = scores.shape[-1]
        self.max_picks = max_picks
        mask = mask.clone()
        mask[..., 0] = True
        self.scores = scores.reshape(-1, self.n_slots)
        self.mask = mask.reshape(-1, self.n_slots)
        self.n_picks = n_picks.reshape(-1).long().clamp(0, max_picks)
        self.n_orders = self.mask[:, 1:].sum(-1)

    def _draw(self, greedy: bool) -> Tensor:
        rows = self.scores.shape[0]
        neg = _neg_inf(self.scores)
        scores = self.scores.detach()
        taken = torch.zeros_like(self.mask)
        picks = torch.zeros(rows, self.max_picks, dtype=torch.long, device=scores.device)
        remaining = self.n_orders.clone()
        for j in range(self.max_picks):
            choosing = (j < self.n_picks) & (remaining > 0)
            if not bool(choosing.any()):
                break  # every row has either no pick left or only STAY to pick
            logits = scores.masked_fill(~(self.mask & ~taken), neg)
            if greedy:
                orders = logits.clone()
                orders[:, 0] = neg
                dispatch = torch.logsumexp(orders, -1) > logits[:, 0]
                pick = torch.where(dispatch, orders.argmax(-1), torch.zeros_like(dispatch).long())
            else:
                pick = torch.multinomial(F.softmax(logits, -1), 1).squeeze(-1)
            pick = torch.where(choosing, pick, torch.zeros_like(pick))
            picks[:, j] = pick
            real = pick > 0
            taken = taken | (F.one_hot(pick, self.n_slots).bool() & real.unsqueeze(-1))
            remaining = remaining - real.long()
        return picks.reshape(*self.batch_shape, self.max_picks)

    def sample(self) -> Tensor:
        return self._draw(greedy=False)

    def mode(self) -> Tensor:
        return self._draw(greedy=True)

    def log_prob(self, picks: Tensor) -> Tensor:
        picks = picks.reshape(-1, self.max_picks).long()
        pos = torch.arange(self.max_picks, device=picks.device)
        counted = pos < self.n_picks.unsqueeze(-1)  # (R, K)
        real = (picks > 0) & counted
        real_before = torch.cumsum(real.long(), dim=1) - real.long()
        # A pick contributes while some real order is still available (else it is STAY, p = 1).
        contributes = counted & (self.n_orders.unsqueeze(-1) - real_before > 0)
        if not bool(contributes.any()):
            return self.scores.new_zeros(self.batch_shape)
        k = int(contributes.nonzero()[:, 1].max()) + 1
        picks, real, contributes = picks[:, :k], real[:, :k], contributes[:, :k]
        onehot = F.one_hot(picks, self.n_slots).bool() & real.unsqueeze(-1)  # (R, k, S)
        taken_before = (torch.cumsum(onehot.long(), dim=1) - onehot.long()) > 0
        available = self.mask.unsqueeze(1) & ~taken_before
        logits = self.scores.unsqueeze(1).masked_fill(~available, _neg_inf(self.scores))
        logp = F.log_softmax(logits, dim=-1).gather(-1, picks.unsqueeze(-1)).squeeze(-1)
        logp = torch.where(contributes, logp, torch.zeros_like(logp))
        return logp.sum(-1).reshape(self.batch_shape)

    def entropy(self) -> Tensor:
        first = MaskedCategorical(self.scores, self.mask)
        return first.entropy().reshape(self.batch_shape)
