"""End-to-end: kill ``alloc-bench run`` half-way (SIGKILL), start it again, and it finishes
without redoing finished runs; the store never holds half a row; the results equal an
uninterrupted run; ``alloc-bench report`` then writes the tables and plots."""

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

EXE = shutil.which("alloc-bench") or str(Path(sys.executable).parent / "alloc-bench")
SUITE = """
name = "resume"
description = "three rule-based methods x three seeds on the large city, two episodes each"
compare = ["dyps-kdd24/table7"]

[[runs]]
scenarios = ["ride-hailing-2"]
methods = ["greedy", "nearest", "random"]
seeds = "0-2"
eval_episodes = 2
"""
TOTAL = 9


def run_cmd(suite: Path, store: Path, out: Path) -> list[str]:
    return [EXE, "run", "--suite-file", str(suite), "--store", str(store), "--out", str(out),
            "--jobs", "2"]  # fmt: skip


def rows(store: Path) -> dict[str, dict]:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        db.row_factory = sqlite3.Row
        return {r["config_hash"]: dict(r) for r in db.execute("SELECT * FROM runs")}
    finally:
        db.close()


def finished(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        return sum(r["status"] == "finished" for r in rows(store).values())
    except sqlite3.OperationalError:  # the schema is being created
        return 0


@pytest.mark.skipif(sys.platform == "win32", reason="process groups and SIGKILL are POSIX")
def test_killed_run_resumes_without_redoing_finished_runs(tmp_path: Path) -> None:
    suite = tmp_path / "resume.toml"
    suite.write_text(SUITE)
    store = tmp_path / "store.sqlite"

    # 1. Start the suite and SIGKILL it (and its pool workers) once a run is finished.
    proc = subprocess.Popen(
        run_cmd(suite, store, tmp_path / "out"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while finished(store) < 1:
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "no run finished within 120 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stderr.close()

    # 2. No half row: every row is a complete finished run or a bare running/failed marker.
    assert sqlite3.connect(store).execute("PRAGMA integrity_check").fetchone() == ("ok",)
    before = rows(store)
    done = {h: r for h, r in before.items() if r["status"] == "finished"}
    assert 1 <= len(done) < TOTAL, "the kill came too late to interrupt anything"
    for row in before.values():
        if row["status"] == "finished":
            assert row["metrics"] != "{}" and row["episodes"].count("gmv") == 2
            assert row["finished_at"] and row["wall_time_s"] > 0
        else:
            assert row["status"] == "running" and row["metrics"] == "{}"
            assert row["episodes"] == "[]" and row["finished_at"] is None

    # 3. Start again: it finishes, runs only what was not finished, keeps the finished rows.
    again = subprocess.run(
        run_cmd(suite, store, tmp_path / "out"), capture_output=True, text=True, timeout=300
    )
    assert again.returncode == 0, again.stderr
    left = TOTAL - len(done)
    assert f"resume: {TOTAL} runs: {left} to run" in again.stderr
    assert f"{len(done)} finished earlier (skipped)" in again.stderr
    assert f"[{left}/{left}] " in again.stderr and f"[{left + 1}/" not in again.stderr
    after = rows(store)
    assert len(after) == TOTAL and all(r["status"] == "finished" for r in after.values())
    for key, row in done.items():
        assert after[key] == row  # not redone: same timestamps, wall-clock, numbers, attempts
    assert "| greedy | " in again.stdout  # the leaderboard

    # 4. The numbers equal those of an uninterrupted run.
    clean = tmp_path / "clean.sqlite"
    subprocess.run(run_cmd(suite, clean, tmp_path / "clean"), check=True, capture_output=True,
                   timeout=300)  # fmt: skip
    reference = rows(clean)
    assert {h: (r["metrics"], r["episodes"]) for h, r in after.items()} == {
        h: (r["metrics"], r["episodes"]) for h, r in reference.items()
    }

    # 5. The report: tables, plots, marl-eval JSON.
    report = subprocess.run(
        [EXE, "report", "--suite-file", str(suite), "--store", str(store), "--out",
         str(tmp_path / "report")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    written = {p.relative_to(tmp_path / "report").as_posix()
               for p in (tmp_path / "report").rglob("*") if p.is_file()}  # fmt: skip
    assert written == {
        "leaderboard.md", "leaderboard.csv", "results.json", "marl_eval.json",
        "table-dyps-kdd24-table7.csv", "plots/ride-hailing-2.png",
    }  # fmt: skip
    assert report.stdout == (tmp_path / "report" / "leaderboard.md").read_text()
    assert "## dyps-kdd24/table7 · defaults" in report.stdout
