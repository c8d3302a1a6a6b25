"""``train_rode``: RODE through the value-based training loop
(:func:`alloc_agents.qmix.trainer.train_value_based`, the same iterations, replay buffer,
checkpoints, logs and progress as QMIX), with :class:`~alloc_agents.rode.learner.RODELearner`.
Each iteration's row also logs the forward model's losses (until the roles are formed) and the
role statistics (:func:`~alloc_agents.rode.learner.role_statistics`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alloc_agents.ppo.logger import PROGRESS_INTERVAL_S
from alloc_agents.qmix.trainer import ValueResult, train_value_based
from alloc_agents.rode.config import RODEConfig, get_rode_preset
from alloc_agents.rode.learner import RODELearner
from alloc_agents.rode.model import RODEModel
from alloc_agents.rode.policy import RODEPolicy


def train_rode(
    env_fn: Callable[[], Any],
    *,
    sharing: str = "ps-id",
    total_env_steps: int,
    n_envs: int = 1,
    seed: int = 0,
    device: str = "auto",
    config: RODEConfig | str | dict[str, Any] | None = None,
    log_dir: str | Path | None = None,
    checkpoint: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = True,
    progress_interval: float = PROGRESS_INTERVAL_S,
    threads: int | None = None,
) -> ValueResult:
    """Train RODE on a PettingZoo ``ParallelEnv`` whose agents act in ``Discrete`` spaces
    (masked by an ``action_mask`` observation when there is one) or pick Ride-Hailing orders.

    Arguments as :func:`alloc_agents.qmix.train_qmix`, except: ``sharing`` is ``"ps-id"``
    (default) or ``"ps"``; ``config`` is a :class:`RODEConfig`, a dict of its fields, a preset
    name (:data:`~alloc_agents.rode.config.RODE_PRESETS`) or ``None`` for the defaults.
    """
    config = get_rode_preset(config) if isinstance(config, str) else RODEConfig.from_any(config)
    return train_value_based(
        env_fn,
        algorithm="rode",
        sharing=sharing,
        config=config,
        build=lambda runner, dev: RODELearner(
            RODEModel(runner.layout, sharing, runner.central_dim, config).to(dev), config
        ),
        make_policy=lambda model: RODEPolicy(model, config.role_interval),
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
