"""alloc-agents: policies for alloc environments (rule-based now; the PyTorch zoo builds on it).

``make_policy(name, seed=..., family=...)`` builds a rule-based policy by its benchmark name;
names are looked up within a scenario family (``"ride-hailing"``, ...), since a rule such as
``random`` means something different in each.
"""

from __future__ import annotations

from alloc_agents.policy import Policy
from alloc_agents.rule_based import GreedyDispatch, NearestDispatch, RandomRideHailing

__version__ = "0.1.0"

#: Rule-based policies by scenario family, then by benchmark name.
POLICIES: dict[str, dict[str, type[Policy]]] = {
    "ride-hailing": {cls.name: cls for cls in (GreedyDispatch, NearestDispatch, RandomRideHailing)},
}


def make_policy(name: str, seed: int | None = None, family: str = "ride-hailing") -> Policy:
    """The rule-based policy ``name`` of scenario ``family`` (see :data:`POLICIES`), seeded."""
    if family not in POLICIES:
        raise ValueError(f"unknown scenario family {family!r}; known families: {sorted(POLICIES)}")
    if name not in POLICIES[family]:
        raise ValueError(
            f"unknown policy {name!r} for {family}; known policies: {sorted(POLICIES[family])}"
        )
    return POLICIES[family][name](seed=seed)


__all__ = ["POLICIES", "Policy", "__version__", "make_policy"]
