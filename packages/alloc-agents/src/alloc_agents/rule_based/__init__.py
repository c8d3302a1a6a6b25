"""Rule-based policies (no learning), behind the same interface as learned agents."""

from alloc_agents.rule_based.grid_worlds import RandomLBF, RandomRWARE
from alloc_agents.rule_based.ride_hailing import (
    BalanceDispatch,
    GreedyDispatch,
    NearestDispatch,
    RandomRideHailing,
)
from alloc_agents.rule_based.ride_hailing_planning import HindsightOracle, MPCDispatch
from alloc_agents.rule_based.vaccine import VACCINE_POLICIES

__all__ = [
    "VACCINE_POLICIES",
    "BalanceDispatch",
    "GreedyDispatch",
    "HindsightOracle",
    "MPCDispatch",
    "NearestDispatch",
    "RandomLBF",
    "RandomRWARE",
    "RandomRideHailing",
]
