"""A run folder's checkpoint that cannot be resumed is set aside (renamed, never deleted) and the
run starts over, instead of failing on every retry.

A trainer that finds ``checkpoint.pt`` in its run folder resumes from it. When that raises
``alloc_agents.ppo.checkpoint.CheckpointError`` (an empty, truncated, foreign or refused file,
or another run's), the file is renamed ``checkpoint.unusable-<UTC time>.pt`` in the same folder,
the run log says so, and training starts from scratch.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def set_aside(path: Path) -> Path:
    """Rename ``path`` to ``<stem>.unusable-<UTC time>[-n]<suffix>`` beside it; the new path."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.stem}.unusable-{stamp}{path.suffix}")
    n = 1
    while target.exists():
        n += 1
        target = path.with_name(f"{path.stem}.unusable-{stamp}-{n}{path.suffix}")
    os.replace(path, target)
    return target


def resume_or_restart(checkpoint: Path | None, log: Any, attempt: Callable[[bool], T]) -> T:
    """``attempt(True)`` (resume) when ``checkpoint`` exists, else ``attempt(False)``; when
    resuming raises ``CheckpointError``, the checkpoint is set aside (:func:`set_aside`), the
    run log notes it (``log.note``) and ``attempt(False)`` starts over."""
    from alloc_agents.ppo.checkpoint import CheckpointError

    if checkpoint is not None and checkpoint.exists():
        try:
            return attempt(True)
        except CheckpointError as exc:
            moved = set_aside(checkpoint)
            log.note(
                f"could not resume from {checkpoint.name} ({exc}); set it aside as "
                f"{moved.name} and started over"
            )
    return attempt(False)
