"""The leader's learning rule: REINFORCE with a learned baseline (Eq. 3 and the estimator under
Eq. 5 of the TIRL paper), with the §4.3 regularisers.

For the recorded episodes of one outer iteration (features ``o_h``, draws ``u_h``, leader rewards
``r_h``, h = 0..T-1), one Adam step on

    L(omega, psi) = -mean_h[log mu_omega(u_h | o_h) (G_h - V_psi(o_h))]      policy gradient
                    - lambda mean_h H[mu_omega(. | o_h)]                      entropy (§4.3)
                    + delta ||omega||_1                                       L1 (§4.3)
                    + 1/2 mean_h (V_psi(o_h) - G_h)^2                         baseline

with the reward-to-go ``G_h = sum_{z >= 0} r_{h+z}`` (finite horizon, no discount), then
``omega <- clip(omega, -c, c)`` (§4.3). The gradients of the policy (omega) and the baseline
(psi) are norm-clipped separately.

Why REINFORCE rather than PPO-clip: it is the estimator the paper writes for Eq. 3, one gradient
step per batch of fresh episodes; an outer iteration gives only ``follower_iterations`` leader
episodes of T steps, too few samples for PPO's several epochs to pay off, and the baseline (which
leaves the estimator unbiased) removes most of the variance of the return's level.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg.dimensions import DimensionMap
from alloc_agents.stackelberg.leader import LeaderFeatures, LeaderNetwork, MeanLeader, SampledLeader
from alloc_agents.stackelberg.regularisers import regularised_step
from alloc_agents.stackelberg.trainer_config import StackelbergConfig
from alloc_envs.stackelberg.game import MeanFieldGame


def reward_to_go(rewards: np.ndarray) -> np.ndarray:
    """(T',) ``G_h = sum_{z >= h} r_z`` of (T',) rewards."""
    return np.cumsum(rewards[::-1])[::-1].copy()


class LeaderLearner:
    """The leader's network, optimizer and sampling generator.

    Args:
        game: the scenario.
        config: the trainer's settings (leader fields).
        seed: initialises the network (under a forked torch generator: the global one is
            untouched) and seeds the numpy generator of the incentive draws.
        device: where the network lives.
    """

    def __init__(
        self, game: MeanFieldGame, config: StackelbergConfig, seed: int, device: torch.device
    ) -> None:
        self.game = game
        self.config = config
        inputs = "time" if config.leader_mode == "open_loop" else "full"
        per_dimension = config.leader_head == "per_dimension"
        dimensions = DimensionMap(game) if per_dimension else None
        self.features = LeaderFeatures(game, inputs, dimensions)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = LeaderNetwork(
                game,
                self.features.size,
                config.leader_hidden_sizes,
                config.leader_activation,
                config.leader_head,
            )
        self.network = network.to(device)
        self.device = device
        self.optimizer = torch.optim.Adam(self.network.parameters(), lr=config.leader_lr)
        self.rng = np.random.default_rng([seed, 1])

    def actor(self) -> SampledLeader:
        """A stochastic leader that records its episode (draws from :attr:`rng`)."""
        return SampledLeader(self.game, self.features, self.network, self.rng)

    def policy(self) -> MeanLeader:
        """A deterministic snapshot of the current policy (the mean incentive)."""
        return MeanLeader(self.game, self.features, self.network)

    def update(self, episodes: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> dict[str, float]:
        """One step of the module's rule on ``episodes``: each (T', F) features, (T', U) draws
        and (T',) leader rewards. Returns the loss terms and the policy's mean entropy."""
        cfg, net = self.config, self.network
        features = torch.as_tensor(np.concatenate([e[0] for e in episodes]), device=self.device)
        draws = torch.as_tensor(
            np.concatenate([e[1] for e in episodes]), dtype=torch.float32, device=self.device
        )
        returns = torch.as_tensor(
            np.concatenate([reward_to_go(e[2]) for e in episodes]),
            dtype=torch.float32,
            device=self.device,
        )
        law = net.distribution(features)
        values = net.value(features)
        advantages = returns - values.detach()
        policy_loss = -(law.log_prob(draws) * advantages).mean()
        entropy = law.entropy().mean()
        value_loss = 0.5 * (values - returns).pow(2).mean()
        actor, critic = list(net.policy_net.parameters()), list(net.value_net.parameters())
        return regularised_step(
            self.optimizer, actor, critic, cfg, policy_loss, entropy, value_loss
        )

    def state_dict(self) -> dict[str, Any]:
        """Network, optimizer and the sampling generator's state (plain containers)."""
        return {
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
