"""The SQLite store: schema, transactions, what may replace what."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from alloc_bench.config import RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.execute import execute_run
from alloc_bench.store import SCHEMA_VERSION, Store, artifacts_dir

CONFIG = RunConfig("ride-hailing-1", "greedy", 0)


def outcome(status: str = "finished", gmv: float = 1.0, **extra: object) -> dict:
    return {
        "config_hash": CONFIG.config_hash, "config": CONFIG.to_dict(), "status": status,
        "metrics": {"gmv": gmv} if status == "finished" else {},
        "episodes": [{"gmv": gmv}] if status == "finished" else [],
        "wall_time_s": 0.5, "started_at": "t0", "finished_at": "t1", "versions": {"x": "1"},
        "device": "cpu", "host": "h", "error": "" if status == "finished" else "E: boom",
        **extra,
    }  # fmt: skip


def test_a_new_store_has_the_schema_version_and_wal(store: Store) -> None:
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT version FROM schema_version").fetchall() == [(SCHEMA_VERSION,)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    columns = {row[1] for row in db.execute("PRAGMA table_info(runs)")}
    assert {"config_hash", "config", "seed", "metrics", "episodes", "curve", "groups",
            "wall_time_s", "versions", "device", "status"} <= columns  # fmt: skip


def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = 99")
    db.commit()
    db.close()
    with pytest.raises(BenchError, match="has schema version 99; this alloc-bench reads version"):
        Store(path)


def test_record_round_trips_a_real_outcome(store: Store) -> None:
    result = execute_run(CONFIG.to_dict())
    assert result["status"] == "finished"
    assert store.record(result)
    row = store.get(CONFIG.config_hash)
    assert row["status"] == "finished" and row["seed"] == 0
    assert row["metrics"] == result["metrics"] and row["episodes"] == result["episodes"]
    assert row["config"] == CONFIG.to_dict() and row["options"] == {}
    assert row["versions"]["alloc_bench"] and row["device"] == "cpu"
    assert row["wall_time_s"] == result["wall_time_s"] > 0
    assert store.finished([CONFIG.config_hash, "nope"]) == {CONFIG.config_hash}


def test_running_markers_never_hide_a_finished_row(store: Store) -> None:
    store.mark_running([CONFIG])
    assert store.get(CONFIG.config_hash)["status"] == "running"
    assert store.finished([CONFIG.config_hash]) == set()
    store.record(outcome("finished", 5.0))
    store.mark_running([CONFIG])  # a forced re-run starts: the old result stays until replaced
    row = store.get(CONFIG.config_hash)
    assert row["status"] == "finished" and row["metrics"] == {"gmv": 5.0}


def test_failures_are_recorded_but_never_replace_a_finished_row(store: Store) -> None:
    store.mark_running([CONFIG])
    assert store.record(outcome("failed"))
    row = store.get(CONFIG.config_hash)
    assert row["status"] == "failed" and row["error"] == "E: boom"
    store.mark_running([CONFIG])
    assert store.get(CONFIG.config_hash)["attempts"] == 2
    assert store.record(outcome("finished", 7.0))
    assert not store.record(outcome("failed"))
    assert store.get(CONFIG.config_hash)["metrics"] == {"gmv": 7.0}
    assert store.record(outcome("finished", 8.0))  # a newer finished result replaces it
    assert store.get(CONFIG.config_hash)["metrics"] == {"gmv": 8.0}


def test_a_failed_transaction_leaves_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute(
            "INSERT INTO runs (config_hash, scenario, method, options, seed, train_steps,"
            " eval_episodes, config, status)"
            " VALUES ('x', 's', 'm', '{}', 0, 0, 1, '{}', 'finished')"
        )
        raise RuntimeError("killed half-way")
    assert store.rows() == {}


def test_store_paths_and_errors(tmp_path: Path) -> None:
    assert artifacts_dir(tmp_path / "a" / "bench.sqlite") == tmp_path / "a" / "bench-artifacts"
    with pytest.raises(BenchError, match="is a folder"):
        Store(tmp_path)
    with pytest.raises(BenchError, match="no store at"):
        Store(tmp_path / "missing.sqlite", create=False)
