"""DyPS's self-supervised role models (DyPS paper §3.2): a VLSTM for each agent's role and a
CVAE for each parameter group's role.

Shapes: ``S`` state features, ``U`` action features, ``H`` the LSTM width (the agent role),
``Z`` latent widths. Trajectories are batch-major ``(B, T, ...)`` with B sequences (an agent in
one env copy) of T steps.

**VLSTM** (Eqs. 5–12), for every step t of a sequence, with h the LSTM state before the step:

* prior ``p(z_t | h) = N(f^p(h))`` (Eqs. 5–6);
* inference ``q(z_t | s_t, h) = N(φ^e(s_t, h))`` (Eqs. 10–11);
* generative model ``p(e_{t+1} | z_t, h) = N(f^d(z_t, h))`` with ``e_{t+1} = (s_{t+1},
  r_{t+1})``: the next state and the reward of the step (Eqs. 7–8);
* recurrence ``h ← LSTM(h; z_t, s_t, a_t, r_{t+1})`` (Eq. 9);
* loss = −ELBO (Eq. 12) = Σ_t [−log p(e_{t+1} | z_t, h) + KL(q ‖ p)], averaged over the valid
  steps (an agent active at t and t + 1 in the same episode). The state is reset to zero at the
  start of every episode.

The agent's role ``h^(a)`` is the LSTM state after its whole trajectory, computed with the
inference means (no sampling), averaged over the env copies.

**CVAE** (Eq. 4): ``q(z^(g)_m | one-hot m)`` (encoder: one hidden layer), ``p(a | z, s)``
(decoder: two hidden layers; the state bypasses the encoder), Gaussian with unit variance (a
squared error on the action features), prior N(0, I), the KL term weighted by ``kl_weight``
(1e-4 in the reference code's CVAE; with weight 1 the posterior collapses: action features in
[0, 1] gain less from z than its KL costs, and every group gets the same latent). The group's
role ``z^(g)_m`` is the encoder mean. Trained on (member, s, a) rows of the latest rollout: the
actions each group's policy produced.

Sizes default to the paper's Appendix A.1 (LSTM 64, MLPs with 64-wide hidden layers, CVAE
latent 16).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.seps import action_features
from alloc_agents.ppo.spaces import ActionSpec

#: Clamp of predicted log-variances (numerical safety of the Gaussian terms).
LOGVAR_RANGE = (-8.0, 8.0)


def compact_action_features(spec: ActionSpec, actions: Tensor) -> Tensor:
    """Actions (N, ...) as float features (N, U). A MultiDiscrete of identical sub-spaces (e.g.
    Ride-Hailing's 50 ordered picks among 51 slots) becomes the histogram of its values divided
    by the number of sub-actions; other kinds are :func:`~alloc_agents.ppo.seps.action_features`
    (one-hots, or the flat values of Box actions)."""
    if spec.kind == "multidiscrete" and len(set(spec.nvec)) == 1 and len(spec.nvec) > 1:
        n, parts = spec.nvec[0], actions.long().reshape(actions.shape[0], -1)
        counts = torch.zeros(parts.shape[0], n, device=parts.device)
        counts.scatter_add_(1, parts.clamp(0, n - 1), torch.ones(parts.shape, device=parts.device))
        return counts / parts.shape[1]
    return action_features(spec, actions)


def compact_action_dim(spec: ActionSpec) -> int:
    """U of :func:`compact_action_features`."""
    if spec.kind == "multidiscrete":
        same = len(set(spec.nvec)) == 1 and len(spec.nvec) > 1
        return spec.nvec[0] if same else sum(spec.nvec)
    if spec.kind == "discrete":
        return spec.n
    return math.prod(spec.shape)


def _mlp(in_dim: int, hidden: int, out_dim: int, layers: int) -> nn.Sequential:
    mods: list[nn.Module] = []
    width = in_dim
    for _ in range(layers):
        mods += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    mods.append(nn.Linear(width, out_dim))
    return nn.Sequential(*mods)


def _gaussian(out: Tensor) -> tuple[Tensor, Tensor]:
    mu, logvar = out.chunk(2, dim=-1)
    return mu, logvar.clamp(*LOGVAR_RANGE)


def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(μ_q, σ_q²) ‖ N(μ_p, σ_p²)) summed over the last axis."""
    return 0.5 * (
        logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) / logvar_p.exp() - 1
    ).sum(-1)


def gaussian_nll(x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """−log N(x; μ, σ²) summed over the last axis (without the constant)."""
    return 0.5 * (logvar + (x - mu).pow(2) / logvar.exp()).sum(-1)


class VLSTM(nn.Module):
    """The variational LSTM of the module docstring."""

    def __init__(
        self, state_dim: int, action_dim: int, role_dim: int = 64, z_dim: int = 16, hidden: int = 64
    ) -> None:
        super().__init__()
        self.role_dim, self.z_dim = role_dim, z_dim
        target = state_dim + 1  # e = (s', r)
        self.prior = _mlp(role_dim, hidden, 2 * z_dim, 1)
        self.inference = _mlp(state_dim + role_dim, hidden, 2 * z_dim, 1)
        self.decoder = _mlp(z_dim + role_dim, hidden, 2 * target, 2)
        self.cell = nn.LSTMCell(z_dim + state_dim + action_dim + 1, role_dim)

    def run(
        self,
        states: Tensor,
        actions: Tensor,
        rewards: Tensor,
        next_states: Tensor,
        feed: Tensor,
        learn: Tensor,
        reset: Tensor,
        sample: bool,
        generator: torch.Generator | None = None,
        with_loss: bool = True,
    ) -> tuple[Tensor | None, Tensor]:
        """Run over (B, T) steps and return the mean −ELBO over the ``learn`` steps (``None``
        without ``with_loss``) and the roles (B, H): each sequence's LSTM state after the last
        step it was fed.

        ``states`` / ``next_states`` (B, T, S), ``actions`` (B, T, U), ``rewards`` (B, T);
        ``feed`` (B, T) bool: the agent acted at t (the step updates the LSTM); ``learn``:
        the step's (s′, r) is a target (fed, and s′ is in the same episode); ``reset``: zero
        the state after step t (the episode ended). ``sample``: draw z from q (training) or
        take its mean (roles). Only the recurrence (inference, z, LSTM) runs step by step; the
        prior, the decoder and the ELBO terms, which only read each step's h and z, run on all
        steps at once afterwards."""
        b, t_len = states.shape[:2]
        h = states.new_zeros(b, self.role_dim)
        c = states.new_zeros(b, self.role_dim)
        role = states.new_zeros(b, self.role_dim)
        steps: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []  # (h, z, mu_q, lv_q) of step t
        inputs = torch.cat([states, actions, rewards[..., None]], -1)  # the LSTM's input after z
        # Read once: the steps where every sequence is fed and none ends need no masking.
        everyone_fed, some_end = feed.all(0).tolist(), reset.any(0).tolist()
        for t in range(t_len):
            mu_q, lv_q = _gaussian(self.inference(torch.cat([states[:, t], h], -1)))
            if sample:
                noise = torch.randn(mu_q.shape, generator=generator, device=mu_q.device)
                z = mu_q + noise * (0.5 * lv_q).exp()
            else:
                z = mu_q
            if with_loss:
                steps.append((h, z, mu_q, lv_q))
            h_new, c_new = self.cell(torch.cat([z, inputs[:, t]], -1), (h, c))
            if everyone_fed[t]:
                h, c = h_new, c_new
                role = h
            else:
                fed = feed[:, t].unsqueeze(-1)
                h, c = torch.where(fed, h_new, h), torch.where(fed, c_new, c)
                role = torch.where(fed, h, role)
            if some_end[t]:
                end = reset[:, t].unsqueeze(-1)
                h, c = torch.where(end, 0.0, h), torch.where(end, 0.0, c)
        if not with_loss:
            return None, role
        h_all, z, mu_q, lv_q = (torch.stack(parts, 1) for parts in zip(*steps, strict=True))
        mu_p, lv_p = _gaussian(self.prior(h_all))
        mu_e, lv_e = _gaussian(self.decoder(torch.cat([z, h_all], -1)))
        target = torch.cat([next_states, rewards[..., None]], -1)
        per_step = gaussian_nll(target, mu_e, lv_e) + gaussian_kl(mu_q, lv_q, mu_p, lv_p)
        total = torch.where(learn, per_step, 0.0).sum()
        return total / learn.sum().clamp(min=1), role


class GroupCVAE(nn.Module):
    """The CVAE of the module docstring, for ``n_groups`` groups."""

    def __init__(
        self, n_groups: int, state_dim: int, action_dim: int, z_dim: int = 16, hidden: int = 64
    ) -> None:
        super().__init__()
        self.n_groups = n_groups
        self.encoder = _mlp(n_groups, hidden, 2 * z_dim, 1)
        self.decoder = _mlp(z_dim + state_dim, hidden, action_dim, 2)

    def encode(self, groups: Tensor) -> tuple[Tensor, Tensor]:
        """q(z | one-hot group): means and log-variances (N, Z) for group indices (N,)."""
        return _gaussian(self.encoder(F.one_hot(groups, self.n_groups).float()))

    def latents(self) -> Tensor:
        """The groups' roles z^(g): encoder means (M, Z)."""
        return self.encode(torch.arange(self.n_groups, device=self.encoder[0].weight.device))[0]

    def loss(
        self,
        groups: Tensor,
        states: Tensor,
        actions: Tensor,
        kl_weight: float,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Mean −ELBO (Eq. 4, KL weighted by ``kl_weight``) of rows (group (N,), state (N, S),
        action features (N, U))."""
        mu, logvar = self.encode(groups)
        noise = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + noise * (0.5 * logvar).exp()
        recon = self.decoder(torch.cat([z, states], -1))
        nll = 0.5 * (recon - actions).pow(2).sum(-1)
        kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar))
        return (nll + kl_weight * kl).mean()
