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

What can go wrong with the file is a :class:`~alloc_bench.errors.BenchError` naming it, and the
file is never deleted or rewritten behind the user's back:

* damaged (a page of garbage, a truncated file, not SQLite at all): detected when the store is
  opened (``PRAGMA quick_check``) or read, with the command that recovers the readable rows;
* an older schema (no ``schema_version`` table, columns missing): refused with the command that
  migrates it (``alloc-bench migrate --store PATH``: :func:`migrate` keeps a copy first);
* busy (another process holds the write lock): every read and write waits and retries for up to
  ``lock_wait_s`` seconds (10 minutes by default), telling ``on_wait`` while it waits, so that a
  lock taken in the middle of a suite costs time, not results;
* a row whose JSON does not decode: the row is returned with the column's empty value and the
  problem in ``row["problems"]`` (``{column: text}``), for the caller to skip or re-run it
  (:mod:`alloc_bench.rows`).
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

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
#: Seconds a read or write waits for another process's lock before giving up.
LOCK_WAIT_S = 600.0
#: Seconds SQLite itself waits per attempt (then :class:`Store` notes the wait and retries).
BUSY_TIMEOUT_S = 2.0

#: Columns every store has had (the key and the config): a table without one is not a store.
_KEY_COLUMNS = {
    "config_hash": "TEXT PRIMARY KEY",
    "scenario": "TEXT NOT NULL",
    "method": "TEXT NOT NULL",
    "options": "TEXT NOT NULL",
    "seed": "INTEGER NOT NULL",
    "train_steps": "INTEGER NOT NULL",
    "eval_episodes": "INTEGER NOT NULL",
    "config": "TEXT NOT NULL",
    "status": "TEXT NOT NULL CHECK (status IN ('running', 'finished', 'failed'))",
}
#: Columns with a default: :func:`migrate` adds those an older store lacks.
_DATA_COLUMNS = {
    "metrics": "TEXT NOT NULL DEFAULT '{}'",
    "episodes": "TEXT NOT NULL DEFAULT '[]'",
    "curve": "TEXT NOT NULL DEFAULT '[]'",
    "groups": "TEXT NOT NULL DEFAULT '[]'",
    "wall_time_s": "REAL",
    "started_at": "TEXT",
    "finished_at": "TEXT",
    "versions": "TEXT NOT NULL DEFAULT '{}'",
    "device": "TEXT NOT NULL DEFAULT ''",
    "host": "TEXT NOT NULL DEFAULT ''",
    "error": "TEXT NOT NULL DEFAULT ''",
    "attempts": "INTEGER NOT NULL DEFAULT 0",
    "owner": "TEXT NOT NULL DEFAULT ''",
}
_COLUMNS = {**_KEY_COLUMNS, **_DATA_COLUMNS}
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS runs ("
    + ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())
    + ")",
    "CREATE INDEX IF NOT EXISTS runs_by_cell ON runs (scenario, method, status)",
)
#: SQLite's result codes for a lock held by another connection (SQLITE_BUSY, SQLITE_LOCKED).
_BUSY_CODES = (5, 6)

T = TypeVar("T")


def artifacts_dir(store_path: str | Path) -> Path:
    """Where checkpoints and logs go: ``<store without suffix>-artifacts/`` next to the store."""
    path = Path(store_path)
    return path.with_name(f"{path.stem}-artifacts")


def migrate_command(path: str | Path) -> str:
    """The command that migrates the store at ``path`` to :data:`SCHEMA_VERSION`."""
    return f"alloc-bench migrate --store {str(path)!r}"


def damaged(path: str | Path, exc: BaseException) -> BenchError:
    """The error for a store SQLite cannot read (``exc``): what to do, nothing deleted."""
    recovered = Path(path).with_name(f"{Path(path).stem}-recovered.sqlite")
    return BenchError(
        f"store {str(path)!r} is damaged or not an SQLite file ({exc}); it is left as it is. "
        f"To keep what can still be read, recover it into a new store: sqlite3 {str(path)!r} "
        f"'.recover' | sqlite3 {str(recovered)!r}, then use --store {str(recovered)!r} (runs "
        "it lacks will run again); or move the file aside and start a new store"
    )


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _BUSY_CODES
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class Store:
    """An open results store (see the module doc). Use as a context manager or call close().

    Args:
        path: the SQLite file.
        create: create the file (and its folder) when missing; else a missing file is an error.
        lock_wait_s: how long a read or write waits for another process's lock, in seconds.
        on_wait: called with a line of text while waiting for a lock (every ~30 s).
        busy_timeout_s: SQLite's own wait per attempt, in seconds.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        create: bool = True,
        lock_wait_s: float = LOCK_WAIT_S,
        on_wait: Callable[[str], None] | None = None,
        busy_timeout_s: float = BUSY_TIMEOUT_S,
    ) -> None:
        self.path = Path(path)
        self.lock_wait_s = lock_wait_s
        self.on_wait = on_wait
        if self.path.exists() and self.path.is_dir():
            raise BenchError(f"store {str(self.path)!r} is a folder, not a file")
        if not create and not self.path.exists():
            raise BenchError(f"no store at {str(self.path)!r}; run a suite first (--store)")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=busy_timeout_s)
        except (OSError, sqlite3.Error) as exc:
            raise BenchError(f"cannot open store {str(self.path)!r}: {exc}") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._retry(self._open)
        except BaseException:
            self._db.close()
            raise
        self.owner = f"{platform.node()}:{os.getpid()}"

    def _open(self) -> None:
        db = self._db
        check = [row[0] for row in db.execute("PRAGMA quick_check")]  # reads only
        if check != ["ok"]:
            lines = [line for text in check for line in str(text).splitlines()]
            problems = [line for line in lines if not line.startswith("***")]
            more = f" and {len(problems) - 1} more problem(s)" if len(problems) > 1 else ""
            raise sqlite3.DatabaseError(f"{problems[0] if problems else lines[0]}{more}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "runs" in tables:
            self._check_schema(tables)
            return
        with self.transaction():
            for statement in _SCHEMA:
                db.execute(statement)
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))

    def _check_schema(self, tables: set[str]) -> None:
        """A :class:`BenchError` unless the store has this version's schema (module doc)."""
        version = schema_version(self._db, tables)
        if version is not None and version > SCHEMA_VERSION:
            raise BenchError(
                f"store {str(self.path)!r} has schema version {version}; this alloc-bench "
                f"reads version {SCHEMA_VERSION}: upgrade alloc-bench"
            )
        missing = missing_columns(self._db)
        if version == SCHEMA_VERSION and not missing:
            return
        lacks = f", lacks the column(s) {', '.join(missing)}" if missing else ""
        raise BenchError(
            f"store {str(self.path)!r} has schema version {version or 0} (an older alloc-bench)"
            f"{lacks}; this alloc-bench reads version {SCHEMA_VERSION}. Migrate it (a copy is "
            f"kept): {migrate_command(self.path)}"
        )

    # Errors, locks and transactions ---------------------------------------------------------

    def _retry(self, action: Callable[[], T]) -> T:
        """``action()``, retried while another process holds the lock (up to ``lock_wait_s``);
        an SQLite error other than a lock is the :func:`damaged` error."""
        start = time.monotonic()
        next_note = 0.0
        while True:
            try:
                return action()
            except sqlite3.DatabaseError as exc:
                if not (isinstance(exc, sqlite3.OperationalError) and _is_busy(exc)):
                    raise damaged(self.path, exc) from None
            waited = time.monotonic() - start
            if waited >= self.lock_wait_s:
                raise BenchError(
                    f"store {str(self.path)!r} stayed locked by another process for "
                    f"{waited:.0f} s; finish that process (or its open transaction) and run "
                    "again: finished runs are kept"
                )
            if self.on_wait is not None and waited >= next_note:
                self.on_wait(
                    f"store {self.path} is locked by another process; waiting "
                    f"({waited:.0f} s so far, at most {self.lock_wait_s:.0f} s)"
                )
                next_note = waited + 30.0
            time.sleep(min(0.5, max(0.0, self.lock_wait_s - waited)))

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

    def _write(self, action: Callable[[sqlite3.Connection], T]) -> T:
        """``action(db)`` in one transaction, retried as a whole while the store is locked."""

        def attempt() -> T:
            with self.transaction() as db:
                return action(db)

        return self._retry(attempt)

    def _query(self, sql: str, args: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """All rows of a read, retried while the store is locked."""
        return self._retry(lambda: self._db.execute(sql, tuple(args)).fetchall())

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
        rows = self._query("SELECT rowid, * FROM runs WHERE config_hash = ?", (config_hash,))
        return _decode(rows[0]) if rows else None

    def rows(self, hashes: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
        """Rows by config hash: those of ``hashes`` that exist, or every row."""
        if hashes is None:
            return {
                row["config_hash"]: _decode(row)
                for row in self._query("SELECT rowid, * FROM runs ORDER BY rowid")
            }
        out: dict[str, dict[str, Any]] = {}
        wanted = list(dict.fromkeys(hashes))
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self._query(f"SELECT rowid, * FROM runs WHERE config_hash IN ({marks})", chunk)
            out.update({row["config_hash"]: _decode(row) for row in rows})
        return out

    def finished(self, hashes: Iterable[str]) -> set[str]:
        """Those of ``hashes`` whose run is finished."""
        return {h for h, row in self.rows(hashes).items() if row["status"] == "finished"}

    def find(self, method: str, scenario: str | None = None) -> list[dict[str, Any]]:
        """Finished rows of ``method`` (on ``scenario``, or on any), any options and budget."""
        query = "SELECT rowid, * FROM runs WHERE method = ? AND status = 'finished'"
        args: tuple[str, ...] = (method,)
        if scenario is not None:
            query += " AND scenario = ?"
            args += (scenario,)
        return [_decode(row) for row in self._query(query + " ORDER BY scenario, seed", args)]

    def counts(self) -> dict[str, int]:
        """Rows per status."""
        rows = self._query("SELECT status, COUNT(*) FROM runs GROUP BY status")
        return {status: count for status, count in rows}

    # Writing ---------------------------------------------------------------------------------

    def mark_running(self, configs: Iterable[RunConfig]) -> None:
        """Record that ``configs`` are starting (one transaction). A finished row is left as it
        is (a forced re-run replaces it only when the new run finishes)."""
        now = utc_now()
        values = [
            (
                config.config_hash,
                config.scenario,
                config.method,
                canonical_json(config.to_dict()["options"]),
                config.seed,
                config.budget.train_steps,
                config.budget.eval_episodes,
                canonical_json(config.to_dict()),
                now,
                self.owner,
            )
            for config in configs
        ]
        self._write(
            lambda db: db.executemany(
                "INSERT INTO runs (config_hash, scenario, method, options, seed, train_steps,"
                " eval_episodes, config, status, started_at, attempts, owner)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, 1, ?)"
                " ON CONFLICT (config_hash) DO UPDATE SET status = 'running',"
                " started_at = excluded.started_at, attempts = runs.attempts + 1,"
                " owner = excluded.owner, error = ''"
                " WHERE runs.status != 'finished'",
                values,
            )
        )

    def record(self, outcome: Mapping[str, Any]) -> bool:
        """Store a run's outcome (:func:`alloc_bench.execute.execute_run`) in one transaction,
        waiting for another process's lock if needed (module doc).

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
        sql = (
            f"INSERT INTO runs ({columns}, attempts) VALUES ({marks}, 1)"
            f" ON CONFLICT (config_hash) DO UPDATE SET {updates}{guard}"
        )
        return self._write(lambda db: db.execute(sql, values).rowcount > 0)


def schema_version(db: sqlite3.Connection, tables: set[str]) -> int | None:
    """The version recorded in the store (``None``: no ``schema_version`` table or row)."""
    if "schema_version" not in tables:
        return None
    rows = db.execute("SELECT version FROM schema_version").fetchall()
    return int(rows[0][0]) if rows else None


def missing_columns(db: sqlite3.Connection) -> list[str]:
    """Columns of this schema the ``runs`` table lacks; a :class:`BenchError` when it lacks a
    key column (then it is not an alloc-bench store)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    lost = [name for name in _KEY_COLUMNS if name not in have]
    if lost:
        raise BenchError(
            f"the runs table lacks the column(s) {', '.join(lost)}: not an alloc-bench store"
        )
    return [name for name in _DATA_COLUMNS if name not in have]


def migrate(path: str | Path) -> tuple[Path | None, list[str]]:
    """Bring the store at ``path`` to :data:`SCHEMA_VERSION`: add the columns it lacks (with
    their defaults), the index and the ``schema_version`` table, in one transaction, after
    copying the file to ``<store>.v<old version>-backup.sqlite`` (never overwritten). Rows are
    kept as they are.

    Returns:
        ``(backup path, added columns)``; ``(None, [])`` when the store is already current.

    Raises:
        BenchError: no file, a damaged file, a newer schema or a table that is not a store.
    """
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"no store at {str(path)!r}")
    db = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    try:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "runs" not in tables:
            raise BenchError(f"{str(path)!r} has no runs table: not an alloc-bench store")
        version = schema_version(db, tables)
        if version is not None and version > SCHEMA_VERSION:
            raise BenchError(
                f"store {str(path)!r} has schema version {version}, newer than this "
                f"alloc-bench's {SCHEMA_VERSION}: upgrade alloc-bench"
            )
        added = missing_columns(db)
        if version == SCHEMA_VERSION and not added:
            return None, []
        backup = path.with_name(f"{path.stem}.v{version or 0}-backup.sqlite")
        n = 1
        while backup.exists():
            n += 1
            backup = path.with_name(f"{path.stem}.v{version or 0}-backup-{n}.sqlite")
        with sqlite3.connect(backup) as copy:
            db.backup(copy)
        copy.close()
        db.execute("BEGIN IMMEDIATE")
        for name in added:
            db.execute(f"ALTER TABLE runs ADD COLUMN {name} {_DATA_COLUMNS[name]}")
        for statement in _SCHEMA:
            db.execute(statement)
        db.execute("DELETE FROM schema_version")
        db.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))
        db.execute("COMMIT")
        return backup, added
    except sqlite3.DatabaseError as exc:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise damaged(path, exc) from None
    finally:
        db.close()


def _decode(row: sqlite3.Row) -> dict[str, Any]:
    """The row as a dict, JSON columns decoded; a column that does not decode gets its empty
    value and its problem in ``problems`` (``{column: text}``, empty for a sound row)."""
    out = dict(row)
    problems: dict[str, str] = {}
    for name in JSON_COLUMNS:
        text = out[name]
        try:
            out[name] = json.loads(text)
        except (TypeError, ValueError) as exc:
            out[name] = [] if _COLUMNS[name].endswith("'[]'") else {}
            problems[name] = f"not JSON ({exc}): {str(text)[:40]!r}"
    out["problems"] = problems
    return out
