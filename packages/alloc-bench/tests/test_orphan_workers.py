"""Pool workers, and the processes of a local Ray instance (through the reaper), end when the
`alloc-bench run` process that started them is killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

PARENT = textwrap.dedent(
    """
    import multiprocessing, os, time
    from concurrent.futures import ProcessPoolExecutor
    from alloc_bench.executors import exit_with_parent

    if __name__ == "__main__":
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=exit_with_parent, initargs=(os.getpid(), 0.1))
        pool.submit(time.sleep, 120)
        while not pool._processes:
            time.sleep(0.05)
        print(next(iter(pool._processes)), flush=True)
        time.sleep(120)
    """
)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie nobody reaps counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_workers_exit_when_the_parent_is_killed(tmp_path: Path) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        time.sleep(0.5)
        assert _alive(worker)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(worker)
    finally:
        parent.kill()


TAGGED_TREE = textwrap.dedent(
    """
    import os, subprocess, sys, time
    from alloc_bench.reaper import TAG_VARIABLE, start_reaper

    sleep = [sys.executable, "-c", "import time; time.sleep(120)"]
    reaper = start_reaper()  # tags this process: what it starts from now on carries the tag
    spawner = "import subprocess, sys, time; g = subprocess.Popen(%r); print(g.pid, flush=True); "
    child = subprocess.Popen([sys.executable, "-c", spawner % sleep + "time.sleep(120)"],
                             stdout=subprocess.PIPE, text=True)
    grandchild = int(child.stdout.readline())
    untagged = subprocess.Popen(sleep, env={k: v for k, v in os.environ.items()
                                            if k != TAG_VARIABLE})
    print(reaper.pid, child.pid, grandchild, untagged.pid, flush=True)
    time.sleep(120)
    """
)


def test_the_reaper_ends_the_tagged_processes_of_a_killed_parent(tmp_path: Path) -> None:
    """What a local Ray instance leaves behind when ``alloc-bench run`` is killed: a child and a
    grandchild (re-parented once their parent dies) carrying the tag end; an untagged process
    and processes of a parent that lives on are left alone."""
    script = tmp_path / "parent.py"
    script.write_text(TAGGED_TREE)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    reaper, child, grandchild, untagged = map(int, parent.stdout.readline().split())
    try:
        time.sleep(1.0)  # the reaper polls; a living parent is left alone
        assert all(_alive(pid) for pid in (reaper, child, grandchild, untagged))
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in (child, grandchild, reaper)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in (child, grandchild, reaper))
        assert _alive(untagged)
    finally:
        for pid in (child, grandchild, untagged, reaper):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        parent.kill()
