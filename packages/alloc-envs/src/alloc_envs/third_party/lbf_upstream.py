"""``lbforaging`` 2.0.0's ``ForagingEnv`` with the two fixes that need its internals.

1. **Reproducible resets.** Upstream places the players of a new episode one by one and rejects
   cells occupied by a player — including players that still stand where the *previous* episode
   left them. The draws consumed therefore depend on the history of the instance, and
   ``reset(seed=s)`` twice on one instance gives two layouts. :meth:`spawn_players` forgets the
   old positions first, so a reset depends on the generator only (and matches what a fresh
   upstream instance does with the same generator state).
2. **Persistent levels.** Upstream permutes the per-player level ranges at every reset, so agent
   *i*'s level changes between episodes. Here agent *i* has level ``agent_levels[i]`` in every
   episode (the random draws upstream makes are still made, and discarded, so the layout of an
   episode is the one upstream would draw).

Everything else (movement, collisions, loading, rewards, observations) is upstream's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from alloc_envs.third_party.upstream import import_upstream

_environment = import_upstream("lbforaging.foraging.environment", "lbforaging", "alloc/LBF-v0")
ForagingEnv = _environment.ForagingEnv
Action = _environment.Action


class SeededForagingEnv(ForagingEnv):
    """``ForagingEnv`` with history-free spawning and fixed per-agent levels.

    Args:
        agent_levels: level of each agent (N ints), the same in every episode.
        **kwargs: the other ``ForagingEnv`` arguments (``min_food_level``, ``max_food_level``,
            ``field_size``, ``max_num_food``, ``sight``, ``max_episode_steps``, ``force_coop``,
            ``normalize_reward``, ``penalty``).
    """

    def __init__(self, agent_levels: Sequence[int], **kwargs: Any) -> None:
        levels = np.asarray(agent_levels, dtype=np.int64)
        super().__init__(
            players=len(levels), min_player_level=levels, max_player_level=levels, **kwargs
        )
        self.agent_levels = levels

    def spawn_players(self, min_player_levels: Any, max_player_levels: Any) -> None:
        """Place the players as upstream does, ignoring where the last episode left them, then
        give every player its own fixed level."""
        for player in self.players:
            player.position = None
        super().spawn_players(min_player_levels, max_player_levels)
        for player, level in zip(self.players, self.agent_levels, strict=True):
            player.level = int(level)
