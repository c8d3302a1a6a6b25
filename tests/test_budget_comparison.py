"""benchmarks/budget_comparison.py: one protocol's methods at two budgets, paired by seed."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from budget_comparison import budget_of, tables


def _export(steps: int, gmv: dict[str, dict[int, float]]) -> list[dict]:
    rows = [
        {
            "scenario": "rh",
            "method": method,
            "train_steps": steps,
            "per_seed": [{"seed": s, "gmv": v} for s, v in values.items()],
        }
        for method, values in gmv.items()
    ]
    rows.append({"scenario": "rh", "method": "oracle", "train_steps": 0, "per_seed": []})
    return rows


def test_changes_pair_seeds_across_budgets():
    short = _export(100, {"A": {0: 10.0, 1: 20.0}, "B": {0: 5.0, 1: 7.0}})
    long = _export(500, {"A": {0: 13.0, 1: 23.0}, "B": {1: 9.0}})
    lines = tables(short, long, "rh", ["A", "B"])
    assert lines[0] == "rh: 100 and 500 env steps of training"
    a_row = next(line for line in lines if line.startswith("| A |"))
    assert "+3 [+3, +3] (seeds [0, 1])" in a_row  # every seed gained exactly 3
    b_row = next(line for line in lines if line.startswith("| B |") and "GMV" not in line)
    assert b_row.endswith("+2 [+2, +2] (seeds [1]) |")  # only seed 1 has both budgets
    cross = [line for line in lines if line.startswith("| B |")][-1]
    assert "+12 [+8, +16] (seeds [0, 1])" in cross  # A at 500 minus B at 100: 8 and 16


def test_one_budget_per_export():
    mixed = _export(100, {"A": {0: 1.0}}) + _export(200, {"B": {0: 1.0}})
    with pytest.raises(SystemExit, match="one training budget"):
        budget_of(mixed, "rh")
