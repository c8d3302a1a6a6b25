"""PettingZoo view of EDRP: one agent per driver (``follower_<i>``), for small fleets."""

from __future__ import annotations

from typing import Any

from pettingzoo.utils import parallel_to_aec

from alloc_envs.edrp.config import LATEST_VERSION, EDRPConfig
from alloc_envs.edrp.game import CityLike, make_game
from alloc_envs.edrp.rules import RULES
from alloc_envs.rendering import RENDER_MODES
from alloc_envs.stackelberg.leader import resolve_leader
from alloc_envs.stackelberg.parallel_env import FollowerParallelEnv


class EDRPParallelEnv(FollowerParallelEnv):
    """EDRP with one agent per driver (spaces: :mod:`alloc_envs.stackelberg.parallel_env`).

    A driver's action: 0 stay, k = 1..D move to the k-th zone within reach of its zone
    (:class:`~alloc_envs.edrp.game.EDRPGame`; masked where the zone has fewer; busy drivers only
    have 0). Reward: its fare share when matched, minus ``move_cost`` per hop when it moves ($).

    Args:
        n_followers: number of drivers N (default 32).
        leader: the platform's fixed rule: ``"none"`` (no charge, the default),
            ``"oversupply"`` (:func:`alloc_envs.edrp.rules.oversupply_charge`), a (V,) constant
            charge or a policy ``(t, m, x) -> u``.
        preset, version, config, city, render_mode, **overrides: as for the Gymnasium view.
    """

    metadata = {
        "name": "edrp_v0",
        "render_modes": list(RENDER_MODES),
        "render_fps": 4,
        "is_parallelizable": True,
    }

    def __init__(
        self,
        preset: str | None = None,
        *,
        version: int = LATEST_VERSION,
        config: EDRPConfig | None = None,
        city: CityLike = None,
        n_followers: int = 32,
        leader: Any = "none",
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        game = make_game(preset, version=version, config=config, city=city, **overrides)
        super().__init__(game, n_followers, resolve_leader(game, leader, RULES), render_mode)
        self.metadata = {**self.metadata, "name": f"edrp_v{version}"}
        self.config = game.config


def parallel_env(**kwargs: Any) -> EDRPParallelEnv:
    """The PettingZoo parallel environment (module-level constructor, PettingZoo convention)."""
    return EDRPParallelEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC version (PettingZoo's conversion of the parallel environment)."""
    return parallel_to_aec(parallel_env(**kwargs))
