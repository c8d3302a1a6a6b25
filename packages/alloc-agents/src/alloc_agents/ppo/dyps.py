"""DyPS (DyPS paper §3, Algorithm 1): dynamic parameter sharing by a learned group selection.

Per space group of A agents with M = ``n_groups`` parameter members (the "resource allocation
policy networks", trained by the PPO core on the transitions of the agents assigned to them):

1. **Group selection** (Eq. 13), at the start of every iteration: in every env copy e, agent n
   joins group m with probability ``π(m | n) = softmax_m([I_n, h_n] W z_m)``, I_n the one-hot
   agent id, h_n its VLSTM role, z_m group m's CVAE role (:mod:`alloc_agents.ppo.roles`).
   Every copy draws its own assignment (Algorithm 1 draws one per episode; with rollouts of one
   episode, Ride-Hailing's 144 steps, a copy's rollout is its episode), held for the rollout.
   The members run every (agent, copy) on its own member (per-column routes,
   :mod:`alloc_agents.ppo.batched`).
2. **Rollout** with the sampled groups; the PPO update trains each member on the (agent, copy)
   rows assigned to it.
3. **Selector update**, one sample per (agent, copy): REINFORCE on the log-probability of the
   sampled member with an advantage given by the credit (``credit``):

   * ``"agent"`` (default): agent n's own return in copy e minus the agent's running baseline
     (the debiased running mean of its returns, ``reward_beta``), centred across agents within
     each copy and divided by the standard deviation over all (agent, copy) pairs;
   * ``"team"`` (the paper's reward r^(g)): the copy's return of all agents, standardised by
     running statistics, minus the selector critic's V(s^(g)) (read from the mean role and the
     latents), the same advantage for every agent of the copy; the critic regresses it.

   ``selector_steps`` Adam steps per iteration at ``selector_lr``, plus an entropy bonus. The
   inputs (h, z) are those the assignment was sampled with.
4. **Role models**: the CVAE is trained on the rollout's (member, state, action) rows, the VLSTM
   on the agents' trajectories (:mod:`alloc_agents.ppo.agent_roles`, shared with
   Role-As-State); the roles for the next selection are the VLSTM states after this rollout
   (mean over env copies) and the CVAE's group means.
5. **Deployment**: after every iteration each agent is put on its most probable group under the
   updated selector (``argmax_m π(m | n)``): the policy that is evaluated and checkpointed, not
   the last draw.

**Conditioning** (``conditioning="normalised"``, default): Eq. 13 reads the roles centred across
agents and scaled to unit RMS norm, and the latents centred across groups and scaled to unit
RMS norm. The raw VLSTM roles share a large common component (on Ride-Hailing (1), ‖h‖₁ ≈ 30
against ≈ 11 of deviation from the agents' mean), so a step on W's role rows moves every
agent's logits together and agents herd into one group; the raw CVAE latents differ by
‖z_m − z̄‖₁ ≈ 0.6, so the logits barely depend on the group. ``"raw"`` is the paper's Eq. 13.

Variants (the paper's §4.3 ablations): ``"no-cvae"`` — logits from an MLP of [I_n, h_n];
``"no-vlstm"`` — logits ``I_n W z_m``; ``"no-repr"`` — an MLP of I_n alone.

``warmup_iterations`` > 0: the first iterations put the agents on a fixed random balanced
partition (every member trains on its own agents) and the selector does not learn.

Deviations from the reference code (research note ``dyps-reference.md`` §4.9, §6.4), all on
purpose: per-agent trajectories (no reshape bug), a VLSTM that predicts (s′, r) as Eqs. 7–8
say, Eq. 13's bilinear selection (implemented nowhere in the reference), joint log-probabilities,
conditioning inputs stored at sampling time. Every random draw (assignments, VAE noise,
subsampling, the warm-up partition) comes from a torch generator seeded from the run's seed,
saved in checkpoints. The per-iteration diagnostics are :mod:`alloc_agents.ppo.dyps_diagnostics`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.agent_roles import AgentRoles, seeded_generator
from alloc_agents.ppo.buffer import GroupBuffer
from alloc_agents.ppo.dyps_diagnostics import selection_columns, spread_columns
from alloc_agents.ppo.model import GroupModel, MultiAgentModel
from alloc_agents.ppo.roles import GroupCVAE
from alloc_agents.ppo.sharing import DyPSConfig

#: Key of DyPS's random stream (:func:`~alloc_agents.ppo.agent_roles.seeded_generator`).
GENERATOR_KEY = 0xD795


def _mlp(in_dim: int, hidden: int, out_dim: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(in_dim, hidden), nn.ELU(), nn.Linear(hidden, out_dim))


def centre_scale(x: Tensor) -> Tensor:
    """Rows ``x`` (N, D) centred across the N rows and scaled to unit RMS row norm (rows that
    are all equal give zeros)."""
    centred = x - x.mean(0, keepdim=True)
    rms = centred.pow(2).sum(-1).mean().sqrt()
    return centred / rms.clamp(min=1e-12)


class _Constant(nn.Module):
    """A learned constant (the critic of a selector without inputs)."""

    def __init__(self) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.zeros(()))

    def forward(self, x: Tensor) -> Tensor:
        return self.value


class GroupSelector(nn.Module):
    """The group-selection actor (Eq. 13 or an ablation) for A agents, and with team credit
    its critic."""

    def __init__(self, config: DyPSConfig, n_agents: int, n_groups: int) -> None:
        super().__init__()
        self.config = config
        self.n_agents, self.n_groups = n_agents, n_groups
        in_dim = n_agents + (config.role_dim if config.uses_roles else 0)
        if config.uses_latents:  # near-uniform selection at the start
            self.weight = nn.Parameter(0.01 * torch.randn(in_dim, config.cvae_z_dim))
        else:
            self.mlp = _mlp(in_dim, config.selector_hidden, n_groups)
        self.critic: nn.Module | None = None
        if config.credit == "team":
            critic_in = (config.role_dim if config.uses_roles else 0) + (
                n_groups * config.cvae_z_dim if config.uses_latents else 0
            )
            # The critic reads the roles and latents the actor reads; "no-repr": a constant.
            self.critic = _mlp(critic_in, config.selector_hidden, 1) if critic_in else _Constant()
        self.register_buffer("eye", torch.eye(n_agents), persistent=False)

    def actor_parameters(self) -> list[nn.Parameter]:
        return [self.weight] if self.config.uses_latents else list(self.mlp.parameters())

    def condition(self, roles: Tensor, latents: Tensor) -> tuple[Tensor, Tensor]:
        """Eq. 13's inputs from roles (A, H) and latents (M, Z) (``conditioning``)."""
        if self.config.conditioning == "raw":
            return roles, latents
        return centre_scale(roles), centre_scale(latents)

    def logits(self, roles: Tensor, latents: Tensor) -> Tensor:
        """(A, M) logits from roles (A, H) and group latents (M, Z)."""
        roles, latents = self.condition(roles, latents)
        x = torch.cat([self.eye, roles], -1) if self.config.uses_roles else self.eye
        if self.config.uses_latents:
            return x @ self.weight @ latents.T
        return self.mlp(x)

    def value(self, roles: Tensor, latents: Tensor) -> Tensor:
        """V(s^(g)), a scalar, from the mean role and the flattened latents (team credit)."""
        assert self.critic is not None
        parts = [roles.mean(0)] if self.config.uses_roles else []
        if self.config.uses_latents:
            parts.append(latents.reshape(-1))
        x = torch.cat(parts) if parts else roles.new_zeros(0)
        return self.critic(x).reshape(())


class RunningMean:
    """Debiased exponential running means (decay ``beta``) of a (K,) float64 vector."""

    def __init__(self, size: int, beta: float) -> None:
        self.beta = beta
        self.stats = torch.zeros(2, size, dtype=torch.float64)  # weighted sum, debias

    def update(self, x: Tensor) -> Tensor:
        """Fold ``x`` (K,) in; the running means (K,) after it."""
        self.stats[0].mul_(self.beta).add_(x.detach().cpu().double() * (1 - self.beta))
        self.stats[1].mul_(self.beta).add_(1 - self.beta)
        return self.stats[0] / self.stats[1]


def agent_advantages(returns: Tensor, baseline: RunningMean) -> Tensor:
    """Agent credit (module docstring, step 3): ``returns`` (A, E), each agent's return in every
    copy -> (A, E) advantages."""
    mean = baseline.update(returns.mean(1)).to(returns)
    adv = returns - mean.unsqueeze(1)
    adv = adv - adv.mean(0, keepdim=True)
    std = adv.std() if adv.numel() > 1 else adv.new_zeros(())
    return adv / std if float(std) > 1e-8 else torch.zeros_like(adv)


def team_advantages(team: Tensor, stats: RunningMean) -> Tensor:
    """The team return of every copy (E,) standardised by running mean and variance (E,)."""
    first, second = stats.update(torch.stack([team.mean(), team.pow(2).mean()]))
    var = float(second - first * first)
    return (team - float(first)) / math.sqrt(var) if var > 1e-12 else torch.zeros_like(team)


class _GroupRoles(AgentRoles):
    """DyPS's modules for one space group: the VLSTM agent roles, the CVAE, the selector, the
    warm-up partition (A,)."""

    def __init__(self, gm: GroupModel, config: DyPSConfig, generator: torch.Generator) -> None:
        super().__init__(gm, config)
        s_dim, u_dim = self.state_dim, self.action_dim
        self.cvae = GroupCVAE(gm.n_members, s_dim, u_dim, config.cvae_z_dim, config.cvae_hidden)
        self.selector = GroupSelector(config, gm.group.n_agents, gm.n_members)
        n = gm.group.n_agents
        order = torch.randperm(n, generator=generator, device=generator.device).cpu()
        partition = torch.empty(n, dtype=torch.long)
        partition[order] = torch.arange(n) % gm.n_members
        self.register_buffer("partition", partition)

    def probs(self) -> Tensor:
        """(A, M) selection probabilities for the current roles and latents."""
        return torch.softmax(self.selector.logits(self.roles, self.cvae.latents()), -1)


class DyPSController:
    """Runs steps 1 and 3-5 of the module docstring around the PPO core's iterations."""

    def __init__(
        self,
        config: DyPSConfig,
        model: MultiAgentModel,
        seed: int,
        device: torch.device,
        n_envs: int,
    ) -> None:
        self.config = config
        self.device = device
        self.n_envs = n_envs
        self.generator = seeded_generator(seed, GENERATOR_KEY, device)
        self.parts = nn.ModuleList(_GroupRoles(gm, config, self.generator) for gm in model.groups)
        self.parts.to(device)
        self.optimizers = []
        for part in self.parts:
            opts = {
                "actor": torch.optim.Adam(part.selector.actor_parameters(), config.selector_lr),
                "vlstm": torch.optim.Adam(part.vlstm.parameters(), config.vlstm_lr),
                "cvae": torch.optim.Adam(part.cvae.parameters(), config.cvae_lr),
            }
            if part.selector.critic is not None:
                critic = part.selector.critic.parameters()
                opts["critic"] = torch.optim.Adam(critic, config.selector_critic_lr)
            self.optimizers.append(opts)
        beta = config.reward_beta
        #: Agent credit: per group, the agents' running baselines; team credit: the running
        #: mean of the team return and of its square.
        self.baselines = [RunningMean(gm.group.n_agents, beta) for gm in model.groups]
        self.team_stats = RunningMean(2, beta)
        #: Per group, the (roles, latents, assignment (A, E)) the current rollout was sampled
        #: with.
        self.pending: list[tuple[Tensor, Tensor, Tensor]] = []
        #: Per iteration: per group the deployed (argmax) and the sampled groups.
        self.history: list[dict[str, Any]] = []

    @property
    def warming_up(self) -> bool:
        """Whether the coming iteration is a warm-up iteration (fixed partition)."""
        return len(self.history) < self.config.warmup_iterations

    # ------------------------------------------------------------------ 1. selection
    @torch.no_grad()
    def select(self, model: MultiAgentModel) -> None:
        """Draw every agent's group in every env copy for the coming rollout."""
        self.pending = []
        for part, gm in zip(self.parts, model.groups, strict=True):
            latents = part.cvae.latents()
            if self.warming_up:
                assignment = part.partition.unsqueeze(1).expand(-1, self.n_envs).clone()
            else:
                probs = torch.softmax(part.selector.logits(part.roles, latents), -1)
                assignment = torch.multinomial(
                    probs, self.n_envs, replacement=True, generator=self.generator
                )
            gm.rollout_members = assignment
            self.pending.append((part.roles.clone(), latents, assignment))

    # ------------------------------------------------------------------ 3.-5. learning
    def learn(
        self, model: MultiAgentModel, buffers: list[GroupBuffer], iteration: int, env_steps: int
    ) -> dict[str, float]:
        """Update the selectors, the CVAEs and the VLSTMs on the rollout, deploy the most
        probable groups; the CSV columns (:func:`~.dyps_diagnostics.selection_columns`)."""
        returns = [(b.rewards * b.active).sum(1) for b in buffers]  # (A, E) per group
        team = sum(r.sum(0) for r in returns)  # (E,)
        warm = self.warming_up
        if not warm:
            self.update_selectors(returns)
        losses: dict[str, list[float]] = {"vlstm": [], "cvae": []}
        for g, (part, buf) in enumerate(zip(self.parts, buffers, strict=True)):
            states, actions = part.rollout_features(buf)
            losses["cvae"].append(self._update_cvae(g, buf, states, actions))
            vlstm_opt, sequences = self.optimizers[g]["vlstm"], self.config.vlstm_sequences
            loss = part.learn(buf, states, actions, vlstm_opt, sequences, self.generator)
            losses["vlstm"].append(loss)
        probs = self.deploy(model)
        record = []
        for gm, (_, _, sampled) in zip(model.groups, self.pending, strict=True):
            record.append(
                {
                    "agents": list(gm.group.names),
                    "assignment": gm.assignment.tolist(),
                    "sampled": sampled.T.tolist(),
                }
            )
        previous = self.history[-1]["groups"] if self.history else None
        columns = selection_columns(probs, record, previous)
        self.history.append({"iteration": iteration, "env_steps": env_steps, "groups": record})
        columns.update(spread_columns(self.parts))
        columns["dyps_reward"] = float(team.mean())
        columns["dyps_warmup"] = float(warm)
        columns["dyps_vlstm_loss"] = float(np.mean(losses["vlstm"]))
        columns["dyps_cvae_loss"] = float(np.mean(losses["cvae"]))
        return columns

    def update_selectors(self, returns: list[Tensor]) -> None:
        """One selector update per group on the pending samples: ``returns`` per group (A, E),
        every agent's return in every env copy of the rollout."""
        if self.config.credit == "team":
            team = team_advantages(sum(r.sum(0) for r in returns), self.team_stats)
        for g, part in enumerate(self.parts):
            roles, latents, assignment = self.pending[g]
            selector, opts = part.selector, self.optimizers[g]
            if self.config.credit == "team":
                value = selector.value(roles, latents)
                adv = (team - value.detach()).unsqueeze(0).expand_as(returns[g])
                opts["critic"].zero_grad()
                (value - team).pow(2).mean().backward()
                opts["critic"].step()
            else:
                adv = agent_advantages(returns[g], self.baselines[g])
            for _ in range(self.config.selector_steps):
                dist = torch.distributions.Categorical(logits=selector.logits(roles, latents))
                logp = dist.log_prob(assignment.T).T  # (A, E)
                loss = -(adv * logp).sum(0).mean()
                loss = loss - self.config.selector_entropy * dist.entropy().mean()
                opts["actor"].zero_grad()
                loss.backward()
                opts["actor"].step()

    @torch.no_grad()
    def deploy(self, model: MultiAgentModel) -> list[Tensor]:
        """Put every agent on its most probable group; the (A, M) probabilities per group."""
        probs = []
        for part, gm in zip(self.parts, model.groups, strict=True):
            p = part.probs()
            gm.reassign(p.argmax(-1).cpu().numpy())
            gm.rollout_members = None
            probs.append(p)
        return probs

    def _update_cvae(self, g: int, buf: GroupBuffer, states: Tensor, actions: Tensor) -> float:
        part, opt = self.parts[g], self.optimizers[g]["cvae"]
        active = buf.active
        assert buf.members is not None
        groups = buf.members[active]
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
            "baselines": [b.stats.clone() for b in self.baselines],
            "team_stats": self.team_stats.stats.clone(),
            "history": self.history,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.parts.load_state_dict(state["parts"])
        for opts, saved in zip(self.optimizers, state["optimizers"], strict=True):
            for key, opt in opts.items():
                opt.load_state_dict(saved[key])
        self.generator.set_state(state["generator"])
        for baseline, saved in zip(self.baselines, state["baselines"], strict=True):
            baseline.stats.copy_(saved)
        self.team_stats.stats.copy_(state["team_stats"])
        self.history = list(state["history"])
