"""The PPO training loop: collect a rollout, compute GAE, update, log, checkpoint.

Loss of a space group g (means over the *active* agent-steps of g in the minibatch; the total
loss is the sum over groups):

    ρ = exp(log π(a|o) − log π_old(a|o))
    L_pi = −mean(min(ρ Â, clip(ρ, 1 − ε, 1 + ε) Â))
    L_V  = mean(max(ℓ(R̂ − V), ℓ(R̂ − V_clip))),  V_clip = V_old + clip(V − V_old, ±c_v)
    L    = L_pi + c_V · L_V − c_H · mean(H[π(·|o)])

with ℓ the Huber loss (δ = ``huber_delta``) or the squared error, R̂ the GAE return in the value
normaliser's units and Â the advantage standardised over the group's active entries. PSA's shared
critic and CoPO's neighbourhood and global critics add their own L_V terms (same form, their
own returns and value normalisers); CoPO's Â is its coordinated advantage, and its LCF
meta-update follows every PPO update (:mod:`alloc_agents.ppo.copo`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.buffer import GroupBuffer, minibatch_count
from alloc_agents.ppo.config import PPOConfig, get_preset
from alloc_agents.ppo.copo import CoPOConfig, CoPOController
from alloc_agents.ppo.gae import compute_gae, standardize
from alloc_agents.ppo.logger import PROGRESS_INTERVAL_S, RunLogger, check_progress_interval
from alloc_agents.ppo.model import ALGORITHMS, GroupModel, MultiAgentModel
from alloc_agents.ppo.policy import PPOPolicy
from alloc_agents.ppo.runner import EpisodeStats, Runner, team_rewards
from alloc_agents.ppo.sharing import (
    SHARING,
    DyPSConfig,
    RoleAsStateConfig,
    SePSConfig,
    make_sharing,
)
from alloc_agents.ppo.strategy_hooks import StrategyHooks, make_hooks
from alloc_agents.threads import set_threads


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` -> CUDA if available else CPU; ``"cuda"`` without a GPU is a ValueError."""
    name = str(device)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError("device='cuda' but no CUDA device is available (use 'auto' or 'cpu')")
        return torch.device(name)
    if name == "cpu":
        return torch.device("cpu")
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:i]', got {device!r}")


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) from the master seed (numpy draws use owned generators)."""
    torch.manual_seed(seed)


@dataclass
class TrainResult:
    """What :func:`train` returns."""

    #: The trained policy (deterministic by default; set ``policy.deterministic = False`` to
    #: sample).
    policy: PPOPolicy
    #: One dict per iteration (the CSV rows).
    history: list[dict[str, Any]]
    model: MultiAgentModel
    config: PPOConfig
    algorithm: str
    sharing: str
    checkpoint: Path | None
    log_dir: Path | None
    #: Strategy results: ``seps`` — the clustering record (``"seps"``: iteration, env steps,
    #: per group the agents, their cluster and VAE embedding), also in ``seps_clusters.json``;
    #: ``dyps`` — per iteration the group of every agent (iteration, env steps, per space group
    #: the agents and their assignment), also in ``dyps_groups.jsonl``.
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Counters:
    """A run's totals so far (checkpointed); ``elapsed`` in wall-clock seconds."""

    iteration: int = 0
    env_steps: int = 0
    agent_steps: int = 0
    episodes: int = 0
    elapsed: float = 0.0

    def columns(self) -> dict[str, int]:
        """The log row's counter columns: iteration, env_steps, agent_steps, episodes."""
        return {
            "iteration": self.iteration,
            "env_steps": self.env_steps,
            "agent_steps": self.agent_steps,
            "episodes": self.episodes,
        }


@dataclass
class UpdateStats:
    policy_loss: float = 0.0
    value_loss: float = 0.0
    entropy: float = 0.0
    approx_kl: float = 0.0
    clip_frac: float = 0.0
    actor_grad_norm: float = 0.0
    critic_grad_norm: float = 0.0
    n: int = 0
    epochs: int = 0
    extra: dict[str, float] = field(default_factory=dict)

    def add(self, **values: float) -> None:
        for key, value in values.items():
            setattr(self, key, getattr(self, key) + value)
        self.n += 1

    def means(self) -> dict[str, float]:
        n = max(1, self.n)
        keys = ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_frac")
        out = {k: getattr(self, k) / n for k in keys}
        out["actor_grad_norm"] = self.actor_grad_norm / n
        out["critic_grad_norm"] = self.critic_grad_norm / n
        out["epochs"] = float(self.epochs)
        return out


# ---------------------------------------------------------------------------------- rollout
@torch.no_grad()
def collect(
    runner: Runner,
    model: MultiAgentModel,
    buffers: list[GroupBuffer],
    central: Tensor | None,
    n_steps: int,
    device: torch.device,
    copo: CoPOController | None = None,
    team_reward: bool = False,
) -> list[EpisodeStats]:
    """Fill the buffers (and the (T, E, S) centralised inputs) with ``n_steps`` lockstep steps
    (CoPO: the agents' LCFs and the neighbourhood and global streams too); ``team_reward``:
    the buffers' ``learning_rewards`` get :func:`~alloc_agents.ppo.runner.team_rewards` (their
    ``rewards`` stay each agent's own)."""
    episodes: list[EpisodeStats] = []
    groups = runner.layout.groups
    lcf_of = (lambda g: None) if copo is None else copo.group_lcf
    for t in range(n_steps):
        acting = runner.acting()
        obs_np = runner.group_obs()
        central_t = _tensor(runner.central(), device)
        if central is not None:
            central[t] = central_t
        env_actions = []
        for group, gm, buf in zip(groups, model.groups, buffers, strict=True):
            obs = {k: torch.as_tensor(v, device=device) for k, v in obs_np[group.index].items()}
            lcf, members = lcf_of(group.index), gm.rollout_members
            dist = gm.distribution(obs, lcf, members=members)
            action, log_prob = dist.sample_with_log_prob()
            active = torch.as_tensor(acting[list(group.agents)], device=device)
            value = gm.value(obs, central_t, lcf=lcf, members=members)
            buf.insert(t, obs, action, log_prob, value, active, lcf, members)
            if buf.shared:
                buf.values_shared[:, t] = gm.value(obs, central_t, shared=True, lcf=lcf)
            for name, stream in buf.streams.items():  # CoPO: neighbourhood and global critics
                value = gm.value(obs, central_t, lcf=lcf, stream=name, members=members)
                stream.values[:, t] = value
            env_actions.append(gm.actor.env_action(action))
        out = runner.step(env_actions, acting)
        shared = team_rewards(out.rewards, acting) if team_reward else None
        for group, buf in zip(groups, buffers, strict=True):
            rows = list(group.agents)
            buf.rewards[:, t] = torch.as_tensor(out.rewards[rows], device=device)
            if shared is not None:
                if buf.learning_rewards is None:
                    buf.learning_rewards = torch.zeros_like(buf.rewards)
                buf.learning_rewards[:, t] = torch.as_tensor(shared[rows], device=device)
            buf.terminated[:, t] = torch.as_tensor(out.terminated[rows], device=device)
            buf.truncated[:, t] = torch.as_tensor(out.truncated[rows], device=device)
        if out.truncated.any():  # bootstrap: V(final observation) of truncated agents
            final = runner.group_obs([fo if fo is not None else {} for fo in out.final_obs])
            final_central = _tensor(out.final_central, device)
            for group, gm, buf in zip(groups, model.groups, buffers, strict=True):
                obs = {k: torch.as_tensor(v, device=device) for k, v in final[group.index].items()}
                lcf, members = lcf_of(group.index), gm.rollout_members  # the ended episode's
                value = gm.value(obs, final_central, lcf=lcf, members=members)
                buf.final_values[:, t] = gm.denormalize(value, members=members)
                if buf.shared:
                    value = gm.value(obs, final_central, shared=True, lcf=lcf)
                    buf.final_values_shared[:, t] = gm.denormalize(value, shared=True)
                for name, stream in buf.streams.items():
                    value = gm.value(obs, final_central, lcf=lcf, stream=name, members=members)
                    stream.final_values[:, t] = gm.denormalize(value, stream=name, members=members)
        if copo is not None:  # neighbourhood and global rewards; new LCFs after resets
            copo.after_step(runner, out, acting, buffers, t)
        episodes.extend(out.episodes)
    obs_np = runner.group_obs()
    central_last = _tensor(runner.central(), device)
    for group, gm, buf in zip(groups, model.groups, buffers, strict=True):
        obs = {k: torch.as_tensor(v, device=device) for k, v in obs_np[group.index].items()}
        lcf, members = lcf_of(group.index), gm.rollout_members
        value = gm.value(obs, central_last, lcf=lcf, members=members)
        buf.last_values = gm.denormalize(value, members=members)
        if buf.shared:
            value = gm.value(obs, central_last, shared=True, lcf=lcf)
            buf.last_values_shared = gm.denormalize(value, shared=True)
        for name, stream in buf.streams.items():
            value = gm.value(obs, central_last, lcf=lcf, stream=name, members=members)
            stream.last_values = gm.denormalize(value, stream=name, members=members)
    return episodes


def _tensor(array: np.ndarray | None, device: torch.device) -> Tensor | None:
    return None if array is None else torch.as_tensor(array, device=device)


@torch.no_grad()
def compute_advantages(
    gm: GroupModel, buf: GroupBuffer, config: PPOConfig, copo: CoPOController | None = None
) -> None:
    """GAE on denormalised values; advantages standardised over the active entries.

    PSA (a shared critic besides the per-agent one): GAE is computed for each critic, each
    critic's return is its own GAE return, and the actor's advantage is the mean of the two
    advantages — GAE with the mean of the two values as baseline — then standardised.

    CoPO: GAE of the neighbourhood and global streams with their critics, and the actor's
    advantage is the coordinated advantage A^C of the individual and neighbourhood ones
    (:meth:`~alloc_agents.ppo.copo.CoPOController.coordinate`), then standardised.
    """
    t_major = lambda x: x.transpose(0, 1)  # noqa: E731  (A, T, E) -> (T, A, E)
    terminated, truncated = buf.terminated, buf.truncated
    if not config.truncation_bootstrap:
        terminated, truncated = terminated | truncated, torch.zeros_like(truncated)

    def gae(
        rewards: Tensor,
        raw: Tensor,
        final: Tensor,
        last: Tensor,
        shared: bool = False,
        stream: str | None = None,
        gamma: float = config.gamma,
    ) -> tuple[Tensor, Tensor]:
        which = {"stream": stream} if stream else ({"shared": True} if shared else {})
        members = None if shared else buf.flat_members()
        values = gm.denormalize(buf.flat(raw), members=members, **which).reshape(raw.shape)
        adv, ret = compute_gae(
            t_major(rewards),
            t_major(values),
            t_major(buf.active),
            t_major(terminated),
            t_major(truncated),
            t_major(final),
            last,
            gamma,
            config.gae_lambda,
        )
        return adv.transpose(0, 1).contiguous(), ret.transpose(0, 1).contiguous()

    rewards = buf.rewards if buf.learning_rewards is None else buf.learning_rewards
    buf.advantages, buf.returns = gae(rewards, buf.values, buf.final_values, buf.last_values)
    if buf.shared:
        adv_shared, buf.returns_shared = gae(
            rewards, buf.values_shared, buf.final_values_shared, buf.last_values_shared, True
        )
        buf.advantages = 0.5 * (buf.advantages + adv_shared)
    if copo is not None:
        copo.coordinate(gm.group.index, buf, gae)
    if config.normalize_advantages:
        buf.advantages = standardize(buf.advantages, buf.active)


# ---------------------------------------------------------------------------------- update
def _masked_mean(x: Tensor, mask: Tensor, count: Tensor) -> Tensor:
    return (x * mask).sum() / count


def _value_error(error: Tensor, delta: float | None) -> Tensor:
    if delta is None:
        return 0.5 * error.pow(2)
    return F.huber_loss(error, torch.zeros_like(error), reduction="none", delta=delta)


def group_loss(
    gm: GroupModel, mb, central: Tensor | None, config: PPOConfig
) -> tuple[Tensor, dict[str, float]] | None:
    """The PPO loss of one group's minibatch (module docstring) and its statistics."""
    mask = mb.active.float()
    count = mask.sum()
    if float(count) == 0:
        return None
    dist = gm.distribution(mb.obs, mb.lcf, members=mb.members)
    logp = dist.log_prob(mb.actions)
    entropy = _masked_mean(dist.entropy(), mask, count)
    log_ratio = torch.where(mb.active, logp - mb.logp, torch.zeros_like(logp))
    ratio = log_ratio.exp()
    eps = config.clip_coef
    surrogate = torch.min(ratio * mb.advantages, ratio.clamp(1 - eps, 1 + eps) * mb.advantages)
    policy_loss = -_masked_mean(surrogate, mask, count)

    value_loss = _critic_loss(gm, mb, central, config, mask, count)
    if gm.shared_critic is not None:  # PSA: the shared critic's loss, on its own returns
        value_loss = value_loss + _critic_loss(gm, mb, central, config, mask, count, shared=True)
    for stream in gm.streams:  # CoPO: the neighbourhood and global critics
        value_loss = value_loss + _critic_loss(gm, mb, central, config, mask, count, stream=stream)

    loss = policy_loss + config.vf_coef * value_loss - config.ent_coef * entropy
    with torch.no_grad():
        approx_kl = _masked_mean((ratio - 1) - log_ratio, mask, count)
        clip_frac = _masked_mean(((ratio - 1).abs() > eps).float(), mask, count)
    stats = {
        "policy_loss": float(policy_loss.detach()),
        "value_loss": float(value_loss.detach()),
        "entropy": float(entropy.detach()),
        "approx_kl": float(approx_kl),
        "clip_frac": float(clip_frac),
    }
    return loss, stats


def _critic_loss(
    gm: GroupModel,
    mb,
    central: Tensor | None,
    config: PPOConfig,
    mask: Tensor,
    count: Tensor,
    shared: bool = False,
    stream: str | None = None,
) -> Tensor:
    """L_V of one critic: the per-member one, PSA's ``shared`` one or a CoPO ``stream``'s —
    its value normaliser updated with the minibatch's returns, then the clipped loss."""
    if stream is not None:
        returns, old = mb.stream_returns[stream], mb.stream_values[stream]
    elif shared:
        returns, old = mb.returns_shared, mb.values_shared
    else:
        returns, old = mb.returns, mb.values
    members = None if shared else mb.members
    norm, route = gm.normalizer(shared, stream, members)
    if norm is not None:
        norm.update(returns, route, mb.active)
        target = norm.normalize(returns, route)
    else:
        target = returns
    value = gm.value(mb.obs, central, shared=shared, lcf=mb.lcf, stream=stream, members=members)
    loss_t = _value_error(target - value, config.huber_delta)
    if config.value_clip is not None:
        clipped = old + (value - old).clamp(-config.value_clip, config.value_clip)
        loss_t = torch.max(loss_t, _value_error(target - clipped, config.huber_delta))
    return _masked_mean(loss_t, mask, count)


def update(
    model: MultiAgentModel,
    optimizer: torch.optim.Optimizer,
    buffers: list[GroupBuffer],
    central: Tensor | None,
    config: PPOConfig,
) -> dict[str, float]:
    """``n_epochs`` passes of minibatch PPO over the rollout; mean statistics."""
    _, n_steps, n_envs = buffers[0].shape
    n_samples = n_steps * n_envs
    n_mb = minibatch_count(buffers, config.n_minibatches, config.minibatch_size)
    central_flat = None if central is None else central.reshape(n_samples, -1)
    actor_params = list(model.actor_parameters())
    critic_params = list(model.critic_parameters())
    device = buffers[0].logp.device
    stats = UpdateStats()
    for _ in range(config.n_epochs):
        stats.epochs += 1
        epoch_kl, epoch_n = 0.0, 0
        perm = torch.randperm(n_samples, device=device)
        for index in perm.tensor_split(n_mb):
            losses, parts = [], []
            mb_central = None if central_flat is None else central_flat[index]
            for gm, buf in zip(model.groups, buffers, strict=True):
                out = group_loss(gm, buf.minibatch(index), mb_central, config)
                if out is not None:
                    losses.append(out[0])
                    parts.append(out[1])
            if not losses:
                continue
            optimizer.zero_grad(set_to_none=True)
            torch.stack(losses).sum().backward()
            a_norm = torch.nn.utils.clip_grad_norm_(actor_params, config.max_grad_norm)
            c_norm = torch.nn.utils.clip_grad_norm_(critic_params, config.max_grad_norm)
            optimizer.step()
            mean = {k: float(np.mean([p[k] for p in parts])) for k in parts[0]}
            stats.add(actor_grad_norm=float(a_norm), critic_grad_norm=float(c_norm), **mean)
            epoch_kl += mean["approx_kl"]
            epoch_n += 1
        if config.target_kl is not None and epoch_n and epoch_kl / epoch_n > config.target_kl:
            break
    return stats.means()


def explained_variance(buffers: list[GroupBuffer], model: MultiAgentModel) -> float:
    """1 − Var(R − V) / Var(R) over the active entries (denormalised values)."""
    preds, targets = [], []
    for gm, buf in zip(model.groups, buffers, strict=True):
        values = gm.denormalize(buf.flat(buf.values), members=buf.flat_members())
        preds.append(values.reshape(buf.values.shape)[buf.active])
        targets.append(buf.returns[buf.active])
    y, v = torch.cat(targets), torch.cat(preds)
    var = float(y.var()) if y.numel() > 1 else 0.0
    return math.nan if var == 0 else 1.0 - float((y - v).var()) / var


# ---------------------------------------------------------------------------------- train
def episode_columns(episodes: list[EpisodeStats]) -> dict[str, float]:
    """The log columns of finished episodes: means of the team return (``episode_return``),
    the agents' mean return, the length and every ``info/<metric>``; NaN without episodes."""
    if not episodes:
        return {"episode_return": math.nan, "agent_return": math.nan, "episode_length": math.nan}
    out = {
        "episode_return": float(np.mean([e.team_return for e in episodes])),
        "agent_return": float(np.mean([e.agent_return for e in episodes])),
        "episode_length": float(np.mean([e.length for e in episodes])),
    }
    keys = sorted({k for e in episodes for k in e.metrics})
    for key in keys:
        out[f"info/{key}"] = float(np.mean([e.metrics.get(key, np.nan) for e in episodes]))
    return out


def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def train(
    env_fn: Callable[[], Any],
    *,
    algorithm: str = "ippo",
    sharing: str = "ps",
    sharing_options: SePSConfig | DyPSConfig | RoleAsStateConfig | dict[str, Any] | None = None,
    algorithm_options: CoPOConfig | dict[str, Any] | None = None,
    total_env_steps: int,
    n_envs: int = 4,
    seed: int = 0,
    device: str = "auto",
    config: PPOConfig | str | None = None,
    log_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = True,
    progress_interval: float = PROGRESS_INTERVAL_S,
    threads: int | None = None,
) -> TrainResult:
    """Train IPPO or MAPPO with a parameter-sharing strategy on a PettingZoo ``ParallelEnv``.

    Args:
        env_fn: a zero-argument callable returning a fresh ``ParallelEnv`` (called ``n_envs``
            times; the copies are stepped in lockstep).
        algorithm: ``"ippo"`` (critic on the local observation), ``"mappo"`` (centralised
            critic on ``state()``, else on the joint observation, plus a one-hot agent id) or
            ``"copo"`` (CoPO: local critics of the own, neighbourhood and global rewards, the
            coordinated advantage and the LCF meta-update; :mod:`alloc_agents.ppo.copo`).
        sharing: ``"ps"``, ``"ps-id"``, ``"nops"``, ``"psa"``, ``"seps"``, ``"dyps"`` or
            ``"role-as-state"`` (:mod:`alloc_agents.ppo.sharing`).
        sharing_options: the strategy's options: for ``"seps"`` a
            :class:`~alloc_agents.ppo.sharing.SePSConfig`, for ``"dyps"`` a
            :class:`~alloc_agents.ppo.sharing.DyPSConfig`, for ``"role-as-state"`` a
            :class:`~alloc_agents.ppo.sharing.RoleAsStateConfig`, or a dict of its fields
            (``None``: defaults); the other strategies take none.
        algorithm_options: for ``"copo"`` a :class:`~alloc_agents.ppo.copo.CoPOConfig` or a
            dict of its fields (``None``: defaults); the other algorithms take none.
        total_env_steps: budget in parallel env steps summed over copies, rounded up to whole
            iterations of ``config.n_steps * n_envs``.
        n_envs: number of env copies.
        seed: master seed (torch, numpy, and every episode's reset seed).
        device: ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
        config: a :class:`PPOConfig`, a preset name (:data:`~alloc_agents.ppo.config.PRESETS`)
            or ``None`` for the defaults.
        log_dir: directory for ``progress.csv``, ``tb/`` and (by default) ``checkpoint.pt``.
        checkpoint: checkpoint path; default ``<log_dir>/checkpoint.pt`` when ``log_dir`` is
            given, else no checkpoint.
        resume: continue from ``checkpoint`` (same env, algorithm, sharing, config, seed and
            ``n_envs``); the continuation is exactly the run that was never interrupted.
        progress: progress on stderr (:class:`~alloc_agents.ppo.logger.Progress`): a ``tqdm``
            bar with rate and ETA when stderr is a terminal, else a plain line (env steps
            done/total, steps/s, ETA) at the start, every ``progress_interval`` seconds and at
            the end. ``False``: none (``None`` is the same as ``True``).
        progress_interval: seconds of wall time between the plain progress lines (default 30).
        threads: torch CPU threads (``torch.set_num_threads``, process-wide); ``None`` (the
            default): one thread, the fastest for these small networks on a small or busy CPU
            (:mod:`alloc_agents.threads`). Ask for more with ``threads=N``.
    """
    copo_config = _check_arguments(
        env_fn, algorithm, sharing, sharing_options, algorithm_options, total_env_steps, n_envs,
        seed, progress_interval,
    )  # fmt: skip
    config = _resolve_config(config)
    set_threads(threads)
    dev = resolve_device(device)
    log_path, ckpt_path = ckpt.run_paths(log_dir, checkpoint, resume)

    seed_everything(seed)
    runner = Runner(env_fn, n_envs, seed, centralised=algorithm == "mappo")
    strategy = make_sharing(sharing, sharing_options)
    model = MultiAgentModel(
        runner.layout, strategy, algorithm, runner.central_dim, config, copo_config
    ).to(dev)
    steps_per_iter = config.n_steps * n_envs
    n_iters = math.ceil(total_env_steps / steps_per_iter)
    buffers = [
        GroupBuffer(
            g, config.n_steps, n_envs, dev, gm.shared_critic is not None, gm.streams, gm.reads_lcf
        )
        for g, gm in zip(runner.layout.groups, model.groups, strict=True)
    ]
    central = (
        torch.zeros((config.n_steps, n_envs, runner.central_dim), device=dev)
        if algorithm == "mappo"
        else None
    )
    run = _Run(
        meta={
            "algorithm": algorithm,
            "sharing": sharing,
            "sharing_options": strategy.options(),
            "algorithm_options": {} if copo_config is None else copo_config.to_dict(),
            "config": config.to_dict(),
            "seed": seed,
            "n_envs": n_envs,
            "agents": list(runner.layout.agents),
            "central_dim": runner.central_dim,
        },
        config=config,
        model=model,
        optimizer=_make_optimizer(model, config),
        runner=runner,
        hooks=make_hooks(strategy, model, n_iters, seed, dev, n_envs),
        copo=None
        if copo_config is None
        else CoPOController(copo_config, config, model, runner, seed, dev),
        buffers=buffers,
        central=central,
        n_iters=n_iters,
        device=dev,
        log_path=log_path,
    )
    if resume:
        run.restore(ckpt.load(ckpt_path))
    else:
        runner.reset_all()

    logger = RunLogger(
        log_path,
        n_iters * steps_per_iter,
        run.counters.iteration if resume else None,
        progress,
        initial_steps=run.counters.env_steps,
        progress_interval=progress_interval,
    )
    run.hooks.start(log_path)
    try:
        while run.counters.iteration < n_iters:
            row = run.iteration()
            logger.log(row)
            it = run.counters.iteration
            if ckpt_path is not None and (it % config.checkpoint_every == 0 or it == n_iters):
                ckpt.save(ckpt_path, run.checkpoint())
    finally:
        logger.close()
    model.eval()
    return TrainResult(
        policy=PPOPolicy(model),
        history=run.history,
        model=model,
        config=config,
        algorithm=algorithm,
        sharing=sharing,
        checkpoint=ckpt_path,
        log_dir=log_path,
        extra=run.hooks.result(),
    )


@dataclass
class _Run:
    """What one training run carries from iteration to iteration (and into a checkpoint)."""

    meta: dict[str, Any]
    config: PPOConfig
    model: MultiAgentModel
    optimizer: torch.optim.Optimizer
    runner: Runner
    hooks: StrategyHooks
    copo: CoPOController | None
    #: Per space group, the rollout buffer; MAPPO's (T, E, S) centralised inputs (else None).
    buffers: list[GroupBuffer]
    central: Tensor | None
    n_iters: int
    device: torch.device
    log_path: Path | None
    counters: Counters = field(default_factory=Counters)
    history: list[dict[str, Any]] = field(default_factory=list)

    def iteration(self) -> dict[str, Any]:
        """One PPO iteration: rollout, advantages, update, the strategy's hooks; returns (and
        appends to the history) its log row."""
        config, model, optimizer = self.config, self.model, self.optimizer
        hooks, copo, counters = self.hooks, self.copo, self.counters
        buffers, central, n_iters = self.buffers, self.central, self.n_iters
        dev, log_path = self.device, self.log_path
        steps_per_iter = config.n_steps * self.meta["n_envs"]
        if config.anneal_lr:
            frac = 1.0 - counters.iteration / n_iters
            optimizer.param_groups[0]["lr"] = frac * config.lr
            optimizer.param_groups[1]["lr"] = frac * config.critic_learning_rate
        t0 = time.perf_counter()
        model.eval()
        hooks.before_rollout(model)
        team_reward = config.reward_sharing == "team"
        episodes = collect(
            self.runner, model, buffers, central, config.n_steps, dev, copo, team_reward
        )
        for gm, buf in zip(model.groups, buffers, strict=True):
            compute_advantages(gm, buf, config, copo)
        hooks.after_rollout(
            model, buffers, counters.iteration + 1, counters.env_steps + steps_per_iter
        )
        t1 = time.perf_counter()
        model.train()
        if copo is not None:
            copo.snapshot(model)  # θ_old for the LCF meta-update
        stats = update(model, optimizer, buffers, central, config)
        if copo is not None:
            t_lcf = time.perf_counter()
            stats.update(copo.meta_update(model, buffers), lcf_s=time.perf_counter() - t_lcf)
        hooks.after_update(model)
        counters.iteration += 1
        counters.env_steps += steps_per_iter
        strategy_columns = hooks.end_iteration(
            model, counters.iteration, counters.env_steps, log_path
        )
        t2 = time.perf_counter()
        counters.agent_steps += int(sum(int(b.active.sum()) for b in buffers))
        counters.episodes += len(episodes)
        counters.elapsed += t2 - t0
        row: dict[str, Any] = {
            **counters.columns(),
            "episodes_iter": len(episodes),
            **episode_columns(episodes),
            **stats,
            "explained_variance": explained_variance(buffers, model),
            "lr": optimizer.param_groups[0]["lr"],
            "fps": steps_per_iter / max(t2 - t0, 1e-9),
            "rollout_s": t1 - t0,
            "update_s": t2 - t1,
            "time_s": counters.elapsed,
            **strategy_columns,
        }
        self.history.append(row)
        return row

    def checkpoint(self) -> dict[str, Any]:
        """The checkpoint's contents (:mod:`alloc_agents.ppo.checkpoint`)."""
        hooks = self.hooks
        return {
            "meta": self.meta,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "counters": vars(self.counters).copy(),
            "rng": ckpt.rng_state(),
            "runner": self.runner.state_dict(),
            "history": self.history,
            **({hooks.checkpoint_key: hooks.state_dict()} if hooks.checkpoint_key else {}),
            **({"copo": self.copo.state_dict()} if self.copo is not None else {}),
        }

    def restore(self, data: dict[str, Any]) -> None:
        """Continue from a checkpoint of the same run (``ValueError`` if its meta differs)."""
        check_resume(data.get("meta"), self.meta)
        self.model.load_state_dict(data["model"])
        self.optimizer.load_state_dict(data["optimizer"])
        self.counters = Counters(**data["counters"])
        self.history = list(data["history"])
        self.runner.load_state_dict(data["runner"])
        ckpt.set_rng_state(data["rng"])
        if self.hooks.checkpoint_key is not None:
            self.hooks.load_state_dict(data[self.hooks.checkpoint_key])
        if self.copo is not None:
            self.copo.load_state_dict(data["copo"])


def _check_arguments(
    env_fn: Any,
    algorithm: str,
    sharing: str,
    sharing_options: Any,
    algorithm_options: Any,
    total_env_steps: Any,
    n_envs: Any,
    seed: Any,
    progress_interval: float,
) -> CoPOConfig | None:
    """``ValueError`` naming the first bad argument of :func:`train`; CoPO's options."""
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    if sharing not in SHARING:
        raise ValueError(f"sharing must be one of {sorted(SHARING)}, got {sharing!r}")
    make_sharing(sharing, sharing_options)  # validates the options before any work
    copo_config = _algorithm_options(algorithm, algorithm_options)
    _check_int("total_env_steps", total_env_steps, 1)
    _check_int("n_envs", n_envs, 1)
    _check_int("seed", seed, 0)
    if not callable(env_fn):
        raise ValueError("env_fn must be a zero-argument callable returning a ParallelEnv")
    check_progress_interval(progress_interval)
    return copo_config


def _resolve_config(config: PPOConfig | str | None) -> PPOConfig:
    """The run's :class:`PPOConfig`: the defaults, a preset's, or the one given."""
    if config is None:
        return PPOConfig()
    if isinstance(config, str):
        return get_preset(config).config
    if not isinstance(config, PPOConfig):
        raise ValueError(
            f"config must be a PPOConfig or a preset name, got {type(config).__name__}"
        )
    return config


def _make_optimizer(model: MultiAgentModel, config: PPOConfig) -> torch.optim.Adam:
    """Adam over the actors' and the critics' parameters, each with its learning rate; the
    fused kernel (one pass over each tensor instead of one per operation: ×5–6 on the CPU for
    NoPS's 31M parameters on Medical, the same update up to float rounding)."""
    return torch.optim.Adam(
        [
            {"params": list(model.actor_parameters()), "lr": config.lr},
            {"params": list(model.critic_parameters()), "lr": config.critic_learning_rate},
        ],
        eps=config.adam_eps,
        fused=True,
    )


def _algorithm_options(algorithm: str, options: Any) -> CoPOConfig | None:
    """CoPO's options (validated; ``ValueError`` naming the field), ``None`` for the other
    algorithms, which take none."""
    if algorithm == "copo":
        return CoPOConfig.from_any(options)
    if options:
        raise ValueError(f"algorithm {algorithm!r} takes no algorithm_options, got {options!r}")
    return None


def check_resume(saved: Any, current: dict[str, Any]) -> None:
    """:class:`~.checkpoint.CheckpointError` unless the checkpoint's ``meta`` is this run's."""
    if not isinstance(saved, dict):
        raise ckpt.CheckpointError("cannot resume: the checkpoint holds no training state")
    keys = ("algorithm", "sharing", "sharing_options", "algorithm_options", "config", "seed")
    for key in (*keys, "n_envs", "agents", "central_dim"):
        default = {} if key in ("sharing_options", "algorithm_options") else None
        if saved.get(key, default) != current[key]:
            raise ckpt.CheckpointError(
                f"cannot resume: {key} differs from the checkpoint's "
                f"({saved.get(key, default)!r} there, {current[key]!r} here)"
            )
