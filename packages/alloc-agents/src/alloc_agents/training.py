"""``alloc_agents.train``: one entry point for every learning algorithm of the zoo.

``algorithm`` picks the trainer: ``"ippo"``, ``"mappo"`` and ``"copo"`` train with the PPO core
(:func:`alloc_agents.ppo.train`, which takes every sharing strategy), ``"qmix"`` with QMIX
(:func:`alloc_agents.qmix.train_qmix`, sharing ``ps``, ``ps-id`` or ``nops``) and ``"rode"``
with RODE (:func:`alloc_agents.rode.train_rode`, sharing ``ps`` or ``ps-id``). The other keyword
arguments go to that trainer unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The algorithms of :func:`train`, PPO's and the value-based ones.
ALGORITHMS = ("ippo", "mappo", "copo", "qmix", "rode")


def train(env_fn: Callable[[], Any], *, algorithm: str = "ippo", **kwargs: Any) -> Any:
    """Train ``algorithm`` on the PettingZoo ``ParallelEnv`` made by ``env_fn`` (module
    docstring); the trainer's result (``.policy``, ``.history``, ``.model``, ...)."""
    if algorithm in ("qmix", "rode"):
        from alloc_agents.qmix import train_qmix
        from alloc_agents.rode import train_rode

        extra = [k for k in ("sharing_options", "algorithm_options") if kwargs.get(k)]
        if extra:
            raise ValueError(
                f"{algorithm.upper()} takes no {' or '.join(extra)}, got {kwargs[extra[0]]!r}"
            )
        for key in ("sharing_options", "algorithm_options"):
            kwargs.pop(key, None)
        return (train_qmix if algorithm == "qmix" else train_rode)(env_fn, **kwargs)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    from alloc_agents.ppo import train as train_ppo

    return train_ppo(env_fn, algorithm=algorithm, **kwargs)
