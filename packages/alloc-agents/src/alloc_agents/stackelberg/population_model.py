"""A model of how the follower population responds to the leader: ``p(m_{t+1} | history, u_t)``.

Both leader baselines use one: the M3RL baseline (:mod:`.m3rl`) in place of M3RL's per-worker
"mind tracker", and the EBPG baseline (:mod:`.ebpg`) as its follower-aware module. Trained on the
observed N-agent episodes, it knows nothing of the game's kernel.

**Encoder input** (:class:`HistoryFeatures`, H floats) at step t, with window k:
``[one-hot t (T), x_t / x_high (X), m_t, m_{t-1}, .., m_{t-k+1} (k S), z_{t-1}, .., z_{t-k} (k U),
valid_1 .. valid_k (k)]``, where ``z = (u - low) / (high - low)`` is an incentive scaled to the
unit box and ``valid_j = 1[t - j >= 0]`` (entries before the episode's start are zeros). The
leader's own incentive of step t is *not* in it: the encoder's output is available before the
leader decides.

**Network** (:class:`ResponseModel`): encoder MLP -> tanh -> embedding ``e_t`` (E floats, what
the leader sees); head MLP on ``[e_t, z_t]`` -> logits over the S follower states ->
``log p(. | history, u_t)``.

**Loss**: ``KL(m_{t+1} || p) = sum_s m_{t+1}(s) (log m_{t+1}(s) - log p(s))`` (nats), averaged
over samples; m_{t+1} is the followers' empirical distribution after step t (the cross-entropy
of the observed followers' next states, less its constant entropy). Samples are the steps
t = 0 .. T - 2 of every played episode (the leader sees no distribution after the last step),
kept in a ring buffer of the last ``response_buffer`` episodes (:class:`ResponseBuffer`) and
drawn uniformly in minibatches.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.batched import BatchedMLP
from alloc_envs.core.validation import check_int
from alloc_envs.stackelberg.game import MeanFieldGame


class EpisodeMemory:
    """The (m, z) history of the episode a stateful leader is playing.

    :meth:`begin` is called with m_t when step t starts (t = 0 clears the memory), :meth:`end`
    with the unit-box incentive z_t played at it. Leaders that keep one must be played from
    t = 0, one step at a time (``ValueError`` otherwise).
    """

    def __init__(self) -> None:
        self.distributions: list[np.ndarray] = []
        self.incentives: list[np.ndarray] = []

    def begin(self, t: int, distribution: np.ndarray) -> None:
        """Record (S,) m_t at the start of step ``t``."""
        if t == 0:
            self.distributions, self.incentives = [], []
        if t != len(self.distributions) or len(self.incentives) != t:
            raise ValueError(
                f"t: this leader keeps the episode's history and must be played from t = 0, "
                f"one step at a time; expected t = {len(self.incentives)}, got {t}"
            )
        self.distributions.append(np.array(distribution, dtype=np.float64))

    def end(self, incentive: np.ndarray) -> None:
        """Record the (U,) unit-box incentive z_t played at the current step."""
        self.incentives.append(np.array(incentive, dtype=np.float64))


class HistoryFeatures:
    """The encoder's input (module docstring) of ``game`` with window ``length`` (k).

    Attributes: ``length`` (k), ``size`` (H).
    """

    def __init__(self, game: MeanFieldGame, length: int) -> None:
        check_int("response_history", length, 1, 1000)
        self.horizon = game.horizon
        self.n_states = game.n_states
        self.n_incentives = np.asarray(game.incentive_low).shape[0]
        self.length = length
        high = np.asarray(game.exogenous_high, dtype=np.float64)
        self.exogenous_scale = np.divide(1.0, high, out=np.zeros_like(high), where=high > 0)
        self.n_exogenous = high.shape[0]
        self.size = (
            self.horizon + self.n_exogenous + length * (self.n_states + self.n_incentives + 1)
        )

    def __call__(self, t: int, memory: EpisodeMemory, exogenous: np.ndarray) -> np.ndarray:
        """(H,) float32 input at step ``t`` (``memory`` holds m_0 .. m_t and z_0 .. z_{t-1})
        with (X,) x_t."""
        k, s, u = self.length, self.n_states, self.n_incentives
        out = np.zeros(self.size, dtype=np.float32)
        out[t] = 1.0
        at = self.horizon
        out[at : at + self.n_exogenous] = exogenous * self.exogenous_scale
        at += self.n_exogenous
        for j in range(k):  # m_{t-j}
            if t - j >= 0:
                out[at + j * s : at + (j + 1) * s] = memory.distributions[t - j]
        at += k * s
        for j in range(1, k + 1):  # z_{t-j} and its flag
            if t - j >= 0:
                out[at + (j - 1) * u : at + j * u] = memory.incentives[t - j]
                out[at + k * u + j - 1] = 1.0
        return out


class ResponseModel(nn.Module):
    """Encoder and prediction head (module docstring), initialised like the PPO core's MLPs from
    the global torch generator (the learners fork and seed it).

    Args:
        n_inputs: H; n_incentives: U; n_states: S; embedding: E.
        hidden_sizes, activation: of both MLPs.
    """

    def __init__(
        self,
        n_inputs: int,
        n_incentives: int,
        n_states: int,
        embedding: int,
        hidden_sizes: tuple[int, ...],
        activation: str,
    ) -> None:
        super().__init__()
        self.encoder = BatchedMLP(1, n_inputs, hidden_sizes, embedding, activation, 1.0)
        self.head = BatchedMLP(
            1, embedding + n_incentives, hidden_sizes, n_states, activation, 0.01
        )

    def embed(self, histories: Tensor) -> Tensor:
        """(..., E) embeddings in (-1, 1) of (..., H) encoder inputs."""
        return torch.tanh(self.encoder(histories))

    def log_probs(self, histories: Tensor, incentives: Tensor) -> Tensor:
        """(..., S) ``log p(m_{t+1} = . | history, z_t)`` for (..., H) inputs and (..., U)
        unit-box incentives."""
        joint = torch.cat((self.embed(histories), incentives), dim=-1)
        return F.log_softmax(self.head(joint), dim=-1)

    def kl(self, histories: Tensor, incentives: Tensor, targets: Tensor) -> Tensor:
        """Mean over the batch of ``KL(target || p)`` (nats) for (B, S) target distributions."""
        log_p = self.log_probs(histories, incentives)
        log_t = torch.where(targets > 0, targets, torch.ones_like(targets)).log()
        return (targets * (log_t - log_p)).sum(-1).mean()


class ResponseBuffer:
    """A ring buffer of ``capacity`` samples (history (H,), z_t (U,), m_{t+1} (S,)), float32 on
    the CPU; the oldest samples are overwritten first."""

    def __init__(self, capacity: int, n_inputs: int, n_incentives: int, n_states: int) -> None:
        check_int("capacity", capacity, 1, 10**9)
        self.capacity = capacity
        self.histories = torch.zeros(capacity, n_inputs)
        self.incentives = torch.zeros(capacity, n_incentives)
        self.targets = torch.zeros(capacity, n_states)
        self.size = 0
        self.cursor = 0

    def add(self, histories: np.ndarray, incentives: np.ndarray, targets: np.ndarray) -> None:
        """Append (n, H), (n, U) and (n, S) samples."""
        for h, z, m in zip(histories, incentives, targets, strict=True):
            self.histories[self.cursor] = torch.as_tensor(h)
            self.incentives[self.cursor] = torch.as_tensor(z)
            self.targets[self.cursor] = torch.as_tensor(m)
            self.cursor = (self.cursor + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def batch(self, index: np.ndarray, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """The samples at ``index`` (< :attr:`size`) on ``device``."""
        idx = torch.as_tensor(index, dtype=torch.long)
        return tuple(x[idx].to(device) for x in (self.histories, self.incentives, self.targets))  # type: ignore[return-value]

    def state_dict(self) -> dict[str, Any]:
        """The filled part and the cursor (tensors and ints)."""
        n = self.size
        return {
            "histories": self.histories[:n].clone(),
            "incentives": self.incentives[:n].clone(),
            "targets": self.targets[:n].clone(),
            "size": n,
            "cursor": self.cursor,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` (``ValueError`` for a buffer of other widths or larger)."""
        n = int(state["size"])
        if n > self.capacity or state["histories"].shape[1:] != self.histories.shape[1:]:
            raise ValueError("the response buffer in the checkpoint does not fit this learner")
        for name in ("histories", "incentives", "targets"):
            getattr(self, name)[:n] = state[name]
        self.size = n
        self.cursor = int(state["cursor"])


class ResponseLearner:
    """The population-response model, its optimizer, data and minibatch generator.

    Args:
        game: the scenario.
        config: a :class:`~alloc_agents.stackelberg.baseline_config.ResponseModelConfig`
            (the ``response_*`` fields).
        rng: the numpy generator of the minibatch draws.
        device: where the model lives.

    The model's parameters are drawn from the global torch generator: construct it inside the
    learner's forked, seeded generator.
    """

    def __init__(
        self, game: MeanFieldGame, config: Any, rng: np.random.Generator, device: torch.device
    ) -> None:
        self.config = config
        self.features = HistoryFeatures(game, config.response_history)
        n_incentives = np.asarray(game.incentive_low).shape[0]
        self.model = ResponseModel(
            self.features.size,
            n_incentives,
            game.n_states,
            config.response_embedding,
            config.response_hidden_sizes,
            config.response_activation,
        ).to(device)
        self.device = device
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.response_lr)
        per_episode = max(game.horizon - 1, 1)
        self.buffer = ResponseBuffer(
            config.response_buffer * per_episode, self.features.size, n_incentives, game.n_states
        )
        self.rng = rng

    def observe(
        self, histories: np.ndarray, incentives: np.ndarray, distributions: np.ndarray
    ) -> None:
        """Add one episode: (T, H) encoder inputs, (T, U) unit-box incentives and (T, S)
        distributions m_0 .. m_{T-1}; the samples are steps 0 .. T - 2."""
        self.buffer.add(histories[:-1], incentives[:-1], distributions[1:])

    def fit(self, steps: int) -> float:
        """``steps`` Adam steps on minibatches of the buffer; the mean minibatch KL before each
        step (nats; NaN when no step was taken)."""
        size = self.buffer.size
        if steps == 0 or size == 0:
            return float("nan")
        batch = min(self.config.response_batch_size, size)
        total = 0.0
        for _ in range(steps):
            index = self.rng.integers(0, size, batch)
            loss = self.model.kl(*self.buffer.batch(index, self.device))
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach())
        return total / steps

    @torch.no_grad()
    def loss(self) -> float:
        """KL (nats) over the whole buffer (NaN when it is empty)."""
        if self.buffer.size == 0:
            return float("nan")
        index = np.arange(self.buffer.size)
        return float(self.model.kl(*self.buffer.batch(index, self.device)))

    def state_dict(self) -> dict[str, Any]:
        """Model, optimizer, buffer and the minibatch generator's state."""
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "buffer": self.buffer.state_dict(),
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.buffer.load_state_dict(state["buffer"])
        self.rng.bit_generator.state = state["rng"]
