"""The value-based training loop (QMIX's and RODE's): play one episode per env copy with
ε-greedy agents, store the episodes, learn from sampled batches, run the learner's scheduled
work (target copies; RODE's role clustering), log, checkpoint.

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

import torch
from torch import nn

from alloc_agents.options import check_int
from alloc_agents.ppo import checkpoint as ckpt
from alloc_agents.ppo.logger import PROGRESS_INTERVAL_S, RunLogger, check_progress_interval
from alloc_agents.ppo.policy import GroupedPolicy
from alloc_agents.ppo.runner import Runner
from alloc_agents.ppo.trainer import (
    Counters,
    check_resume,
    episode_columns,
    resolve_device,
    seed_everything,
)
from alloc_agents.qmix.acting import play_episodes
from alloc_agents.qmix.config import QMIXConfig, get_qmix_preset
from alloc_agents.qmix.episodes import ReplayBuffer, collate
from alloc_agents.qmix.learner import QMIXLearner, TargetNetworkLearner, learner_state
from alloc_agents.qmix.model import QMIXModel
from alloc_agents.qmix.policy import QMIXPolicy
from alloc_agents.threads import set_threads


@dataclass
class ValueResult:
    """What :func:`train_qmix` and :func:`~alloc_agents.rode.train_rode` return."""

    #: The trained greedy policy.
    policy: GroupedPolicy
    #: One dict per iteration (the CSV rows).
    history: list[dict[str, Any]]
    model: nn.Module
    config: QMIXConfig
    sharing: str
    checkpoint: Path | None
    log_dir: Path | None
    #: ``"qmix"`` or ``"rode"``.
    algorithm: str


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
) -> ValueResult:
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
    config = _resolve_config(config)
    return train_value_based(
        env_fn,
        algorithm="qmix",
        sharing=sharing,
        config=config,
        build=lambda runner, dev: QMIXLearner(
            QMIXModel(runner.layout, sharing, runner.central_dim, config).to(dev), config
        ),
        make_policy=QMIXPolicy,
        total_env_steps=total_env_steps,
        n_envs=n_envs,
        seed=seed,
        device=device,
        log_dir=log_dir,
        checkpoint=checkpoint,
        resume=resume,
        progress=progress,
        progress_interval=progress_interval,
        threads=threads,
    )


def train_value_based(
    env_fn: Callable[[], Any],
    *,
    algorithm: str,
    sharing: str,
    config: QMIXConfig,
    build: Callable[[Runner, torch.device], TargetNetworkLearner],
    make_policy: Callable[[Any], GroupedPolicy],
    total_env_steps: int,
    n_envs: int,
    seed: int,
    device: str,
    log_dir: str | Path | None,
    checkpoint: str | Path | None,
    resume: bool,
    progress: bool | None,
    progress_interval: float,
    threads: int | None,
) -> ValueResult:
    """The loop of :func:`train_qmix` (its arguments), for the
    :class:`~alloc_agents.qmix.learner.TargetNetworkLearner` that ``build`` makes from the
    runner and the device; ``make_policy`` turns the trained model into the greedy policy."""
    check_int("n_envs", n_envs, 1)
    check_int("total_env_steps", total_env_steps, 1)
    progress_interval = check_progress_interval(progress_interval)
    set_threads(threads)
    dev = resolve_device(device)
    log_path, ckpt_path = ckpt.run_paths(log_dir, checkpoint, resume)

    seed_everything(seed)
    runner = Runner(env_fn, n_envs, seed, centralised=True)
    learner = build(runner, dev)
    model = learner.model
    buffer = ReplayBuffer(config.buffer_episodes)
    generator = torch.Generator().manual_seed(seed)
    meta = {
        "algorithm": algorithm,
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
        learner.load_state_dict(learner_state(data, ckpt_path))
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
                "learner": learner.state_dict(),
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
        desc=algorithm,
    )
    actor = learner.actor()
    try:
        while counters.env_steps < total_env_steps:
            t0 = time.perf_counter()
            epsilon = config.epsilon(counters.env_steps)
            model.eval()
            episodes, stats = play_episodes(
                runner,
                actor,
                epsilon,
                generator,
                config.reward_scale,
                config.truncation_bootstrap,
                dev,
            )
            for episode in episodes:
                buffer.add(episode)
            t1 = time.perf_counter()
            model.train()
            update: dict[str, float] = {}
            if len(buffer) >= config.batch_episodes:
                for _ in range(config.updates_per_iteration):
                    batch = collate(buffer.sample(config.batch_episodes, generator), dev)
                    update = learner.update(batch)
            counters.iteration += 1
            counters.env_steps += sum(ep.length for ep in episodes)
            counters.agent_steps += sum(
                int(sum(a[:-1].sum() for a in ep.acting)) for ep in episodes
            )
            counters.episodes += len(episodes)
            scheduled = learner.end_iteration(episodes, counters, buffer, generator)
            t2 = time.perf_counter()
            counters.elapsed += t2 - t0
            row: dict[str, Any] = {
                **counters.columns(),
                **episode_columns(stats),
                "epsilon": epsilon,
                "buffer_episodes": len(buffer),
                **update,
                **scheduled,
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
    return ValueResult(
        policy=make_policy(model),
        history=history,
        model=model,
        config=config,
        sharing=sharing,
        checkpoint=ckpt_path,
        log_dir=log_path,
        algorithm=algorithm,
    )


def _resolve_config(config: QMIXConfig | str | dict[str, Any] | None) -> QMIXConfig:
    if isinstance(config, str):
        return get_qmix_preset(config)
    return QMIXConfig.from_any(config)
