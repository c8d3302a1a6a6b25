"""Leader policies as seen by the followers: a map (t, m_t, x_t) -> u_t.

Followers respond to the *leader's policy* (Stackelberg). The solver and the responders accept

* an (U,) array: a constant incentive;
* a (T', U) array: an open-loop schedule for steps ``start .. start + T' - 1``;
* the name of one of a scenario's rules (``rules`` of :func:`resolve_leader`, e.g. ``"none"``);
* any callable ``leader(t, distribution, exogenous) -> (U,) incentive`` (a deterministic,
  closed-loop Markov policy such as :func:`alloc_envs.edrp.rules.oversupply_charge`).

:func:`as_leader_policy` turns the first two into callables; every incentive produced is checked
against the game's box (``ValueError`` outside it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from alloc_envs.stackelberg.game import MeanFieldGame, check_incentive

#: A deterministic leader policy: (t, (S,) m_t, (X,) x_t) -> (U,) u_t.
LeaderPolicy = Callable[[int, np.ndarray, np.ndarray], np.ndarray]
#: What the solver and responders accept as the leader (see the module docstring).
Leader = np.ndarray | LeaderPolicy


@dataclass(frozen=True)
class IncentiveSchedule:
    """Open-loop leader: ``incentives[t - start]`` at step t, whatever the population does."""

    incentives: np.ndarray
    start: int = 0

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        return self.incentives[t - self.start]


def no_incentive(game: MeanFieldGame) -> np.ndarray:
    """(U,) the incentive closest to zero inside the game's box (zero when it is allowed)."""
    return np.clip(0.0, game.incentive_low, game.incentive_high)


def as_leader_policy(game: MeanFieldGame, leader: Any, start: int = 0) -> LeaderPolicy:
    """A callable leader from a constant (U,) incentive, a (T - start, U) schedule or a callable
    (returned as is; its outputs are checked where used). ``ValueError`` for anything else."""
    if callable(leader):
        return leader
    arr = np.asarray(leader, dtype=np.float64)
    steps, size = game.horizon - start, game.incentive_low.shape[0]
    if arr.shape == (size,):
        arr = np.broadcast_to(arr, (steps, size))
    if arr.shape != (steps, size):
        raise ValueError(
            f"leader must be a callable, a ({size},) incentive or a ({steps}, {size}) schedule "
            f"for steps {start}..{game.horizon - 1}, got shape {arr.shape}"
        )
    for i, row in enumerate(arr):
        check_incentive(game, row, f"leader schedule row {i}")
    return IncentiveSchedule(arr, start)


def resolve_leader(
    game: MeanFieldGame, leader: Any, rules: dict[str, Callable[[Any], Any]]
) -> LeaderPolicy:
    """A leader policy from a rule name (``rules[name](game)``; ``"none"`` is always
    :func:`no_incentive`), a constant or schedule array, or a callable."""
    if isinstance(leader, str):
        named = {"none": no_incentive, **rules}
        if leader not in named:
            raise ValueError(f"leader must be one of {sorted(named)} or an array, got {leader!r}")
        leader = named[leader](game)
    return as_leader_policy(game, leader)
