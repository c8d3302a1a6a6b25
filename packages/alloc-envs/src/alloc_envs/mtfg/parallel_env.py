"""PettingZoo view of MTFG: one agent per follower (``follower_<i>``), for small N."""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from alloc_envs.mtfg.config import MTFGConfig
from alloc_envs.mtfg.game import make_game
from alloc_envs.mtfg.rules import RULES
from alloc_envs.rendering import RENDER_MODES
from alloc_envs.stackelberg.leader import resolve_leader
from alloc_envs.stackelberg.parallel_env import FollowerParallelEnv


class MTFGParallelEnv(FollowerParallelEnv):
    """MTFG with one agent per follower (spaces: :mod:`alloc_envs.stackelberg.parallel_env`).

    A follower's action: 0 stay, 1 up, 2 down, 3 left, 4 right (moves off the grid masked).
    Reward: its value plus the bonus of a collected unit, minus ``move_cost`` when it moves.

    Args:
        n_followers: number of followers N (default 32).
        leader: the leader's fixed rule: ``"none"`` (no bonus, the default), ``"value-gap"``
            (:func:`alloc_envs.mtfg.rules.value_gap_bonus`), a (K,) constant bonus or a policy
            ``(t, m, x) -> u``.
        preset, config, render_mode, **overrides: as for the Gymnasium view.
    """

    metadata = {
        "name": "mtfg_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: MTFGConfig | None = None,
        n_followers: int = 32,
        leader: Any = "none",
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        game = make_game(preset, config=config, **overrides)
        super().__init__(game, n_followers, resolve_leader(game, leader, RULES), render_mode)
        self.config = game.config


def parallel_env(**kwargs: Any) -> MTFGParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return MTFGParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
