"""The leader's regularisers of Reg-SMFU / Reg-TIRL (TIRL paper §4.3).

* **entropy** ``lambda H[mu_omega(. | x_h)]``: added to the leader's objective (subtracted from
  its loss); the entropy itself comes from the policy's distribution
  (:meth:`alloc_agents.stackelberg.leader.BoxBeta.entropy`, ``-E log mu``);
* **L1** ``delta ||omega||_1``: added to the loss, over every parameter of the leader's policy
  network (weights and biases; the value baseline is not regularised);
* **weight clipping** ``omega <- clip(omega, -c, c)`` after each update.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import Tensor, nn


def l1_penalty(parameters: Iterable[nn.Parameter], weight: float) -> Tensor:
    """``weight * sum_i |omega_i|`` over ``parameters`` (a scalar tensor; its gradient is
    ``weight * sign(omega)``)."""
    return weight * sum(p.abs().sum() for p in parameters)


@torch.no_grad()
def clip_weights_(parameters: Iterable[nn.Parameter], bound: float) -> None:
    """Clamp every entry of ``parameters`` into ``[-bound, bound]`` in place."""
    for p in parameters:
        p.clamp_(-bound, bound)
