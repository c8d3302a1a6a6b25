"""What the two leader baselines' learners (:mod:`.m3rl`, :mod:`.ebpg`) share.

A baseline learner has the interface of :class:`~alloc_agents.stackelberg.leader_update.
LeaderLearner` (``actor()``, ``policy()``, ``update(episodes)``, ``state_dict()``,
``load_state_dict()``), so :class:`~alloc_agents.stackelberg.trainer.StackelbergTrainer` drives
it unchanged (``leader_class``). It owns:

* the leader's policy / critic network and one Adam optimizer over both;
* a :class:`~alloc_agents.stackelberg.population_model.ResponseLearner` (the population-response
  model, its optimizer and data);
* two numpy generators: the incentive draws (``[seed, 1]``, as the REINFORCE leader's) and the
  model's minibatches (``[seed, 2]``); the networks are initialised under a forked torch
  generator seeded with ``seed`` (the global one is untouched).

``update`` takes one regularised step on the method's loss (:func:`regularised_step`: the §4.3
entropy bonus, L1 penalty and weight clip of the policy's parameters, as in the REINFORCE
leader), then adds the episodes to the model's data and fits it (``response_steps``
minibatches). Each episode of ``episodes`` is ``(*record, leader_rewards)``: the record that the
actor's ``take()`` returned (a named tuple with ``histories``, ``incentives`` and
``distributions`` for the model) and the (T,) leader rewards.
"""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.stackelberg.leader import EDGE, BoxBeta, LeaderFeatures
from alloc_agents.stackelberg.population_model import ResponseLearner
from alloc_agents.stackelberg.regularisers import regularised_step
from alloc_envs.stackelberg.game import MeanFieldGame


def masked_log_prob(law: BoxBeta, z: Tensor, keep: Tensor | None = None) -> Tensor:
    """(...,) ``sum_i keep_i log mu_i(u_i)``: the log-density of the incentives
    ``u = low + z (high - low)`` over the dimensions where (..., U) bool ``keep`` is true (all
    when ``None``), for (..., U) unit-box draws ``z`` (clamped ``EDGE`` inside)."""
    dims = torch.distributions.Beta(law.alpha, law.beta).log_prob(z.clamp(EDGE, 1.0 - EDGE))
    dims = dims - law.log_width
    if keep is not None:
        dims = torch.where(keep, dims, torch.zeros_like(dims))
    return dims.sum(-1)


def discounted_reward_to_go(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """(T,) ``G_t = sum_{z >= t} gamma^(z - t) r_z`` of (T,) rewards."""
    out = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for t in range(len(rewards) - 1, -1, -1):
        running = float(rewards[t]) + gamma * running
        out[t] = running
    return out


class BaselineLearner(abc.ABC):
    """The shared part of a baseline's leader learner (module docstring).

    Args:
        game: the scenario.
        config: the method's config (a ``ResponseModelConfig``).
        seed: see the module docstring.
        device: where the networks live.

    Attributes: ``features`` (:class:`LeaderFeatures`, full inputs), ``network``,
    ``response`` (:class:`ResponseLearner`), ``optimizer``, ``rng`` (incentive draws).
    """

    #: The named tuple that the actor's ``take()`` returns.
    record_class: ClassVar[Any]

    def __init__(self, game: MeanFieldGame, config: Any, seed: int, device: torch.device) -> None:
        self.game = game
        self.config = config
        self.device = device
        self.features = LeaderFeatures(game, "full")
        self.rng = np.random.default_rng([seed, 1])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = self._build_network()
            self.response = ResponseLearner(game, config, np.random.default_rng([seed, 2]), device)
        self.network = network.to(device)
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.leader_lr)

    # ------------------------------------------------------------------ the method's part
    @abc.abstractmethod
    def _build_network(self) -> nn.Module:
        """The policy / critic network (built under the seeded generator)."""

    @abc.abstractmethod
    def _parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """The policy's and the critic's parameters."""

    @abc.abstractmethod
    def _losses(
        self, records: list[Any], rewards: list[np.ndarray]
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, float]]:
        """The policy loss, mean entropy and value loss on the episodes, and extra statistics."""

    @abc.abstractmethod
    def actor(self) -> Any:
        """A stochastic leader that records its episodes (``take()`` returns a record)."""

    @abc.abstractmethod
    def policy(self) -> Any:
        """A deterministic snapshot of the current policy for evaluation."""

    # ------------------------------------------------------------------ shared
    def update(self, episodes: list[tuple[Any, ...]]) -> dict[str, float]:
        """One regularised step of the leader, then the model's fit (module docstring).
        Returns the loss terms, the method's statistics and ``response_kl`` (the model's mean
        minibatch KL in nats)."""
        n = len(self.record_class._fields)
        records = [self.record_class(*episode[:n]) for episode in episodes]
        rewards = [np.asarray(episode[n], dtype=np.float64) for episode in episodes]
        policy_loss, entropy, value_loss, extra = self._losses(records, rewards)
        actor, critic = self._parameter_groups()
        stats = regularised_step(
            self.optimizer, actor, critic, self.config, policy_loss, entropy, value_loss
        )
        for record in records:
            self.response.observe(record.histories, record.incentives, record.distributions)
        kl = self.response.fit(self.config.response_steps)
        return {**stats, **extra, "response_kl": kl}

    def state_dict(self) -> dict[str, Any]:
        """Network, optimizer, the draws' generator and the response learner."""
        return {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
            "response": self.response.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.response.load_state_dict(state["response"])


class IncentiveBox:
    """The game's incentive box: unit-box points to incentives and back.

    Attributes: ``low``, ``high`` ((U,) float64).
    """

    def __init__(self, game: MeanFieldGame) -> None:
        self.low = np.asarray(game.incentive_low, dtype=np.float64)
        self.high = np.asarray(game.incentive_high, dtype=np.float64)

    def incentive(self, z: np.ndarray) -> np.ndarray:
        """(U,) float64 incentive of the unit-box point ``z`` (clipped against rounding)."""
        return np.clip(self.low + z * (self.high - self.low), self.low, self.high)

    def unit(self, incentive: np.ndarray) -> np.ndarray:
        """(U,) float64 unit-box point of an incentive."""
        return (np.asarray(incentive, dtype=np.float64) - self.low) / (self.high - self.low)
