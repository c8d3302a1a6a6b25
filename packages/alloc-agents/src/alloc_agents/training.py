"""``alloc_agents.train``: one entry point for every learning algorithm of the zoo.

``algorithm`` picks the trainer: ``"ippo"``, ``"mappo"`` and ``"copo"`` train with the PPO core
(:func:`alloc_agents.ppo.train`, which takes every sharing strategy), ``"qmix"`` with QMIX
(:func:`alloc_agents.qmix.train_qmix`, sharing ``ps``, ``ps-id`` or ``nops``). The other keyword
arguments go to that trainer unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: The algorithms of :func:`train`, PPO's and the value-based one.
ALGORITHMS = ("ippo", "mappo", "copo", "qmix")


def train(env_fn: Callable[[], Any], *, algorithm: str = "ippo", **kwargs: Any) -> Any:
    """Train ``algorithm`` on the PettingZoo ``ParallelEnv`` made by ``env_fn`` (module
    docstring); the trainer's result (``.policy``, ``.history``, ``.model``, ...)."""
    if algorithm == "qmix":
        from alloc_agents.qmix import train_qmix

        extra = [k for k in ("sharing_options", "algorithm_options") if kwargs.get(k)]
        if extra:
            raise ValueError(f"QMIX takes no {' or '.join(extra)}, got {kwargs[extra[0]]!r}")
        for key in ("sharing_options", "algorithm_options"):
            kwargs.pop(key, None)
        return train_qmix(env_fn, **kwargs)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    from alloc_agents.ppo import train as train_ppo

    return train_ppo(env_fn, algorithm=algorithm, **kwargs)
