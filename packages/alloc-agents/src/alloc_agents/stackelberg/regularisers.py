"""The leader's regularisers of Reg-SMFU / Reg-TIRL (TIRL paper §4.3).

* **entropy** ``lambda H[mu_omega(. | x_h)]``: added to the leader's objective (subtracted from
  its loss); the entropy itself comes from the policy's distribution
  (:meth:`alloc_agents.stackelberg.leader.BoxBeta.entropy`, ``-E log mu``);
* **L1** ``delta ||omega||_1``: added to the loss, over every parameter of the leader's policy
  network (weights and biases; the value baseline is not regularised);
* **weight clipping** ``omega <- clip(omega, -c, c)`` after each update.

:func:`regularised_step` is one leader update with all three, shared by every leader learner.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

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


def regularised_step(
    optimizer: torch.optim.Optimizer,
    actor: Sequence[nn.Parameter],
    critic: Sequence[nn.Parameter],
    config: Any,
    policy_loss: Tensor,
    entropy: Tensor,
    value_loss: Tensor,
) -> dict[str, float]:
    """One Adam step on ``policy_loss - lambda entropy + delta ||actor||_1 + value_loss``, with
    the gradients of ``actor`` and ``critic`` norm-clipped separately at
    ``config.leader_max_grad_norm`` and ``actor`` clipped to ``[-c, c]`` afterwards when
    ``config.weight_clip`` is set. Returns the terms as floats (``leader_policy_loss``,
    ``leader_value_loss``, ``leader_entropy``, ``leader_l1``)."""
    l1 = l1_penalty(actor, config.l1_coef)
    loss = policy_loss - config.entropy_coef * entropy + l1 + value_loss
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(actor, config.leader_max_grad_norm)
    torch.nn.utils.clip_grad_norm_(critic, config.leader_max_grad_norm)
    optimizer.step()
    if config.weight_clip is not None:
        clip_weights_(actor, config.weight_clip)
    stats = {
        "leader_policy_loss": policy_loss,
        "leader_value_loss": value_loss,
        "leader_entropy": entropy,
        "leader_l1": l1,
    }
    return {key: float(value.detach()) for key, value in stats.items()}
