"""Progress lines of ``alloc-bench run`` on stderr: the plan, then one line per finished run.

``[ 7/60] ride-hailing-1 greedy [demand=stochastic] seed 4: GMV 234,396 (0.05 s) | 1.2 s
elapsed, ETA 9.1 s``. The ETA is the elapsed time per executed run times the runs left (with a
pool this already accounts for the parallel workers).
"""

from __future__ import annotations

from typing import Any, TextIO

from alloc_bench.config import RunConfig
from alloc_bench.runner import Plan
from alloc_bench.scenarios import get_scenario


def format_duration(seconds: float) -> str:
    """``"4.2 s"``, ``"3 min 05 s"`` or ``"2 h 03 min"``."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class ProgressPrinter:
    """Writes the plan and per-run progress to ``stream`` (flushing every line)."""

    def __init__(self, stream: TextIO, suite_name: str, executor: str) -> None:
        self.stream = stream
        self.suite_name = suite_name
        self.executor = executor

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def plan(self, plan: Plan, workers: int) -> None:
        """The first line: what will run, what is skipped, what is not implemented."""
        where = (
            "in this process"
            if workers == 1 and self.executor == "process"
            else (f"{self.executor}, {workers} worker{'s' if workers != 1 else ''}")
        )
        for note in plan.damaged:
            self.note(f"{note}; it runs again")
        self._write(
            f"{self.suite_name}: {plan.total} runs: {len(plan.pending)} to run ({where}), "
            f"{len(plan.finished)} finished earlier (skipped), "
            f"{len(plan.not_implemented)} not implemented"
        )

    def note(self, text: str) -> None:
        """A warning line (a damaged row, a wait for the store's lock)."""
        self._write(f"warning: {text}")

    def interrupted(self, in_progress: int) -> None:
        """The line written when the run is interrupted (before waiting for the runs under
        way)."""
        if in_progress:
            self._write(
                f"interrupted: waiting for the {in_progress} run(s) in progress to finish so "
                "that their results are kept (interrupt again to stop them now; they would "
                "run again next time)"
            )

    def run(self, done: int, total: int, outcome: dict[str, Any], elapsed: float) -> None:
        """One line per executed run."""
        config = RunConfig.from_dict(outcome["config"])
        if outcome["status"] == "finished":
            spec = get_scenario(config.scenario)
            metric = spec.metric(spec.rank_by)
            what = f"{metric.label} {outcome['metrics'][metric.name]:{metric.fmt}}"
        else:
            what = f"FAILED: {outcome['error']}"
        eta = elapsed / done * (total - done)
        self._write(
            f"[{done:>{len(str(total))}}/{total}] {config.describe()}: {what} "
            f"({outcome['wall_time_s']:.2f} s) | {format_duration(elapsed)} elapsed, "
            f"ETA {format_duration(eta)}"
        )
