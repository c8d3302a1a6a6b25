"""Hand-made leader rules for MTFG (the "simple incentive rule" of the benchmark; ours)."""

from __future__ import annotations

import numpy as np

from alloc_envs.mtfg.game import MTFGGame


def value_gap_bonus(game: MTFGGame) -> np.ndarray:
    """A constant bonus of half the gap between the leader's and the followers' value of each
    type, ``clip((v_k - w_k) / 2, 0, bonus_high)``: the leader shares half of what she gains
    over the followers on the types they undervalue."""
    gap = 0.5 * (game.leader_values - game.follower_values)
    return np.clip(gap, game.incentive_low, game.incentive_high)


#: Named rules (the parallel view's ``leader=`` option and the benchmark).
RULES = {"value-gap": value_gap_bonus}
