"""Where runs execute: in this process, in a local process pool, or on Ray.

Every executor calls :func:`alloc_bench.execute.execute_run` on JSON-able config dicts and yields
the outcomes as they complete (in completion order); the caller (the parent process) alone
writes them to the store. Executors never change a run's numbers: a run is a pure function of its
config, so ``--jobs 1``, ``--jobs N`` and Ray give identical metrics.

* ``serial`` (``--jobs 1``): one after the other in this process (easiest to debug);
* ``process``: :class:`concurrent.futures.ProcessPoolExecutor` with ``min(jobs, runs)`` workers
  started with ``spawn`` (a clean interpreter per worker: no state inherited from the parent,
  so what a worker runs is exactly what the config says, as on Ray). Each worker gets
  ``OMP_NUM_THREADS = MKL_NUM_THREADS = threads`` (unless already set) and each run ``threads``
  torch threads: one unless asked (``alloc-bench run --threads N``), so that workers do not
  contend for the cores;
* ``ray``: one Ray task per run (1 CPU each, whatever ``threads``). Connects to a running Ray
  instance when this process already called ``ray.init`` or ``address`` is given, else starts a
  local one with ``jobs`` CPUs and shuts it down at the end; a reaper process
  (:mod:`alloc_bench.reaper`) ends that instance's processes if this process is killed. Needs
  ``pip install alloc-bench[ray]``.

:func:`execute` returns an :class:`Execution`: iterate it for the outcomes; after an interrupt
(``KeyboardInterrupt``), :meth:`Execution.finish_running` starts nothing new and yields the
outcomes of the runs already in progress as they finish (process pool: the workers ignore
SIGINT, so Ctrl-C to the whole process group and SIGINT to the parent alone are the same; Ray:
in-progress tasks are cancelled and run again next time), so that their results are kept;
:meth:`Execution.close` ends it (``kill=True``: at once, for a second interrupt).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, as_completed, wait
from pathlib import Path
from typing import Any

from alloc_bench.config import RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.execute import execute_run
from alloc_bench.reaper import start_reaper
from alloc_bench.rundirs import run_dir

#: Executor names accepted by ``--executor``.
EXECUTORS = ("process", "ray")


def default_jobs() -> int:
    """CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def check_executor(executor: str) -> None:
    """A :class:`BenchError` if ``executor`` is unknown or cannot be used here (Ray missing)."""
    if executor not in EXECUTORS:
        raise BenchError(f"unknown executor {executor!r}; known: {', '.join(EXECUTORS)}")
    if executor == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise BenchError(
                "--executor ray needs Ray: pip install 'alloc-bench[ray]' (with -c constraints.txt)"
            ) from None


class Execution:
    """Outcomes of runs as they complete (module doc); the serial executor's version."""

    def __init__(self, outcomes: Iterator[dict[str, Any]]) -> None:
        self._outcomes = outcomes

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._outcomes

    def in_progress(self) -> int:
        """Runs started and not finished (the serial executor's run was interrupted itself)."""
        return 0

    def finish_running(self) -> Iterator[dict[str, Any]]:
        """After an interrupt: start nothing new; the outcomes of the runs in progress."""
        return iter(())

    def close(self, kill: bool = False) -> None:
        """Release the workers; ``kill``: end runs still in progress now (a second interrupt)."""


def execute(
    configs: Sequence[RunConfig],
    *,
    workdir: Path,
    jobs: int,
    executor: str = "process",
    ray_address: str | None = None,
    threads: int | None = None,
) -> Execution:
    """Outcomes of ``configs`` as they complete (see the module doc).

    Args:
        configs: the runs to execute.
        workdir: the artifacts folder; each run gets its folder there for checkpoints and logs
            (:func:`alloc_bench.rundirs.run_dir`).
        jobs: parallel runs (``process``: workers; ``ray``: CPUs of a local instance it starts).
        executor: ``"process"`` (``jobs == 1`` runs in this process) or ``"ray"``.
        ray_address: address of a running Ray cluster (``ray`` only).
        threads: torch (and math-library) threads per run; ``None``: one.
    """
    check_executor(executor)
    if jobs < 1:
        raise BenchError(f"--jobs must be >= 1, got {jobs}")
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise BenchError(f"--threads must be >= 1, got {threads}")
    count = 1 if threads is None else threads
    tasks = [(c.to_dict(), str(run_dir(workdir, c))) for c in configs]
    if not tasks:
        return Execution(iter(()))
    if executor == "ray":
        return RayExecution(tasks, jobs, ray_address, count)
    if jobs == 1 or len(tasks) == 1:
        return Execution(execute_run(config, path, count) for config, path in tasks)
    return PoolExecution(tasks, min(jobs, len(tasks)), count)


def exit_with_parent(parent_pid: int, poll_s: float = 1.0) -> None:
    """Pool-worker initializer: end the worker once the process that started the pool is gone.

    A parent killed with SIGKILL (or SIGTERM) runs no clean-up, and its workers would otherwise
    go on training for minutes with nobody to receive the result. A daemon thread checks every
    ``poll_s`` seconds whether the worker has been re-parented and then exits at once.
    """

    def watch() -> None:
        while True:
            time.sleep(poll_s)
            if os.getppid() != parent_pid:
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def init_worker(parent_pid: int, threads: int) -> None:
    """Pool-worker initializer: :func:`exit_with_parent`, SIGINT ignored (Ctrl-C in a terminal
    reaches the whole process group: the parent decides, and waits for the runs in progress or
    stops the workers), and ``threads`` math-library threads (read by torch and numpy's BLAS
    when they are first imported; one unless ``--threads N``) unless the user set them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    exit_with_parent(parent_pid)
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(name, str(threads))


class PoolExecution(Execution):
    """The runs on a ``spawn`` process pool of ``workers`` processes (module doc)."""

    def __init__(
        self, tasks: list[tuple[dict[str, Any], str]], workers: int, threads: int = 1
    ) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
            initargs=(os.getpid(), threads),
        )
        self._pending: set[Future[dict[str, Any]]] = {
            self._pool.submit(execute_run, config, path, threads) for config, path in tasks
        }
        super().__init__(self._completed())

    def _completed(self) -> Iterator[dict[str, Any]]:
        while self._pending:
            done, _ = wait(self._pending, return_when=FIRST_COMPLETED)
            for future in done:  # one at a time: an interrupt leaves the rest to finish_running
                self._pending.discard(future)
                yield future.result()

    def in_progress(self) -> int:
        """Runs handed to a worker and not finished (a future that cannot be cancelled)."""
        return sum(1 for future in self._pending if future.running())

    def finish_running(self) -> Iterator[dict[str, Any]]:
        """Cancel the runs not started; the outcomes of the others (finished or in progress)
        as they finish."""
        running = {future for future in self._pending if not future.cancel()}
        self._pending = set()
        for future in as_completed(running):
            if future.exception() is None:
                yield future.result()

    def close(self, kill: bool = False) -> None:
        if kill:  # the pool has no public way to stop a task in progress
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)


class RayExecution(Execution):
    """One Ray task per run (module doc)."""

    def __init__(
        self,
        tasks: list[tuple[dict[str, Any], str]],
        jobs: int,
        address: str | None,
        threads: int = 1,
    ):
        import ray

        self._started = False
        self._reaper: Any = None
        if not ray.is_initialized():
            if address:
                ray.init(address=address)
            else:
                self._reaper = start_reaper()  # first: Ray's processes inherit its tag
                try:
                    ray.init(num_cpus=jobs, include_dashboard=False, log_to_driver=False)
                except BaseException:
                    self._stop_reaper()
                    raise
            self._started = True
        remote = ray.remote(num_cpus=1, max_retries=0)(execute_run)
        self._pending = [remote.remote(config, path, threads) for config, path in tasks]
        super().__init__(self._completed())

    def _completed(self) -> Iterator[dict[str, Any]]:
        import ray

        while self._pending:
            done, self._pending = ray.wait(self._pending, num_returns=1)
            for ref in done:
                yield ray.get(ref)

    def finish_running(self) -> Iterator[dict[str, Any]]:
        """Ray does not say which tasks have started: every task left is cancelled."""
        self._cancel()
        return iter(())

    def _cancel(self) -> None:
        import ray

        for ref in self._pending:
            ray.cancel(ref, force=True)
        self._pending = []

    def close(self, kill: bool = False) -> None:
        import ray

        self._cancel()
        if self._started:
            ray.shutdown()
        self._stop_reaper()

    def _stop_reaper(self) -> None:
        if self._reaper is not None:
            self._reaper.terminate()
            self._reaper.wait()
            self._reaper = None
