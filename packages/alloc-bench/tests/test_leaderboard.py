"""Leaderboard rendering on hand-made results."""

from __future__ import annotations

import csv
import io

import pytest

from alloc_bench.leaderboard import CSV_COLUMNS, rank_methods, render_csv, render_markdown
from alloc_bench.published import get_tables, parse_published


def fake(method: str, scenario: str, gmv: float, orr: float, options: dict | None = None,
         n: int = 5) -> dict:  # fmt: skip
    mean = {"gmv": gmv, "orr": orr, "orders_generated": 1000.0, "orders_served": orr * 1000}
    std = {"gmv": 100.0, "orr": 0.01, "orders_generated": 0.0, "orders_served": 10.0}
    return {
        "scenario": scenario, "method": method, "options": options or {},
        "seeds": list(range(n)), "episodes": 1, "mean": mean, "std": std,
    }  # fmt: skip


REF = {"demand": "reference"}
RESULTS = [
    fake("nearest", "ride-hailing-1", 170000, 0.38),
    fake("greedy", "ride-hailing-1", 231000, 0.40),
    fake("random", "ride-hailing-1", 150000, 0.36),
    fake("greedy", "ride-hailing-2", 500000, 0.22),
    fake("nearest", "ride-hailing-2", 360000, 0.25),
    fake("random", "ride-hailing-2", 370000, 0.24),
    fake("greedy", "ride-hailing-1", 220776, 0.37, REF, n=3),
    fake("random", "ride-hailing-1", 156000, 0.364, REF, n=3),
]
TABLES = get_tables(["dyps-kdd24/table7"])


def rows_of(markdown: str, section: str) -> list[list[str]]:
    block = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_one_table_per_option_set_with_ratio_and_difference() -> None:
    md = render_markdown(RESULTS, TABLES, title="T")
    assert md.startswith("# T\n")
    header, *rows = rows_of(md, "defaults")
    assert header == [
        "Method",
        "ride-hailing-1 GMV", "paper", "ride-hailing-1 ORR", "paper",
        "ride-hailing-2 GMV", "paper", "ride-hailing-2 ORR", "paper",
    ]  # fmt: skip
    by_method = {row[0]: row for row in rows}
    greedy = by_method["greedy"]
    assert greedy[1] == "231,000 ± 100 (n=5)"
    assert greedy[2] == f"220,770 (×{231000 / 220770:.3f})"  # ×1.046
    assert greedy[3] == "0.400 ± 0.010 (n=5)"
    assert greedy[4] == "0.37 (+0.030)"
    assert greedy[6] == f"539,450 (×{500000 / 539450:.3f})"  # ×0.927
    assert by_method["nearest"][8] == "0.24 (+0.010)"
    # Methods without a published number are listed, with a dash in the paper columns.
    assert by_method["random"][1] == "150,000 ± 100 (n=5)"
    assert by_method["random"][2::2] == ["–"] * 4


def test_rows_sorted_by_mean_gmv_rank_across_scenarios() -> None:
    # GMV ranks: ride-hailing-1 greedy, nearest, random; ride-hailing-2 greedy, random, nearest.
    assert rank_methods(RESULTS[:3]) == ["greedy", "nearest", "random"]
    assert rank_methods(RESULTS[3:6]) == ["greedy", "random", "nearest"]
    # Mean ranks: greedy 1, nearest 2.5, random 2.5; the tie keeps the results' order.
    assert rank_methods(RESULTS[:6]) == ["greedy", "nearest", "random"]
    assert rank_methods([RESULTS[2], *RESULTS[:2], *RESULTS[3:6]]) == [
        "greedy", "random", "nearest",
    ]  # fmt: skip
    md = render_markdown(RESULTS, TABLES)
    assert [r[0] for r in rows_of(md, "demand=reference")[1:]] == ["greedy", "random"]


def test_reference_table_has_only_its_scenarios_and_the_negative_difference() -> None:
    results = [*RESULTS, fake("nearest", "ride-hailing-1", 160185, 0.368, REF, n=3)]
    md = render_markdown(results, TABLES)
    header, *rows = rows_of(md, "demand=reference")
    assert header[1:] == ["ride-hailing-1 GMV", "paper", "ride-hailing-1 ORR", "paper"]
    nearest = next(r for r in rows if r[0] == "nearest")
    assert nearest[2] == f"162,590 (×{160185 / 162590:.3f})"  # ×0.985
    assert nearest[4] == "0.37 (-0.002)"
    assert "`dyps-kdd24/table7`" in md and "Table 7" in md


def test_a_method_missing_from_a_scenario_gets_dashes() -> None:
    md = render_markdown([*RESULTS[:6], fake("solo", "ride-hailing-1", 1.0, 0.1)], TABLES)
    solo = next(r for r in rows_of(md, "defaults")[1:] if r[0] == "solo")
    assert solo[5:] == ["–"] * 4


def test_without_published_tables_every_paper_cell_is_a_dash() -> None:
    md = render_markdown(RESULTS[:3])
    assert all(row[2::2] == ["–"] * 2 for row in rows_of(md, "defaults")[1:])


def test_published_std_is_shown() -> None:
    text = """
id = "x"
paper = "P"
venue = "V"
[tables.t]
caption = "c"
entries = [
  { method = "greedy", scenario = "ride-hailing-1", metric = "gmv", value = 200000, std = 5000 },
]
"""
    tables = list(parse_published(text, "x.toml").values())
    greedy = next(
        r for r in rows_of(render_markdown(RESULTS[:3], tables), "defaults") if r[0] == "greedy"
    )
    assert greedy[2] == "200,000 ± 5,000 (×1.155)"


def test_csv_has_one_row_per_metric_with_ratio_and_difference() -> None:
    rows = list(csv.DictReader(io.StringIO(render_csv(RESULTS, TABLES))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(RESULTS) * 4
    gmv = next(r for r in rows if (r["method"], r["scenario"], r["metric"], r["options"])
               == ("greedy", "ride-hailing-1", "gmv", "defaults"))  # fmt: skip
    assert float(gmv["ours_mean"]) == 231000 and float(gmv["ours_std"]) == 100
    assert gmv["n"] == "5" and float(gmv["paper"]) == 220770
    assert float(gmv["ratio"]) == pytest.approx(231000 / 220770)
    assert float(gmv["difference"]) == pytest.approx(231000 - 220770)
    assert gmv["paper_table"] == "dyps-kdd24/table7"
    orr = next(r for r in rows if (r["method"], r["scenario"], r["metric"], r["options"])
               == ("nearest", "ride-hailing-2", "orr", "defaults"))  # fmt: skip
    assert float(orr["difference"]) == pytest.approx(0.25 - 0.24)
    rand = next(r for r in rows if r["method"] == "random" and r["metric"] == "gmv")
    assert rand["paper"] == rand["ratio"] == rand["paper_std"] == ""
