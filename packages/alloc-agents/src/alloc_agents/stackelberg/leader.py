"""The leader's policy ``mu_omega(u | t, m_t, x_t)`` and value baseline, and how it acts.

**Observation** (:class:`LeaderFeatures`): ``[one-hot t (T), m_t (S), x_t / x_high (X)]``
(float32), the public state of the step: time, the followers' distribution (empirical in the
N-agent fidelity, generated in TIRL's) and the exogenous state scaled to [0, 1]. The open-loop
leader (SMFU-w/o-L, reading B) sees ``one-hot t`` only. With a per-dimension head the
observation ends with each incentive dimension's local state (``U * LOCAL_STATE`` floats,
:meth:`~.dimensions.DimensionMap.local_state`).

**Heads** (:class:`LeaderNetwork`): ``"joint"`` (the paper's, default) maps the observation to
the (a, b) of all U dimensions at once; ``"per_dimension"`` (ours) applies one MLP, shared by
the dimensions, to ``[one-hot t, local state of dimension i]`` for each i. The joint head learns
each dimension's response separately from one return per episode; the shared head pools the
dimensions' evidence into one rule of the local state (EDRP: 63 zone charges, one rule). On
EDRP this removes the joint head's scatter of charges but does not learn their level (measured
in the package README, "A charge head shared by the zones").

**Distribution** (:class:`BoxBeta`): independent Beta laws on ``z in (0, 1)^U``, one per
incentive dimension, mapped affinely onto the game's box, ``u = low + z (high - low)``, with
``alpha = 1 + softplus(a)``, ``beta = 1 + softplus(b)`` from the network (unimodal; Chou et al.
2017). Why a Beta rather than a squashed Gaussian: its support is the box (no clipping of samples,
no tanh Jacobian), and its entropy is closed-form, which the entropy regulariser of §4.3 needs.
``log mu(u) = log Beta(z) - sum log(high - low)`` and ``H[mu] = H[Beta] + sum log(high - low)``.

**Acting**: :class:`SampledLeader` draws ``z`` from a ``numpy.random.Generator`` (seeded by the
trainer) and records the features and draws of an episode for the policy gradient;
:class:`MeanLeader` plays the mean ``E[u]`` (deterministic; for evaluation). Both are
``(t, m_t, x_t) -> u_t`` callables, so alloc_envs' rollouts, the Population episodes and the exact
solver all accept them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.batched import BatchedMLP
from alloc_agents.stackelberg.dimensions import LOCAL_STATE, DimensionMap
from alloc_envs.core.validation import check_choice
from alloc_envs.stackelberg.game import MeanFieldGame

#: What the leader observes: ``"full"`` (t, m_t, x_t) or ``"time"`` (t only: open loop).
INPUTS = ("full", "time")
#: The policy heads of :class:`LeaderNetwork` (module docstring).
HEADS = ("joint", "per_dimension")
#: Draws are kept this far inside (0, 1) so that log-densities stay finite in float32.
EDGE = 1e-6


def incentive_bounds(game: MeanFieldGame) -> tuple[np.ndarray, np.ndarray]:
    """The game's (U,) float64 incentive box ``(low, high)``; ``ValueError`` unless every
    dimension has ``high > low`` (a Beta law needs a proper interval)."""
    low = np.asarray(game.incentive_low, dtype=np.float64)
    high = np.asarray(game.incentive_high, dtype=np.float64)
    if (high <= low).any():
        i = int(np.flatnonzero(high <= low)[0])
        raise ValueError(f"the incentive box must have high > low; dimension {i} does not")
    return low, high


class LeaderFeatures:
    """The leader's observation vector of ``game`` (module docstring).

    Args:
        game: the scenario's model (its horizon, state count and exogenous bounds).
        inputs: ``"full"`` or ``"time"``.
        dimensions: append each incentive dimension's local state (``"full"`` inputs only;
            ``ValueError`` otherwise).
    """

    def __init__(
        self, game: MeanFieldGame, inputs: str = "full", dimensions: DimensionMap | None = None
    ) -> None:
        check_choice("inputs", inputs, INPUTS)
        if dimensions is not None and inputs != "full":
            raise ValueError("the dimensions' local state needs the full inputs (t, m_t, x_t)")
        self.horizon = game.horizon
        self.inputs = inputs
        self.dimensions = dimensions
        high = np.asarray(game.exogenous_high, dtype=np.float64)
        self.exogenous_scale = np.divide(1.0, high, out=np.zeros_like(high), where=high > 0)
        extra = game.n_states + high.shape[0] if inputs == "full" else 0
        local = 0 if dimensions is None else dimensions.n_incentives * LOCAL_STATE
        self.size = game.horizon + extra + local

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        """(F,) float32 features of step ``t`` with (S,) m_t and (X,) x_t."""
        out = np.zeros(self.size, dtype=np.float32)
        out[t] = 1.0
        if self.inputs == "full":
            parts = [distribution, exogenous * self.exogenous_scale]
            if self.dimensions is not None:
                parts.append(self.dimensions.local_state(t, distribution, exogenous).ravel())
            out[self.horizon :] = np.concatenate(parts)
        return out


@dataclass(frozen=True)
class BoxBeta:
    """Independent Beta laws on the unit box, reported for the incentive box (module doc).

    Attributes:
        alpha, beta: (..., U) concentrations (> 1).
        log_width: (U,) ``log(high - low)``, the log-Jacobian of ``z -> u``.
    """

    alpha: Tensor
    beta: Tensor
    log_width: Tensor

    def log_prob(self, z: Tensor) -> Tensor:
        """(...,) ``log mu(u)`` of the incentives ``u = low + z (high - low)`` for (..., U) ``z``
        in the unit box (clamped ``EDGE`` inside it)."""
        law = torch.distributions.Beta(self.alpha, self.beta)
        z = z.clamp(EDGE, 1.0 - EDGE)
        return (law.log_prob(z) - self.log_width).sum(-1)

    def entropy(self) -> Tensor:
        """(...,) differential entropy of the incentive, ``-E[log mu(u)]`` (nats)."""
        law = torch.distributions.Beta(self.alpha, self.beta)
        return (law.entropy() + self.log_width).sum(-1)

    def mean(self) -> Tensor:
        """(..., U) ``E[z]``."""
        return self.alpha / (self.alpha + self.beta)


class LeaderNetwork(nn.Module):
    """Policy and value MLPs on the leader's features.

    Initialised like the PPO core's MLPs (orthogonal, gain sqrt(2) in hidden layers; 0.01 in the
    policy's last layer, so the initial law is close to Beta(1.69, 1.69) in every dimension:
    centred in the box; 1 in the value's), drawn from the global torch generator (the trainer
    forks and seeds it).

    Args:
        game: the scenario (incentive box; ``ValueError`` if some ``high <= low``).
        n_features: F.
        hidden_sizes, activation: the MLPs' hidden widths and activation.
        head: ``"joint"`` or ``"per_dimension"`` (module docstring; :data:`HEADS`). The
            per-dimension head reads the one-hot t (the first T features) and the local states
            (the last ``U * LOCAL_STATE``, as :class:`LeaderFeatures` with ``dimensions``
            lays them out); the value MLP reads all F features either way.
    """

    def __init__(
        self,
        game: MeanFieldGame,
        n_features: int,
        hidden_sizes: tuple[int, ...],
        activation: str,
        head: str = "joint",
    ) -> None:
        super().__init__()
        check_choice("head", head, HEADS)
        low, high = incentive_bounds(game)
        self.n_incentives = low.shape[0]
        self.head = head
        self.horizon = game.horizon
        if head == "joint":
            self.policy_net = BatchedMLP(
                1, n_features, hidden_sizes, 2 * self.n_incentives, activation, 0.01
            )
        else:
            local = self.n_incentives * LOCAL_STATE
            if n_features < self.horizon + local:
                raise ValueError(
                    f"a per-dimension head needs at least T + U * {LOCAL_STATE} = "
                    f"{self.horizon + local} features, got {n_features}"
                )
            self.policy_net = BatchedMLP(
                1, self.horizon + LOCAL_STATE, hidden_sizes, 2, activation, 0.01
            )
        self.value_net = BatchedMLP(1, n_features, hidden_sizes, 1, activation, 1.0)
        self.register_buffer("log_width", torch.tensor(np.log(high - low), dtype=torch.float32))

    def distribution(self, features: Tensor) -> BoxBeta:
        """The law of the incentive for (..., F) features: batch shape (...)."""
        if self.head == "joint":
            raw = self.policy_net(features)
            a, b = raw[..., : self.n_incentives], raw[..., self.n_incentives :]
        else:
            u = self.n_incentives
            time = features[..., : self.horizon].unsqueeze(-2)
            local = features[..., features.shape[-1] - u * LOCAL_STATE :].unflatten(
                -1, (u, LOCAL_STATE)
            )
            inputs = torch.cat((time.expand(*local.shape[:-1], self.horizon), local), dim=-1)
            raw = self.policy_net(inputs)  # (..., U, 2)
            a, b = raw[..., 0], raw[..., 1]
        return BoxBeta(1.0 + F.softplus(a), 1.0 + F.softplus(b), self.log_width)

    def value(self, features: Tensor) -> Tensor:
        """(...,) the baseline: the expected leader return-to-go from the observation."""
        return self.value_net(features).squeeze(-1)


class _Acting:
    """What both leaders share: features, the network (on its device) and the box."""

    def __init__(self, game: MeanFieldGame, features: LeaderFeatures, network: LeaderNetwork):
        self.features = features
        self.network = network
        self.low = np.asarray(game.incentive_low, dtype=np.float64)
        self.high = np.asarray(game.incentive_high, dtype=np.float64)
        self.device = next(network.parameters()).device

    @torch.no_grad()
    def _law(self, observation: np.ndarray) -> BoxBeta:
        return self.network.distribution(torch.as_tensor(observation, device=self.device))

    def _incentive(self, z: np.ndarray) -> np.ndarray:
        """(U,) float64 incentive of the unit-box point ``z`` (clipped against rounding)."""
        return np.clip(self.low + z * (self.high - self.low), self.low, self.high)


class SampledLeader(_Acting):
    """The stochastic leader ``u_t ~ mu_omega(. | t, m_t, x_t)`` of one outer iteration.

    Every call draws ``z`` from ``rng`` (numpy's Beta sampler, float64) and records the (F,)
    features and (U,) draw; :meth:`take` hands over the recorded episode.
    """

    def __init__(
        self,
        game: MeanFieldGame,
        features: LeaderFeatures,
        network: LeaderNetwork,
        rng: np.random.Generator,
    ) -> None:
        super().__init__(game, features, network)
        self.rng = rng
        self._features: list[np.ndarray] = []
        self._draws: list[np.ndarray] = []

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        observation = self.features(t, distribution, exogenous)
        law = self._law(observation)
        alpha = law.alpha.double().cpu().numpy()
        beta = law.beta.double().cpu().numpy()
        z = np.clip(self.rng.beta(alpha, beta), EDGE, 1.0 - EDGE)
        self._features.append(observation)
        self._draws.append(z)
        return self._incentive(z)

    def take(self) -> tuple[np.ndarray, np.ndarray]:
        """The recorded (T', F) float32 features and (T', U) float64 draws, in call order;
        the record is emptied."""
        out = np.stack(self._features), np.stack(self._draws)
        self._features, self._draws = [], []
        return out


class MeanLeader(_Acting):
    """The deterministic leader ``u_t = E[u | t, m_t, x_t]`` (the Beta laws' means).

    Holds its own copy of the network (on the CPU), so that later training of the original does
    not change it.
    """

    def __init__(self, game: MeanFieldGame, features: LeaderFeatures, network: LeaderNetwork):
        super().__init__(game, features, copy.deepcopy(network).cpu().eval())

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        law = self._law(self.features(t, distribution, exogenous))
        return self._incentive(law.mean().double().numpy())
