"""The learned game's Fokker-Planck step in torch, for the pathwise leader's return
(:mod:`~alloc_agents.stackelberg.pathwise`): ``m_{t+1}`` as a differentiable function of the
step's (S, A) joint mean field ``L_t``, its (Y,) arrivals ``n_t`` at the sites and served mass
``served_t = min(n_t, c_t)`` (shares of the population), with the learned laws held constant.

* :class:`KernelFlow` (P_eta, :class:`~alloc_agents.stackelberg.learned_game.LearnedKernelGame`):
  ``m_{t+1} = vec(L_t) @ P_eta[t]``; the served mass does not enter, so moving followers to a
  site never saturates it.
* :class:`MatchingFlow` (:class:`~alloc_agents.stackelberg.learned_game.LearnedMatchingGame`):
  ``m_{t+1} = vec(L_t (1 - p_t[site])) @ U[t] + served_t @ D[t]``, with ``p_t(y) = served_t(y) /
  n_t(y)`` (1 where nobody arrives); the matched mass at y is ``served_t(y)``, so the gradient
  sees that a saturated site sends its extra arrivals to the unmatched state, and that a
  follower sent there lowers the others' chance of a match.

The learned laws are copied once to the given device and dtype; :func:`make_flow` picks the flow
of a learned game.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from alloc_agents.stackelberg.learned_game import (
    LearnedGame,
    LearnedKernelGame,
    LearnedMatchingGame,
)


class KernelFlow:
    """``m_{t+1} = vec(L_t) @ P_eta[t]`` (module docstring)."""

    def __init__(self, learned: LearnedKernelGame, device: torch.device, dtype: torch.dtype):
        s, a = learned.n_states, learned.n_actions
        kernels = torch.as_tensor(learned.kernels, dtype=dtype, device=device)
        self.kernels = kernels.reshape(learned.horizon, s * a, s)

    def __call__(self, t: int, joint: Tensor, arrivals: Tensor, served: Tensor) -> Tensor:
        """(S,) ``m_{t+1}`` of the (S, A) ``joint`` (the sites' do not enter)."""
        return joint.reshape(-1) @ self.kernels[t]


class MatchingFlow:
    """``m_{t+1} = vec(L_t (1 - p_t[site])) @ U[t] + served_t @ D[t]`` (module docstring)."""

    def __init__(self, learned: LearnedMatchingGame, device: torch.device, dtype: torch.dtype):
        game = learned.game
        s, a = game.n_states, game.n_actions
        unmatched = torch.as_tensor(learned.unmatched, dtype=dtype, device=device)
        self.unmatched = unmatched.reshape(game.horizon, s * a, s)
        self.destinations = torch.tensor(learned.destinations, dtype=dtype, device=device)
        has_site = (game.site_of >= 0).ravel()
        self.sites = torch.as_tensor(np.where(has_site, game.site_of.ravel(), 0), device=device)
        self.has_site = torch.as_tensor(has_site, dtype=dtype, device=device)

    def __call__(self, t: int, joint: Tensor, arrivals: Tensor, served: Tensor) -> Tensor:
        """(S,) ``m_{t+1}`` of the (S, A) ``joint`` and the sites' (Y,) ``arrivals`` and
        ``served`` mass."""
        flat = joint.reshape(-1)
        ratio = served / arrivals.clamp_min(torch.finfo(flat.dtype).tiny)
        p = torch.where(arrivals > 0, ratio, torch.ones_like(ratio))
        unmatched = flat * (1.0 - p[self.sites] * self.has_site)
        return unmatched @ self.unmatched[t] + served @ self.destinations[t]


def make_flow(learned: LearnedGame, device: torch.device, dtype: torch.dtype):
    """The torch flow of ``learned``: :class:`KernelFlow` or :class:`MatchingFlow`."""
    if isinstance(learned, LearnedMatchingGame):
        return MatchingFlow(learned, device, dtype)
    return KernelFlow(learned, device, dtype)
