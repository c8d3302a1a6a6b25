"""benchmarks/dyps_selector_results.py: rows of another suite's export set beside this one's."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from dyps_selector_results import _share, counterpart_table, with_beside, with_earlier


def _row(
    scenario: str, method: str, seeds: list[int], gmv: float = 1.0, steps: int = 30_000
) -> dict:
    return {
        "scenario": scenario,
        "method": method,
        "train_steps": steps,
        "per_seed": [{"seed": s, "gmv": gmv} for s in seeds],
    }


def test_beside_adds_missing_methods_of_the_same_scenarios_only():
    own = [_row("ride-hailing-1", "DyPS+IPPO", [0, 1])]
    other = [
        _row("ride-hailing-1", "PS+IPPO", [0, 1]),
        _row("ride-hailing-1", "DyPS+IPPO", [0, 1, 2], gmv=9.0),  # own row has seeds: kept
        _row("ride-hailing-2", "PS+IPPO", [0]),  # another scenario: left out
    ]
    merged = with_beside(own, other)
    assert [(r["scenario"], r["method"]) for r in merged] == [
        ("ride-hailing-1", "DyPS+IPPO"),
        ("ride-hailing-1", "PS+IPPO"),
    ]
    assert merged[0] is own[0]


def test_beside_fills_a_method_with_no_finished_seed():
    own = [
        _row("ride-hailing-2", "DyPS+IPPO", [0]),
        _row("ride-hailing-2", "oracle", [], steps=0),
    ]
    oracle = _row("ride-hailing-2", "oracle", [0, 1, 2, 3, 4], gmv=5.0, steps=0)
    unfinished = _row("ride-hailing-2", "mpc", [], steps=0)
    merged = with_beside(own, [oracle, unfinished])
    assert merged == [own[0], oracle]


def test_beside_never_mixes_training_budgets():
    """A 150k-step suite takes the other suite's untrained rows, not its 30k-step ones."""
    own = [
        _row("ride-hailing-1", "DyPS+IPPO", [0], steps=150_000),
        _row("ride-hailing-1", "PS-id+IPPO", [], steps=150_000),
        _row("ride-hailing-1", "mpc", [], steps=0),
    ]
    other = [
        _row("ride-hailing-1", "PS-id+IPPO", [0, 1, 2, 3, 4]),
        _row("ride-hailing-1", "DyPS-Table6+IPPO", [0, 1, 2, 3, 4]),
        _row("ride-hailing-1", "mpc", [0, 1, 2, 3, 4], steps=0),
    ]
    merged = with_beside(own, other)
    assert [(r["method"], r["train_steps"]) for r in merged] == [
        ("DyPS+IPPO", 150_000),
        ("PS-id+IPPO", 150_000),
        ("mpc", 0),
    ]
    assert merged[2] is other[2]


def test_beside_keeps_the_rows_in_their_places():
    own = [
        _row("ride-hailing-1", "DyPS+IPPO", []),
        _row("ride-hailing-2", "DyPS+MAPPO", [0]),
    ]
    filled = _row("ride-hailing-1", "DyPS+IPPO", [0, 1])
    merged = with_beside(own, [filled])
    assert merged == [filled, own[1]]


def test_earlier_export_rows_count_as_own_unless_it_set_them_beside():
    own = [
        _row("ride-hailing-1", "DyPS+IPPO", []),
        _row("ride-hailing-2", "DyPS+MAPPO", [0]),
        _row("ride-hailing-2", "oracle", [], steps=0),
    ]
    earlier = {
        "results": [
            _row("ride-hailing-1", "DyPS+IPPO", [0, 1, 2, 3, 4]),
            _row("ride-hailing-2", "DyPS+MAPPO", [0, 1], gmv=7.0),  # own row has seeds: kept
            _row("ride-hailing-2", "oracle", [1, 2, 3], steps=0),
        ],
        "beside": [["ride-hailing-2", "oracle"]],
    }
    merged, beside = with_earlier(own, earlier)
    assert merged == [earlier["results"][0], own[1], earlier["results"][2]]
    assert beside == [["ride-hailing-2", "oracle"]]


def test_each_dyps_method_is_paired_with_its_ps_counterpart():
    rows = [
        _row("ride-hailing-2", "DyPS+IPPO", [0, 1, 2], gmv=5.0),
        _row("ride-hailing-2", "PS+IPPO", [0, 1, 2], gmv=4.0),
        _row("ride-hailing-2", "DyPS+MAPPO", [0, 1, 2], gmv=3.0),
        _row("ride-hailing-2", "PS+MAPPO", [1, 2, 3], gmv=1.0),
        _row("ride-hailing-2", "DyPS+CoPO", [0, 1], gmv=2.0),  # no PS+CoPO: no line
        _row("ride-hailing-1", "PS+CoPO", [0, 1], gmv=2.0),  # another scenario
    ]
    table = counterpart_table(rows, "ride-hailing-2", "DyPS+IPPO")
    assert len(table) == 3  # header, rule, DyPS+MAPPO (DyPS+IPPO is the reference)
    assert table[2].startswith("| DyPS+MAPPO | PS+MAPPO | [1, 2] | +2 [+2, +2] |")
    assert counterpart_table(rows, "ride-hailing-1") == []


def test_share_of_the_oracle_names_the_seeds_when_the_oracle_has_only_some():
    def with_days(row: dict, gmv_by_seed: dict[int, float]) -> dict:
        row["per_episode"] = {str(s): [{"gmv": g}] for s, g in gmv_by_seed.items()}
        row["mean"] = {"gmv": sum(gmv_by_seed.values()) / len(gmv_by_seed)}
        return row

    method = with_days(_row("ride-hailing-2", "DyPS+IPPO", [0, 1, 2]), {0: 5.0, 1: 5.0, 2: 6.0})
    oracle = with_days(_row("ride-hailing-2", "oracle", [1, 2], steps=0), {1: 10.0, 2: 10.0})
    by_cell = {(r["method"], r["scenario"]): r for r in (method, oracle)}
    assert _share(method, by_cell) == "55.0% ± 7.1% (seeds [1, 2])"
    assert _share(oracle, by_cell) == "100.0% ± 0.0%"
