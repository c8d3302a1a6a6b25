"""The M3RL leader baseline (Shu & Tian, "M^3RL: Mind-aware Multi-agent Management
Reinforcement Learning", ICLR 2019), adapted to a leader facing a follower population.

M3RL trains a manager that gives contracts to self-interested workers with an actor-critic, a
"mind tracker" that embeds each worker's history for the manager's policy and critic, and
agent-wise epsilon-greedy exploration. The adaptation (``research/smfg-reference.md`` §6.7,
"M3RL baseline (adapted)"), with our choices:

* **Followers**: SMFU's solver (N-agent PPO, :meth:`FollowerPPO.step`); only the leader's
  learner differs from SMFU's.
* **Mind tracker -> population-response model** (:mod:`.population_model`): one tracker for the
  homogeneous population instead of one per worker. Its encoder reads the last k steps of
  (m, u) (``response_history``, default 4) and its head predicts m_{t+1} given u_t; it is
  trained by KL on the observed episodes. The embedding e_t is appended to the leader's
  observation: policy and critic see ``[one-hot t, m_t, x_t / x_high, e_t]``. The embedding is
  an input only (no policy gradient flows into the tracker), so the tracker learns from its own
  loss, as a separately trained model.
* **Manager -> advantage actor-critic** over the leader's T steps: the Beta policy of
  :class:`~alloc_agents.stackelberg.leader.LeaderNetwork` and a critic V(o_t, e_t) bootstrapped
  with TD(lambda): GAE advantages ``A_t = sum_l (gamma lambda)^l delta_{t+l}``, ``delta_t = r_t
  + gamma V_{t+1} - V_t`` (V_T = 0: the horizon ends the game) and critic targets ``A_t + V_t``
  (``gae_lambda`` 0.95, ``leader_gamma`` 1), one Adam step per outer iteration on
  ``-mean_t[log-prob_t A_t] + 1/2 mean_t (V_t - target_t)^2`` with the §4.3 regularisers.
* **Agent-wise epsilon-greedy -> dimension-wise perturbation**: at every step each incentive
  dimension (a node in EDRP, a food type in MTFG) is, with probability ``epsilon``, drawn
  uniformly from its box instead of from the policy.

**The policy gradient under the perturbation.** The behaviour is the mixture
``b(u_i) = (1 - eps) mu_i(u_i) + eps / width_i`` in every dimension. We treat the coin
``c_i ~ Bernoulli(eps)`` as part of the action: ``p(c, u) = prod_i [(1 - eps) mu_i(u_i)]^(1-c_i)
[eps / width_i]^(c_i)``, so ``grad log p(c, u) = sum_{i: c_i = 0} grad log mu_i(u_i)``: the
perturbed dimensions drop out of the log-probability term (:func:`.baseline_learner.
masked_log_prob`). Since the return depends on (c, u) only through u, this is the exact,
unbiased score-function gradient of the mixture's return (it needs no importance weight); it is
noisier than the mixture's marginal score, which weighs every dimension by the posterior that it
came from the policy. ``epsilon = 1`` makes every dimension uniform and the policy term vanish.
The entropy bonus is the policy's own (mu's).

Evaluation (:meth:`M3RLLearner.policy`) plays the policy's mean, without perturbation, with the
tracker's embedding of the episode's history (so the returned leader keeps the episode's history
and must be played from t = 0).
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.stackelberg.baseline_config import M3RLConfig
from alloc_agents.stackelberg.baseline_learner import (
    BaselineLearner,
    IncentiveBox,
    masked_log_prob,
)
from alloc_agents.stackelberg.leader import EDGE, BoxBeta, LeaderFeatures, LeaderNetwork
from alloc_agents.stackelberg.population_model import (
    EpisodeMemory,
    HistoryFeatures,
    ResponseModel,
)
from alloc_agents.stackelberg.smfu import SMFU
from alloc_envs.stackelberg.game import MeanFieldGame


def gae(
    rewards: np.ndarray, values: np.ndarray, gamma: float, lam: float
) -> tuple[np.ndarray, np.ndarray]:
    """(T,) GAE advantages and TD(lambda) targets (advantages + values) of one episode's (T,)
    rewards and (T,) values, with V_T = 0 after the last step."""
    advantages = np.zeros(len(rewards), dtype=np.float64)
    running, next_value = 0.0, 0.0
    for t in range(len(rewards) - 1, -1, -1):
        delta = float(rewards[t]) + gamma * next_value - float(values[t])
        running = delta + gamma * lam * running
        advantages[t] = running
        next_value = float(values[t])
    return advantages, advantages + values


class M3RLRecord(NamedTuple):
    """One episode of the M3RL leader (T steps).

    Attributes:
        inputs: (T, F + E) float32 what the policy and critic saw: the leader's features and
            the tracker's embedding.
        incentives: (T, U) float64 the unit-box incentives played (after perturbation).
        perturbed: (T, U) bool, the dimensions drawn uniformly.
        histories: (T, H) float32 the tracker's inputs.
        distributions: (T, S) float64 m_0 .. m_{T-1}.
    """

    inputs: np.ndarray
    incentives: np.ndarray
    perturbed: np.ndarray
    histories: np.ndarray
    distributions: np.ndarray


class _Tracked:
    """What the M3RL leaders share: the policy's law at a step, from the leader's features and
    the tracker's embedding of the episode's history."""

    def __init__(
        self,
        game: MeanFieldGame,
        features: LeaderFeatures,
        history: HistoryFeatures,
        network: LeaderNetwork,
        model: ResponseModel,
    ) -> None:
        self.features = features
        self.history = history
        self.network = network
        self.model = model
        self.box = IncentiveBox(game)
        self.device = next(network.parameters()).device
        self.memory = EpisodeMemory()

    @torch.no_grad()
    def _law(
        self, t: int, distribution: np.ndarray, exogenous: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, BoxBeta]:
        """Starts step ``t``: (F + E,) inputs, (H,) tracker input and the policy's law."""
        self.memory.begin(t, distribution)
        history = self.history(t, self.memory, exogenous)
        embedding = self.model.embed(torch.as_tensor(history, device=self.device))
        observed = self.features(t, distribution, exogenous)
        inputs = np.concatenate((observed, embedding.cpu().numpy())).astype(np.float32)
        law = self.network.distribution(torch.as_tensor(inputs, device=self.device))
        return inputs, history, law


class M3RLActor(_Tracked):
    """The exploring leader of one outer iteration: a Beta draw per dimension, each replaced by
    a uniform draw with probability ``epsilon`` (module docstring); :meth:`take` hands over the
    recorded episode. Every call draws U Beta, U uniform and U coin variables from ``rng``."""

    def __init__(self, *args: Any, rng: np.random.Generator, epsilon: float) -> None:
        super().__init__(*args)
        self.rng = rng
        self.epsilon = epsilon
        self._steps: list[tuple[np.ndarray, ...]] = []

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        if t == 0:
            self._steps = []
        inputs, history, law = self._law(t, distribution, exogenous)
        alpha = law.alpha.double().cpu().numpy()
        beta = law.beta.double().cpu().numpy()
        z = self.rng.beta(alpha, beta)
        uniform = self.rng.random(z.shape[0])
        perturbed = self.rng.random(z.shape[0]) < self.epsilon
        z = np.clip(np.where(perturbed, uniform, z), EDGE, 1.0 - EDGE)
        self.memory.end(z)
        self._steps.append((inputs, z, perturbed, history))
        return self.box.incentive(z)

    def take(self) -> M3RLRecord:
        """The episode played since t = 0 (module docstring of :class:`M3RLRecord`)."""
        inputs, draws, perturbed, histories = (np.stack(x) for x in zip(*self._steps, strict=True))
        record = M3RLRecord(
            inputs, draws, perturbed, histories, np.stack(self.memory.distributions)
        )
        self._steps = []
        return record


class M3RLPolicy(_Tracked):
    """The deterministic M3RL leader: the policy's mean incentive, no perturbation. Holds
    copies of the networks on the CPU (later training does not change it) and the episode's
    history (reset at t = 0)."""

    def __init__(
        self,
        game: MeanFieldGame,
        features: LeaderFeatures,
        history: HistoryFeatures,
        network: LeaderNetwork,
        model: ResponseModel,
    ) -> None:
        network = copy.deepcopy(network).cpu().eval()
        super().__init__(game, features, history, network, copy.deepcopy(model).cpu().eval())

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        _, _, law = self._law(t, distribution, exogenous)
        z = law.mean().double().numpy()
        self.memory.end(z)
        return self.box.incentive(z)


class M3RLLearner(BaselineLearner):
    """The M3RL leader's learner (module docstring; shared parts:
    :class:`~alloc_agents.stackelberg.baseline_learner.BaselineLearner`)."""

    record_class = M3RLRecord

    def _build_network(self) -> nn.Module:
        cfg = self.config
        n_inputs = self.features.size + cfg.response_embedding
        return LeaderNetwork(self.game, n_inputs, cfg.leader_hidden_sizes, cfg.leader_activation)

    def _parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        net = self.network
        return list(net.policy_net.parameters()), list(net.value_net.parameters())

    def _tracked(self) -> tuple[Any, ...]:
        return (
            self.game,
            self.features,
            self.response.features,
            self.network,
            self.response.model,
        )

    def actor(self) -> M3RLActor:
        """An exploring leader that records its episodes (draws from :attr:`rng`)."""
        return M3RLActor(*self._tracked(), rng=self.rng, epsilon=self.config.epsilon)

    def policy(self) -> M3RLPolicy:
        """A deterministic snapshot of the current policy and tracker (the mean incentive)."""
        return M3RLPolicy(*self._tracked())

    def _losses(
        self, records: list[M3RLRecord], rewards: list[np.ndarray]
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, float]]:
        cfg, net, device = self.config, self.network, self.device
        inputs = torch.as_tensor(np.concatenate([r.inputs for r in records]), device=device)
        draws = torch.as_tensor(
            np.concatenate([r.incentives for r in records]), dtype=torch.float32, device=device
        )
        perturbed = np.concatenate([r.perturbed for r in records])
        keep = torch.as_tensor(~perturbed, device=device)
        law = net.distribution(inputs)
        values = net.value(inputs)
        split = np.cumsum([len(r) for r in rewards])[:-1]
        chunks = np.split(values.detach().double().cpu().numpy(), split)
        pairs = [
            gae(r, v, cfg.leader_gamma, cfg.gae_lambda)
            for r, v in zip(rewards, chunks, strict=True)
        ]
        advantages, targets = (
            torch.as_tensor(np.concatenate(x), dtype=torch.float32, device=device)
            for x in zip(*pairs, strict=True)
        )
        policy_loss = -(masked_log_prob(law, draws, keep) * advantages).mean()
        value_loss = 0.5 * (values - targets).pow(2).mean()
        entropy = law.entropy().mean()
        return policy_loss, entropy, value_loss, {"leader_perturbed": float(perturbed.mean())}


class M3RL(SMFU):
    """The M3RL leader baseline with SMFU's followers (module docstring; the loop:
    :class:`~alloc_agents.stackelberg.trainer.StackelbergTrainer`).

    Rows add ``leader_perturbed`` (the share of perturbed incentive dimensions) and
    ``response_kl`` (the tracker's mean minibatch KL, nats).
    """

    method = "m3rl"
    config_class = M3RLConfig
    leader_class = M3RLLearner
