"""RODE's action representations ``z_a`` and the forward model that learns them.

What an "action" is for the encoder:

* a ``Discrete(n)`` group: each of its n actions, ``z_a = f(onehot(a))`` (the reference's);
* Ride-Hailing dispatch: one driver's pick, i.e. a candidate order, ``z_j = f(x_j)`` on the
  order's features ``x_j`` (price, trip length, type, Δratio, Δdrivers, Δorders, age,
  symlog-ed), and a learned ``z_STAY`` for staying. Orders are not a fixed set, so the roles
  become classes of orders. An agent (a cell) makes up to K picks at a step; its action's
  representation is the mean ``z`` of its counted picks (``z_STAY`` when no driver is idle).

``f`` is a two-layer MLP (ReLU, ``2 · state_latent_dim`` hidden units, output
``action_latent_dim``). The forward model (the reference's ``obs_reward`` encoder) predicts an
agent's next observation features and its reward from its observation features, the mean action
representation of the group's other acting agents and its own action representation ``u``:

    s      = g([o_t, mean_{j ≠ i} u_j])                    (state latent)
    ô_t+1  = d_o([s, u_i]),   r̂_t = d_r([s, u_i])
    loss   = mean ‖ô_t+1 − o_t+1‖₂ + w · mean (r̂_t − r_t)²

The reference feeds the other agents' one-hot actions concatenated and predicts the team
reward; we feed their mean representation (Ride-Hailing has 36 and 100 agents whose actions are
sets of picks) and predict each agent's own reward (which the env gives per agent).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from alloc_agents.ppo.ride_hailing import N_CANDIDATE_FEATURES


def _mlp(inputs: int, hidden: int, outputs: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Linear(inputs, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, outputs)
    )


class ActionEncoder(nn.Module):
    """Action representations and the forward model of one space group (module docstring).

    Args:
        kind: ``"discrete"`` or ``"picks"``.
        n_actions: n of a Discrete group (unused for picks).
        feature_dim: width of the agent's observation features.
        latent: ``action_latent_dim``.
        state_latent: ``state_latent_dim``.
    """

    def __init__(
        self, kind: str, n_actions: int, feature_dim: int, latent: int, state_latent: int
    ) -> None:
        super().__init__()
        self.kind = kind
        self.n_actions = n_actions
        action_inputs = n_actions if kind == "discrete" else N_CANDIDATE_FEATURES
        self.action_net = _mlp(action_inputs, 2 * state_latent, latent)
        self.stay = nn.Parameter(0.1 * torch.randn(latent)) if kind == "picks" else None
        self.obs_net = _mlp(feature_dim + latent, 2 * state_latent, state_latent)
        self.obs_decoder = _mlp(state_latent + latent, state_latent, feature_dim)
        self.reward_decoder = _mlp(state_latent + latent, state_latent, 1)

    def discrete_representations(self) -> Tensor:
        """``(n, latent)``: ``z_a`` of every Discrete action."""
        eye = torch.eye(self.n_actions, device=self.action_net[0].weight.device)
        return self.action_net(eye)

    def order_representations(self, features: Tensor) -> Tensor:
        """``features`` (..., 7) symlog-ed order features -> ``z`` (..., latent)."""
        return self.action_net(features)

    def predict(self, features: Tensor, u: Tensor, acting: Tensor) -> tuple[Tensor, Tensor]:
        """The predicted next features (A, X, F) and reward (A, X) of agents ``(A, X)`` with
        observation features ``features`` (A, X, F), action representations ``u`` (A, X, d)
        and ``acting`` (A, X) bool (only acting agents count among the others)."""
        weight = acting.float().unsqueeze(-1)
        total = (u * weight).sum(0, keepdim=True)
        count = weight.sum(0, keepdim=True)
        others = (total - u * weight) / (count - weight).clamp_min(1.0)
        state = self.obs_net(torch.cat([features, others], dim=-1))
        joint = torch.cat([state, u], dim=-1)
        return self.obs_decoder(joint), self.reward_decoder(joint).squeeze(-1)


def prediction_loss(
    encoder: ActionEncoder,
    features: Tensor,
    u: Tensor,
    next_features: Tensor,
    reward: Tensor,
    acting: Tensor,
    next_acting: Tensor,
    reward_weight: float,
) -> tuple[Tensor, Tensor]:
    """The forward model's two losses over agents ``(A, X)``: the mean L2 error of the next
    observation's features (where the agent acts at both steps) and the mean squared error of
    the reward (where it acts)."""
    predicted_next, predicted_reward = encoder.predict(features, u, acting)
    both = (acting & next_acting).float()
    obs_error = ((predicted_next - next_features) ** 2).sum(-1).clamp_min(1e-12).sqrt()
    obs_loss = (obs_error * both).sum() / both.sum().clamp_min(1.0)
    weight = acting.float()
    reward_loss = ((predicted_reward - reward) ** 2 * weight).sum() / weight.sum().clamp_min(1.0)
    return obs_loss, reward_weight * reward_loss
