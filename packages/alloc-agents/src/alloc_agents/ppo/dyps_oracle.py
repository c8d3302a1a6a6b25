"""The noise-free oracle test of DyPS's group selector: can it learn a known split at all?

The real selection and update (:class:`~alloc_agents.ppo.dyps.DyPSController`) on fixed roles
and latents, fed a reward without noise: in every env copy, agent n earns 1 when its sampled
group is its target group, else 0. A selector that cannot learn this within a run's number of
updates cannot learn anything a Ride-Hailing return tells it.

:func:`ride_hailing_like_inputs` gives roles and latents conditioned as measured at the end of
a Ride-Hailing (1) run (issue 23): every agent's 64-wide VLSTM role is a common vector of
‖h‖₁ ≈ 30 plus deviations of ‖·‖₁ ≈ 11; the M 16-wide CVAE latents lie ‖z_m − z̄‖₁ ≈ 0.6 from
their mean; the targets are balanced over the M groups in random order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import Tensor

from alloc_agents.ppo.config import PPOConfig
from alloc_agents.ppo.dyps import DyPSController
from alloc_agents.ppo.model import MultiAgentModel
from alloc_agents.ppo.sharing import DyPSConfig, make_sharing
from alloc_agents.ppo.spaces import AgentLayout

#: Ride-Hailing (1) at the paper's budget: 30,000 env steps in iterations of 5 env copies of
#: 144 steps = 42 selector updates; 36 agents (cells).
RH1_UPDATES, RH1_COPIES, RH1_AGENTS = 42, 5, 36


class _Agents:
    """The spaces of ``n`` agents (what :meth:`AgentLayout.from_env` reads)."""

    def __init__(self, n: int) -> None:
        self.possible_agents = [f"agent_{i}" for i in range(n)]
        self._obs = spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._act = spaces.Discrete(2)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs

    def action_space(self, agent: str) -> spaces.Space:
        return self._act


def ride_hailing_like_inputs(
    n_groups: int, n_agents: int = RH1_AGENTS, seed: int = 0
) -> tuple[Tensor, Tensor, Tensor]:
    """Roles (A, 64), latents (M, 16) and targets (A,) of the module docstring."""
    g = torch.Generator().manual_seed(seed)
    common = 0.47 * torch.randn(64, generator=g).sign()
    roles = common + 0.17 * torch.randn(n_agents, 64, generator=g)
    latents = torch.randn(16, generator=g) + 0.045 * torch.randn(n_groups, 16, generator=g)
    targets = torch.randperm(n_agents, generator=g) % n_groups
    return roles, latents, targets


def oracle_probs(
    config: DyPSConfig,
    roles: Tensor,
    latents: Tensor,
    targets: Tensor,
    updates: int = RH1_UPDATES,
    copies: int = RH1_COPIES,
    seed: int = 0,
) -> Tensor:
    """The (A, M) selection probabilities after ``updates`` oracle iterations of ``copies`` env
    copies each (module docstring), the agents deployed on their most probable groups; the
    initial weights and every draw come from ``seed``.
    ``config.role_dim`` must be the roles' width and ``config.cvae_z_dim`` the latents'."""
    n_agents = roles.shape[0]
    layout = AgentLayout.from_env(_Agents(n_agents))
    sharing = make_sharing("dyps", config)
    with torch.random.fork_rng():  # initial weights from ``seed``, the caller's stream untouched
        torch.manual_seed(seed)
        model = MultiAgentModel(layout, sharing, "ippo", 0, PPOConfig(hidden_sizes=(8,)))
        ctrl = DyPSController(config, model, seed, torch.device("cpu"), copies)
    part = ctrl.parts[0]
    part.roles.copy_(roles)
    part.cvae.latents = lambda: latents  # fixed group latents
    for _ in range(updates):
        ctrl.select(model)
        assignment = ctrl.pending[0][2]  # (A, E): one draw per env copy
        ctrl.update_selectors([(assignment == targets[:, None]).float()])
    (probs,) = ctrl.deploy(model)
    return probs


def oracle_scores(probs: Tensor, targets: Tensor) -> dict[str, Any]:
    """``accuracy`` (agents whose most probable group is the target), ``target_prob`` (mean
    probability of the target) and ``sizes`` (agents per most probable group)."""
    top = probs.argmax(-1)
    return {
        "accuracy": float((top == targets).float().mean()),
        "target_prob": float(probs[torch.arange(len(targets)), targets].mean()),
        "sizes": torch.bincount(top, minlength=probs.shape[-1]).tolist(),
    }
