"""The evaluation protocol of the TIRL paper (§5.1): fix the trained leader, re-train the
followers from scratch with one follower solver common to all methods, and report the leader's
metric (ORR in EDRP, CR in MTFG) averaged over the last 10 episodes, over several seeds.

The common solver is :class:`~alloc_agents.stackelberg.followers.FollowerPPO` (model-free PPO on
N-agent episodes) with the given :class:`FollowerPPOConfig`: ``follower_config.iterations``
episodes per seed, the leader acting on the followers' empirical distribution.

:func:`exact_leader_score` is the noise-free reference: the same leader against the followers'
exact regularised mean-field equilibrium.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from alloc_agents.stackelberg.config import FollowerPPOConfig
from alloc_agents.stackelberg.followers import FollowerPPO
from alloc_agents.threads import set_threads
from alloc_envs.core.validation import check_int
from alloc_envs.stackelberg.matching import MatchingGame
from alloc_envs.stackelberg.solver import solve_equilibrium

#: The leader's metric of each scenario, by the key of the game's episode metrics.
METRICS = ("orr", "cr")


@dataclass(frozen=True)
class LeaderEvaluation:
    """The result of :func:`evaluate_leader`.

    Attributes:
        metric: the metric's key (``"orr"`` or ``"cr"``).
        per_seed: (n_seeds,) the metric averaged over each seed's last ``last`` episodes.
        mean, std: over the seeds (``std`` with ddof 0, numpy's default).
        leader_return: (n_seeds,) the leader's return averaged over the same episodes.
        histories: each seed's follower training rows (:meth:`FollowerPPO.train`).
    """

    metric: str
    per_seed: np.ndarray
    mean: float
    std: float
    leader_return: np.ndarray
    histories: tuple[list[dict[str, Any]], ...]


def evaluate_leader(
    game_factory: Callable[[], MatchingGame],
    leader: Any,
    follower_config: FollowerPPOConfig,
    seeds: Sequence[int],
    *,
    metric: str | None = None,
    last: int = 10,
    device: str | torch.device = "auto",
    threads: int | None = None,
) -> LeaderEvaluation:
    """Evaluate a fixed ``leader`` by re-training fresh followers for every seed (module doc).

    Args:
        game_factory: makes the scenario's model (called once per seed, so that evaluations can
            run where the game is built, e.g. in worker processes).
        leader: the fixed leader: a trainer's ``leader_policy()`` (a deterministic snapshot),
            a (U,) incentive, a (T, U) schedule or any callable ``(t, m_t, x_t) -> u_t``.
        follower_config: the common follower solver's settings; ``iterations`` episodes per
            seed (at least ``last``).
        seeds: the followers' seeds (network initialisation, rollouts, minibatch order).
        metric: the episode metric to report (default: ``"orr"`` or ``"cr"``, whichever the
            game reports).
        last: average over this many final episodes (the paper: 10).
        device: the followers' device.
        threads: torch CPU threads (``None``: one; :mod:`alloc_agents.threads`).
    """
    check_int("last", last, 1, 10**7)
    set_threads(threads)
    if follower_config.iterations < last:
        raise ValueError(
            f"follower_config.iterations ({follower_config.iterations}) must be at least "
            f"last ({last})"
        )
    if not seeds:
        raise ValueError("seeds must name at least one seed")
    per_seed, returns, histories = [], [], []
    for seed in seeds:
        game = game_factory()
        learner = FollowerPPO(game, follower_config, seed=seed, device=device)
        history = learner.train(leader)
        key = metric if metric is not None else _default_metric(history[-1])
        if key not in history[-1]:
            raise ValueError(f"metric {key!r} is not among the episode's {sorted(history[-1])}")
        tail = history[-last:]
        per_seed.append(np.mean([row[key] for row in tail]))
        returns.append(np.mean([row["leader_return"] for row in tail]))
        histories.append(history)
        metric = key
    values = np.asarray(per_seed, dtype=np.float64)
    return LeaderEvaluation(
        metric=str(metric),
        per_seed=values,
        mean=float(values.mean()),
        std=float(values.std()),
        leader_return=np.asarray(returns, dtype=np.float64),
        histories=tuple(histories),
    )


def exact_leader_score(
    game: MatchingGame, leader: Any, metric: str, *, tolerance: float = 1e-3
) -> tuple[float, float]:
    """``(metric, leader return)`` of ``leader`` (anything :func:`evaluate_leader` accepts)
    against the followers' regularised mean-field equilibrium at the game's
    ``follower_temperature`` (:func:`~alloc_envs.stackelberg.solver.solve_equilibrium`, stopped
    at exploitability ``tolerance``): the §5.1 score without the learned followers' noise."""
    temperature = game.config.follower_temperature
    flow = solve_equilibrium(game, leader, temperature=temperature, tolerance=tolerance).flow
    if metric not in flow.metrics:
        raise ValueError(f"metric {metric!r} is not among the game's {sorted(flow.metrics)}")
    return float(flow.metrics[metric]), flow.leader_return


def _default_metric(row: dict[str, Any]) -> str:
    """The first of :data:`METRICS` in an episode row; ``ValueError`` if none is."""
    for key in METRICS:
        if key in row:
            return key
    raise ValueError(f"the game reports none of {METRICS}; pass metric=")
