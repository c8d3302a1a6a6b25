"""What goes wrong with a store file: damage, an older schema, bad rows, a lock held by another
process in the middle of a run. Each is a clear message naming the file (and the row and column),
and nothing the user has is deleted or lost."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from alloc_bench.cli import main
from alloc_bench.errors import BenchError
from alloc_bench.results import collect
from alloc_bench.runner import run_suite
from alloc_bench.store import SCHEMA_VERSION, Store, migrate
from alloc_bench.suites import Suite

PAGE = 4096


def filled_store(path: Path, suite: Suite) -> Path:
    with Store(path) as store:
        run_suite(suite, store, jobs=1)
    return path


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# ------------------------------------------------------------------------------ damaged files
def _garbage_on_a_page(data: bytes) -> bytes:
    """300 bytes of garbage over the start (header and cell pointers) of the runs table's root
    page (page 3 of a new store: 1 is the schema, 2 the schema_version table)."""
    out = bytearray(data)
    out[2 * PAGE : 2 * PAGE + 300] = b"\xde\xad" * 150
    return bytes(out)


@pytest.mark.parametrize(
    "damage",
    [_garbage_on_a_page, lambda data: data[: PAGE + 900], lambda data: b"results\n" * 600],
    ids=["garbage-page", "truncated", "not-sqlite"],
)
def test_a_damaged_store_is_named_with_what_to_do_and_left_alone(
    tiny: Suite, tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], damage
) -> None:
    good = filled_store(tmp_path / "good.sqlite", tiny)
    path = tmp_path / "store.sqlite"
    path.write_bytes(damage(good.read_bytes()))
    before = path.read_bytes()
    with pytest.raises(BenchError, match=r"store.sqlite' is damaged.*left as it is.*recover"):
        Store(path)
    code, _, err = run_cli(capsys, "report", "--suite-file", str(tiny_file),
                           "--store", str(path), "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 2 and "is damaged" in err and ".recover" in err and len(err.splitlines()) == 1
    assert path.read_bytes() == before  # nothing written, nothing deleted


# ------------------------------------------------------------------------------ old schemas
def old_store(path: Path, tiny: Suite) -> Path:
    """A store as an older alloc-bench would have left it: no schema_version, no groups and no
    curve column; its finished rows must survive the migration."""
    filled_store(path, tiny)
    db = sqlite3.connect(path)
    db.executescript(
        "DROP TABLE schema_version; DROP INDEX runs_by_cell;"
        "ALTER TABLE runs DROP COLUMN groups; ALTER TABLE runs DROP COLUMN curve;"
    )
    db.commit()
    db.close()
    return path


def test_an_older_schema_is_refused_with_the_command_that_migrates_it(
    tiny: Suite, tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = old_store(tmp_path / "old.sqlite", tiny)
    before = sqlite3.connect(path).execute("SELECT config_hash, metrics FROM runs").fetchall()
    with pytest.raises(BenchError, match=r"schema version 0 .*lacks the column\(s\) curve, groups"):
        Store(path)
    code, _, err = run_cli(capsys, "run", "--suite-file", str(tiny_file),
                           "--store", str(path), "--out", str(tmp_path / "out"))  # fmt: skip
    assert code == 2 and f"alloc-bench migrate --store '{path}'" in err
    code, _, err = run_cli(capsys, "migrate", "--store", str(path))
    assert code == 0 and "added the column(s) curve, groups" in err
    backup = tmp_path / "old.v0-backup.sqlite"
    assert f"the original is at {backup}" in err
    assert sqlite3.connect(backup).execute("SELECT config_hash, metrics FROM runs").fetchall() == (
        before
    )
    with Store(path) as store:  # current now: every row kept, a run skips them all
        assert {h: json.dumps(r["metrics"]) for h, r in store.rows().items()} == dict(before)
        summary = run_suite(tiny, store, jobs=1)
        assert summary.executed == 0 and len(summary.plan.finished) == 6
    assert migrate(path) == (None, [])  # nothing more to do


def test_a_newer_schema_or_a_foreign_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(BenchError, match="upgrade alloc-bench"):
        Store(path)
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE runs (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(BenchError, match=r"lacks the column\(s\) config_hash.*not an alloc-bench"):
        Store(other)


# ------------------------------------------------------------------------------ bad rows
def spoil(path: Path, seed: int, method: str, metrics: str) -> None:
    db = sqlite3.connect(path)
    db.execute("UPDATE runs SET metrics = ? WHERE seed = ? AND method = ?", (metrics, seed, method))
    db.commit()
    db.close()


def test_reports_skip_bad_rows_naming_them_and_run_repairs_the_damaged_ones(
    tiny: Suite, tiny_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = filled_store(tmp_path / "store.sqlite", tiny)
    with Store(path) as store:
        rowids = {(r["method"], r["seed"]): r["rowid"] for r in store.rows().values()}
        rows_before = {(r["method"], r["seed"]): r["metrics"] for r in store.rows().values()}
    spoil(path, 0, "greedy", '{"gmv": 1.0, oops')  # bad JSON
    spoil(path, 1, "greedy", "{}")  # empty metrics
    nan_gmv = {**rows_before[("greedy", 2)], "gmv": float("nan")}
    spoil(path, 2, "greedy", json.dumps(nan_gmv))  # a NaN metric (Python's JSON writes NaN)
    suite_file = str(tiny_file)
    code, _, err = run_cli(capsys, "report", "--suite-file", suite_file, "--store", str(path),
                           "--out", str(tmp_path / "report"), "--no-plots")  # fmt: skip
    assert code == 0, err
    for seed, problem in ((0, "not JSON"), (1, "no value for 'gmv'"), (2, "'gmv' is nan")):
        row = rowids[("greedy", seed)]
        assert re.search(
            rf"warning: skipped row {row} \(config \w+: ride-hailing-1 greedy seed {seed}\), "
            rf"column metrics: .*{re.escape(problem)}",
            err,
        ), err
    results = json.loads((tmp_path / "report" / "results.json").read_text())["results"]
    greedy = next(r for r in results if r["method"] == "greedy")
    assert greedy["status"] == "not run" and "3 unusable row(s) skipped" in greedy["reason"]
    assert len(greedy["skipped"]) == 3
    code, _, err = run_cli(capsys, "compare", "greedy", "random", "--store", str(path))
    assert code == 2 and "warning: skipped row" in err  # nothing left of greedy to compare
    # run: the damaged rows (bad JSON, no metrics) run again; the NaN one is a result, kept
    code, _, err = run_cli(capsys, "run", "--suite-file", suite_file, "--store", str(path),
                           "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 0, err
    assert "column metrics: not JSON" in err and "it runs again" in err
    assert "tiny: 6 runs: 2 to run" in err
    with Store(path) as store:
        rows = {(r["method"], r["seed"]): r for r in store.rows().values()}
        assert rows[("greedy", 0)]["problems"] == {} and rows[("greedy", 0)]["metrics"]["gmv"] > 0
        assert rows[("greedy", 1)]["metrics"]["gmv"] > 0
        assert rows[("greedy", 2)]["metrics"]["gmv"] != rows[("greedy", 2)]["metrics"]["gmv"]
        assert collect(tiny, store)[0]["seeds"] == [0, 1]


# ------------------------------------------------------------------------------ locks
HOLD_LOCK = textwrap.dedent(
    """
    import sqlite3, sys, time
    db = sqlite3.connect(sys.argv[1], isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    db.execute("ROLLBACK")
    """
)


def test_a_lock_taken_mid_run_is_waited_for_and_no_result_is_lost(
    tiny: Suite, tmp_path: Path
) -> None:
    """Another process holds the write lock for 2 s while runs finish; SQLite alone would give
    up after the store's 0.2 s busy timeout (``database is locked``), the store waits."""
    notes: list[str] = []
    holders: list[subprocess.Popen[str]] = []

    def take_the_lock(done: int, total: int, outcome: dict, elapsed: float) -> None:
        if done == 1:
            holder = subprocess.Popen(
                [sys.executable, "-c", HOLD_LOCK, str(store.path), "2"],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert holder.stdout.readline().strip() == "locked"
            holders.append(holder)

    with Store(tmp_path / "store.sqlite", busy_timeout_s=0.2, on_wait=notes.append) as store:
        summary = run_suite(tiny, store, jobs=1, progress=take_the_lock)
        assert summary.executed == 6 and not summary.failed
        assert all(r["status"] == "finished" for r in store.rows().values())
        assert len(store.rows()) == 6
    holders[0].wait(timeout=30)
    assert notes and "is locked by another process; waiting" in notes[0]


def test_a_lock_held_too_long_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite"
    Store(path).close()
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(path), "5"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with (
            Store(path, busy_timeout_s=0.1, lock_wait_s=0.5) as store,
            pytest.raises(BenchError, match=r"stayed locked by another process for \d+ s"),
        ):
            store.mark_running([])
    finally:
        holder.kill()
        holder.wait()


# ------------------------------------------------------------------------------ suite files
def test_a_suite_file_that_is_not_utf8_names_the_line_and_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes('name = "x"\ndescription = "caf\xe9"\n'.encode("latin-1"))
    code, _, err = run_cli(capsys, "run", "--suite-file", str(path), "--store",
                           str(tmp_path / "s.sqlite"))  # fmt: skip
    assert code == 2
    assert "latin.toml', line 2, byte column 19: bytes that are not UTF-8" in err
    assert "Traceback" not in err
