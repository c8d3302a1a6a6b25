"""RODE's update: QMIX's TD loss at two levels, the forward model's loss, and forming roles.

For a batch of B episodes of T steps (``c`` = ``role_interval``, ``⁻`` the target networks,
copied every ``target_update_episodes`` episodes and when the roles are formed):

* **Actions** (every step): QMIX's loss (:mod:`alloc_agents.qmix.learner`) on the role
  policies' utilities ``Q_ρ(τ, a)`` of each step's recorded role, mixed by the action mixer;
  the next step's greedy action is taken inside the next step's role.
* **Roles** (every c-th step d = 0, c, 2c, ...): the chosen roles' ``Q(τ_d, ρ)`` mixed by the
  role mixer on ``s_d`` against ``y = Σ_{k<n} γ^k r_{d+k} + γ^n (1 − terminal) Q⁻_tot(d + n)``
  with ``n = min(c, steps left)``. The reference sums the c rewards undiscounted and
  discounts the next role value by γ; we discount as the semi-MDP does, so the role values and
  the action values estimate the same return.
* Both TD losses are summed into one Adam step on everything but the action encoder.
* **Forward model** (until the roles are formed): one Adam step on the action encoder's
  prediction loss (:func:`~alloc_agents.rode.action_encoder.prediction_loss`).
* **Forming roles** (once, after the first iteration that reaches ``role_update_steps``):
  k-means on the action representations: a Discrete group's n actions, or for Ride-Hailing up
  to ``role_samples`` candidate orders drawn from the buffer's last 8 episodes.

The role at the final step T (the bootstrap of a truncated episode) is taken as step T − 1's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from alloc_agents.ppo.ride_hailing import symlog
from alloc_agents.ppo.trainer import Counters
from alloc_agents.qmix.action_values import ActionValues, DiscreteValues
from alloc_agents.qmix.episodes import Batch, Episode, ReplayBuffer
from alloc_agents.qmix.learner import (
    TargetNetworkLearner,
    masked_mean,
    masked_mean_square,
    mixed,
    optimizer_step,
    steps,
    td_targets,
)
from alloc_agents.qmix.orders import order_rows
from alloc_agents.rode.acting import RODEActor
from alloc_agents.rode.action_encoder import prediction_loss
from alloc_agents.rode.config import RODEConfig
from alloc_agents.rode.kmeans import kmeans
from alloc_agents.rode.model import OrderCodes, RODEModel

#: The buffer's most recent episodes whose candidate orders Ride-Hailing's roles cluster.
_ROLE_EPISODES = 8


def _at(x: Tensor, index: Tensor) -> Tensor:
    """``x`` (A, B, T, ...) at steps ``index`` (B, D) -> (A, B, D, ...)."""
    shape = (x.shape[0], *index.shape, *x.shape[3:])
    idx = index.reshape(1, *index.shape, *(1,) * (x.dim() - 3)).expand(shape)
    return x.gather(2, idx)


def _roles(batch: Batch, g: int) -> Tensor:
    """Group ``g``'s recorded roles (A, B, T + 1), step T's repeating step T − 1's."""
    roles = batch.per_agent["role"][g]
    return torch.cat([roles, roles[:, :, -1:]], dim=2)


class RODELearner(TargetNetworkLearner):
    """RODE's learner (module docstring): the TD losses train everything but the action
    encoders, which have their own optimiser."""

    model: RODEModel
    target: RODEModel
    config: RODEConfig

    def __init__(self, model: RODEModel, config: RODEConfig) -> None:
        super().__init__(model, config, model.value_parameters())
        self.encoder_optimizer = torch.optim.Adam(model.encoder_parameters(), lr=config.lr)

    def actor(self) -> RODEActor:
        return RODEActor(self.model, self.config.role_interval)

    def unroll(
        self,
        net: RODEModel,
        batch: Batch,
        codes: list[OrderCodes | None] | None = None,
    ) -> list[tuple[ActionValues, DiscreteValues]]:
        """Per group, the action values under the recorded roles and the role values, at
        every step (A, B, T + 1, ...); ``codes``: the batch orders'
        :meth:`~alloc_agents.rode.model.RODEAgents.order_codes` under ``net``, computed here
        where not given."""
        codes = codes or [None] * len(batch.obs)
        out = []
        for g, obs in enumerate(batch.obs):
            agents = net.groups[g]
            b, t1 = next(iter(obs.values())).shape[1:3]
            ids = net.ids(g, (b, t1))
            h = agents.trunk.trunk_unroll(obs, ids, None)
            h_role = agents.role_trunk.trunk_unroll(obs, ids, None)
            flat = {k: v.flatten(1, 2) for k, v in obs.items()}
            roles = _roles(batch, g).flatten(1, 2)
            orders = batch.orders[g]
            values = agents.action_values(flat, h.flatten(1, 2), roles, orders, codes[g])
            shape = (b, t1)
            values = values.map(lambda x, shape=shape: x.unflatten(1, shape))
            out.append((values, agents.role_values(h_role)))
        return out

    def update(self, batch: Batch) -> dict[str, float]:
        """One step on both TD losses, and one on the forward model's until the roles are
        formed; their statistics."""
        codes = [
            None if packed is None else agents.order_codes(packed)
            for agents, packed in zip(self.model.groups, batch.orders, strict=True)
        ]
        online = self.unroll(self.model, batch, codes)
        # The target's encoder and centres are the online ones' once the encoder is frozen.
        same = [
            target.same_order_codes(agents)
            for target, agents in zip(self.target.groups, self.model.groups, strict=True)
        ]
        with torch.no_grad():
            target_codes = [c if s else None for c, s in zip(codes, same, strict=True)]
            target = self.unroll(self.target, batch, target_codes)
        q_tot, y = self._action_td(batch, online, target)
        role_q_tot, role_y, role_filled = self._role_td(batch, online, target)
        td_loss = masked_mean_square(q_tot - y, batch.filled)
        role_loss = masked_mean_square(role_q_tot - role_y, role_filled)
        grad_norm = optimizer_step(self.optimizer, td_loss + role_loss, self.config.max_grad_norm)
        stats = {
            "td_loss": float(td_loss.detach()),
            "role_td_loss": float(role_loss.detach()),
            "q_tot": masked_mean(q_tot.detach(), batch.filled),
            "td_target": masked_mean(y, batch.filled),
            "grad_norm": grad_norm,
        }
        if not self.model.roles_formed:
            stats.update(self._encoder_step(batch))
        return stats

    def _action_td(
        self,
        batch: Batch,
        online: list[tuple[ActionValues, DiscreteValues]],
        target: list[tuple[ActionValues, DiscreteValues]],
    ) -> tuple[Tensor, Tensor]:
        t = batch.steps
        chosen, next_best = [], []
        for (values, _), (target_values, _), actions, acting in zip(
            online, target, batch.actions, batch.acting, strict=True
        ):
            chosen.append(steps(values, 0, t).chosen(actions) * acting[:, :, :t])
            target_next = steps(target_values, 1, t + 1)
            chooser = steps(values.map(Tensor.detach), 1, t + 1)
            next_actions = (chooser if self.config.double_q else target_next).greedy()
            next_best.append(target_next.chosen(next_actions) * acting[:, :, 1:])
        q_tot = mixed(self.model.mixer, chosen, batch.state[:, :t])
        with torch.no_grad():
            next_q_tot = mixed(self.target.mixer, next_best, batch.state[:, 1:])
            y = td_targets(batch.reward, batch.terminal, next_q_tot, self.config.gamma)
        return q_tot, y

    def _role_td(
        self,
        batch: Batch,
        online: list[tuple[ActionValues, DiscreteValues]],
        target: list[tuple[ActionValues, DiscreteValues]],
    ) -> tuple[Tensor, Tensor, Tensor]:
        """The mixed role values, their targets and which exist, all (B, D) over the
        decision steps (module docstring)."""
        c, gamma, t = self.config.role_interval, self.config.gamma, batch.steps
        device = batch.reward.device
        decisions = torch.arange(0, t, c, device=device)  # (D,)
        d = decisions.shape[0]
        lengths = batch.filled.sum(1)  # (B,)
        index = decisions.unsqueeze(0).expand(lengths.shape[0], d)  # (B, D)
        following = torch.minimum(index + c, lengths.unsqueeze(1))
        pad = d * c - t
        reward = torch.nn.functional.pad(batch.reward, (0, pad)).view(-1, d, c)
        returns = (reward * gamma ** torch.arange(c, device=device)).sum(-1)
        ended = torch.nn.functional.pad(batch.terminal, (0, pad)).view(-1, d, c).any(-1)
        discount = gamma ** (following - index).float()
        chosen, next_best = [], []
        for g, ((_, role_values), (_, target_roles)) in enumerate(zip(online, target, strict=True)):
            roles, acting = _roles(batch, g), batch.acting[g]
            now = role_values.map(lambda x: _at(x, index))
            chosen.append(now.chosen(_at(roles, index)) * _at(acting, index))
            target_next = target_roles.map(lambda x: _at(x, following))
            chooser = role_values.map(lambda x: _at(x.detach(), following))
            next_roles = (chooser if self.config.double_q else target_next).greedy()
            next_best.append(target_next.chosen(next_roles) * _at(acting, following))
        states = batch.state.gather(1, index.unsqueeze(-1).expand(-1, -1, batch.state.shape[-1]))
        q_tot = mixed(self.model.role_mixer, chosen, states)
        with torch.no_grad():
            next_states = batch.state.gather(
                1, following.unsqueeze(-1).expand(-1, -1, batch.state.shape[-1])
            )
            next_q_tot = mixed(self.target.role_mixer, next_best, next_states)
            y = returns + discount * (~ended).float() * next_q_tot
        return q_tot, y, index < lengths.unsqueeze(1)

    def _encoder_step(self, batch: Batch) -> dict[str, float]:
        t = batch.steps
        obs_loss = reward_loss = torch.zeros((), device=batch.reward.device)
        for g, obs in enumerate(batch.obs):
            agents = self.model.groups[g]
            now = {k: v[:, :, :t].flatten(1, 2) for k, v in obs.items()}
            after = {k: v[:, :, 1:].flatten(1, 2) for k, v in obs.items()}
            acting = batch.acting[g][:, :, :t] & batch.filled.unsqueeze(0)
            orders = batch.orders[g]
            orders_now = None if orders is None else orders.first_steps(t + 1, t)
            actions = batch.actions[g].flatten(1, 2)
            losses = prediction_loss(
                agents.encoder,
                agents.trunk.features(now),
                agents.action_representation(now, actions, orders_now),
                agents.trunk.features(after),
                batch.per_agent["reward"][g].flatten(1, 2),
                acting.flatten(1, 2),
                batch.acting[g][:, :, 1:].flatten(1, 2),
                self.config.prediction_reward_weight,
            )
            obs_loss = obs_loss + losses[0]
            reward_loss = reward_loss + losses[1]
        norm = optimizer_step(
            self.encoder_optimizer, obs_loss + reward_loss, self.config.max_grad_norm
        )
        return {
            "prediction_obs_loss": float(obs_loss.detach()),
            "prediction_reward_loss": float(reward_loss.detach()),
            "encoder_grad_norm": norm,
        }

    def end_iteration(
        self,
        episodes: list[Episode],
        counters: Counters,
        buffer: ReplayBuffer,
        generator: torch.Generator,
    ) -> dict[str, float]:
        """After an iteration (``counters`` already counting its ``episodes``): copy the
        target networks on schedule; form the roles once ``role_update_steps`` is reached
        (then copy the targets); the iteration's role statistics (:func:`role_statistics`)."""
        super().end_iteration(episodes, counters, buffer, generator)
        if not self.model.roles_formed and counters.env_steps >= self.config.role_update_steps:
            self.form_roles(buffer, generator)
            self.sync_target()
        return role_statistics(episodes, self.config.role_interval, self.model)

    @torch.no_grad()
    def form_roles(self, buffer: ReplayBuffer, generator: torch.Generator) -> None:
        """k-means on every group's action representations (module docstring)."""
        recent = list(buffer.episodes)[-_ROLE_EPISODES:]
        for g, agents in enumerate(self.model.groups):
            if agents.kind == "discrete":
                z = agents.encoder.discrete_representations()
                centres, labels = kmeans(
                    z, agents.n_roles, generator, self.config.kmeans_iterations
                )
                agents.form_roles(centres.to(z.device), labels.to(z.device))
                continue
            rows = []
            for episode in recent:
                rows.append(order_rows(episode.obs[g], episode.length))
            features = torch.as_tensor(np.concatenate(rows))
            keep = torch.randperm(features.shape[0], generator=generator)[
                : self.config.role_samples
            ]
            device = agents.centres.device
            z = agents.encoder.order_representations(symlog(features[keep].to(device)))
            centres, _ = kmeans(z, agents.n_roles, generator, self.config.kmeans_iterations)
            agents.form_roles(centres.to(device), None)

    def state_dict(self) -> dict[str, Any]:
        """The online and target networks (roles included) and both optimisers."""
        return {**super().state_dict(), "encoder_optimizer": self.encoder_optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.encoder_optimizer.load_state_dict(state["encoder_optimizer"])


def role_statistics(
    episodes: list[Episode], role_interval: int, model: RODEModel
) -> dict[str, float]:
    """Over the acting agents' role choices (every ``role_interval``-th step) in ``episodes``:
    ``roles_used`` (distinct roles chosen, summed over groups), ``role_switching`` (the
    fraction of consecutive choices of an agent that changed its role), ``role_share_<k>``
    (the fraction of choices of role k, group 0) and ``roles_formed`` (1 once formed)."""
    used, switched, pairs = 0, 0, 0
    shares = np.zeros(model.groups[0].n_roles)
    for g in range(len(model.groups)):
        chosen = []
        for episode in episodes:
            roles = episode.per_agent["role"][g][::role_interval]  # (D, A)
            acting = episode.acting[g][:-1][::role_interval]
            both = acting[1:] & acting[:-1]
            switched += int(((roles[1:] != roles[:-1]) & both).sum())
            pairs += int(both.sum())
            chosen.append(roles[acting])
        picks = np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)
        used += len(np.unique(picks))
        if g == 0 and picks.size:
            shares = np.bincount(picks, minlength=len(shares)) / picks.size
    stats = {
        "roles_formed": float(model.roles_formed),
        "roles_used": float(used),
        "role_switching": switched / pairs if pairs else 0.0,
    }
    stats.update({f"role_share_{k}": float(s) for k, s in enumerate(shares)})
    return stats
