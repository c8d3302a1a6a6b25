"""End-to-end: SIGINT to the ``alloc-bench run`` process alone (not to its process group) while
learned runs are in progress in its pool workers. The parent waits for them and records their
results before it exits with 130, so they are not run again. (Most of the test's time is the
two workers importing torch.)"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from alloc_bench.rundirs import SHORT_HASH

EXE = shutil.which("alloc-bench") or str(Path(sys.executable).parent / "alloc-bench")
SUITE = """
name = "learned"
description = "PS+IPPO, one iteration of 12 steps per run, two runs on two workers"
compare = []

[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["PS+IPPO"]
seeds = "0-1"
train_steps = 12
options = { episode_steps = 12 }
"""


def default_sigint() -> None:
    """In the child before exec: SIGINT back to its default action. A test run in the
    background of a non-interactive shell inherits SIGINT ignored, and Python then installs no
    KeyboardInterrupt handler, so the signal this test sends would be lost."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def statuses(store: Path) -> dict[str, str]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        return dict(db.execute("SELECT config_hash, status FROM runs"))
    finally:
        db.close()


def run_folders(artifacts: Path) -> dict[str, Path]:
    """The run folders begun so far (``<scenario>/<method>/seed<k>-<short hash>``) by short
    hash."""
    return {p.name.rpartition("-")[2]: p for p in artifacts.glob("*/*/seed*-*")}


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigint_to_the_parent_keeps_the_runs_in_progress(tmp_path: Path) -> None:
    suite = tmp_path / "learned.toml"
    suite.write_text(SUITE)
    store = tmp_path / "store.sqlite"
    artifacts = tmp_path / "store-artifacts"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [EXE, "run", "--suite-file", str(suite), "--store", str(store), "--jobs", "2",
         "--out", str(tmp_path / "out")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
        start_new_session=True,  # no terminal: the signal goes to the parent alone
        preexec_fn=default_sigint,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not run_folders(artifacts):
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "no run started within 120 s"
            time.sleep(0.05)
        started = set(run_folders(artifacts))
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert "interrupted: waiting for the" in err and "run(s) in progress to finish" in err
    # The runs seen at the signal were in progress; the other worker's run may have begun
    # between that look and the parent's handling of the signal: every run begun is finished.
    folders = run_folders(artifacts)
    begun = set(folders)
    rows = {h[:SHORT_HASH]: status for h, status in statuses(store).items()}
    assert started and started <= begun, (started, begun, err)
    assert all(rows[h] == "finished" for h in begun), (begun, rows, err)
    for short in begun:
        assert "status: finished" in (folders[short] / "run.log").read_text()
    again = subprocess.run(
        [EXE, "run", "--suite-file", str(suite), "--store", str(store), "--out",
         str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert f"{len(begun)} finished earlier (skipped)" in again.stderr
