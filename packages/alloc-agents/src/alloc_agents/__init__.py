"""alloc-agents: policies for alloc environments: rule-based ones and a PyTorch PPO core.

``make_policy(name, seed=..., family=...)`` builds a rule-based policy by its benchmark name;
names are looked up within a scenario family (``"ride-hailing"``, ...), since a rule such as
``random`` means something different in each. ``train(env_fn, algorithm=...)`` trains IPPO / MAPPO /
CoPO with a parameter-sharing strategy (:mod:`alloc_agents.ppo`) or QMIX (:mod:`alloc_agents.qmix`)
on any PettingZoo ``ParallelEnv``.
"""

from __future__ import annotations

from typing import Any

from alloc_agents.policy import Policy
from alloc_agents.rule_based import (
    VACCINE_POLICIES,
    BalanceDispatch,
    GreedyDispatch,
    HindsightOracle,
    MPCDispatch,
    NearestDispatch,
    RandomLBF,
    RandomRideHailing,
    RandomRWARE,
)

__version__ = "0.1.0"

#: Rule-based policies by scenario family, then by benchmark name.
POLICIES: dict[str, dict[str, type[Policy]]] = {
    "ride-hailing": {
        cls.name: cls
        for cls in (
            GreedyDispatch,
            NearestDispatch,
            BalanceDispatch,
            RandomRideHailing,
            MPCDispatch,
            HindsightOracle,
        )
    },
    "vaccine": {cls.name: cls for cls in VACCINE_POLICIES},
    "lbf": {RandomLBF.name: RandomLBF},
    "rware": {RandomRWARE.name: RandomRWARE},
}


def make_policy(
    name: str, seed: int | None = None, family: str = "ride-hailing", env: Any = None
) -> Policy:
    """The rule-based policy ``name`` of scenario ``family`` (see :data:`POLICIES`), seeded;
    attached to ``env`` when given (:meth:`Policy.attach`: the reference policies ``mpc`` and
    ``oracle`` plan with their environment)."""
    if family not in POLICIES:
        raise ValueError(f"unknown scenario family {family!r}; known families: {sorted(POLICIES)}")
    if name not in POLICIES[family]:
        raise ValueError(
            f"unknown policy {name!r} for {family}; known policies: {sorted(POLICIES[family])}"
        )
    policy = POLICIES[family][name](seed=seed)
    if env is not None:
        policy.attach(env)
    return policy


#: The PPO core (torch), imported on first use so that ``import alloc_agents`` stays light.
_PPO_EXPORTS = (
    "CoPOConfig",
    "DyPSConfig",
    "PPOConfig",
    "PPOPolicy",
    "RoleAsStateConfig",
    "SePSConfig",
    "TrainResult",
    "evaluate",
    "load_policy",
)
#: QMIX (torch), imported on first use.
_QMIX_EXPORTS = ("QMIXConfig", "load_qmix_policy")


def __getattr__(name: str):
    if name in _PPO_EXPORTS:
        from alloc_agents import ppo

        return getattr(ppo, name)
    if name in _QMIX_EXPORTS:
        from alloc_agents import qmix

        return getattr(qmix, name)
    if name == "train":
        from alloc_agents.training import train

        return train
    raise AttributeError(f"module 'alloc_agents' has no attribute {name!r}")


__all__ = [
    "POLICIES",
    "Policy",
    "__version__",
    "make_policy",
    "train",
    *_PPO_EXPORTS,
    *_QMIX_EXPORTS,
]
