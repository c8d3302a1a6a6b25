"""The alloc-bench command line, through main([...])."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from alloc_bench import output
from alloc_bench.cli import OUTPUT_FILES, main

TINY_SUITE = """
name = "tiny"
description = "two runs"
compare = ["dyps-kdd24/table7"]

[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["greedy", "random"]
seeds = "0-1"
"""


def run_main(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


EVAL = ("evaluate", "--scenario", "ride-hailing-1", "--method", "greedy")


def test_evaluate_json_prints_exactly_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, *EVAL, "--seeds", "0-1", "--json")
    assert code == 0
    result, end = json.JSONDecoder().raw_decode(out)
    assert out[end:].strip() == ""
    assert result["seeds"] == [0, 1] and result["method"] == "greedy"
    assert result["episodes"] == 1 and result["options"] == {}
    assert [row["seed"] for row in result["per_seed"]] == [0, 1]


def test_evaluate_passes_episodes_and_options(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(
        capsys, *EVAL, "--seeds", "0,1", "--episodes", "2", "--option", "demand=reference", "--json"
    )
    assert code == 0
    result = json.loads(out)
    assert result["episodes"] == 2 and result["options"] == {"demand": "reference"}
    assert result["std"]["gmv"] == 0.0  # the same day for every seed and episode


def test_evaluate_summary_is_human_readable(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_main(capsys, *EVAL, "--seeds", "0")
    assert code == 0
    assert out.startswith("ride-hailing-1 / greedy [defaults] seeds 0, 1 episode per seed")
    assert "  GMV " in out and "  ORR " in out and "population std over 1 seeds" in out


def test_evaluate_shows_training_progress_and_uses_one_thread_unless_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """stderr is not a terminal here: plain progress lines (first and last) with the rate and
    the ETA (the preset rounds the 12 steps up to whole iterations); ``--no-progress`` silences
    them; torch gets one thread unless ``--threads N``."""
    import torch

    learned = ("evaluate", "--scenario", "ride-hailing-1", "--method", "PS+IPPO", "--seeds", "0",
               "--train-steps", "12", "--option", "episode_steps=12", "--json")  # fmt: skip
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        code, _, err = run_main(capsys, *learned)
        assert code == 0, err
        assert torch.get_num_threads() == 1
        lines = [line for line in err.splitlines() if line.startswith("train: ")]
        total = re.match(r"train: 0/([\d,]+) env steps \(0%\), \? steps/s, ", lines[0])[1]
        assert lines[-1].startswith(f"train: {total}/{total} env steps (100%), ")
        assert re.search(r", [\d,]+ steps/s, elapsed \S+, ETA ", lines[-1]), lines
        code, _, err = run_main(capsys, *learned, "--no-progress", "--threads", "2")
        assert code == 0 and "train: " not in err, err
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("evaluate", "--scenario", "x", "--method", "greedy"), "unknown scenario 'x'; known"),
        (
            ("evaluate", "--scenario", "ride-hailing-1", "--method", "x"),
            "unknown method 'x' for scenario 'ride-hailing-1'; known",
        ),
        ((*EVAL, "--seeds", "3-1"), "bad seeds '3-1': range '3-1' is reversed"),
        ((*EVAL, "--seeds", "a"), "bad seeds 'a'"),
        ((*EVAL, "--option", "demand"), "bad option 'demand': expected key=value"),
        ((*EVAL, "--option", "demand=nope"), "demand must be one of ['stochastic', 'reference']"),
        ((*EVAL, "--option", "nope=1"), "unknown ride-hailing option(s) ['nope']"),
        ((*EVAL, "--option", "action_mode=reposition"), "greedy is a dispatch policy"),
        ((*EVAL, "--episodes", "0"), "episodes must be a positive integer"),
        (("run", "--suite", "nope"), "unknown suite 'nope'; known suites: dyps-comparisons-"),
        (("run", "--suite-file", "/nonexistent/x.toml"), "cannot read suite file"),
        (("evaluate", "--method", "greedy"), "the following arguments are required: --scenario"),
        (("run",), "one of the arguments --suite --suite-file is required"),
        (("frobnicate",), "invalid choice: 'frobnicate'"),
    ],
)
def test_errors_exit_2_with_a_message_and_no_traceback(
    capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    code, out, err = run_main(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_list_names_suites_scenarios_methods_and_tables(
    capsys: pytest.CaptureFixture[str], unbuilt: str
) -> None:
    code, out, _ = run_main(capsys, "list")
    assert code == 0
    for name in ("smoke", "paper", "paper-table2", "paper-tirl-edrp", "ride-hailing-1",
                 "ride-hailing-2", "greedy", "nearest", "random", "dyps-kdd24/table7",
                 "tirl-aaai24/edrp", "DyPS+IPPO", "Reg-TIRL"):  # fmt: skip
        assert name in out
    # Scenarios and methods of the papers that do not exist yet are listed as such.
    assert re.search(r"edrp-n300 +E-hailing driver repositioning", out)
    assert re.search(rf"{unbuilt} +not implemented: ", out)
    assert re.search(r"RODE +\(lbf, ride-hailing, rware\) RODE: ", out)
    # A learned method is listed with the families it runs on, whichever scenario sorts first.
    assert re.search(r"DyPS\+IPPO +\(lbf, ride-hailing, rware, vaccine\) IPPO", out)
    assert re.search(r"TIRL +\(edrp, mtfg\) Transition-informed", out)
    assert re.search(r"TIRL-pathwise +\(edrp, mtfg\) TIRL whose leader", out)


@pytest.fixture
def tiny_suite(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SUITE)
    return path


def test_run_writes_three_files_atomically_and_keeps_the_rest(
    capsys: pytest.CaptureFixture[str], tiny_suite: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    (out_dir / "leaderboard.md").write_text("old")
    replaced: list[tuple[Path, Path]] = []
    real_replace = os.replace

    def spy(src: str, dst: str) -> None:
        if Path(dst).is_relative_to(tmp_path):  # not, e.g., numba saving a compiled kernel
            replaced.append((Path(src), Path(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(output.os, "replace", spy)
    store = tmp_path / "store.sqlite"
    code, out, err = run_main(
        capsys, "run", "--suite-file", str(tiny_suite), "--out", str(out_dir), "--store",
        str(store), "--jobs", "1",
    )  # fmt: skip
    assert code == 0
    # Each file was written to a temporary file in the same folder, then moved into place
    # (the run logs first, one per run, then the three result files).
    assert [dst.name for _, dst in replaced] == ["run.log"] * 4 + list(OUTPUT_FILES)
    assert all(src.parent == dst.parent and src != dst for src, dst in replaced)
    assert all(dst.parent == out_dir for _, dst in replaced[4:])
    assert sorted(p.name for p in out_dir.iterdir()) == sorted([*OUTPUT_FILES, "notes.txt"])
    assert (out_dir / "notes.txt").read_text() == "mine"
    markdown = (out_dir / "leaderboard.md").read_text()
    assert out == markdown and markdown.startswith("# alloc-bench leaderboard: tiny")
    assert "| greedy | " in markdown and "| random | " in markdown and "(×" in markdown
    assert "tiny: 4 runs: 4 to run (in this process), 0 finished earlier (skipped)" in err
    assert "[1/4] ride-hailing-1 greedy [defaults] seed 0: GMV " in err
    assert "[4/4] ride-hailing-1 random [defaults] seed 1: GMV " in err
    assert "elapsed, ETA" in err
    csv_lines = (out_dir / "leaderboard.csv").read_text().splitlines()
    assert csv_lines[0].startswith("options,scenario,method,metric,ours_mean,ours_std,n")
    assert len(csv_lines) == 1 + 2 * 4
    raw = json.loads((out_dir / "results.json").read_text())
    assert raw["suite"] == "tiny" and raw["compare"] == ["dyps-kdd24/table7"]
    assert [(r["method"], r["seeds"]) for r in raw["results"]] == [
        ("greedy", [0, 1]),
        ("random", [0, 1]),
    ]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    capsys: pytest.CaptureFixture[str], tiny_suite: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "leaderboard.csv").write_text("old csv")

    def fail(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(output.os, "replace", fail)
    code, _, err = run_main(
        capsys, "run", "--suite-file", str(tiny_suite), "--out", str(out_dir), "--store",
        str(tmp_path / "store.sqlite"), "--jobs", "1",
    )  # fmt: skip
    assert code == 2
    assert "cannot write results to" in err and "No space left" in err
    assert [p.name for p in out_dir.iterdir()] == ["leaderboard.csv"]
    assert (out_dir / "leaderboard.csv").read_text() == "old csv"


def test_run_defaults_to_results_suite_name(
    capsys: pytest.CaptureFixture[str], tiny_suite: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, _, err = run_main(capsys, "run", "--suite-file", str(tiny_suite), "--jobs", "1")
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "results" / "tiny").iterdir()) == sorted(OUTPUT_FILES)
    assert "results/tiny" in err
    # The store defaults to results/alloc-bench.sqlite, its artifacts next to it.
    assert (tmp_path / "results" / "alloc-bench.sqlite").is_file()
    # One folder per run: <scenario>/<method>/seed<k>-<short hash>.
    runs = (tmp_path / "results" / "alloc-bench-artifacts").glob("*/*/seed*")
    assert sorted(p.relative_to(p.parents[2]).as_posix()[:-9] for p in runs) == [
        "ride-hailing-1/greedy/seed0", "ride-hailing-1/greedy/seed1",
        "ride-hailing-1/random/seed0", "ride-hailing-1/random/seed1",
    ]  # fmt: skip


def test_run_refuses_an_out_path_that_is_a_file(
    capsys: pytest.CaptureFixture[str], tiny_suite: Path, tmp_path: Path
) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    code, out, err = run_main(
        capsys, "run", "--suite-file", str(tiny_suite), "--out", str(target), "--store",
        str(tmp_path / "store.sqlite"),
    )  # fmt: skip
    assert code == 2 and out == "" and "is not a folder" in err
    assert target.read_text() == "x"


def test_python_dash_m_alloc_bench_works() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "alloc_bench", "list"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "ride-hailing-1" in result.stdout


def test_run_then_report_from_the_command_line(
    capsys: pytest.CaptureFixture[str], tiny_suite: Path, tmp_path: Path
) -> None:
    store, out = str(tmp_path / "s.sqlite"), tmp_path / "report"
    assert run_main(capsys, "run", "--suite-file", str(tiny_suite), "--store", store,
                    "--jobs", "1", "--out", str(tmp_path / "run"))[0] == 0  # fmt: skip
    code, stdout, err = run_main(
        capsys, "report", "--suite-file", str(tiny_suite), "--store", store, "--out", str(out),
        "--no-plots", "--resamples", "100",
    )  # fmt: skip
    assert code == 0
    assert stdout == (out / "leaderboard.md").read_text()
    assert "100 resamples" in stdout and "| greedy | " in stdout
    assert sorted(p.name for p in out.iterdir()) == [
        "leaderboard.csv", "leaderboard.md", "marl_eval.json", "results.json",
        "table-dyps-kdd24-table7.csv",
    ]  # fmt: skip
    assert err.startswith(f"wrote 5 files to {out}: ")
    # A second run skips everything and exits 0.
    code, _, err = run_main(capsys, "run", "--suite-file", str(tiny_suite), "--store", store,
                            "--out", str(tmp_path / "run"))  # fmt: skip
    assert code == 0 and "0 to run (in this process), 4 finished earlier (skipped)" in err


def test_failed_runs_exit_1_and_say_where_the_log_is(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    suite = tmp_path / "bad.toml"
    suite.write_text(
        '[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["greedy"]\nseeds = [0]\n'
        'options = { action_mode = "reposition" }\n'
    )
    code, out, err = run_main(capsys, "run", "--suite-file", str(suite), "--store",
                              str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "o"))  # fmt: skip
    assert code == 1
    assert "FAILED: BenchError: method 'greedy'" in err
    assert "1 run(s) failed" in err and "s-artifacts/<scenario>/<method>/seed<k>-<hash>" in err
    first = re.search(r"\(first: (\S+/run\.log)\)", err)[1]
    assert "s-artifacts/ride-hailing-1/greedy/seed0-" in first and Path(first).is_file()
    assert "| greedy | failed | failed |" in out  # no published value: no paper column
