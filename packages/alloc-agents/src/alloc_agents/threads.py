"""One torch CPU thread unless the caller asks for more: what every training entry point applies.

The networks are small, so torch's default (one thread per core) mostly adds contention: under
load a run was up to 8.5x slower with the default than with one thread. Every trainer therefore
takes ``threads=None`` (one thread) or ``threads=N`` and calls :func:`set_threads` before it
builds anything: :func:`alloc_agents.ppo.trainer.train`, the Stackelberg trainers
(:class:`~alloc_agents.stackelberg.trainer.StackelbergTrainer`,
:func:`~alloc_agents.stackelberg.leader_evaluation.evaluate_leader`), the stable-baselines3
baseline (:func:`~alloc_agents.baselines.sb3.train_sb3_ppo`) and the ``alloc-agents train
--threads N`` command line. The setting is process-wide (``torch.set_num_threads``).
"""

from __future__ import annotations

import numbers
from typing import Any

#: Torch CPU threads when the caller does not ask for a number.
DEFAULT_THREADS = 1


def check_threads(threads: Any) -> int:
    """The thread count ``threads`` asks for: :data:`DEFAULT_THREADS` for ``None``, else a
    positive integer (``ValueError`` naming ``threads`` otherwise)."""
    if threads is None:
        return DEFAULT_THREADS
    if isinstance(threads, bool) or not isinstance(threads, numbers.Integral) or threads < 1:
        raise ValueError(f"threads must be an integer >= 1 (or None for 1), got {threads!r}")
    return int(threads)


def set_threads(threads: int | None = None) -> int:
    """``torch.set_num_threads`` to ``threads`` (``None``: :data:`DEFAULT_THREADS`, one);
    returns the count set."""
    count = check_threads(threads)
    import torch

    if torch.get_num_threads() != count:
        torch.set_num_threads(count)
    return count
