"""compare A B: difference of means, bootstrap CI, verdict; from the API and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from alloc_bench.cli import main
from alloc_bench.compare import compare_methods
from alloc_bench.errors import BenchError
from alloc_bench.runner import run_suite
from alloc_bench.store import Store
from alloc_bench.suites import Suite, parse_suite


@pytest.fixture
def filled(tiny: Suite, store: Store) -> Store:
    run_suite(tiny, store, jobs=1)
    return store


def test_greedy_beats_random_with_a_paired_ci(filled: Store) -> None:
    (item,) = compare_methods(filled, "greedy", "random", scenario="ride-hailing-1")
    assert item["metric"] == "gmv" and item["paired"] and item["higher_is_better"]
    assert item["a"]["seeds"] == item["b"]["seeds"] == [0, 1, 2]
    assert item["difference"] == pytest.approx(item["a"]["mean"] - item["b"]["mean"])
    low, high = item["ci"]
    assert 0 < low <= item["difference"] <= high
    assert item["verdict"] == "greedy beats random"
    (reverse,) = compare_methods(filled, "random", "greedy")
    assert reverse["verdict"] == "greedy beats random" and reverse["difference"] < 0


def test_metric_and_options_filters(filled: Store) -> None:
    (orr,) = compare_methods(filled, "greedy", "random", metric="orr")
    assert orr["metric"] == "orr"
    with pytest.raises(BenchError, match="has no metric 'nope'"):
        compare_methods(filled, "greedy", "random", metric="nope")
    with pytest.raises(BenchError, match="no finished runs of both 'greedy' and 'random'"):
        compare_methods(filled, "greedy", "random", options={"demand": "reference"})
    with pytest.raises(BenchError, match="no finished runs of both 'greedy' and 'nearest'"):
        compare_methods(filled, "greedy", "nearest")
    with pytest.raises(BenchError, match="two different methods"):
        compare_methods(filled, "greedy", "greedy")


def test_several_budgets_need_a_suite(filled: Store, tiny: Suite) -> None:
    more = parse_suite(
        '[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["greedy"]\nseeds = "0-1"\n'
        "eval_episodes = 2\n",
        "more.toml",
    )
    run_suite(more, filled, jobs=1)
    with pytest.raises(BenchError, match="greedy has runs with several budgets"):
        compare_methods(filled, "greedy", "random")
    (item,) = compare_methods(filled, "greedy", "random", suite=tiny)
    assert item["a"]["seeds"] == [0, 1, 2]


def _seeds_of(method: str, seeds: str) -> Suite:
    """A suite of one rule-based method on the tiny suite's scenario and budget."""
    text = f'[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["{method}"]\nseeds = "{seeds}"\n'
    return parse_suite(text, f"{method}.toml")


def test_different_seed_sets_pair_over_the_seeds_both_ran(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """greedy ran seeds 0-2 and random 1-3: the CI pairs seeds 1 and 2 and names the others."""
    run_suite(_seeds_of("greedy", "0-2"), store, jobs=1)
    run_suite(_seeds_of("random", "1-3"), store, jobs=1)
    (item,) = compare_methods(store, "greedy", "random")
    assert item["paired"]
    assert item["a"]["seeds"] == item["b"]["seeds"] == [1, 2]
    assert item["a"]["left_out"] == [0] and item["b"]["left_out"] == [3]
    gmv = {(r["method"], r["seed"]): r["metrics"]["gmv"] for r in store.find("greedy")}
    assert item["a"]["mean"] == pytest.approx((gmv["greedy", 1] + gmv["greedy", 2]) / 2)
    assert main(["compare", "greedy", "random", "--store", str(store.path)]) == 0
    out = capsys.readouterr().out
    assert "  greedy: " in out and "(n=2)" in out
    assert (
        "paired over seeds; left out, not run by the other: greedy's seed 0; random's seed 3)"
        in out
    )


def test_fewer_than_two_shared_seeds_compare_unpaired_over_all(store: Store) -> None:
    run_suite(_seeds_of("greedy", "0-2"), store, jobs=1)
    run_suite(_seeds_of("random", "2-4"), store, jobs=1)
    (item,) = compare_methods(store, "greedy", "random")
    assert not item["paired"]
    assert item["a"]["seeds"] == [0, 1, 2] and item["b"]["seeds"] == [2, 3, 4]
    assert item["a"]["left_out"] == item["b"]["left_out"] == []


def test_cli_compare_prints_the_verdict(filled: Store, capsys: pytest.CaptureFixture[str]) -> None:
    store = str(filled.path)
    assert main(["compare", "greedy", "random", "--store", store, "--resamples", "2000"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ride-hailing-1 [defaults], GMV (higher is better):\n")
    assert "greedy − random: +" in out and "95% CI [+" in out
    assert "(bootstrap, 2,000 resamples, paired over seeds)" in out
    assert out.rstrip().endswith("verdict: greedy beats random")
    assert main(["compare", "greedy", "random", "--store", store, "--json"]) == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["verdict"] == "greedy beats random"
    assert main(["compare", "greedy", "nearest", "--store", store]) == 2
    assert "no finished runs of both" in capsys.readouterr().err


def test_cli_report_needs_an_existing_store(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["report", "--suite", "smoke", "--store", str(tmp_path / "none.sqlite")])
    assert code == 2 and "no store at" in capsys.readouterr().err
