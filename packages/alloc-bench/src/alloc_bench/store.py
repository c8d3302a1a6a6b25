"""The results store: one SQLite file (stdlib ``sqlite3``, WAL mode), one row per run.

Schema (version :data:`SCHEMA_VERSION`, recorded in the one-row table ``schema_version``)::

    runs(
      config_hash   TEXT PRIMARY KEY,  -- RunConfig.config_hash (16 hex digits)
      scenario, method TEXT, options TEXT (JSON), seed INTEGER,
      train_steps, eval_episodes INTEGER,
      config        TEXT,              -- canonical JSON of the whole config (what was hashed)
      status        TEXT,              -- 'running' | 'finished' | 'failed'
      metrics       TEXT,              -- JSON {metric: mean over evaluation episodes}
      episodes      TEXT,              -- JSON [{metric: value}, ...], one per evaluation episode
      curve         TEXT,              -- JSON [{"step": env steps, "metrics": {...}}, ...]
      groups        TEXT,              -- JSON [{"step", "assignment": [...], "shape"}, ...]
      wall_time_s   REAL,              -- seconds the run took (in its worker)
      started_at, finished_at TEXT,    -- UTC ISO 8601
      versions      TEXT,              -- JSON {package: version}
      device, host  TEXT,
      error         TEXT,              -- one line, failed runs
      attempts      INTEGER,           -- how many times the run was started
      owner         TEXT               -- host:pid of the invocation that started it
    )

Only the invocation's parent process writes (workers return their outcomes to it). Every write
is one transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``): a run becomes ``finished`` with all its
data at once or not at all, so a process killed mid-way leaves at most a ``running`` marker (or
a ``failed`` row), which the next invocation retries. A finished row is only ever replaced by a
newer finished row of the same config (``--force``).
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alloc_bench.config import RunConfig, canonical_json
from alloc_bench.errors import BenchError
from alloc_bench.execute import utc_now

#: Version of the schema below; a store with another version is refused with a clear message.
SCHEMA_VERSION = 1
#: Default store file (relative to the working directory).
DEFAULT_STORE = Path("results") / "alloc-bench.sqlite"
#: Run states.
STATUSES = ("running", "finished", "failed")
#: Columns holding JSON text.
JSON_COLUMNS = ("options", "config", "metrics", "episodes", "curve", "groups", "versions")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    config_hash   TEXT PRIMARY KEY,
    scenario      TEXT NOT NULL,
    method        TEXT NOT NULL,
    options       TEXT NOT NULL,
    seed          INTEGER NOT NULL,
    train_steps   INTEGER NOT NULL,
    eval_episodes INTEGER NOT NULL,
    config        TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed')),
    metrics       TEXT NOT NULL DEFAULT '{}',
    episodes      TEXT NOT NULL DEFAULT '[]',
    curve         TEXT NOT NULL DEFAULT '[]',
    groups        TEXT NOT NULL DEFAULT '[]',
    wall_time_s   REAL,
    started_at    TEXT,
    finished_at   TEXT,
    versions      TEXT NOT NULL DEFAULT '{}',
    device        TEXT NOT NULL DEFAULT '',
    host          TEXT NOT NULL DEFAULT '',
    error         TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    owner         TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS runs_by_cell ON runs (scenario, method, status);
"""


def artifacts_dir(store_path: str | Path) -> Path:
    """Where checkpoints and logs go: ``<store without suffix>-artifacts/`` next to the store."""
    path = Path(store_path)
    return path.with_name(f"{path.stem}-artifacts")


class Store:
    """An open results store (see the module doc). Use as a context manager or call close()."""

    def __init__(self, path: str | Path, *, create: bool = True) -> None:
        self.path = Path(path)
        if self.path.exists() and self.path.is_dir():
            raise BenchError(f"store {str(self.path)!r} is a folder, not a file")
        if not create and not self.path.exists():
            raise BenchError(f"no store at {str(self.path)!r}; run a suite first (--store)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._init_schema()
        except (OSError, sqlite3.Error) as exc:
            raise BenchError(f"cannot open store {str(self.path)!r}: {exc}") from None
        self.owner = f"{platform.node()}:{os.getpid()}"

    def _init_schema(self) -> None:
        with self.transaction():
            for statement in filter(str.strip, _SCHEMA.split(";")):
                self._db.execute(statement)
            rows = self._db.execute("SELECT version FROM schema_version").fetchall()
            if not rows:
                self._db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
            elif rows[0][0] != SCHEMA_VERSION:
                raise BenchError(
                    f"store {str(self.path)!r} has schema version {rows[0][0]}; this alloc-bench "
                    f"reads version {SCHEMA_VERSION}"
                )

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``); rolled back if anything raises."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL when the last one closes)."""
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reading ---------------------------------------------------------------------------------

    def get(self, config_hash: str) -> dict[str, Any] | None:
        """The row of ``config_hash`` (JSON columns decoded), or ``None``."""
        row = self._db.execute(
            "SELECT * FROM runs WHERE config_hash = ?", (config_hash,)
        ).fetchone()
        return None if row is None else _decode(row)

    def rows(self, hashes: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Rows by config hash: those of ``hashes`` that exist, or every row."""
        if hashes is None:
            cursor = self._db.execute("SELECT * FROM runs ORDER BY rowid")
            return {row["config_hash"]: _decode(row) for row in cursor}
        out: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            cursor = self._db.execute(f"SELECT * FROM runs WHERE config_hash IN ({marks})", chunk)
            out.update({row["config_hash"]: _decode(row) for row in cursor})
        return out

    def finished(self, hashes: Iterable[str]) -> set[str]:
        """Those of ``hashes`` whose run is finished."""
        return {h for h, row in self.rows(hashes).items() if row["status"] == "finished"}

    def find(self, method: str, scenario: str | None = None) -> list[dict[str, Any]]:
        """Finished rows of ``method`` (on ``scenario``, or on any), any options and budget."""
        query = "SELECT * FROM runs WHERE method = ? AND status = 'finished'"
        args: tuple[str, ...] = (method,)
        if scenario is not None:
            query += " AND scenario = ?"
            args += (scenario,)
        cursor = self._db.execute(query + " ORDER BY scenario, seed", args)
        return [_decode(row) for row in cursor]

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        cursor = self._db.execute("SELECT status, COUNT(*) FROM runs GROUP BY status")
        return {status: count for status, count in cursor}

    # Writing ---------------------------------------------------------------------------------

    def mark_running(self, configs: Iterable[RunConfig]) -> None:
        """Record that ``configs`` are starting (one transaction). A finished row is left as it
        is (a forced re-run replaces it only when the new run finishes)."""
        now = utc_now()
        with self.transaction() as db:
            for config in configs:
                data = config.to_dict()
                db.execute(
                    "INSERT INTO runs (config_hash, scenario, method, options, seed, train_steps,"
                    " eval_episodes, config, status, started_at, attempts, owner)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, 1, ?)"
                    " ON CONFLICT (config_hash) DO UPDATE SET status = 'running',"
                    " started_at = excluded.started_at, attempts = runs.attempts + 1,"
                    " owner = excluded.owner, error = ''"
                    " WHERE runs.status != 'finished'",
                    (
                        config.config_hash,
                        config.scenario,
                        config.method,
                        canonical_json(data["options"]),
                        config.seed,
                        config.budget.train_steps,
                        config.budget.eval_episodes,
                        canonical_json(data),
                        now,
                        self.owner,
                    ),
                )

    def record(self, outcome: Mapping[str, Any]) -> bool:
        """Store a run's outcome (:func:`alloc_bench.execute.execute_run`) in one transaction.

        A finished outcome replaces the row; a failed one replaces it unless the row holds an
        earlier finished result (kept). Returns whether the row was written.
        """
        config = RunConfig.from_dict(outcome["config"])
        values = {
            "config_hash": config.config_hash,
            "scenario": config.scenario,
            "method": config.method,
            "options": canonical_json(dict(config.options)),
            "seed": config.seed,
            "train_steps": config.budget.train_steps,
            "eval_episodes": config.budget.eval_episodes,
            "config": canonical_json(config.to_dict()),
            "status": outcome["status"],
            "metrics": json.dumps(outcome.get("metrics", {})),
            "episodes": json.dumps(outcome.get("episodes", [])),
            "curve": json.dumps(outcome.get("curve", [])),
            "groups": json.dumps(outcome.get("groups", [])),
            "wall_time_s": outcome.get("wall_time_s"),
            "started_at": outcome.get("started_at"),
            "finished_at": outcome.get("finished_at"),
            "versions": json.dumps(outcome.get("versions", {}), sort_keys=True),
            "device": outcome.get("device", ""),
            "host": outcome.get("host", ""),
            "error": outcome.get("error", ""),
            "owner": self.owner,
        }
        if values["status"] not in ("finished", "failed"):
            raise ValueError(f"cannot record an outcome with status {values['status']!r}")
        columns = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        updates = ", ".join(f"{name} = excluded.{name}" for name in values if name != "config_hash")
        guard = "" if values["status"] == "finished" else " WHERE runs.status != 'finished'"
        with self.transaction() as db:
            cursor = db.execute(
                f"INSERT INTO runs ({columns}, attempts) VALUES ({marks}, 1)"
                f" ON CONFLICT (config_hash) DO UPDATE SET {updates}{guard}",
                values,
            )
            return cursor.rowcount > 0


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    out = dict(row)
    for name in JSON_COLUMNS:
        out[name] = json.loads(out[name])
    return out
