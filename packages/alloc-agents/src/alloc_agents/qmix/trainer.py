"""The QMIX training loop: play one episode per env copy with ε-greedy agents, store the
episodes, learn from sampled batches, copy the target networks on schedule, log, checkpoint.

One *iteration* plays one whole episode in every env copy (stepped in lockstep; a copy whose
episode is over waits for the others), so a checkpoint, written between iterations, never cuts
an episode. The team reward of a step is the sum of the acting agents' rewards, times
``reward_scale``. ε is the schedule's value at the iteration's first env step
(:meth:`~alloc_agents.qmix.config.QMIXConfig.epsilon`); every agent explores on its own draw.
Exploration and the replay buffer's sampling draw from one torch generator seeded from the
master seed, saved in the checkpoint with everything else, so a resumed run is the run that was
never interrupted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.logger import PROGRESS_INTERVAL_S, RunLogger, check_progress_interval
from alloc_agents.ppo.runner import EpisodeStats, Runner
from alloc_agents.ppo.trainer import (
    Counters,
    check_resume,
    episode_columns,
    resolve_device,
    seed_everything,
)
from alloc_agents.qmix.config import QMIXConfig, get_qmix_preset
from alloc_agents.qmix.episodes import Episode, EpisodeRecorder, ReplayBuffer, collate
from alloc_agents.qmix.learner import QMIXLearner
from alloc_agents.qmix.model import QMIXModel
from alloc_agents.qmix.policy import QMIXPolicy
from alloc_agents.threads import set_threads


@dataclass
class QMIXResult:
    """What :func:`train_qmix` returns."""

    #: The trained greedy policy.
    policy: QMIXPolicy
    #: One dict per iteration (the CSV rows).
    history: list[dict[str, Any]]
    model: QMIXModel
    config: QMIXConfig
    sharing: str
    checkpoint: Path | None
    log_dir: Path | None
    algorithm: str = "qmix"


@torch.no_grad()
def play_episodes(
    runner: Runner,
    model: QMIXModel,
    epsilon: float,
    generator: torch.Generator,
    config: QMIXConfig,
    device: torch.device,
) -> tuple[list[Episode], list[EpisodeStats]]:
    """One episode in every copy of ``runner`` (each starting from its current, fresh episode)
    with ε-greedy agents; the recorded episodes and their statistics."""
    n_envs = runner.n_envs
    groups = runner.layout.groups
    recorders = [EpisodeRecorder() for _ in range(n_envs)]
    running = np.ones(n_envs, dtype=bool)
    hidden = model.initial_hidden(n_envs, device)
    episodes: list[Episode | None] = [None] * n_envs
    stats: list[EpisodeStats] = []
    while running.any():
        obs = runner.group_obs()
        acting = runner.acting() & running[None, :]
        state = runner.central()
        group_actions, env_actions = [], []
        for g in range(len(groups)):
            tensors = {k: torch.as_tensor(v, device=device) for k, v in obs[g].items()}
            values, hidden[g] = model.step(g, tensors, hidden[g])
            greedy, random = values.greedy(), values.random(generator)
            explore = torch.rand(greedy.shape[:2], generator=generator) < epsilon
            explore = explore.to(device).reshape(*explore.shape, *(1,) * (greedy.dim() - 2))
            chosen = torch.where(explore, random, greedy)
            group_actions.append(chosen.cpu().numpy())
            env_actions.append(model.agents[g].env_action(chosen))
        before = runner.episode_index.copy()
        outcome = runner.step(env_actions, acting, copies=running)
        for e in np.flatnonzero(running):
            group_acting = [acting[list(group.agents), e] for group in groups]
            recorders[e].add(
                [{k: v[:, e] for k, v in obs[g].items()} for g in range(len(groups))],
                group_acting,
                [a[:, e] for a in group_actions],
                state[e],
                float(outcome.rewards[acting[:, e], e].sum()) * config.reward_scale,
            )
            if runner.episode_index[e] == before[e]:
                continue
            episodes[e] = _finish(recorders[e], runner, model, outcome, e, config)
            running[e] = False
        stats.extend(outcome.episodes)
    return [ep for ep in episodes if ep is not None], stats


def _finish(
    recorder: EpisodeRecorder,
    runner: Runner,
    model: QMIXModel,
    outcome: Any,
    e: int,
    config: QMIXConfig,
) -> Episode:
    """Copy ``e``'s finished episode, with its final observation when it is bootstrapped."""
    groups = runner.layout.groups
    truncated = outcome.truncated[:, e]
    bootstrap = config.truncation_bootstrap and bool(truncated.any())
    if bootstrap:
        final = runner.group_obs([outcome.final_obs[e]])
        final_obs = [{k: v[:, 0] for k, v in final[g].items()} for g in range(len(groups))]
        final_state = outcome.final_central[e]
    else:
        final_obs = [
            {k: np.zeros_like(v) for k, v in recorder.obs[0][g].items()} for g in range(len(groups))
        ]
        final_state = np.zeros_like(recorder.state[0])
    final_acting = [truncated[list(group.agents)] & bootstrap for group in groups]
    episode = recorder.finish(final_obs, final_acting, final_state, bootstrap)
    episode.obs = [net.compact(obs) for net, obs in zip(model.agents, episode.obs, strict=True)]
    return episode


def train_qmix(
    env_fn: Callable[[], Any],
    *,
    sharing: str = "ps-id",
    total_env_steps: int,
    n_envs: int = 1,
    seed: int = 0,
    device: str = "auto",
    config: QMIXConfig | str | dict[str, Any] | None = None,
    log_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = True,
    progress_interval: float = PROGRESS_INTERVAL_S,
    threads: int | None = None,
) -> QMIXResult:
    """Train QMIX on a PettingZoo ``ParallelEnv`` whose agents act in ``Discrete`` spaces (masked
    by an ``action_mask`` observation when there is one) or pick Ride-Hailing orders.

    Args:
        env_fn: a zero-argument callable returning a fresh ``ParallelEnv`` (called ``n_envs``
            times).
        sharing: ``"ps-id"`` (default, QMIX's usual agent), ``"ps"`` or ``"nops"``
            (:mod:`alloc_agents.qmix.model`).
        total_env_steps: budget in env steps summed over copies; training stops after the
            first iteration that reaches it (iterations are whole episodes).
        n_envs: env copies (one episode each per iteration).
        seed: master seed (torch, exploration, sampling and every episode's reset seed).
        device: ``"auto"`` (CUDA if available), ``"cpu"`` or ``"cuda"``.
        config: a :class:`QMIXConfig`, a dict of its fields, a preset name
            (:data:`~alloc_agents.qmix.config.QMIX_PRESETS`) or ``None`` for the defaults.
        log_dir: directory for ``progress.csv``, ``tb/`` and (by default) ``checkpoint.pt``.
        checkpoint: checkpoint path; default ``<log_dir>/checkpoint.pt`` when ``log_dir`` is
            given, else no checkpoint.
        resume: continue from ``checkpoint`` (same env, sharing, config, seed and ``n_envs``);
            the continuation is exactly the run that was never interrupted.
        progress: progress on stderr (as :func:`alloc_agents.ppo.train`); ``False``: none.
        progress_interval: seconds between the plain progress lines.
        threads: torch CPU threads (``None``: one).
    """
    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise ValueError(f"n_envs must be an integer >= 1, got {n_envs!r}")
    if isinstance(total_env_steps, bool) or not isinstance(total_env_steps, int):
        raise ValueError(f"total_env_steps must be an integer, got {total_env_steps!r}")
    if total_env_steps < 1:
        raise ValueError(f"total_env_steps must be at least 1, got {total_env_steps}")
    progress_interval = check_progress_interval(progress_interval)
    config = _resolve_config(config)
    set_threads(threads)
    dev = resolve_device(device)
    log_path, ckpt_path = ckpt.run_paths(log_dir, checkpoint, resume)

    seed_everything(seed)
    runner = Runner(env_fn, n_envs, seed, centralised=True)
    model = QMIXModel(runner.layout, sharing, runner.central_dim, config).to(dev)
    learner = QMIXLearner(model, config)
    buffer = ReplayBuffer(config.buffer_episodes)
    generator = torch.Generator().manual_seed(seed)
    meta = {
        "algorithm": "qmix",
        "sharing": sharing,
        "sharing_options": {},
        "algorithm_options": {},
        "config": config.to_dict(),
        "seed": seed,
        "n_envs": n_envs,
        "agents": list(runner.layout.agents),
        "central_dim": runner.central_dim,
    }
    counters = Counters()
    history: list[dict[str, Any]] = []
    if resume:
        data = ckpt.load(ckpt_path)
        check_resume(data.get("meta"), meta)
        model.load_state_dict(data["model"])
        learner.target.load_state_dict(data["target"])
        learner.optimizer.load_state_dict(data["optimizer"])
        buffer.load_state_dict(data["buffer"])
        generator.set_state(data["generator"])
        counters = Counters(**data["counters"])
        history = list(data["history"])
        runner.load_state_dict(data["runner"])
        ckpt.set_rng_state(data["rng"])
    else:
        runner.reset_all()

    def save_checkpoint() -> None:
        if ckpt_path is None:
            return
        ckpt.save(
            ckpt_path,
            {
                "meta": meta,
                "model": model.state_dict(),
                "target": learner.target.state_dict(),
                "optimizer": learner.optimizer.state_dict(),
                "generator": generator.get_state(),
                "counters": vars(counters).copy(),
                "rng": ckpt.rng_state(),
                "runner": runner.state_dict(),
                "history": history,
                "buffer": buffer.state_dict(),
            },
        )

    logger = RunLogger(
        log_path,
        total_env_steps,
        counters.iteration if resume else None,
        progress,
        initial_steps=counters.env_steps,
        progress_interval=progress_interval,
        desc="qmix",
    )
    try:
        while counters.env_steps < total_env_steps:
            t0 = time.perf_counter()
            epsilon = config.epsilon(counters.env_steps)
            model.eval()
            episodes, stats = play_episodes(runner, model, epsilon, generator, config, dev)
            for episode in episodes:
                buffer.add(episode)
            t1 = time.perf_counter()
            model.train()
            update: dict[str, float] = {}
            if len(buffer) >= config.batch_episodes:
                for _ in range(config.updates_per_iteration):
                    batch = collate(buffer.sample(config.batch_episodes, generator), dev)
                    update = learner.update(batch)
            syncs_before = counters.episodes // config.target_update_episodes
            counters.iteration += 1
            counters.env_steps += sum(ep.length for ep in episodes)
            counters.agent_steps += sum(
                int(sum(a[:-1].sum() for a in ep.acting)) for ep in episodes
            )
            counters.episodes += len(episodes)
            if counters.episodes // config.target_update_episodes > syncs_before:
                learner.sync_target()
            t2 = time.perf_counter()
            counters.elapsed += t2 - t0
            row: dict[str, Any] = {
                "iteration": counters.iteration,
                "env_steps": counters.env_steps,
                "agent_steps": counters.agent_steps,
                "episodes": counters.episodes,
                **episode_columns(stats),
                "epsilon": epsilon,
                "buffer_episodes": len(buffer),
                **update,
                "rollout_s": t1 - t0,
                "update_s": t2 - t1,
                "time_s": counters.elapsed,
            }
            history.append(row)
            logger.log(row)
            done = counters.env_steps >= total_env_steps
            if done or counters.iteration % config.checkpoint_every == 0:
                save_checkpoint()
    finally:
        logger.close()
    model.eval()
    return QMIXResult(
        policy=QMIXPolicy(model),
        history=history,
        model=model,
        config=config,
        sharing=sharing,
        checkpoint=ckpt_path,
        log_dir=log_path,
    )


def _resolve_config(config: QMIXConfig | str | dict[str, Any] | None) -> QMIXConfig:
    if isinstance(config, str):
        return get_qmix_preset(config)
    return QMIXConfig.from_any(config)
