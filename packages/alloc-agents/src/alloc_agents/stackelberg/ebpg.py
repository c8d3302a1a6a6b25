"""The EBPG leader baseline (Shi et al., "Learning Expensive Coordination: An Event-Based Deep RL
Approach", ICLR 2020), adapted to a leader facing a follower population.

EBPG models the leader's decisions as a semi-MDP and learns them with an event-based policy
gradient, with a follower-aware module and follower-specific attention; its followers learn with
an action-abstraction policy gradient. The adaptation (``research/smfg-reference.md`` §6.7,
"EBPG baseline (adapted)"), with our choices:

* **Followers**: SMFU's solver (N-agent PPO, :meth:`FollowerPPO.step`) as in every method;
  EBPG's follower action abstraction concerns the followers' training and is **omitted**.
* **Events (semi-MDP)**: the leader decides at t = 0 and then at every step t with
  ``t - t_last >= event_period`` (E, default 4) or ``||m_t - m_last||_1 > event_threshold``
  (default 0.5; ``None``: off), where t_last and m_last are the step and distribution of the
  last event; between events it holds its incentive.
* **Event-based policy gradient**: for event j at step t_j the return is the reward
  accumulated from t_j on, ``G_j = sum_{t >= t_j} gamma^(t - t_j) r_t`` (the rewards between
  events j and j + 1, plus ``gamma^(t_{j+1} - t_j) G_{j+1}``; ``leader_gamma`` 1: finite
  horizon, no discount), and one Adam step per outer iteration on
  ``-mean_j log mu(u_j | o_j) (G_j - V(o_j)) + 1/2 mean_j (V(o_j) - G_j)^2`` over the events
  of the iteration's episodes, with the §4.3 regularisers. Only the event draws enter the
  log-probability: the held steps are not decisions.
* **Follower-aware module** (:mod:`.population_model`, ``response_history`` k = 1 by
  default): predicts the followers' next distribution from (t, x_t, m_t) and an incentive,
  trained by KL on the observed episodes (every step, held or not). At an event it predicts the
  response to the incentive being held (the incentive closest to 0 at t = 0), i.e. where the
  followers go if the leader does not change its mind; that prediction m_hat (S floats) is part
  of the policy's and the critic's input.
* **Attention over incentive dimensions** (:class:`AttentionLeaderNetwork`): one token per
  dimension (a node in EDRP, a food type in MTFG) with the dimension's local state
  (:class:`~.dimensions.DimensionMap`, :func:`dimension_tokens`): its identity, the followers'
  mass now and predicted in the states that can reach its sites, its share of the sites'
  capacity (orders, food) and the incentive held on it; plus a context vector from
  ``[one-hot t, m_t, x_t / x_high, m_hat]``. One single-head self-attention layer (with a
  residual) mixes the tokens, and a head per token gives that dimension's Beta law.
  The critic is an MLP on the global input.

Evaluation (:meth:`EBPGLearner.policy`) plays the mean incentive at events and holds it in
between, with the same triggers; the returned leader keeps the episode's history (reset at
t = 0) and must be played from t = 0.
"""

from __future__ import annotations

import abc
import copy
import math
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.batched import ACTIVATION_FNS, BatchedLinear, BatchedMLP
from alloc_agents.stackelberg.baseline_config import EBPGConfig
from alloc_agents.stackelberg.baseline_learner import (
    BaselineLearner,
    IncentiveBox,
    discounted_reward_to_go,
)
from alloc_agents.stackelberg.dimensions import DimensionMap
from alloc_agents.stackelberg.leader import EDGE, BoxBeta, LeaderFeatures, incentive_bounds
from alloc_agents.stackelberg.population_model import (
    EpisodeMemory,
    HistoryFeatures,
    ResponseModel,
)
from alloc_agents.stackelberg.smfu import SMFU
from alloc_envs.stackelberg.leader import no_incentive
from alloc_envs.stackelberg.matching import MatchingGame

#: Local features per token besides the one-hot identity (see :func:`dimension_tokens`).
LOCAL_FEATURES = 4


def dimension_tokens(
    dims: DimensionMap,
    t: int,
    distribution: np.ndarray,
    predicted: np.ndarray,
    exogenous: np.ndarray,
    held: np.ndarray,
) -> np.ndarray:
    """(U, U + :data:`LOCAL_FEATURES`) float32 tokens: ``[one-hot i, mass(m_t)_i,
    mass(m_hat)_i, capacity(t, x_t)_i, z_held_i]`` (``held``: the unit-box incentive being
    held; :class:`~.dimensions.DimensionMap` for mass and capacity)."""
    local = np.stack(
        (
            dims.mass(distribution),
            dims.mass(predicted),
            dims.capacity(t, exogenous),
            np.asarray(held, dtype=np.float64),
        ),
        axis=1,
    )
    return np.concatenate((np.eye(dims.n_incentives), local), axis=1).astype(np.float32)


class AttentionLeaderNetwork(nn.Module):
    """The EBPG leader's policy (attention over incentive dimensions) and critic.

    Policy, for (..., G) global inputs g and (..., U, D) tokens:
    ``h = act(W_e token + context(g))``, ``h <- h + softmax(q k^T / sqrt(d)) v`` (single head,
    q, k, v linear in h), then a head MLP per token -> (a_i, b_i) -> ``Beta(1 + softplus(a_i),
    1 + softplus(b_i))`` on dimension i of the unit box (as
    :class:`~alloc_agents.stackelberg.leader.LeaderNetwork`: the policy's last layer has gain
    0.01, so every dimension starts near Beta(1.69, 1.69), centred). Critic: an MLP on g.
    Initialised from the global torch generator (the learner forks and seeds it).

    Args:
        game: the scenario (incentive box; ``ValueError`` if some ``high <= low``).
        n_global: G; n_token: D; dim: d.
        hidden_sizes, activation: the context and critic MLPs.
    """

    def __init__(
        self,
        game: MatchingGame,
        n_global: int,
        n_token: int,
        dim: int,
        hidden_sizes: tuple[int, ...],
        activation: str,
    ) -> None:
        super().__init__()
        low, high = incentive_bounds(game)
        gain = math.sqrt(2.0)
        self.dim = dim
        self.context = BatchedMLP(1, n_global, hidden_sizes, dim, activation, gain)
        self.embed = BatchedLinear(1, n_token, dim, gain)
        self.query = BatchedLinear(1, dim, dim, 1.0)
        self.key = BatchedLinear(1, dim, dim, 1.0)
        self.values = BatchedLinear(1, dim, dim, 1.0)
        self.head = BatchedMLP(1, dim, (dim,), 2, activation, 0.01)
        self.value_net = BatchedMLP(1, n_global, hidden_sizes, 1, activation, 1.0)
        self.act = ACTIVATION_FNS[activation]
        self.register_buffer("log_width", torch.tensor(np.log(high - low), dtype=torch.float32))

    def policy_parameters(self) -> list[nn.Parameter]:
        """Every parameter but the critic's."""
        critic = {id(p) for p in self.value_net.parameters()}
        return [p for p in self.parameters() if id(p) not in critic]

    def attention(self, inputs: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """(..., U, d) mixed token states and (..., U, U) attention weights (rows sum to 1)."""
        h = self.act(self.embed(tokens) + self.context(inputs).unsqueeze(-2))
        scores = self.query(h) @ self.key(h).transpose(-1, -2) / math.sqrt(self.dim)
        weights = torch.softmax(scores, dim=-1)
        return h + weights @ self.values(h), weights

    def distribution(self, inputs: Tensor, tokens: Tensor) -> BoxBeta:
        """The incentive's law for (..., G) inputs and (..., U, D) tokens: batch shape (...)."""
        h, _ = self.attention(inputs, tokens)
        raw = self.head(h)
        alpha = 1.0 + F.softplus(raw[..., 0])
        beta = 1.0 + F.softplus(raw[..., 1])
        return BoxBeta(alpha, beta, self.log_width)

    def value(self, inputs: Tensor) -> Tensor:
        """(...,) the critic: the expected leader return from an event's global input."""
        return self.value_net(inputs).squeeze(-1)


class EBPGRecord(NamedTuple):
    """One episode of the EBPG leader: J events over T steps.

    Attributes:
        inputs: (J, F + S) float32 global inputs at the events (features and m_hat).
        tokens: (J, U, U + 4) float32 their tokens.
        draws: (J, U) float64 the unit-box incentives drawn at the events.
        events: (J,) int64 the events' steps (the first is 0).
        histories: (T, H) float32 the follower-aware module's input at every step.
        incentives: (T, U) float64 the unit-box incentive played at every step.
        distributions: (T, S) float64 m_0 .. m_{T-1}.
    """

    inputs: np.ndarray
    tokens: np.ndarray
    draws: np.ndarray
    events: np.ndarray
    histories: np.ndarray
    incentives: np.ndarray
    distributions: np.ndarray


class _EventLeader(abc.ABC):
    """What the EBPG leaders share: the event triggers, the hold, and the policy's inputs."""

    def __init__(
        self,
        game: MatchingGame,
        features: LeaderFeatures,
        history: HistoryFeatures,
        dims: DimensionMap,
        network: AttentionLeaderNetwork,
        model: ResponseModel,
        config: EBPGConfig,
    ) -> None:
        self.features = features
        self.history = history
        self.dims = dims
        self.network = network
        self.model = model
        self.period = config.event_period
        self.threshold = config.event_threshold
        self.box = IncentiveBox(game)
        self.initial = self.box.unit(no_incentive(game))
        self.device = next(network.parameters()).device
        self.memory = EpisodeMemory()
        self.held = self.initial
        self.last_event = 0
        self.last_distribution: np.ndarray | None = None

    def is_event(self, t: int, distribution: np.ndarray) -> bool:
        """Whether step t is an event (module docstring), given the last event's record."""
        if t == 0 or self.last_distribution is None:
            return True
        if t - self.last_event >= self.period:
            return True
        if self.threshold is None:
            return False
        return float(np.abs(distribution - self.last_distribution).sum()) > self.threshold

    @torch.no_grad()
    def _law(
        self, t: int, distribution: np.ndarray, exogenous: np.ndarray, history: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, BoxBeta]:
        """(G,) global inputs, (U, D) tokens and the policy's law at an event at step t."""
        held = self.held if t > 0 else self.initial
        to = {"device": self.device}
        log_p = self.model.log_probs(
            torch.as_tensor(history, **to), torch.as_tensor(held, dtype=torch.float32, **to)
        )
        predicted = log_p.exp().double().cpu().numpy()
        predicted /= predicted.sum()
        observed = self.features(t, distribution, exogenous)
        inputs = np.concatenate((observed, predicted)).astype(np.float32)
        tokens = dimension_tokens(self.dims, t, distribution, predicted, exogenous, held)
        law = self.network.distribution(
            torch.as_tensor(inputs, **to), torch.as_tensor(tokens, **to)
        )
        return inputs, tokens, law

    @abc.abstractmethod
    def _choose(self, law: BoxBeta) -> np.ndarray:
        """(U,) the unit-box incentive to play from ``law`` at an event."""

    def _decided(  # noqa: B027 (an optional hook: the deterministic leader records nothing)
        self, t: int, inputs: np.ndarray, tokens: np.ndarray, z: np.ndarray
    ) -> None:
        """Hook: an event at step t chose ``z``."""

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        self.memory.begin(t, distribution)
        history = self.history(t, self.memory, exogenous)
        if self.is_event(t, distribution):
            inputs, tokens, law = self._law(t, distribution, exogenous, history)
            z = self._choose(law)
            self._decided(t, inputs, tokens, z)
            self.held = z
            self.last_event = t
            self.last_distribution = np.array(distribution, dtype=np.float64)
        self._stepped(history)
        self.memory.end(self.held)
        return self.box.incentive(self.held)

    def _stepped(self, history: np.ndarray) -> None:  # noqa: B027 (an optional hook)
        """Hook: the step's (H,) module input."""


class EBPGActor(_EventLeader):
    """The stochastic event-based leader of one outer iteration: a Beta draw from ``rng`` at
    each event, held until the next; :meth:`take` hands over the recorded episode."""

    def __init__(self, *args: Any, rng: np.random.Generator) -> None:
        super().__init__(*args)
        self.rng = rng
        self._events: list[tuple[np.ndarray, np.ndarray, np.ndarray, int]] = []
        self._histories: list[np.ndarray] = []

    def _choose(self, law: BoxBeta) -> np.ndarray:
        alpha = law.alpha.double().cpu().numpy()
        beta = law.beta.double().cpu().numpy()
        return np.clip(self.rng.beta(alpha, beta), EDGE, 1.0 - EDGE)

    def _decided(self, t: int, inputs: np.ndarray, tokens: np.ndarray, z: np.ndarray) -> None:
        if t == 0:
            self._events, self._histories = [], []
        self._events.append((inputs, tokens, z, t))

    def _stepped(self, history: np.ndarray) -> None:
        self._histories.append(history)

    def take(self) -> EBPGRecord:
        """The episode played since t = 0 (:class:`EBPGRecord`)."""
        inputs, tokens, draws, events = zip(*self._events, strict=True)
        record = EBPGRecord(
            np.stack(inputs),
            np.stack(tokens),
            np.stack(draws),
            np.asarray(events, dtype=np.int64),
            np.stack(self._histories),
            np.stack(self.memory.incentives),
            np.stack(self.memory.distributions),
        )
        self._events, self._histories = [], []
        return record


class EBPGPolicy(_EventLeader):
    """The deterministic event-based leader: the policy's mean at events, held in between.
    Holds copies of the networks on the CPU and the episode's history (reset at t = 0)."""

    def __init__(
        self,
        game: MatchingGame,
        features: LeaderFeatures,
        history: HistoryFeatures,
        dims: DimensionMap,
        network: AttentionLeaderNetwork,
        model: ResponseModel,
        config: EBPGConfig,
    ) -> None:
        network = copy.deepcopy(network).cpu().eval()
        model = copy.deepcopy(model).cpu().eval()
        super().__init__(game, features, history, dims, network, model, config)

    def _choose(self, law: BoxBeta) -> np.ndarray:
        return law.mean().double().numpy()


class EBPGLearner(BaselineLearner):
    """The EBPG leader's learner (module docstring; shared parts:
    :class:`~alloc_agents.stackelberg.baseline_learner.BaselineLearner`).

    Attributes (besides the base's): ``dims`` (:class:`DimensionMap`).
    """

    record_class = EBPGRecord

    def __init__(
        self, game: MatchingGame, config: EBPGConfig, seed: int, device: torch.device
    ) -> None:
        self.dims = DimensionMap(game)
        super().__init__(game, config, seed, device)

    def _build_network(self) -> nn.Module:
        cfg = self.config
        return AttentionLeaderNetwork(
            self.game,
            self.features.size + self.game.n_states,
            self.dims.n_incentives + LOCAL_FEATURES,
            cfg.attention_dim,
            cfg.leader_hidden_sizes,
            cfg.leader_activation,
        )

    def _parameter_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        return self.network.policy_parameters(), list(self.network.value_net.parameters())

    def _parts(self) -> tuple[Any, ...]:
        return (
            self.game,
            self.features,
            self.response.features,
            self.dims,
            self.network,
            self.response.model,
            self.config,
        )

    def actor(self) -> EBPGActor:
        """An event-based stochastic leader that records its episodes (draws from
        :attr:`rng`)."""
        return EBPGActor(*self._parts(), rng=self.rng)

    def policy(self) -> EBPGPolicy:
        """A deterministic snapshot: the mean incentive at events, held in between."""
        return EBPGPolicy(*self._parts())

    def _losses(
        self, records: list[EBPGRecord], rewards: list[np.ndarray]
    ) -> tuple[Tensor, Tensor, Tensor, dict[str, float]]:
        net, device = self.network, self.device
        returns = np.concatenate(
            [
                discounted_reward_to_go(r, self.config.leader_gamma)[rec.events]
                for rec, r in zip(records, rewards, strict=True)
            ]
        )
        inputs = torch.as_tensor(np.concatenate([r.inputs for r in records]), device=device)
        tokens = torch.as_tensor(np.concatenate([r.tokens for r in records]), device=device)
        draws = torch.as_tensor(
            np.concatenate([r.draws for r in records]), dtype=torch.float32, device=device
        )
        targets = torch.as_tensor(returns, dtype=torch.float32, device=device)
        law = net.distribution(inputs, tokens)
        values = net.value(inputs)
        advantages = targets - values.detach()
        policy_loss = -(law.log_prob(draws) * advantages).mean()
        value_loss = 0.5 * (values - targets).pow(2).mean()
        entropy = law.entropy().mean()
        events = float(np.mean([len(r.events) for r in records]))
        return policy_loss, entropy, value_loss, {"leader_events": events}


class EBPG(SMFU):
    """The EBPG leader baseline with SMFU's followers (module docstring; the loop:
    :class:`~alloc_agents.stackelberg.trainer.StackelbergTrainer`).

    Rows add ``leader_events`` (events per episode) and ``response_kl`` (the follower-aware
    module's mean minibatch KL, nats).
    """

    method = "ebpg"
    config_class = EBPGConfig
    leader_class = EBPGLearner
