"""QMIX's monotonic mixing network (Rashid et al., ICML 2018, §4).

``Q_tot(q, s) = w_2(s)ᵀ elu(W_1(s)ᵀ q + b_1(s)) + V(s)`` for the agents' chosen utilities
``q`` (N,) and the global state ``s``: the weights ``W_1`` (N × E) and ``w_2`` (E) are the
absolute values of hypernetwork outputs (two layers, ReLU, width ``hypernet_embed``), so
``∂Q_tot / ∂q_i ≥ 0`` for every agent; the biases are free (``b_1`` one layer, ``V`` two layers
with a ReLU). The state enters as ``symlog(s)`` (:func:`alloc_agents.ppo.ride_hailing.symlog`):
the env's ``state()`` holds counts and prices in the hundreds on Ride-Hailing, and symlog leaves
small features (LBF, RWARE, MPE) nearly unchanged.
"""

from __future__ import annotations

from torch import Tensor, nn
from torch.nn import functional as F

from alloc_agents.ppo.ride_hailing import symlog


class QMixer(nn.Module):
    """Mixes N agents' utilities into ``Q_tot`` (module docstring).

    Args:
        n_agents: N, the agents of every space group together.
        state_dim: width S of the state.
        embed: width E of the mixing layer.
        hypernet_embed: width of the hypernetworks' hidden layer.
    """

    def __init__(self, n_agents: int, state_dim: int, embed: int, hypernet_embed: int) -> None:
        super().__init__()
        self.n_agents, self.embed = n_agents, embed
        self.hyper_w1 = nn.Sequential(
            nn.Linear(state_dim, hypernet_embed),
            nn.ReLU(),
            nn.Linear(hypernet_embed, n_agents * embed),
        )
        self.hyper_b1 = nn.Linear(state_dim, embed)
        self.hyper_w2 = nn.Sequential(
            nn.Linear(state_dim, hypernet_embed), nn.ReLU(), nn.Linear(hypernet_embed, embed)
        )
        self.value = nn.Sequential(nn.Linear(state_dim, embed), nn.ReLU(), nn.Linear(embed, 1))

    def forward(self, q: Tensor, state: Tensor) -> Tensor:
        """``q`` (R, N) utilities, ``state`` (R, S) -> ``Q_tot`` (R,)."""
        s = symlog(state)
        w1 = self.hyper_w1(s).abs().view(-1, self.n_agents, self.embed)
        hidden = F.elu(q.unsqueeze(1).bmm(w1).squeeze(1) + self.hyper_b1(s))
        w2 = self.hyper_w2(s).abs()
        return (hidden * w2).sum(-1) + self.value(s).squeeze(-1)
