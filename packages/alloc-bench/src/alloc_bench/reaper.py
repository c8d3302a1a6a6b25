"""End the processes that a killed ``alloc-bench run`` leaves behind (Linux).

A local Ray instance started by ``--executor ray`` is a tree of processes (GCS, raylet, agents,
workers) that outlive the parent when it is killed with SIGKILL (no clean-up runs). The parent
tags them and starts a reaper:

* :func:`start_reaper` gives this process's environment a unique tag
  (``ALLOC_BENCH_REAPER_TAG``), which every process started afterwards inherits, and starts
  ``python -m alloc_bench.reaper <parent pid> <tag>``;
* the reaper polls its parent every half second; once the parent is gone, it sends SIGTERM to
  every process of this user whose environment carries the tag (read from
  ``/proc/<pid>/environ``; itself excluded), then SIGKILL to those still running 3 s later;
* a reaper that is terminated (the parent ended normally and shut Ray down) does nothing.

Where ``/proc`` is missing (not Linux) the reaper is not started.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

#: The environment variable that tags the processes of one invocation.
TAG_VARIABLE = "ALLOC_BENCH_REAPER_TAG"
POLL_S = 0.5
GRACE_S = 3.0


def start_reaper() -> subprocess.Popen[bytes] | None:
    """Tag this process's environment (module doc) and start the reaper; ``None`` without
    ``/proc``."""
    if not Path("/proc/self/environ").exists():
        return None
    tag = os.environ.setdefault(TAG_VARIABLE, uuid.uuid4().hex)
    return subprocess.Popen(
        [sys.executable, "-m", "alloc_bench.reaper", str(os.getpid()), tag],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def tagged_processes(tag: str) -> list[int]:
    """Pids of the processes whose environment holds ``TAG_VARIABLE=tag`` (this one excluded)."""
    marker = f"{TAG_VARIABLE}={tag}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:  # gone, or another user's
            continue
        if marker in environ.split(b"\0"):
            found.append(int(entry.name))
    return found


def _signal_all(pids: list[int], signum: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, signum)
        except OSError:
            pass


def reap(parent: int, tag: str) -> None:
    """Wait until ``parent`` is gone, then end the tagged processes (module doc)."""
    while os.getppid() == parent:
        time.sleep(POLL_S)
    _signal_all(tagged_processes(tag), signal.SIGTERM)
    deadline = time.monotonic() + GRACE_S
    while time.monotonic() < deadline and tagged_processes(tag):
        time.sleep(0.1)
    _signal_all(tagged_processes(tag), signal.SIGKILL)


if __name__ == "__main__":
    reap(int(sys.argv[1]), sys.argv[2])
