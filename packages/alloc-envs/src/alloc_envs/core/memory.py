"""Checking sizes against the memory at hand before allocating, so that a configuration too large
for the machine is a ``ValueError`` stating the estimate, not a ``MemoryError`` (or the kernel's
out-of-memory kill) deep inside numpy after minutes of work.

The limit is ``$ALLOC_ENVS_MEMORY_LIMIT_GB`` gibibytes when that variable is set (to raise or
lower it deliberately), else the memory the kernel reports as available (``MemAvailable`` of
``/proc/meminfo``), else the physical memory, else 16 GiB. Estimates are of the peak, measured
on the simulators (see the callers), and round up.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable that sets the limit, in GiB.
LIMIT_VARIABLE = "ALLOC_ENVS_MEMORY_LIMIT_GB"
GIB = 1 << 30
_FALLBACK_BYTES = 16 * GIB


def _available_bytes() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (Linux), else ``None``."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _physical_bytes() -> int | None:
    try:
        return int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return None


def memory_limit_bytes() -> tuple[int, str]:
    """The limit in bytes and where it comes from (module doc)."""
    text = os.environ.get(LIMIT_VARIABLE, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ValueError(f"${LIMIT_VARIABLE} must be a positive number of GiB, got {text!r}")
        return int(value * GIB), f"${LIMIT_VARIABLE}"
    available = _available_bytes()
    if available is not None:
        return available, "available memory"
    physical = _physical_bytes()
    if physical is not None:
        return physical, "physical memory"
    return _FALLBACK_BYTES, "default limit"


def format_bytes(n_bytes: float) -> str:
    """``n_bytes`` in GiB (or MiB below 1 GiB), one decimal."""
    if n_bytes >= GIB:
        return f"{n_bytes / GIB:,.1f} GiB"
    return f"{n_bytes / (1 << 20):,.1f} MiB"


def check_memory(what: str, n_bytes: float, sizes: str) -> None:
    """``ValueError`` when ``what`` (e.g. ``"RideHailing"``) would need more than the limit.

    Args:
        what: the object about to be built.
        n_bytes: its estimated peak memory in bytes.
        sizes: the fields that set the size, as the user wrote them (``"rows x cols = 64 x 64,
            episode_steps = 100000"``).
    """
    limit, source = memory_limit_bytes()
    if n_bytes > limit:
        raise ValueError(
            f"{what} with {sizes} needs about {format_bytes(n_bytes)} of memory, more than the "
            f"{format_bytes(limit)} of {source}; make it smaller (or set ${LIMIT_VARIABLE} to "
            "allow more)"
        )
