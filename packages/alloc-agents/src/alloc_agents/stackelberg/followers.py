"""Model-free followers: one shared-parameter PPO policy trained on N-agent rollouts.

Every follower of the homogeneous population uses the same network (:mod:`.network`) over
``[one-hot s, one-hot t]`` and, by default, the step's incentive u_t (``observe_incentive``);
the learner never reads the model. An iteration:

1. play one episode of N followers (:func:`.rollout.play_episode`) from the start step and
   distribution against the leader (an incentive, a schedule or a callable on the empirical
   distribution, :func:`~alloc_envs.stackelberg.leader.as_leader_policy`), each step's policy
   rows evaluated after the leader has acted;
2. evaluate the network on the (t, s) grid at the episode's incentives: the masked policy
   table pi_old (the one that acted) and values V_old;
3. soft rewards ``r - tau log pi_old(a | s)`` (the entropy-regularised objective of the
   scenario's followers, so that the learned policy aims at the exact solver's regularised
   equilibrium), GAE (:func:`alloc_agents.ppo.gae.compute_gae`; the horizon is terminal, gamma
   1 by default), advantages standardised over the batch;
4. ``n_epochs`` x ``n_minibatches`` steps of Adam on the PPO loss

       L = -mean(min(rho A, clip(rho, 1 - eps, 1 + eps) A)) + c_V mean((V - R)^2)
           - c_H mean(H[pi(.|s)])

   (values and returns in the units of the running value normaliser,
   :class:`alloc_agents.ppo.valuenorm.ValueNorm`). Every follower shares the policy, so a
   sample's terms depend on it only through its cell (t, s, a), its advantage and its target:
   each minibatch is summed per cell once (:func:`cell_sums`, one pass over its samples) and
   its Adam steps cost O(T' S A), not O(N T').

Randomness: the network is initialised from ``seed`` (a forked torch generator: the global one
is untouched); rollouts draw from the :class:`Population`'s numpy generator and minibatch order
from a torch generator, both seeded from ``seed`` (or re-seeded by ``train(seed=...)``). On the
CPU the same seed gives identical results.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.distributions import MaskedCategorical
from alloc_agents.ppo.gae import compute_gae
from alloc_agents.ppo.trainer import resolve_device
from alloc_agents.stackelberg.config import FollowerPPOConfig, follower_temperature
from alloc_agents.stackelberg.evaluation import PolicyEvaluation, evaluate_policy
from alloc_agents.stackelberg.network import FollowerNetwork
from alloc_agents.stackelberg.rollout import Episode, play_episode
from alloc_envs.core.validation import check_int
from alloc_envs.stackelberg.fokker_planck import IncentivePolicy, rollout
from alloc_envs.stackelberg.leader import as_leader_policy
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.population import Population

#: ``kind`` of a followers checkpoint (see :meth:`FollowerPPO.save`).
CHECKPOINT_KIND = "stackelberg-followers"


def saved_config(state: dict[str, Any]) -> FollowerPPOConfig:
    """The config of a followers checkpoint; files written before ``observe_incentive`` existed
    hold followers that do not observe the incentive."""
    return FollowerPPOConfig.from_dict({"observe_incentive": False, **state["config"]})


def _probabilities(policy: MaskedCategorical) -> np.ndarray:
    """(..., A) float64 probabilities of ``policy``, renormalised after the float32 softmax
    (rows sum to one; masked actions stay exactly 0)."""
    probs = policy.log_probs.exp().double().cpu().numpy()
    return probs / probs.sum(axis=-1, keepdims=True)


def clipped_surrogate(
    log_ratio: Tensor, advantages: Tensor, clip_coef: float, weights: Tensor | None = None
) -> tuple[Tensor, dict[str, Tensor]]:
    """PPO's clipped policy loss ``-E[min(rho A, clip(rho, 1 - eps, 1 + eps) A)]`` with
    ``rho = exp(log_ratio)``, and its ``approx_kl`` and ``clip_frac`` statistics (detached).

    ``E`` is the mean over the entries (samples), or the sum weighted by ``weights`` (same
    shape, summing to one: an expectation over a known distribution, e.g. the mean field).
    """
    ratio = log_ratio.exp()
    clipped = ratio.clamp(1 - clip_coef, 1 + clip_coef)

    def expect(values: Tensor) -> Tensor:
        return values.mean() if weights is None else (weights * values).sum()

    loss = -expect(torch.min(ratio * advantages, clipped * advantages))
    with torch.no_grad():
        stats = {
            "approx_kl": expect((ratio - 1) - log_ratio),
            "clip_frac": expect(((ratio - 1).abs() > clip_coef).float()),
        }
    return loss, stats


def grouped_clipped_surrogate(
    log_ratio: Tensor, positive: Tensor, negative: Tensor, counts: Tensor, clip_coef: float
) -> tuple[Tensor, dict[str, Tensor]]:
    """:func:`clipped_surrogate` over samples grouped by cell, when every sample of a cell
    shares its ratio (the followers' (t, s, a): one policy for the whole population).

    For ``A >= 0``, ``min(rho A, clip(rho) A) = min(rho, 1 + eps) A``, and for ``A < 0`` it is
    ``max(rho, 1 - eps) A``, so a cell's terms add up to ``min(rho, 1 + eps) P + max(rho, 1 -
    eps) M`` with P and M its samples' summed positive and negative advantages. All arguments
    are (G,) per cell: ``log_ratio``, ``positive`` (P >= 0), ``negative`` (M <= 0) and
    ``counts`` (samples, at least one per cell); the loss and the statistics are the means over
    the ``counts.sum()`` samples, equal to :func:`clipped_surrogate` on the samples up to the
    order of float additions.
    """
    ratio = log_ratio.exp()
    samples = counts.sum()
    upper, lower = ratio.clamp(max=1 + clip_coef), ratio.clamp(min=1 - clip_coef)
    loss = -(upper * positive + lower * negative).sum() / samples
    with torch.no_grad():
        stats = {
            "approx_kl": (counts * ((ratio - 1) - log_ratio)).sum() / samples,
            "clip_frac": (counts * ((ratio - 1).abs() > clip_coef)).sum() / samples,
        }
    return loss, stats


def minibatch_labels(perm: Tensor, parts: int) -> Tensor:
    """(n,) long: the minibatch of every sample when the (n,) permutation ``perm`` is split
    into ``parts`` consecutive pieces as ``perm.tensor_split(parts)`` splits it (sample
    ``perm[i]`` is in the piece of position i)."""
    size, extra = divmod(perm.shape[0], parts)  # the first `extra` pieces get one more
    sizes = torch.tensor([size + 1] * extra + [size] * (parts - extra), device=perm.device)
    by_position = torch.repeat_interleave(torch.arange(parts, device=perm.device), sizes)
    return torch.empty_like(perm).scatter_(0, perm, by_position)


def cell_sums(keys: Tensor, weights: dict[str, Tensor], size: int) -> dict[str, Tensor]:
    """(size,) float32 sums over the samples per key: ``count`` and one per entry of
    ``weights`` ((n,) float64 per sample, summed in float64). ``keys``: (n,) long in
    ``[0, size)``."""
    sums = {"count": torch.bincount(keys, minlength=size).float()}
    for name, values in weights.items():
        sums[name] = torch.bincount(keys, weights=values, minlength=size).float()
    return sums


class FollowerPPO:
    """Shared-parameter PPO followers of ``game``.

    Args:
        game: the scenario's model (only its sizes, mask and N-agent simulator are used).
        config: hyper-parameters (:class:`FollowerPPOConfig`).
        seed: seeds the network's initialisation, the rollouts and the minibatch order.
        device: ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda[:i]"``; rollouts always
            run in numpy on the CPU.

    Attributes: ``temperature`` (tau, resolved from the config or the game), ``iteration``
    (iterations trained so far), ``network``, ``population``.
    """

    def __init__(
        self,
        game: MatchingGame,
        config: FollowerPPOConfig | None = None,
        *,
        seed: int = 0,
        device: str | torch.device = "auto",
    ) -> None:
        check_int("seed", seed, 0, 2**63 - 1)
        self.game = game
        self.config = FollowerPPOConfig() if config is None else config
        self.temperature = follower_temperature(game, self.config)
        self.device = resolve_device(device)
        self.population = Population(game, self.config.n_followers, seed=seed)
        self.generator = torch.Generator().manual_seed(seed)
        box = (game.incentive_low, game.incentive_high) if self.config.observe_incentive else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            network = FollowerNetwork(
                game.action_mask,
                game.horizon,
                self.config.hidden_sizes,
                self.config.activation,
                box,
            )
        self.network = network.to(self.device)
        self.optimizer = torch.optim.Adam(
            self.network.parameters(), lr=self.config.lr, eps=self.config.adam_eps
        )
        self.iteration = 0

    # ------------------------------------------------------------------ the learned policy
    @torch.no_grad()
    def policy_table(self, start: int = 0, incentives: Any = None) -> np.ndarray:
        """(T - start, S, A) float64 ``pi[t - start, s, a]``: the network at every step and
        state, masked (zero on invalid actions), rows summing to one; ``incentives``: the
        (T - start, U) incentives of those steps, needed when the followers observe them
        (:meth:`realized_table` gives the table against a leader policy)."""
        self._check_start(start)
        return _probabilities(self.network.policy(start, incentives))

    def acting_policy(self, start: int = 0) -> IncentivePolicy:
        """The current policy as ``(t, u_t) -> (S, A)`` float64 rows for steps ``start..T-1``
        (a snapshot when the followers do not observe the incentive, else the live network)."""
        self._check_start(start)
        if not self.network.observes_incentive:
            table = self.policy_table(start)
            return lambda t, incentive: table[t - start]

        @torch.no_grad()
        def act(t: int, incentive: np.ndarray) -> np.ndarray:
            return _probabilities(self.network.step_policy(t, incentive))

        return act

    def realized_table(
        self,
        leader: Any,
        *,
        start: int = 0,
        distribution: np.ndarray | None = None,
        exogenous: np.ndarray | None = None,
    ) -> np.ndarray:
        """(T - start, S, A) the policy the followers play along the mean-field flow against
        ``leader`` (from ``start`` with m and x as in :meth:`train`): the table of the
        exact model's tools (exploitability, the responder's answer)."""
        where = {"start": start, "distribution": distribution, "exogenous": exogenous}
        return rollout(self.game, self.acting_policy(start), leader, **where).policies

    def evaluate(
        self,
        leader: Any,
        *,
        start: int = 0,
        distribution: np.ndarray | None = None,
        exogenous: np.ndarray | None = None,
    ) -> PolicyEvaluation:
        """The current policy's exploitability (at ``temperature``) and mean-field metrics
        against ``leader`` on the exact model (:func:`.evaluation.evaluate_policy`; the table
        scored, ``flow.policies``, is :meth:`realized_table`)."""
        where = {"start": start, "distribution": distribution, "exogenous": exogenous}
        policy = self.acting_policy(start)
        return evaluate_policy(self.game, policy, leader, temperature=self.temperature, **where)

    # ------------------------------------------------------------------ training
    def train(
        self,
        leader: Any,
        iterations: int | None = None,
        *,
        start: int = 0,
        distribution: np.ndarray | None = None,
        exogenous: np.ndarray | None = None,
        seed: int | None = None,
        evaluate_every: int = 0,
    ) -> list[dict[str, Any]]:
        """Train against ``leader`` for ``iterations`` (default ``config.iterations``) PPO
        iterations, continuing from the current network.

        Args:
            leader: a (U,) incentive, a (T - start, U) schedule or a callable
                ``(t, m_t, x_t) -> u_t`` (evaluated on the empirical distribution).
            start, distribution, exogenous: train on the subgame from step ``start`` with
                follower distribution ``distribution`` (default m_0) and exogenous state
                ``exogenous`` (default x_0).
            seed: re-seed the rollout and minibatch generators first (``None``: continue).
            evaluate_every: every this many iterations (and at the last one) add the exact
                ``exploitability`` (and ``unregularised_exploitability``) to the row; 0: never.

        Returns: one row per iteration: ``iteration``, ``follower_return`` (mean episode reward
        per follower), ``soft_return`` (with the entropy term), ``leader_return``, the
        scenario's scalar metrics of the episode (``orr``, ``cr``, ...), ``policy_loss``,
        ``value_loss``, ``entropy``, ``approx_kl``, ``clip_frac``, ``seconds``.
        """
        self._check_start(start)
        iterations = self.config.iterations if iterations is None else iterations
        check_int("iterations", iterations, 0, 10**7)
        check_int("evaluate_every", evaluate_every, 0, 10**7)
        if seed is not None:
            self.population.rng = np.random.default_rng(seed)
            self.generator.manual_seed(seed)
        leader_policy = as_leader_policy(self.game, leader, start)
        where = {"start": start, "distribution": distribution, "exogenous": exogenous}
        history = []
        for k in range(iterations):
            began = time.perf_counter()
            row, _ = self.step(leader_policy, **where)
            last = k == iterations - 1
            if evaluate_every and (self.iteration % evaluate_every == 0 or last):
                scored = self.evaluate(leader, **where)
                row["exploitability"] = scored.exploitability
                row["unregularised_exploitability"] = scored.unregularised_exploitability
            row["seconds"] = time.perf_counter() - began
            history.append({"iteration": self.iteration, **row})
        return history

    def step(
        self,
        leader: Any,
        *,
        start: int = 0,
        distribution: np.ndarray | None = None,
        exogenous: np.ndarray | None = None,
    ) -> tuple[dict[str, Any], Episode]:
        """One PPO iteration (module docstring: an episode of N followers, then the update)
        against ``leader`` (anything :func:`~alloc_envs.stackelberg.leader.as_leader_policy`
        accepts), from ``start`` as in :meth:`train`.

        Returns: the statistics row (:meth:`train`'s, without ``iteration``,
        ``exploitability`` and ``seconds``) and the episode played, for leader trainers that
        learn from the same episode (the leader's per-step rewards, the followers'
        transitions).
        """
        self._check_start(start)
        leader_policy = as_leader_policy(self.game, leader, start)
        where = {"start": start, "distribution": distribution, "exogenous": exogenous}
        episode = play_episode(self.population, self.acting_policy(start), leader_policy, **where)
        incentives = episode.incentives
        with torch.no_grad():
            old = self.network.policy(start, incentives)
            old_values = self.network.denormalize(self.network.values(start, incentives))
        batch = self._batch(episode, old.log_probs, old_values)
        stats = self._update(batch, old.log_probs, start, incentives)
        self.iteration += 1
        scalars = {k: v for k, v in episode.metrics.items() if np.isscalar(v)}
        row = {
            "follower_return": float(episode.rewards.sum(axis=0).mean()),
            "soft_return": float(batch["soft_rewards"].sum(dim=0).mean()),
            "leader_return": episode.leader_return,
            **scalars,
            **stats,
        }
        return row, episode

    def _batch(self, episode: Episode, log_probs: Tensor, values: Tensor) -> dict[str, Tensor]:
        """(T', N) tensors of the episode: step index, state, action, old log-prob, soft
        reward, advantage (standardised) and return."""
        device = self.device
        states = torch.as_tensor(episode.states, device=device)
        actions = torch.as_tensor(episode.actions, device=device)
        steps = torch.arange(states.shape[0], device=device)[:, None].expand_as(states)
        logp = log_probs[steps, states, actions]
        rewards = torch.as_tensor(episode.rewards, dtype=torch.float32, device=device)
        soft_rewards = rewards - self.temperature * logp
        done = torch.zeros_like(states, dtype=torch.bool)
        done[-1] = True  # the horizon ends the game: V_T = 0
        zeros = torch.zeros_like(soft_rewards)
        advantages, returns = compute_gae(
            soft_rewards,
            values[steps, states],
            torch.ones_like(done),
            done,
            torch.zeros_like(done),
            zeros,
            zeros[0],
            self.config.gamma,
            self.config.gae_lambda,
        )
        advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        return {
            "steps": steps,
            "states": states,
            "actions": actions,
            "logp": logp,
            "soft_rewards": soft_rewards,
            "advantages": advantages,
            "returns": returns,
        }

    def _update(
        self, batch: dict[str, Tensor], old_log_probs: Tensor, start: int, incentives: np.ndarray
    ) -> dict[str, float]:
        """``n_epochs`` passes of minibatch PPO over the batch (an episode from ``start`` with
        the (T', U) ``incentives``; ``old_log_probs``: the (T', S, A) table that acted); mean
        statistics.

        A sample enters the loss only through its cell (t, s, a), its advantage and its value
        target, so every minibatch is first summed per cell (:func:`cell_sums`) and the loss
        is taken on the (T', S, A) grid (:meth:`_loss`): after the sums, an Adam step costs the
        same whatever N. The minibatches are those of a random permutation split into
        ``n_minibatches`` parts, and the loss equals the per-sample mean up to the order of
        float additions.
        """
        cfg, net = self.config, self.network
        n_states, n_actions = old_log_probs.shape[1:]
        steps, states, actions = batch["steps"], batch["states"], batch["actions"]
        cells = ((steps * n_states + states) * n_actions + actions).reshape(-1)
        advantages = batch["advantages"].reshape(-1).double()
        returns = batch["returns"].reshape(-1)
        net.update_value_norm(returns)
        targets = net.normalize(returns).double()
        per_sample = {  # what the loss sums per cell (float64)
            "positive": advantages.clamp(min=0.0),
            "negative": advantages.clamp(max=0.0),
            "target": targets,
            "target_sq": targets.square(),
        }
        n, n_cells = cells.shape[0], old_log_probs.numel()
        parts = min(cfg.n_minibatches, n)
        totals: dict[str, float] = {}
        count = 0
        for _ in range(cfg.n_epochs):
            perm = torch.randperm(n, generator=self.generator).to(self.device)
            part = minibatch_labels(perm, parts)
            flat_sums = cell_sums(part * n_cells + cells, per_sample, parts * n_cells)
            sums = {
                key: value.view(parts, *old_log_probs.shape) for key, value in flat_sums.items()
            }
            for j in range(parts):
                minibatch = {key: value[j] for key, value in sums.items()}
                loss, stats = self._loss(minibatch, old_log_probs, start, incentives)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0.0) + value
                count += 1
        return {key: total / count for key, total in totals.items()}

    def _loss(
        self,
        sums: dict[str, Tensor],
        old_log_probs: Tensor,
        start: int,
        incentives: np.ndarray,
    ) -> tuple[Tensor, dict[str, float]]:
        """The PPO loss (module docstring) of a minibatch given by its (T', S, A) per-cell
        sums (:func:`cell_sums`), and its statistics: means over the minibatch's samples."""
        cfg, net = self.config, self.network
        counts = sums["count"]
        samples = counts.sum()
        used = counts > 0
        dist = net.policy(start, incentives)
        log_ratio = dist.log_probs[used] - old_log_probs[used]
        policy_loss, stats = grouped_clipped_surrogate(
            log_ratio, sums["positive"][used], sums["negative"][used], counts[used], cfg.clip_coef
        )
        state_counts = counts.sum(dim=-1)
        entropy = (state_counts * dist.entropy()).sum() / samples
        value = net.values(start, incentives)
        # sum over samples of (V - target)^2 = n V^2 - 2 V sum(target) + sum(target^2) per (t, s)
        squared = (
            state_counts * value.square()
            - 2 * value * sums["target"].sum(dim=-1)
            + sums["target_sq"].sum(dim=-1)
        )
        value_loss = 0.5 * squared.sum() / samples
        loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
        stats = {"policy_loss": policy_loss, "value_loss": value_loss, "entropy": entropy, **stats}
        return loss, {key: float(value.detach()) for key, value in stats.items()}

    def _check_start(self, start: Any) -> None:
        check_int("start", start, 0, self.game.horizon - 1)

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: config, network, optimizer, iteration count and
        the generators' states, as tensors and plain containers (so
        ``torch.load(path, weights_only=True)`` reads it)."""
        return {
            "kind": CHECKPOINT_KIND,
            "config": self.config.to_dict(),
            "shape": [self.game.n_states, self.game.n_actions, self.game.horizon],
            "network": self.network.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "iteration": self.iteration,
            "torch_generator": self.generator.get_state(),
            "population_rng": self.population.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`; ``CheckpointError`` (a ``ValueError``) if it is not a
        followers checkpoint or was made for a game of other sizes or another network."""
        if state.get("kind") != CHECKPOINT_KIND:
            raise ckpt.CheckpointError("not a Stackelberg followers checkpoint")
        game = self.game
        shape = [game.n_states, game.n_actions, game.horizon]
        if list(state["shape"]) != shape:
            raise ckpt.CheckpointError(
                f"checkpoint is for (S, A, T) = {tuple(state['shape'])}, this game has "
                f"{tuple(shape)}"
            )
        saved, mine = saved_config(state), self.config
        fields = ("hidden_sizes", "activation", "observe_incentive")
        if any(getattr(saved, f) != getattr(mine, f) for f in fields):
            raise ckpt.CheckpointError(
                "checkpoint network is "
                + ", ".join(f"{f}={getattr(saved, f)!r}" for f in fields)
                + "; this learner's is "
                + ", ".join(f"{f}={getattr(mine, f)!r}" for f in fields)
            )
        self.network.load_state_dict(state["network"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.iteration = int(state["iteration"])
        self.generator.set_state(state["torch_generator"])
        self.population.rng.bit_generator.state = state["population_rng"]

    def save(self, path: str | Path) -> None:
        """Write :meth:`state_dict` to ``path`` (atomically)."""
        ckpt.save(Path(path), self.state_dict())

    @classmethod
    def load(
        cls, path: str | Path, game: MatchingGame, *, device: str | torch.device = "auto"
    ) -> FollowerPPO:
        """A learner for ``game`` restored from a :meth:`save` file (its saved config)."""
        state = ckpt.load(Path(path))
        if state.get("kind") != CHECKPOINT_KIND:
            raise ckpt.CheckpointError(f"{str(path)!r} is not a Stackelberg followers checkpoint")
        learner = cls(game, saved_config(state), device=device)
        learner.load_state_dict(state)
        return learner
