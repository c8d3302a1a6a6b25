"""Gymnasium view of MTFG: the leader pays a bonus per unit of each food type."""

from __future__ import annotations

from typing import Any

from alloc_envs.mtfg.config import MTFGConfig
from alloc_envs.mtfg.game import make_game
from alloc_envs.stackelberg.config import default_responder
from alloc_envs.stackelberg.leader_env import LeaderEnv
from alloc_envs.stackelberg.responder import FollowerResponder


class MTFGLeaderEnv(LeaderEnv):
    """MTFG from the leader's side (protocol: :mod:`alloc_envs.stackelberg.leader_env`).

    Observation: ``time`` (1,), ``distribution`` (W * W,) followers per cell, ``exogenous`` (Y,)
    food stock of every food cell (units per follower). Action: (K,) bonus per unit of each type
    in ``[0, bonus_high]``. Reward: value of the food collected minus bonuses paid. ``info``:
    ``cr``, ``cr_per_type`` (K,), ``bonus_paid`` (episode to date), ``step_collected`` and
    ``step_supplied`` (K,) and ``step_bonus_paid``, ``time``, ``follower_reward``,
    ``follower_exploitability``.

    Args:
        preset: ``"mtfg"`` (10 x 10, two types, 24 steps; the default) or ``"mtfg-small"``.
        config: a full :class:`MTFGConfig` instead of a preset (not both).
        responder: how followers respond (default: the exact solver with the config's settings).
        n_followers: ``None`` (mean field, the default) or N sampled followers.
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
        **overrides: any :class:`MTFGConfig` field.
    """

    def __init__(
        self,
        preset: str | None = None,
        *,
        config: MTFGConfig | None = None,
        responder: FollowerResponder | None = None,
        n_followers: int | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        game = make_game(preset, config=config, **overrides)
        responder = default_responder(game.config) if responder is None else responder
        super().__init__(game, responder, n_followers, render_mode)
        self.config = game.config
