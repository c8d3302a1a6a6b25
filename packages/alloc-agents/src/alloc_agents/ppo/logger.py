"""Per-iteration metrics: a CSV file, TensorBoard event files, progress on stderr.

* ``<log_dir>/progress.csv``: one row per iteration; new columns (e.g. scenario metrics that
  appear with the first finished episode) rewrite the file with the wider header; on resume the
  rows after the checkpoint's iteration are dropped.
* ``<log_dir>/tb/``: TensorBoard scalars (tag = column name, step = env steps), written with
  ``tensorboardX`` (a dependency of alloc-agents), or ``torch.utils.tensorboard`` when only
  ``tensorboard`` is installed; without either, TensorBoard output is skipped with a warning.
* progress on stderr (:class:`Progress`): a ``tqdm`` bar with rate and ETA on a terminal, else a
  plain line at the start, every :data:`PROGRESS_INTERVAL_S` seconds and at the end.
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


#: Seconds of wall time between progress lines when the stream is not a terminal.
PROGRESS_INTERVAL_S = 30.0


def check_progress_interval(value: Any) -> float:
    """``value`` as seconds between progress lines (a number >= 0; ``ValueError`` otherwise)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ValueError(f"progress_interval must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Training progress in env steps on ``stream`` (default stderr).

    On a terminal: a ``tqdm`` bar with the steps done, the rate (steps/s), the elapsed time and
    the ETA. Otherwise (a pipe, a file, a job scheduler's log): plain lines such as ::

        train: 2,048/5,120 env steps (40%), 1,234 steps/s, elapsed 00:01, ETA 00:02, return 12.3

    one at the start, then one whenever ``interval_s`` seconds of wall time have passed since the
    last (checked at each :meth:`update`, i.e. once per training iteration), and one at the end
    (:meth:`close`). The rate counts the steps of this process only (a resumed run starts at
    ``initial``).

    Args:
        total: steps of the whole run.
        initial: steps already done (a resumed run).
        stream: where to write (default ``sys.stderr``).
        interval_s: seconds between plain lines (not on a terminal).
        desc: the label in front of the bar or line.
        terminal: force the bar (``True``) or the plain lines (``False``); ``None``: the bar
            when ``stream.isatty()``.
    """

    def __init__(
        self,
        total: int,
        *,
        initial: int = 0,
        stream: TextIO | None = None,
        interval_s: float = PROGRESS_INTERVAL_S,
        desc: str = "train",
        terminal: bool | None = None,
    ) -> None:
        check_progress_interval(interval_s)
        self.total = max(1, int(total))
        self.initial = self.done = int(initial)
        self.stream = stream if stream is not None else sys.stderr
        self.interval_s = float(interval_s)
        self.desc = desc
        self.note = ""
        self.start = self.last_line = time.monotonic()
        self.printed = -1  # the steps of the last plain line
        self.terminal = _is_terminal(self.stream) if terminal is None else terminal
        self.bar: Any = None
        if self.terminal:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total,
                initial=self.initial,
                desc=desc,
                unit=" steps",
                unit_scale=True,
                dynamic_ncols=True,
                file=self.stream,
            )
        else:
            self._line()

    def update(self, done: int, **postfix: Any) -> None:
        """``done`` steps so far (cumulative); ``postfix``: ``name=value`` pairs shown after
        the rate (floats with 4 significant digits; NaN values left out)."""
        parts = [
            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
            for k, v in postfix.items()
            if not (isinstance(v, float) and math.isnan(v))
        ]
        self.note = ", ".join(parts)
        if self.bar is not None:
            self.bar.update(int(done) - self.done)
            self.done = int(done)
            if self.note:
                self.bar.set_postfix_str(self.note, refresh=False)
            return
        self.done = int(done)
        if time.monotonic() - self.last_line >= self.interval_s:
            self._line()

    def _line(self) -> None:
        from tqdm import tqdm

        elapsed = time.monotonic() - self.start
        steps = self.done - self.initial
        rate = steps / elapsed if steps > 0 and elapsed > 0 else None
        eta = (self.total - self.done) / rate if rate else None
        fields = [
            f"{self.desc}: {self.done:,}/{self.total:,} env steps ({self.done / self.total:.0%})",
            "? steps/s" if rate is None else f"{rate:,.0f} steps/s",
            f"elapsed {tqdm.format_interval(elapsed)}",
            f"ETA {'?' if eta is None else tqdm.format_interval(eta)}",
        ]
        if self.note:
            fields.append(self.note)
        self.stream.write(", ".join(fields) + "\n")
        self.stream.flush()
        self.last_line = time.monotonic()
        self.printed = self.done

    def close(self) -> None:
        """Close the bar, or write the last line (unless it would repeat the previous one)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.printed != self.done:
            self._line()


class RunLogger:
    """CSV + TensorBoard under ``log_dir`` (if given) and the progress on stderr
    (:class:`Progress`; ``progress=False``: none; ``None`` is the same as ``True``).
    ``initial_steps``: env steps done before (a resumed run)."""

    def __init__(
        self,
        log_dir: Path | None,
        total_env_steps: int,
        resume_iteration: int | None = None,
        progress: bool | None = True,
        *,
        initial_steps: int = 0,
        progress_interval: float = PROGRESS_INTERVAL_S,
        desc: str = "train",
    ) -> None:
        self.csv: CSVLog | None = None
        self.tb: Any | None = None
        if log_dir is not None:
            log_dir.mkdir(parents=True, exist_ok=True)
            self.csv = CSVLog(log_dir / "progress.csv", keep_until=resume_iteration)
            self.tb = _tensorboard_writer(log_dir / "tb")
        self.bar = (
            Progress(
                total_env_steps,
                initial=initial_steps,
                interval_s=progress_interval,
                desc=desc,
            )
            if progress is None or progress
            else None
        )

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
            self.bar.update(int(row["env_steps"]), **{"return": float(ret)})

    def close(self) -> None:
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()
        if self.bar is not None:
            self.bar.close()
