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

On Ride-Hailing the networks score only the candidate orders that enter the loss: ``u_i(t)``
needs the utilities of the picks taken, and (double Q) ``Q⁻_i(o_{t+1}, a'_i)`` those of the
online network's greedy picks, so the online network scores every order once without a
gradient (to choose ``a'``), then only the taken orders with one, and the target network only
the chosen ones (:meth:`~alloc_agents.qmix.orders.PackedOrders.picked`): the same loss and
gradient as scoring every order (about 5% of a Ride-Hailing (2) batch's orders are taken), the
whole training step ×1.3–1.4 faster (``benchmarks/bench_value_methods.py``).
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.checkpoint import CheckpointError
from alloc_agents.ppo.trainer import Counters
from alloc_agents.qmix.acting import EpisodeActor, QMIXActor
from alloc_agents.qmix.action_values import ActionValues
from alloc_agents.qmix.config import QMIXConfig
from alloc_agents.qmix.episodes import Batch, Episode, ReplayBuffer
from alloc_agents.qmix.model import QMIXModel
from alloc_agents.qmix.orders import PackedOrders


def td_targets(reward: Tensor, terminal: Tensor, next_q_tot: Tensor, gamma: float) -> Tensor:
    """``r + γ (1 − terminal) Q⁻_tot(next)``; all (B, T)."""
    return reward + gamma * (~terminal).float() * next_q_tot


def steps(values: ActionValues, start: int, stop: int) -> ActionValues:
    """The values of steps ``start .. stop - 1`` of ``values`` (A, B, T, ...)."""
    return values.map(lambda x: x[:, :, start:stop])


def step_rows(actions: Tensor, first: int) -> Tensor:
    """Picks ``actions`` (A, B, T, K) of steps ``first .. first + T - 1`` (``first`` 0 or 1)
    laid out as a batch's (A, B * (T + 1), K) rows (:attr:`~alloc_agents.qmix.episodes.Batch.
    orders`), STAY at the step they leave out."""
    return F.pad(actions, (0, 0, first, 1 - first)).flatten(1, 2)


def only_picked(orders: PackedOrders | None, actions: Tensor, first: int) -> PackedOrders | None:
    """``orders`` restricted to those that the picks ``actions`` (A, B, T, K) of steps
    ``first ..`` take (:func:`step_rows`); ``None`` (a Discrete group's) stays ``None``."""
    if orders is None:
        return None
    return orders.subset(orders.picked(step_rows(actions, first)))


def mixed(mixer: torch.nn.Module, utilities: list[Tensor], state: Tensor) -> Tensor:
    """``Q_tot`` (B, T) of per-group utilities (A_g, B, T) and the state (B, T, S)."""
    u = torch.cat(utilities, dim=0)  # (N, B, T)
    n, b, t = u.shape
    q_tot = mixer(u.permute(1, 2, 0).reshape(b * t, n), state.reshape(b * t, -1))
    return q_tot.reshape(b, t)


def masked_mean_square(error: Tensor, filled: Tensor) -> Tensor:
    """``Σ filled · error² / Σ filled`` (the TD loss over real steps)."""
    filled = filled.float()
    return ((error * filled) ** 2).sum() / filled.sum().clamp_min(1.0)


class TargetNetworkLearner(ABC):
    """What the value-based training loop (:func:`alloc_agents.qmix.trainer.train_value_based`)
    learns with: an online model, its target copy, an Adam optimiser, the target copies'
    schedule and the checkpointed state. :class:`QMIXLearner` and
    :class:`~alloc_agents.rode.learner.RODELearner` implement :meth:`actor` and :meth:`update`.

    Args:
        model: the online model.
        config: the hyper-parameters (``lr``, ``target_update_episodes``, ...).
        parameters: what the optimiser trains (default: all of ``model``'s parameters).
    """

    def __init__(
        self,
        model: nn.Module,
        config: QMIXConfig,
        parameters: Iterable[nn.Parameter] | None = None,
    ) -> None:
        self.model = model
        self.config = config
        self.target = copy.deepcopy(model).requires_grad_(False)
        params = model.parameters() if parameters is None else parameters
        self.optimizer = torch.optim.Adam(params, lr=config.lr)

    @abstractmethod
    def actor(self) -> EpisodeActor:
        """The online agents, to act with."""

    @abstractmethod
    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step on a batch; statistics to log."""

    def sync_target(self) -> None:
        """Copy the online networks into the target networks."""
        self.target.load_state_dict(self.model.state_dict())

    def end_iteration(
        self,
        episodes: list[Episode],
        counters: Counters,
        buffer: ReplayBuffer,
        generator: torch.Generator,
    ) -> dict[str, float]:
        """After an iteration (``counters`` already counting its ``episodes``): copy the
        target networks when the episode count crossed a multiple of
        ``target_update_episodes``; statistics to log (none here)."""
        period = self.config.target_update_episodes
        if counters.episodes // period > (counters.episodes - len(episodes)) // period:
            self.sync_target()
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The online and target networks and the optimiser (checkpoints)."""
        return {
            "model": self.model.state_dict(),
            "target": self.target.state_dict(),
            "optimizer": self.optimizer.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.target.load_state_dict(state["target"])
        self.optimizer.load_state_dict(state["optimizer"])


def learner_state(data: dict[str, Any], path: str | Path) -> dict[str, Any]:
    """The learner's state in a value-based checkpoint's contents ``data`` read from ``path``;
    ``CheckpointError`` naming the file when it has none (a QMIX checkpoint written before the
    learner's state was one entry, by alloc-agents before RODE)."""
    if not isinstance(data.get("learner"), dict):
        raise CheckpointError(
            f"{str(path)!r} has no 'learner' entry: it was written by an older alloc-agents "
            "(QMIX checkpoints before RODE); train again"
        )
    return data["learner"]


class QMIXLearner(TargetNetworkLearner):
    """QMIX's learner (module docstring)."""

    model: QMIXModel
    target: QMIXModel

    def actor(self) -> QMIXActor:
        return QMIXActor(self.model)

    def unroll_online(
        self, batch: Batch, orders: list[PackedOrders | None] | None = None
    ) -> list[ActionValues]:
        """Per group, the online networks' action values over the batch's episodes, scoring
        ``orders`` (default: the batch's, all of them)."""
        orders = batch.orders if orders is None else orders
        return [self.model.unroll(g, obs, orders[g]) for g, obs in enumerate(batch.obs)]

    def taken_orders(self, batch: Batch) -> list[PackedOrders | None]:
        """Per group, the batch's orders that its actions take (``None``: a Discrete group)."""
        return [
            only_picked(orders, actions, 0)
            for orders, actions in zip(batch.orders, batch.actions, strict=True)
        ]

    def q_tot(self, batch: Batch, online: list[ActionValues] | None = None) -> Tensor:
        """``Q_tot`` (B, T) of the batch's actions; ``online``: the online networks' values
        scoring at least the taken orders (default: those only)."""
        online = online or self.unroll_online(batch, self.taken_orders(batch))
        t = batch.steps
        utilities = [
            steps(values, 0, t).chosen(actions) * acting[:, :, :t]
            for values, actions, acting in zip(online, batch.actions, batch.acting, strict=True)
        ]
        return mixed(self.model.mixer, utilities, batch.state[:, :t])

    @torch.no_grad()
    def targets(self, batch: Batch, online: list[ActionValues] | None = None) -> Tensor:
        """The TD targets ``y`` (B, T) (module docstring); ``online``: :meth:`q_tot`'s online
        values, reused to choose the next actions when no group scores orders (Discrete
        groups: they hold every action's utility)."""
        t = batch.steps
        if self.config.double_q and (online is None or any(o is not None for o in batch.orders)):
            online = self.unroll_online(batch)
        utilities = []
        for g, obs in enumerate(batch.obs):
            if self.config.double_q:  # the online networks choose
                next_actions = steps(online[g], 1, t + 1).greedy()
                scored = only_picked(batch.orders[g], next_actions, 1)
                target_next = steps(self.target.unroll(g, obs, scored), 1, t + 1)
            else:
                target_next = steps(self.target.unroll(g, obs, batch.orders[g]), 1, t + 1)
                next_actions = target_next.greedy()
            utilities.append(target_next.chosen(next_actions) * batch.acting[g][:, :, 1:])
        next_q_tot = mixed(self.target.mixer, utilities, batch.state[:, 1:])
        return td_targets(batch.reward, batch.terminal, next_q_tot, self.config.gamma)

    def update(self, batch: Batch) -> dict[str, float]:
        """One gradient step on the TD loss; its statistics."""
        online = self.unroll_online(batch, self.taken_orders(batch))
        q_tot = self.q_tot(batch, online)
        y = self.targets(batch, online)
        loss = masked_mean_square(q_tot - y, batch.filled)
        grad_norm = optimizer_step(self.optimizer, loss, self.config.max_grad_norm)
        return {
            "td_loss": float(loss.detach()),
            "q_tot": masked_mean(q_tot.detach(), batch.filled),
            "td_target": masked_mean(y, batch.filled),
            "grad_norm": grad_norm,
        }


def masked_mean(x: Tensor, filled: Tensor) -> float:
    """The mean of ``x`` over the ``filled`` entries."""
    filled = filled.float()
    return float((x * filled).sum() / filled.sum().clamp_min(1.0))


def optimizer_step(optimizer: torch.optim.Optimizer, loss: Tensor, max_norm: float) -> float:
    """Back-propagate ``loss``, clip the gradient norm of ``optimizer``'s parameters at
    ``max_norm``, step; the norm before clipping."""
    optimizer.zero_grad()
    loss.backward()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    norm = torch.nn.utils.clip_grad_norm_(parameters, max_norm)
    optimizer.step()
    return float(norm)
