"""Gymnasium view of EDRP: the platform (leader) sets a service charge per zone."""

from __future__ import annotations

from typing import Any

from alloc_envs.edrp.config import LATEST_VERSION, EDRPConfig
from alloc_envs.edrp.game import CityLike, make_game
from alloc_envs.stackelberg.config import default_responder
from alloc_envs.stackelberg.leader_env import LeaderEnv
from alloc_envs.stackelberg.responder import FollowerResponder


class EDRPLeaderEnv(LeaderEnv):
    """EDRP from the platform's side (protocol: :mod:`alloc_envs.stackelberg.leader_env`).

    Observation: ``time`` (1,), ``distribution`` (S,) = drivers per (busy level, zone) with
    S = V * B, ``exogenous`` (V,) = orders per driver expected in each zone this slot. Action:
    (V,) service charge per zone in ``[charge_low, charge_high]`` (v1: [0, 0.75] of the fare).
    Reward: served orders / the episode's expected orders (the return is the ORR). ``info``:
    ``orr``, ``charges`` ($ per driver; episode to date), ``step_served``, ``step_orders``
    (orders per driver), ``step_charges``, ``time``, ``follower_reward`` ($ per driver),
    ``follower_exploitability``.

    Args:
        preset: ``"edrp"`` (63 zones, 36 slots of 20 minutes; the default) or ``"edrp-small"``.
        version: the version of the dynamics whose presets apply (``alloc/EDRP-v<version>``
            sets it; default the latest, :data:`~alloc_envs.edrp.config.LATEST_VERSION`).
        config: a full :class:`EDRPConfig` instead of a preset (not both).
        city: an :class:`~alloc_envs.edrp.city.EDRPCity` (e.g. from NYC TLC records,
            :func:`alloc_envs.edrp.tlc.load_tlc_city`) or the path of a saved one.
        responder: how drivers respond (default: the exact solver with the config's settings).
        n_followers: ``None`` (mean field, the default) or N sampled drivers.
        render_mode: ``None``, ``"ansi"`` (text) or ``"rgb_array"`` (a picture; needs
            ``alloc-envs[render]``).
        **overrides: any :class:`EDRPConfig` field.
    """

    def __init__(
        self,
        preset: str | None = None,
        *,
        version: int = LATEST_VERSION,
        config: EDRPConfig | None = None,
        city: CityLike = None,
        responder: FollowerResponder | None = None,
        n_followers: int | None = None,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        game = make_game(preset, version=version, config=config, city=city, **overrides)
        responder = default_responder(game.config) if responder is None else responder
        super().__init__(game, responder, n_followers, render_mode)
        self.config = game.config
