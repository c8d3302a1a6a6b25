"""DyPS (DyPS paper §3, Algorithm 1): dynamic parameter sharing by a learned group selection.

Per space group of A agents with M = ``n_groups`` parameter members (the "resource allocation
policy networks", trained by the PPO core on the transitions of the agents assigned to them):

1. **Group selection** (Eq. 13), at the start of every iteration: agent n joins group m with
   probability ``softmax_m([I_n, h_n] W z_m)``, I_n the one-hot agent id, h_n its VLSTM role,
   z_m group m's CVAE role (:mod:`alloc_agents.ppo.roles`). Agents are assigned independently;
   the assignment holds for the whole rollout and for every env copy. With rollouts of one
   episode (Ride-Hailing: 144 steps), this is the paper's "at t = 0 of each episode".
2. **Rollout** with the sampled groups; the PPO update trains each member on its agents.
3. **Selector update** — a one-step actor-critic: reward r^(g) = the rollout's total reward of
   all agents divided by the number of env copies (the episode return of all agents when a
   rollout is an episode), standardised by running statistics; the critic V(s^(g)) reads the
   mean role and the group latents; the actor maximises ``(r − V) · log π(assignment)`` with
   the *joint* log-probability (sum over agents) plus an entropy bonus. The inputs (h, z) used
   are those the assignment was sampled with.
4. **Role models**: the CVAE is trained on the rollout's (group, state, action) rows, the VLSTM
   on the agents' trajectories (:mod:`alloc_agents.ppo.agent_roles`, shared with
   Role-As-State); the roles for the next selection are the VLSTM states after this rollout
   (mean over env copies) and the CVAE's group means.

Variants (the paper's §4.3 ablations): ``"no-cvae"`` — logits from an MLP of [I_n, h_n];
``"no-vlstm"`` — logits ``I_n W z_m``; ``"no-repr"`` — an MLP of I_n alone.

Deviations from the reference code (research note ``dyps-reference.md`` §4.9, §6.4), all on
purpose: per-agent trajectories (no reshape bug), a VLSTM that predicts (s′, r) as Eqs. 7–8
say, Eq. 13's bilinear selection (implemented nowhere in the reference), joint log-probabilities,
conditioning inputs stored at sampling time. Every random draw (assignments, VAE noise,
subsampling) comes from a torch generator seeded from the run's seed, saved in checkpoints.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.agent_roles import AgentRoles, seeded_generator
from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.model import GroupModel, MultiAgentModel
from alloc_agents.ppo.roles import GroupCVAE
from alloc_agents.ppo.sharing import DyPSConfig

#: Key of DyPS's random stream (:func:`~alloc_agents.ppo.agent_roles.seeded_generator`).
GENERATOR_KEY = 0xD795


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ELU(), nn.Linear(hidden, out_dim))


class _Constant(nn.Module):
    """A learned constant (the critic of a selector without inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.value


class GroupSelector(nn.Module):
    """The group-selection actor (Eq. 13 or an ablation) and its critic, for A agents."""

    def __init__(self, config: DyPSConfig, n_agents: int, n_groups: int) -> None:
        super().__init__()
        self.config = config
        self.n_agents, self.n_groups = n_agents, n_groups
        in_dim = n_agents + (config.role_dim if config.uses_roles else 0)
        if config.uses_latents:  # near-uniform selection at the start
            self.weight = nn.Parameter(0.01 * torch.randn(in_dim, config.cvae_z_dim))
        else:
            self.mlp = _mlp(in_dim, config.selector_hidden, n_groups)
        critic_in = (config.role_dim if config.uses_roles else 0) + (
            n_groups * config.cvae_z_dim if config.uses_latents else 0
        )
        # The critic reads the roles and latents the actor reads; "no-repr" has none: a constant.
        if critic_in:
            self.critic: nn.Module = _mlp(critic_in, config.selector_hidden, 1)
        else:
            self.critic = _Constant()
        self.register_buffer("eye", torch.eye(n_agents), persistent=False)

    def actor_parameters(self) -> list[nn.Parameter]:
        return [self.weight] if self.config.uses_latents else list(self.mlp.parameters())

    def logits(self, roles: Tensor, latents: Tensor) -> Tensor:
        """(A, M) logits from roles (A, H) and group latents (M, Z)."""
        x = torch.cat([self.eye, roles], -1) if self.config.uses_roles else self.eye
        if self.config.uses_latents:
            return x @ self.weight @ latents.T
        return self.mlp(x)

    def value(self, roles: Tensor, latents: Tensor) -> Tensor:
        """V(s^(g)), a scalar, from the mean role and the flattened latents."""
        parts = [roles.mean(0)] if self.config.uses_roles else []
        if self.config.uses_latents:
            parts.append(latents.reshape(-1))
        x = torch.cat(parts) if parts else roles.new_zeros(0)
        return self.critic(x).reshape(())


class _GroupRoles(AgentRoles):
    """DyPS's modules for one space group: the VLSTM agent roles, the CVAE, the selector."""

    def __init__(self, gm: GroupModel, config: DyPSConfig) -> None:
        super().__init__(gm, config)
        s_dim, u_dim = self.state_dim, self.action_dim
        self.cvae = GroupCVAE(gm.n_members, s_dim, u_dim, config.cvae_z_dim, config.cvae_hidden)
        self.selector = GroupSelector(config, gm.group.n_agents, gm.n_members)


class DyPSController:
    """Runs steps 1, 3 and 4 of the module docstring around the PPO core's iterations."""

    def __init__(
        self, config: DyPSConfig, model: MultiAgentModel, seed: int, device: torch.device
    ) -> None:
        self.config = config
        self.device = device
        self.parts = nn.ModuleList(_GroupRoles(gm, config) for gm in model.groups).to(device)
        self.optimizers = []
        for part in self.parts:
            self.optimizers.append(
                {
                    "actor": torch.optim.Adam(part.selector.actor_parameters(), config.selector_lr),
                    "critic": torch.optim.Adam(
                        part.selector.critic.parameters(), config.selector_critic_lr
                    ),
                    "vlstm": torch.optim.Adam(part.vlstm.parameters(), config.vlstm_lr),
                    "cvae": torch.optim.Adam(part.cvae.parameters(), config.cvae_lr),
                }
            )
        self.generator = seeded_generator(seed, GENERATOR_KEY, device)
        self.reward_stats = torch.zeros(3, dtype=torch.float64)  # mean, mean square, debias
        #: Per group, the (roles, latents, assignment) the current rollout was sampled with.
        self.pending: list[tuple[Tensor, Tensor, Tensor]] = []
        #: Per iteration: the assignment of every group (for the logs and plots).
        self.history: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ 1. selection
    @torch.no_grad()
    def select(self, model: MultiAgentModel) -> None:
        """Sample every agent's group and reassign the members."""
        self.pending = []
        for part, gm in zip(self.parts, model.groups, strict=True):
            latents = part.cvae.latents()
            probs = torch.softmax(part.selector.logits(part.roles, latents), -1)
            assignment = torch.multinomial(probs, 1, generator=self.generator).squeeze(-1)
            gm.reassign(assignment.cpu().numpy())
            self.pending.append((part.roles.clone(), latents, assignment))

    # ------------------------------------------------------------------ 3.-4. learning
    def learn(
        self, model: MultiAgentModel, buffers: list[GroupBuffer], iteration: int, env_steps: int
    ) -> dict[str, float]:
        """Update the selectors, the CVAEs and the VLSTMs on the rollout; CSV columns."""
        n_envs = buffers[0].shape[2]
        reward = sum(float((b.rewards * b.active).sum()) for b in buffers) / n_envs
        r_norm = self._normalise_reward(reward)
        columns: dict[str, float] = {"dyps_reward": reward}
        stats: dict[str, list[float]] = {"entropy": [], "vlstm": [], "cvae": [], "switch": []}
        record = []
        for g, (part, gm, buf) in enumerate(zip(self.parts, model.groups, buffers, strict=True)):
            roles, latents, assignment = self.pending[g]
            stats["entropy"].append(self._update_selector(g, roles, latents, assignment, r_norm))
            states, actions = part.rollout_features(buf)
            stats["cvae"].append(self._update_cvae(g, buf, states, actions, assignment))
            vlstm_opt, sequences = self.optimizers[g]["vlstm"], self.config.vlstm_sequences
            loss = part.learn(buf, states, actions, vlstm_opt, sequences, self.generator)
            stats["vlstm"].append(loss)
            if self.history:  # the previous iteration's groups
                previous = torch.tensor(self.history[-1]["groups"][g]["assignment"])
                stats["switch"].append(float((previous != assignment.cpu()).float().mean()))
            record.append({"agents": list(gm.group.names), "assignment": assignment.tolist()})
            prefix = f"dyps_size/{g}/" if len(self.parts) > 1 else "dyps_size/"
            sizes = torch.bincount(assignment, minlength=gm.n_members).tolist()
            columns.update({f"{prefix}{m}": float(n) for m, n in enumerate(sizes)})
        self.history.append({"iteration": iteration, "env_steps": env_steps, "groups": record})
        columns["dyps_selector_entropy"] = float(np.mean(stats["entropy"]))
        columns["dyps_vlstm_loss"] = float(np.mean(stats["vlstm"]))
        columns["dyps_cvae_loss"] = float(np.mean(stats["cvae"]))
        if stats["switch"]:
            columns["dyps_switched"] = float(np.mean(stats["switch"]))
        return columns

    def _normalise_reward(self, reward: float) -> float:
        beta = self.config.reward_beta
        s = self.reward_stats
        s.mul_(beta).add_(torch.tensor([reward, reward * reward, 1.0], dtype=s.dtype) * (1 - beta))
        mean = float(s[0] / s[2])
        var = max(float(s[1] / s[2]) - mean * mean, 0.0)
        return (reward - mean) / (math.sqrt(var) + 1e-8) if var > 0 else 0.0

    def _update_selector(
        self, g: int, roles: Tensor, latents: Tensor, assignment: Tensor, r_norm: float
    ) -> float:
        part, opt = self.parts[g], self.optimizers[g]
        selector = part.selector
        value = selector.value(roles, latents)
        advantage = r_norm - float(value.detach())
        dist = torch.distributions.Categorical(logits=selector.logits(roles, latents))
        entropy = dist.entropy().mean()
        actor_loss = -advantage * dist.log_prob(assignment).sum()
        actor_loss = actor_loss - self.config.selector_entropy * entropy
        critic_loss = (value - r_norm) ** 2
        opt["actor"].zero_grad()
        opt["critic"].zero_grad()
        (actor_loss + critic_loss).backward()
        opt["actor"].step()
        opt["critic"].step()
        return float(entropy.detach())

    def _update_cvae(
        self, g: int, buf: GroupBuffer, states: Tensor, actions: Tensor, assignment: Tensor
    ) -> float:
        part, opt = self.parts[g], self.optimizers[g]["cvae"]
        active = buf.active
        groups = assignment.view(-1, 1, 1).expand_as(active)[active]
        s, u = states[active], actions[active]
        losses = []
        for _ in range(self.config.cvae_steps):
            n = groups.shape[0]
            index = torch.randint(
                n,
                (min(n, self.config.cvae_batch_size),),
                generator=self.generator,
                device=groups.device,
            )
            loss = part.cvae.loss(
                groups[index], s[index], u[index], self.config.cvae_kl_weight, self.generator
            )
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        return float(np.mean(losses)) if losses else math.nan

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        return {
            "parts": self.parts.state_dict(),
            "optimizers": [
                {k: o.state_dict() for k, o in opts.items()} for opts in self.optimizers
            ],
            "generator": self.generator.get_state(),
            "reward_stats": self.reward_stats.clone(),
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.parts.load_state_dict(state["parts"])
        for opts, saved in zip(self.optimizers, state["optimizers"], strict=True):
            for key, opt in opts.items():
                opt.load_state_dict(saved[key])
        self.generator.set_state(state["generator"])
        self.reward_stats.copy_(state["reward_stats"])
        self.history = list(state["history"])
