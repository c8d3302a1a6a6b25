"""Per-iteration metrics: a CSV file, TensorBoard event files, a progress line on a terminal.

* ``<log_dir>/progress.csv``: one row per iteration; new columns (e.g. scenario metrics that
  appear with the first finished episode) rewrite the file with the wider header; on resume the
  rows after the checkpoint's iteration are dropped.
* ``<log_dir>/tb/``: TensorBoard scalars (tag = column name, step = env steps), written with
  ``tensorboardX`` (a dependency of alloc-agents), or ``torch.utils.tensorboard`` when only
  ``tensorboard`` is installed; without either, TensorBoard output is skipped with a warning.
* a one-line progress bar on stderr, only when stderr is a terminal.
"""

from __future__ import annotations

import csv
import math
import sys
import time
import warnings
from pathlib import Path
from typing import Any, TextIO

#: Columns that always come first, in this order.
FIRST_COLUMNS = ("iteration", "env_steps", "agent_steps", "episodes")


def _format(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


class CSVLog:
    """``progress.csv`` with a header that grows when new columns appear."""

    def __init__(self, path: Path, keep_until: int | None = None) -> None:
        self.path = path
        self.columns: list[str] = []
        self.rows: list[dict[str, str]] = []
        if keep_until is not None and path.exists():
            with path.open(newline="") as f:
                reader = csv.DictReader(f)
                self.columns = list(reader.fieldnames or [])
                self.rows = [r for r in reader if int(r["iteration"]) <= keep_until]
            self._rewrite()
        elif path.exists():
            path.unlink()

    def _rewrite(self) -> None:
        with self.path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self.columns, restval="")
            writer.writeheader()
            writer.writerows(self.rows)

    def write(self, row: dict[str, Any]) -> None:
        text = {k: _format(v) for k, v in row.items()}
        new = [k for k in text if k not in self.columns]
        self.rows.append(text)
        if new or not self.path.exists():
            self.columns += new
            self._rewrite()
            return
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, fieldnames=self.columns, restval="").writerow(text)


def _tensorboard_writer(path: Path) -> Any | None:
    try:
        from tensorboardX import SummaryWriter
    except ImportError:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            warnings.warn(
                "neither tensorboardX nor tensorboard is installed: no TensorBoard output",
                stacklevel=3,
            )
            return None
    return SummaryWriter(str(path))


class ProgressBar:
    """``[#####.....] 40% 2048/5120 steps | return 12.3 | 1500 steps/s`` on one line."""

    def __init__(self, total: int, stream: TextIO | None = None) -> None:
        self.total = max(1, total)
        self.stream = stream if stream is not None else sys.stderr
        self.width = 24

    def update(self, done: int, note: str = "") -> None:
        frac = min(1.0, done / self.total)
        filled = int(self.width * frac)
        bar = "#" * filled + "." * (self.width - filled)
        self.stream.write(f"\r[{bar}] {frac:4.0%} {done}/{self.total} steps{note}\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class RunLogger:
    """CSV + TensorBoard under ``log_dir`` (if given) and a terminal progress bar."""

    def __init__(
        self,
        log_dir: Path | None,
        total_env_steps: int,
        resume_iteration: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.csv: CSVLog | None = None
        self.tb: Any | None = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.csv = CSVLog(log_dir / "progress.csv", keep_until=resume_iteration)
            self.tb = _tensorboard_writer(log_dir / "tb")
        if progress is None:
            progress = sys.stderr.isatty()
        self.bar = ProgressBar(total_env_steps) if progress else None
        self.start = time.perf_counter()

    def log(self, row: dict[str, Any]) -> None:
        if self.csv is not None:
            self.csv.write(row)
        if self.tb is not None:
            step = int(row["env_steps"])
            for key, value in row.items():
                if key in FIRST_COLUMNS[:1] or not isinstance(value, int | float):
                    continue
                if isinstance(value, float) and math.isnan(value):
                    continue
                self.tb.add_scalar(key, value, step)
        if self.bar is not None:
            ret = row.get("episode_return", math.nan)
            note = "" if math.isnan(ret) else f" | return {ret:.4g}"
            self.bar.update(int(row["env_steps"]), f"{note} | {row.get('fps', 0):.0f} steps/s")

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
        if self.bar is not None:
            self.bar.close()
