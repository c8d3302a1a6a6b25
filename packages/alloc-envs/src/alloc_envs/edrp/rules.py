"""Hand-made leader rules for EDRP (the "simple incentive rule" of the benchmark; ours)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from alloc_envs.edrp.game import EDRPGame


@dataclass(frozen=True)
class OversupplyCharge:
    """Charge zones that have more idle drivers than orders (the paper's §3.2: "placing service
    charge in the nodes which are oversupplied"): ``u_t(y) = level * (1 - min(1, rho_t(y) /
    idle_t(y)))``, the share of the zone's idle drivers its orders cannot absorb, times
    ``level`` (0 where there is no idle driver). A closed-loop policy ``(t, m, x) -> u``."""

    n_zones: int
    level: float

    def __call__(self, t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        idle = distribution[: self.n_zones]
        with np.errstate(divide="ignore", invalid="ignore"):
            absorbed = np.where(idle > 0, np.minimum(1.0, exogenous / idle), 1.0)
        return self.level * (1.0 - absorbed)


def oversupply_charge(game: EDRPGame) -> OversupplyCharge:
    """:class:`OversupplyCharge` at the top of the game's charge range."""
    return OversupplyCharge(game.n_zones, float(game.incentive_high.max()))


#: Named rules (the parallel view's ``leader=`` option and the benchmark).
RULES = {"oversupply": oversupply_charge}
