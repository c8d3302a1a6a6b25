"""QMIX's update: the TD loss of the mixed value against the target networks.

For a batch of B episodes of T steps, with ``u_i`` agent i's chosen utility (0 for an agent that
does not act) and ``s_t`` the state:

    Q_tot(t)  = mixer(u_1(t), ..., u_N(t); s_t)
    a'_i      = argmax_a Q_i(o_{t+1}, a)          (online network: double Q; else the target's)
    y(t)      = r_t + γ (1 − terminal_t) · mixer⁻(Q⁻_i(o_{t+1}, a'_i) ...; s_{t+1})
    L         = Σ_{filled t} (Q_tot(t) − y(t))² / #filled

``⁻`` marks the target networks (agents and mixer), copied from the online ones every
``target_update_episodes`` episodes; ``y`` carries no gradient. Adam on the agents' networks
and the mixer together, the gradient norm clipped at ``max_grad_norm``.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor

from alloc_agents.qmix.action_values import ActionValues
from alloc_agents.qmix.config import QMIXConfig
from alloc_agents.qmix.episodes import Batch
from alloc_agents.qmix.model import QMIXModel


def td_targets(reward: Tensor, terminal: Tensor, next_q_tot: Tensor, gamma: float) -> Tensor:
    """``r + γ (1 − terminal) Q⁻_tot(next)``; all (B, T)."""
    return reward + gamma * (~terminal).float() * next_q_tot


def _steps(values: ActionValues, start: int, stop: int) -> ActionValues:
    return values.map(lambda x: x[:, :, start:stop])


def _mixed(model: QMIXModel, utilities: list[Tensor], state: Tensor) -> Tensor:
    """``Q_tot`` (B, T) of per-group utilities (A_g, B, T) and the state (B, T, S)."""
    u = torch.cat(utilities, dim=0)  # (N, B, T)
    n, b, t = u.shape
    q_tot = model.mixer(u.permute(1, 2, 0).reshape(b * t, n), state.reshape(b * t, -1))
    return q_tot.reshape(b, t)


class QMIXLearner:
    """The online model, its target copy and their optimiser."""

    def __init__(self, model: QMIXModel, config: QMIXConfig) -> None:
        self.model = model
        self.config = config
        self.target = copy.deepcopy(model).requires_grad_(False)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def sync_target(self) -> None:
        """Copy the online networks into the target networks."""
        self.target.load_state_dict(self.model.state_dict())

    def q_tot(self, batch: Batch, online: list[ActionValues] | None = None) -> Tensor:
        """``Q_tot`` (B, T) of the batch's actions (online networks)."""
        online = online or [self.model.unroll(g, obs) for g, obs in enumerate(batch.obs)]
        t = batch.steps
        utilities = [
            _steps(values, 0, t).chosen(actions) * acting[:, :, :t]
            for values, actions, acting in zip(online, batch.actions, batch.acting, strict=True)
        ]
        return _mixed(self.model, utilities, batch.state[:, :t])

    @torch.no_grad()
    def targets(self, batch: Batch, online: list[ActionValues] | None = None) -> Tensor:
        """The TD targets ``y`` (B, T) (module docstring)."""
        online = online or [self.model.unroll(g, obs) for g, obs in enumerate(batch.obs)]
        t = batch.steps
        utilities = []
        for g, obs in enumerate(batch.obs):
            target_next = _steps(self.target.unroll(g, obs), 1, t + 1)
            chooser = _steps(online[g], 1, t + 1) if self.config.double_q else target_next
            next_actions = chooser.greedy()
            utilities.append(target_next.chosen(next_actions) * batch.acting[g][:, :, 1:])
        next_q_tot = _mixed(self.target, utilities, batch.state[:, 1:])
        return td_targets(batch.reward, batch.terminal, next_q_tot, self.config.gamma)

    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step on the TD loss; its statistics."""
        online = [self.model.unroll(g, obs) for g, obs in enumerate(batch.obs)]
        q_tot = self.q_tot(batch, online)
        y = self.targets(batch, [v.map(Tensor.detach) for v in online])
        filled = batch.filled.float()
        error = (q_tot - y) * filled
        loss = (error**2).sum() / filled.sum().clamp_min(1.0)
        self.optimizer.zero_grad()
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(
            self.model.parameters(), self.config.max_grad_norm
        )
        self.optimizer.step()
        n = filled.sum().clamp_min(1.0)
        return {
            "td_loss": float(loss.detach()),
            "q_tot": float((q_tot.detach() * filled).sum() / n),
            "td_target": float((y * filled).sum() / n),
            "grad_norm": float(grad_norm),
        }
