"""Time this checkout against a baseline revision in one run, in turn, in CPU time.

A benchmark script defines *jobs*: functions that take keyword arguments, do a measured piece
of work and return the process CPU seconds it took (``time.process_time``), one number per
repetition. :func:`compare` starts two worker processes running the same script with
``--worker``: one imports the packages of this checkout, the other those of ``baseline`` (a git
revision, extracted with ``git archive`` into a temporary folder), each with one thread. It
then asks them in turn (A, B, A, B, ...) to run every job, so that both versions see the same
machine load, and reports per job the baseline's and this checkout's median seconds and the
ratios baseline / new of the minima and of the medians.

A job runs in the worker's own interpreter, so it may only use what both versions have.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Source folders of the packages, relative to the repository root.
SOURCES = ("packages/alloc-envs/src", "packages/alloc-agents/src", "packages/alloc-bench/src")
#: The last commit before the Ride-Hailing and PPO speed-ups (issue 21): "today's code".
DEFAULT_BASELINE = "b506be5"

Job = Callable[..., list[float]]


def cpu_seconds(work: Callable[[], object], repeats: int) -> list[float]:
    """Process CPU seconds of each of ``repeats`` calls of ``work`` (after one warm-up call)."""
    work()
    out = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        out.append(time.process_time() - start)
    return out


def serve(jobs: dict[str, Job]) -> None:
    """Worker loop: read ``{"job": name, "kwargs": {...}}`` lines, answer ``{"seconds": [...]}``."""
    for line in sys.stdin:
        request = json.loads(line)
        seconds = jobs[request["job"]](**request["kwargs"])
        print(json.dumps({"seconds": seconds}), flush=True)


def extract(revision: str, into: Path) -> Path:
    """The package sources of ``revision`` (``git archive``) under ``into``; returns ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", revision, *SOURCES],
        check=True,
        capture_output=True,
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


class Worker:
    """A worker process running ``script --worker`` with the packages under ``root``."""

    def __init__(self, script: Path, root: Path, label: str) -> None:
        self.label = label
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        env["PYTHONPATH"] = os.pathsep.join(str(root / s) for s in SOURCES)
        self.process = subprocess.Popen(
            [sys.executable, str(script), "--worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def run(self, job: str, kwargs: dict) -> list[float]:
        """Seconds of one job (blocks until the worker answers)."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(json.dumps({"job": job, "kwargs": kwargs}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.label} worker died running {job} {kwargs}")
        return json.loads(line)["seconds"]

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait()


@dataclass
class Row:
    """One job's seconds per version and the ratios baseline / new."""

    name: str
    baseline: list[float]
    new: list[float]

    @property
    def baseline_ms(self) -> float:
        return 1000 * statistics.median(self.baseline)

    @property
    def new_ms(self) -> float:
        return 1000 * statistics.median(self.new)

    @property
    def speedup_min(self) -> float:
        return min(self.baseline) / min(self.new)

    @property
    def speedup_median(self) -> float:
        return statistics.median(self.baseline) / statistics.median(self.new)


def table(rows: list[Row], name_header: str, unit: str, per_second: bool = False) -> list[str]:
    """Markdown lines of ``rows``: the name (``name_header`` may hold several ``|`` columns),
    the baseline's and this checkout's medians in ``unit`` (milliseconds of CPU, or with
    ``per_second`` the rate per CPU second, whole numbers), and the speed-ups of the medians
    and of the minima."""
    names = name_header.count("|") + 1
    lines = [
        f"| {name_header} | baseline {unit} | new {unit} | speed-up (median) | speed-up (min) |",
        "|" + "---|" * names + "---:|---:|---:|---:|",
    ]
    for row in rows:
        if per_second:
            base = f"{1 / statistics.median(row.baseline):.0f}"
            new = f"{1 / statistics.median(row.new):.0f}"
        else:
            base, new = f"{row.baseline_ms:.2f}", f"{row.new_ms:.2f}"
        lines.append(
            f"| {row.name} | {base} | {new} | {row.speedup_median:.2f} | {row.speedup_min:.2f} |"
        )
    return lines


def compare(
    script: Path, jobs: list[tuple[str, str, dict]], baseline: str, rounds: int
) -> list[Row]:
    """Run every ``(name, job, kwargs)`` ``rounds`` times in each version, alternating."""
    with tempfile.TemporaryDirectory(prefix="alloc-baseline-") as tmp:
        workers = [
            Worker(script, extract(baseline, Path(tmp)), f"baseline {baseline}"),
            Worker(script, ROOT, "new"),
        ]
        rows = [Row(name, [], []) for name, _, _ in jobs]
        try:
            for r in range(rounds):
                for row, (_, job, kwargs) in zip(rows, jobs, strict=True):
                    # Alternate which version goes first, so neither always runs warm.
                    order = workers if r % 2 == 0 else workers[::-1]
                    for worker in order:
                        seconds = worker.run(job, kwargs)
                        (row.baseline if worker is workers[0] else row.new).extend(seconds)
        finally:
            for worker in workers:
                worker.close()
    return rows


def machine() -> str:
    """A short description of the CPU (model name where Linux says it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.machine()
