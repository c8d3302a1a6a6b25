"""CoPO — Coordinated Policy Optimization (Peng, Hao, Zhou, NeurIPS 2021) on the PPO core.

Implemented from the facts of the CoPO paper and its reference repository as the research note
``vaccine-and-algorithms.md`` (B.1) records them; no code of that repository is used.

* **LCF** (local coordination factor): a distribution N(μ, σ) with ``μ = tanh(p0)`` (clamped
  to ±(1 − 1e-6)) and ``σ = exp(clamp(p1, −20, 2))``, learned parameters (p0, p1), initial
  μ = 0 and σ = 0.1 (:class:`~alloc_agents.ppo.copo_lcf.LCF`). Every agent draws
  φ_i ~ N(μ, σ), clipped to [−1, 1], once per episode (at each reset of its env copy); φ_i is
  an angle in units of 90°. The actor and the critics read ``(φ_i + 1) / 2`` as one extra
  input.
* **Rewards** (:mod:`alloc_agents.ppo.neighbourhoods`): the agent's own r_i, the neighbourhood
  reward r^N_i (mean over its neighbours) and the global reward r^G (mean over all agents).
* **Critics**: V on r_i (the core's critic; with PSA its pair of critics), V^N on r^N and V^G
  on r^G, each with its own value normaliser, trained with the core's clipped value loss.
  GAE(γ, λ) gives A and A^N; GAE(γ_G, λ) with ``global_gamma`` γ_G (1 in CoPO) gives A^G.
* **Coordinated advantage** (the actor's PPO advantage):
  ``A^C = cos(φ π/2) · A + sin(φ π/2) · A^N``, standardised per space group like every
  advantage of the core. A^G is standardised too.
* **Meta-gradient on the LCF** after each PPO update (:meth:`CoPOController.meta_update`):
  ``lcf_iters`` passes over minibatches of the rollout (one split, a fresh order per pass);
  per minibatch

  1. ``g_new = ∇_θ L^G(θ_new)``, ``L^G = −mean(min(ρ A^G, clip(ρ, 1 ± ε) A^G))`` with
     ``ρ = π_θnew / π_behaviour``;
  2. ``g_old = ∇_θold mean(log π_θold(a|o))`` on a frozen copy of the actors from before this
     iteration's PPO update;
  3. ``c = ⟨g_new, g_old⟩`` (a constant);
  4. φ̃ = clip(μ + σ ε, −1, 1), ε ~ N(0, 1) per agent-step (reparameterised; the clip has
     derivative 0 outside [−1, 1], as the behaviour LCF is clipped), and
     ``Ā = mean((cos(φ̃ π/2) A + sin(φ̃ π/2) A^N − m) / s)`` with m, s the mean and standard
     deviation of A^C under the behaviour LCFs (per space group);
  5. an Adam step (``lcf_lr``) on (p0, p1) minimising ``c · Ā``.

  Why it ascends the global objective (the note's reading): θ_new ≈ θ_old + α ∇_θ J^C(φ), so
  dJ^G/dφ = ∇_θ J^G(θ_new) · ∂θ_new/∂φ ≈ −α c · ∂Ā/∂φ (g_new is the gradient of the *loss*
  −J^G); gradient descent on c · Ā follows dJ^G/dφ.

With several space groups, one LCF distribution serves all agents; L^G and the log-likelihood
are sums over the groups of their means (as the core sums the groups' losses), and θ is every
group's actor parameters. The deployed policy (:class:`~alloc_agents.ppo.policy.PPOPolicy`)
feeds every agent the LCF mean μ. The options (:class:`CoPOConfig`), the LCF distribution and the
coordinated advantage live in :mod:`alloc_agents.ppo.copo_lcf`, which the networks read.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor, nn

from alloc_agents.ppo.buffer import GroupBuffer, minibatch_count
from alloc_agents.ppo.config import PPOConfig
from alloc_agents.ppo.copo_lcf import STREAMS, CoPOConfig, coordinated
from alloc_agents.ppo.gae import standardize
from alloc_agents.ppo.neighbourhoods import Neighbourhoods

if TYPE_CHECKING:
    from alloc_agents.ppo.model import MultiAgentModel
    from alloc_agents.ppo.runner import Runner, StepOutcome


def inner_product(a: tuple[Tensor | None, ...], b: tuple[Tensor | None, ...]) -> float:
    """Σ ⟨a_k, b_k⟩ over paired gradients (``None``: a parameter the loss does not use)."""
    total = 0.0
    for x, y in zip(a, b, strict=True):
        if x is not None and y is not None:
            total += float((x * y).sum())
    return total


def _mean(parts: list[Tensor]) -> float:
    values = torch.cat(parts)
    return float(values.mean()) if values.numel() else math.nan


def _masked_mean(x: Tensor, active: Tensor) -> Tensor:
    mask = active.to(x.dtype)
    return (x * mask).sum() / mask.sum().clamp(min=1.0)


#: GAE of one reward stream of a group (``trainer.compute_advantages`` passes it):
#: ``(rewards, values, final_values, last_values, stream=..., gamma=...) -> (adv, returns)``.
StreamGAE = Callable[..., tuple[Tensor, Tensor]]


class CoPOController:
    """CoPO around the PPO core's iterations: the agents' LCFs, the stream rewards, the
    coordinated advantages and the LCF meta-update (module docstring).

    ``phi`` (N, E) holds the current episode's LCF of every agent (``possible_agents`` order)
    in every env copy. Every draw (LCFs, meta-update noise and minibatches) comes from a torch
    generator seeded from the run's seed; it, ``phi``, the copies' episode counters and the LCF
    optimiser are saved in checkpoints, so a resumed run equals an uninterrupted one.
    """

    def __init__(
        self,
        config: CoPOConfig,
        ppo: PPOConfig,
        model: MultiAgentModel,
        runner: Runner,
        seed: int,
        device: torch.device,
    ) -> None:
        if model.lcf is None:
            raise ValueError("CoPO needs a model built with algorithm='copo'")
        self.config, self.ppo, self.device = config, ppo, device
        self.lcf = model.lcf
        self.optimizer = torch.optim.Adam(self.lcf.parameters(), lr=config.lcf_lr)
        seed_seq = np.random.SeedSequence(seed, spawn_key=(0xC0F0,))
        self.generator = torch.Generator(device).manual_seed(int(seed_seq.generate_state(1)[0]))
        layout = runner.layout
        self.neighbourhoods = Neighbourhoods.from_env(runner.envs[0], layout.agents)
        self.rows = [list(g.agents) for g in layout.groups]
        self.episode_index = runner.episode_index.copy()
        self.phi = self.lcf.sample((layout.n_agents, runner.n_envs), self.generator)
        #: θ_old: the actors before the current PPO update.
        self.old_actors = nn.ModuleList(copy.deepcopy(gm.actor) for gm in model.groups)
        #: Per group: the rollout's raw A and A^N (A, T, E) and A^C's mean and std.
        self.batch: list[dict[str, Tensor]] = [{} for _ in model.groups]

    # ------------------------------------------------------------------ rollout
    def group_lcf(self, g: int) -> Tensor:
        """The LCFs φ (A_g, E) of space group ``g``'s agents in every env copy."""
        return self.phi[self.rows[g]]

    @torch.no_grad()
    def after_step(
        self,
        runner: Runner,
        out: StepOutcome,
        acting: np.ndarray,
        buffers: list[GroupBuffer],
        t: int,
    ) -> None:
        """Store step t's neighbourhood and global rewards; draw new LCFs for the agents of
        every copy whose episode ended (and was reset) at this step."""
        neighbour, glob = self.neighbourhoods.rewards(out.rewards, acting)
        for rows, buf in zip(self.rows, buffers, strict=True):
            for name, rewards in zip(STREAMS, (neighbour, glob), strict=True):
                buf.streams[name].rewards[:, t] = torch.as_tensor(rewards[rows], device=self.device)
        for e in np.flatnonzero(runner.episode_index != self.episode_index):
            self.phi[:, e] = self.lcf.sample((self.phi.shape[0],), self.generator)
        self.episode_index = runner.episode_index.copy()

    # ------------------------------------------------------------------ advantages
    @torch.no_grad()
    def coordinate(self, g: int, buf: GroupBuffer, gae: StreamGAE) -> None:
        """Stream advantages and returns of group ``g``; ``buf.advantages`` (the individual
        GAE advantage A on entry) becomes the raw coordinated advantage A^C, and the global
        stream's advantage A^G is standardised."""
        gammas = {"neighbour": self.ppo.gamma, "global": self.config.global_gamma}
        for name in STREAMS:
            s = buf.streams[name]
            s.advantages, s.returns = gae(
                s.rewards, s.values, s.final_values, s.last_values, stream=name, gamma=gammas[name]
            )
        assert buf.lcf is not None
        active = buf.active
        individual, neighbour = buf.advantages, buf.streams["neighbour"].advantages
        combined = torch.where(
            active, coordinated(buf.lcf, individual, neighbour), torch.zeros_like(individual)
        )
        values = combined[active]
        mean = values.mean() if values.numel() > 1 else combined.new_zeros(())
        std = values.std() + 1e-8 if values.numel() > 1 else combined.new_ones(())
        self.batch[g] = {"individual": individual, "neighbour": neighbour, "mean": mean, "std": std}
        buf.advantages = combined
        glob = buf.streams["global"]
        glob.advantages = standardize(glob.advantages, active)

    # ------------------------------------------------------------------ meta-update
    @torch.no_grad()
    def snapshot(self, model: MultiAgentModel) -> None:
        """θ_old ← θ (call before the PPO update)."""
        for old, gm in zip(self.old_actors, model.groups, strict=True):
            old.load_state_dict(gm.actor.state_dict())

    def coefficient(
        self, model: MultiAgentModel, buffers: list[GroupBuffer], index: Tensor
    ) -> float:
        """c = ⟨∇_θ L^G(θ_new), ∇_θold mean log π_θold(a|o)⟩ on the samples ``index``
        (into T · E) of every group; a float."""
        global_loss = torch.zeros((), device=self.device)
        old_objective = torch.zeros((), device=self.device)
        eps = self.ppo.clip_coef
        for gm, old, buf in zip(model.groups, self.old_actors, buffers, strict=True):
            mb = buf.minibatch(index)
            if not bool(mb.active.any()):
                continue
            logp = gm.distribution(mb.obs, mb.lcf, members=mb.members).log_prob(mb.actions)
            log_ratio = torch.where(mb.active, logp - mb.logp, torch.zeros_like(logp))
            ratio = log_ratio.exp()
            adv = buf.flat(buf.streams["global"].advantages)[:, index]
            surrogate = torch.min(ratio * adv, ratio.clamp(1 - eps, 1 + eps) * adv)
            global_loss = global_loss - _masked_mean(surrogate, mb.active)
            old_pi = gm.distribution(mb.obs, mb.lcf, actor=old, members=mb.members)
            old_logp = old_pi.log_prob(mb.actions)
            old_logp = torch.where(mb.active, old_logp, torch.zeros_like(old_logp))
            old_objective = old_objective + _masked_mean(old_logp, mb.active)
        new_params = list(model.actor_parameters())
        old_params = list(self.old_actors.parameters())
        if not global_loss.requires_grad or not old_objective.requires_grad:
            return 0.0
        g_new = torch.autograd.grad(global_loss, new_params, allow_unused=True)
        g_old = torch.autograd.grad(old_objective, old_params, allow_unused=True)
        return inner_product(g_new, g_old)

    def objective(self, buffers: list[GroupBuffer], index: Tensor) -> Tensor | None:
        """Ā (module docstring, step 4) on the samples ``index``, summed over the groups;
        differentiable in the LCF parameters. ``None`` without active samples."""
        total: Tensor | None = None
        for batch, buf in zip(self.batch, buffers, strict=True):
            active = buf.flat(buf.active)[:, index]
            if not bool(active.any()):
                continue
            individual = buf.flat(batch["individual"])[:, index]
            neighbour = buf.flat(batch["neighbour"])[:, index]
            phi = self.lcf.rsample(tuple(individual.shape), self.generator)
            scaled = (coordinated(phi, individual, neighbour) - batch["mean"]) / batch["std"]
            term = _masked_mean(scaled, active)
            total = term if total is None else total + term
        return total

    def meta_update(self, model: MultiAgentModel, buffers: list[GroupBuffer]) -> dict[str, float]:
        """``lcf_iters`` passes of the LCF meta-update (module docstring); the CSV columns.

        The rollout's (T · E) samples are split into minibatches once; every pass visits them
        in a fresh random order with fresh noise ε. A minibatch's c is computed once and reused
        by the later passes: it depends on θ_new, θ_old and the minibatch only, not on the LCF
        parameters, so this is exact and saves ``lcf_iters − 1`` of every ``lcf_iters``
        computations of two actor gradients — most of the meta-update's cost.
        """
        _, n_steps, n_envs = buffers[0].shape
        n_samples = n_steps * n_envs
        size = self.config.lcf_minibatch_size or self.ppo.minibatch_size
        n_mb = minibatch_count(buffers, self.ppo.n_minibatches, size)
        perm = torch.randperm(n_samples, generator=self.generator, device=self.device)
        minibatches = perm.tensor_split(n_mb)
        coefficients: dict[int, float] = {}
        for _ in range(self.config.lcf_iters):
            order = torch.randperm(n_mb, generator=self.generator, device=self.device)
            for k in order.tolist():
                objective = self.objective(buffers, minibatches[k])
                if objective is None:
                    continue
                if k not in coefficients:
                    coefficients[k] = self.coefficient(model, buffers, minibatches[k])
                self.optimizer.zero_grad(set_to_none=True)
                (coefficients[k] * objective).backward()
                self.optimizer.step()
        return self.columns(buffers, list(coefficients.values()))

    @torch.no_grad()
    def columns(self, buffers: list[GroupBuffer], coefficients: list[float]) -> dict[str, float]:
        """lcf_mean, lcf_std (after the update), lcf_coef (mean c over the minibatches),
        lcf_phi_mean (mean φ of the rollout's active agent-steps), neighbour_reward and
        global_reward (their means over the same entries)."""
        phi, neighbour, glob = [], [], []
        for buf in buffers:
            assert buf.lcf is not None
            phi.append(buf.lcf[buf.active])
            neighbour.append(buf.streams["neighbour"].rewards[buf.active])
            glob.append(buf.streams["global"].rewards[buf.active])
        return {
            "lcf_mean": float(self.lcf.mean),
            "lcf_std": float(self.lcf.std),
            "lcf_coef": float(np.mean(coefficients)) if coefficients else math.nan,
            "lcf_phi_mean": _mean(phi),
            "neighbour_reward": _mean(neighbour),
            "global_reward": _mean(glob),
        }

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The LCF optimiser, the generator, the current LCFs and the copies' episode counters
        (the LCF parameters are the model's)."""
        return {
            "optimizer": self.optimizer.state_dict(),
            "generator": self.generator.get_state(),
            "phi": self.phi.cpu().clone(),
            "episode_index": torch.as_tensor(self.episode_index),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.phi = state["phi"].to(self.device)
        self.episode_index = state["episode_index"].numpy().copy()
