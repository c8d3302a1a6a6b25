"""CoPO's options, reward streams and LCF distribution: what the networks and the policy read
(:mod:`alloc_agents.ppo.model`), apart from the training controller
(:mod:`alloc_agents.ppo.copo`, whose docstring describes the method), so that the model does not
import the controller that drives it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from alloc_agents.options import Options, check_int, check_number

#: CoPO's reward streams besides the agent's own reward, each with its own critic.
STREAMS = ("neighbour", "global")
#: Bounds of log σ (σ = exp(clamp(p1, ...))) and of |μ|.
LOG_STD_MIN, LOG_STD_MAX = -20.0, 2.0
MEAN_BOUND = 1.0 - 1e-6


@dataclass(frozen=True)
class CoPOConfig(Options):
    """Options of ``algorithm="copo"``, validated at construction (``ValueError`` naming the
    field). Defaults are the CoPO reference's (research note B.1).

    Attributes:
        lcf_lr: Adam learning rate of the LCF parameters (p0, p1).
        lcf_iters: passes of the LCF meta-update over the rollout per iteration (0: the LCF
            distribution stays at its initial value — CoPO without the meta-gradient).
        lcf_init_mean: initial μ, in (−1, 1). φ is an angle in units of 90°: φ = 0 weighs
            only the agent's own advantage, φ = 0.5 both equally (45°), φ = 1 only its
            neighbours', φ < 0 counts the neighbours' advantage against its own.
        lcf_init_std: initial σ, in [e^−20, e^2].
        global_gamma: discount γ_G of the global critic's GAE (CoPO: 1).
        lcf_minibatch_size: agent-steps per minibatch of the meta-update; ``None`` splits the
            rollout like the PPO update (``PPOConfig.minibatch_size`` / ``n_minibatches``).
    """

    lcf_lr: float = 1e-4
    lcf_iters: int = 5
    lcf_init_mean: float = 0.0
    lcf_init_std: float = 0.1
    global_gamma: float = 1.0
    lcf_minibatch_size: int | None = None

    def __post_init__(self) -> None:
        check_number("lcf_lr", self.lcf_lr, 0.0, low_open=True)
        check_int("lcf_iters", self.lcf_iters, 0)
        check_number("lcf_init_mean", self.lcf_init_mean, -1.0, 1.0, low_open=True)
        if self.lcf_init_mean == 1.0:
            raise ValueError("lcf_init_mean must be in (-1.0, 1.0), got 1.0")
        low, high = math.exp(LOG_STD_MIN), math.exp(LOG_STD_MAX)
        check_number("lcf_init_std", self.lcf_init_std, low, high)
        check_number("global_gamma", self.global_gamma, 0.0, 1.0)
        if self.lcf_minibatch_size is not None:
            check_int("lcf_minibatch_size", self.lcf_minibatch_size, 1)


class LCF(nn.Module):
    """The LCF distribution N(μ, σ) (module docstring); ``p`` = (p0, p1) are its parameters."""

    def __init__(self, mean: float = 0.0, std: float = 0.1) -> None:
        super().__init__()
        CoPOConfig(lcf_init_mean=mean, lcf_init_std=std)  # validates both
        self.p = nn.Parameter(torch.tensor([math.atanh(mean), math.log(std)]))

    @property
    def mean(self) -> Tensor:
        """μ = clamp(tanh(p0), ±(1 − 1e-6)), a scalar tensor (differentiable)."""
        return torch.tanh(self.p[0]).clamp(-MEAN_BOUND, MEAN_BOUND)

    @property
    def std(self) -> Tensor:
        """σ = exp(clamp(p1, −20, 2)), a scalar tensor (differentiable)."""
        return torch.exp(self.p[1].clamp(LOG_STD_MIN, LOG_STD_MAX))

    def rsample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """φ = clip(μ + σ ε, −1, 1) of ``shape``, differentiable in (p0, p1)."""
        eps = torch.randn(shape, generator=generator, device=generator.device)
        return (self.mean + self.std * eps).clamp(-1.0, 1.0)

    @torch.no_grad()
    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> Tensor:
        """φ ~ N(μ, σ) clipped to [−1, 1], of ``shape`` (no gradient)."""
        return self.rsample(shape, generator)

    @staticmethod
    def feature(phi: Tensor) -> Tensor:
        """The input the networks read: ``(φ + 1) / 2`` ∈ [0, 1]."""
        return (phi + 1.0) / 2.0


def coordinated(phi: Tensor, individual: Tensor, neighbour: Tensor) -> Tensor:
    """``cos(φ π/2) · individual + sin(φ π/2) · neighbour`` (elementwise)."""
    angle = phi * (math.pi / 2)
    return torch.cos(angle) * individual + torch.sin(angle) * neighbour
