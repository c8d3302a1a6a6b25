"""Rule-based policies (no learning), behind the same interface as learned agents."""

from alloc_agents.rule_based.ride_hailing import (
    GreedyDispatch,
    NearestDispatch,
    RandomRideHailing,
)

__all__ = ["GreedyDispatch", "NearestDispatch", "RandomRideHailing"]
