"""alloc-agents: policies for alloc environments (rule-based now; the PyTorch zoo builds on it).

``make_policy(name, seed=...)`` builds a policy by its benchmark name.
"""

from __future__ import annotations

from alloc_agents.policy import Policy
from alloc_agents.rule_based import GreedyDispatch, NearestDispatch, RandomRideHailing

__version__ = "0.1.0"

#: Policies by benchmark name.
POLICIES: dict[str, type[Policy]] = {
    cls.name: cls for cls in (GreedyDispatch, NearestDispatch, RandomRideHailing)
}


def make_policy(name: str, seed: int | None = None) -> Policy:
    """The policy called ``name`` (see :data:`POLICIES`), seeded with ``seed``."""
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; known policies: {sorted(POLICIES)}")
    return POLICIES[name](seed=seed)


__all__ = ["POLICIES", "Policy", "__version__", "make_policy"]
