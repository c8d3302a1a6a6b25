"""Hyper-parameters of the two leader baselines of the TIRL paper, adapted to the population
setting: :class:`M3RLConfig` (:mod:`.m3rl`) and :class:`EBPGConfig` (:mod:`.ebpg`).

Both extend :class:`~alloc_agents.stackelberg.trainer_config.StackelbergConfig` (the shared loop,
the followers' PPO settings, the leader's learning rate, MLP sizes, gradient clip and the §4.3
regularisers keep their meaning) with the settings of a population-response model
(:mod:`.population_model`): M3RL's stand-in for the mind tracker and EBPG's follower-aware
module. The defaults are ours (no source gives values for this setting); the package README
gives the reasons.
"""

from __future__ import annotations

from dataclasses import dataclass

from alloc_agents.options import check_sizes
from alloc_agents.ppo.config import ACTIVATIONS
from alloc_agents.stackelberg.trainer_config import StackelbergConfig
from alloc_envs.core.validation import check_choice, check_int, check_number


@dataclass(frozen=True)
class ResponseModelConfig(StackelbergConfig):
    """:class:`StackelbergConfig` plus the population-response model and the leader's discount,
    shared by both baselines. Only the closed-loop leader is allowed (``leader_mode``), with
    the baselines' own networks (``leader_head`` must stay ``"joint"``).

    Attributes:
        leader_gamma: discount of the leader's rewards per step (1: the finite-horizon sum of
            the game, as in the other trainers).
        response_history: k, the (m, u) steps the model's encoder sees (m_t .. m_{t-k+1} and
            u_{t-1} .. u_{t-k}).
        response_embedding: E, width of the encoder's output (the embedding the leader sees).
        response_hidden_sizes: hidden widths of the encoder (before the embedding) and of the
            prediction head.
        response_activation: the model's activation.
        response_lr: Adam learning rate of the model.
        response_steps: minibatch KL steps of the model per outer iteration.
        response_batch_size: samples (t, history, u_t, m_{t+1}) per minibatch.
        response_buffer: episodes kept for the model's training data (the oldest are dropped).
    """

    leader_gamma: float = 1.0
    response_history: int = 4
    response_embedding: int = 32
    response_hidden_sizes: tuple[int, ...] = (64,)
    response_activation: str = "tanh"
    response_lr: float = 1e-3
    response_steps: int = 10
    response_batch_size: int = 256
    response_buffer: int = 64

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.leader_mode != "closed_loop":
            raise ValueError(
                f"leader_mode must be 'closed_loop' for {type(self).__name__}, "
                f"got {self.leader_mode!r}"
            )
        if self.leader_head != "joint":
            raise ValueError(
                f"leader_head must be 'joint' for {type(self).__name__} (its leader network is "
                f"its own), got {self.leader_head!r}"
            )
        check_number("leader_gamma", self.leader_gamma, 0.0, 1.0)
        check_int("response_history", self.response_history, 1, 1000)
        check_int("response_embedding", self.response_embedding, 1, 10**5)
        sizes = check_sizes("response_hidden_sizes", self.response_hidden_sizes)
        object.__setattr__(self, "response_hidden_sizes", sizes)
        check_choice("response_activation", self.response_activation, ACTIVATIONS)
        check_number("response_lr", self.response_lr, 0.0, 1.0, low_inclusive=False)
        check_int("response_steps", self.response_steps, 0, 10**6)
        check_int("response_batch_size", self.response_batch_size, 1, 10**7)
        check_int("response_buffer", self.response_buffer, 1, 10**6)


@dataclass(frozen=True)
class M3RLConfig(ResponseModelConfig):
    """Settings of the M3RL baseline (:mod:`.m3rl`).

    Attributes:
        epsilon: probability that one incentive dimension of one step is drawn uniformly from
            its box instead of from the policy (node-wise / type-wise epsilon-greedy; 0: off).
        gae_lambda: lambda of the critic's TD(lambda) targets and the GAE advantages (0: one-step
            TD, 1: Monte Carlo returns).
    """

    epsilon: float = 0.1
    gae_lambda: float = 0.95

    def __post_init__(self) -> None:
        super().__post_init__()
        check_number("epsilon", self.epsilon, 0.0, 1.0)
        check_number("gae_lambda", self.gae_lambda, 0.0, 1.0)


@dataclass(frozen=True)
class EBPGConfig(ResponseModelConfig):
    """Settings of the EBPG baseline (:mod:`.ebpg`).

    Attributes:
        event_period: E, the leader re-decides at least every E steps (E >= T: only at t = 0 and
            on the threshold).
        event_threshold: the leader also re-decides when ``||m_t - m_last||_1`` exceeds this
            (m_last: the distribution at the last event; L1 distances of distributions lie in
            [0, 2]); ``None``: no threshold events.
        attention_dim: width d of the per-dimension tokens and of the single-head attention.
    """

    response_history: int = 1
    event_period: int = 4
    event_threshold: float | None = 0.5
    attention_dim: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        check_int("event_period", self.event_period, 1, 10**6)
        if self.event_threshold is not None:
            check_number("event_threshold", self.event_threshold, 0.0, 2.0, low_inclusive=False)
        check_int("attention_dim", self.attention_dim, 1, 4096)
