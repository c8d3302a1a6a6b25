"""Leaderboard rendering on hand-made results."""

from __future__ import annotations

import csv
import io

import pytest

from alloc_bench.leaderboard import (
    CSV_COLUMNS,
    build_sections,
    rank_methods,
    ranking,
    render_csv,
    render_table_csv,
)
from alloc_bench.leaderboard import render_markdown as render_compact
from alloc_bench.published import get_tables, parse_published


def fake(method: str, scenario: str, gmv: float, orr: float, options: dict | None = None,
         n: int = 5, **extra: object) -> dict:  # fmt: skip
    mean = {"gmv": gmv, "orr": orr, "orders_generated": 1000.0, "orders_served": orr * 1000}
    std = {"gmv": 100.0, "orr": 0.01, "orders_generated": 0.0, "orders_served": 10.0}
    return {
        "scenario": scenario, "method": method, "options": options or {},
        "seeds": list(range(n)), "episodes": 1, "mean": mean, "std": std, **extra,
    }  # fmt: skip


def not_implemented(method: str, scenario: str) -> dict:
    return {
        "scenario": scenario, "method": method, "options": {}, "seeds": [],
        "planned_seeds": [0, 1], "episodes": 10, "train_steps": 30_000, "mean": {}, "std": {},
        "status": "not implemented", "reason": f"method {method!r}: not yet",
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
T7 = "dyps-kdd24/table7"


def render_markdown(*args: object, **kwargs: object) -> str:
    """The full (``--wide``) leaderboard, whose layout most tests here check."""
    return render_compact(*args, wide=True, **kwargs)


def rows_of(markdown: str, section: str) -> list[list[str]]:
    block = markdown.split(f"## {section}\n", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_one_section_per_table_and_option_set_with_ratio_and_difference() -> None:
    md = render_markdown(RESULTS, TABLES, title="T")
    assert md.startswith("# T\n")
    assert "95% percentile-bootstrap CI of the mean over seeds, 10,000 resamples" in md
    header, *rows = rows_of(md, f"{T7} · defaults")
    assert header == [
        "Method",
        "ride-hailing-1 GMV", "paper", "ride-hailing-1 ORR", "paper",
        "ride-hailing-2 GMV", "paper", "ride-hailing-2 ORR", "paper",
    ]  # fmt: skip
    # The paper's rows in the paper's order (Greedy, Nearest), then the others.
    assert [row[0] for row in rows] == ["greedy", "nearest", "random"]
    greedy, nearest, rand = rows
    assert greedy[1] == "231,000 ± 100 (n=5)"
    assert greedy[2] == f"220,770 (×{231000 / 220770:.3f})"  # ×1.046
    assert greedy[3] == "0.400 ± 0.010 (n=5)"
    assert greedy[4] == "0.37 (+0.030)"
    assert greedy[6] == f"539,450 (×{500000 / 539450:.3f})"  # ×0.927
    assert nearest[8] == "0.24 (+0.010)"
    # Methods without a published number are listed, with a dash in the paper columns.
    assert rand[1] == "150,000 ± 100 (n=5)"
    assert rand[2::2] == ["–"] * 4
    assert "`dyps-kdd24/table7`" in md and "Table 7" in md


def test_ci_partial_seeds_and_states_are_shown() -> None:
    results = [
        fake(
            "greedy",
            "ride-hailing-1",
            231000,
            0.40,
            ci={"gmv": [230000, 232000]},
            planned_seeds=[0, 1, 2, 3, 4, 5],
            status="partial",
        ),
        {**fake("nearest", "ride-hailing-1", 0, 0), "status": "failed", "mean": {}},
        {**fake("random", "ride-hailing-1", 0, 0), "status": "not run", "mean": {}},
    ]
    rows = {r[0]: r for r in rows_of(render_markdown(results, TABLES), f"{T7} · defaults")[1:]}
    assert rows["greedy"][1] == "231,000 ± 100 [230,000, 232,000] (n=5 of 6)"
    assert rows["greedy"][3] == "0.400 ± 0.010 (n=5 of 6)"  # no CI given for ORR
    assert rows["nearest"][1:3] == ["failed", "162,590"]
    assert rows["random"][1] == "not run"


def test_not_implemented_cells_are_reported_never_dropped() -> None:
    tables = get_tables(["dyps-kdd24/table2"])
    results = [
        not_implemented("DyPS+IPPO", "lbf-1"),
        not_implemented("DyPS+IPPO", "ride-hailing-1"),
        fake("greedy", "ride-hailing-1", 231000, 0.40),
    ]
    md = render_markdown(results, tables)
    header, *rows = rows_of(md, "dyps-kdd24/table2 · defaults")
    assert header[1] == "lbf-1 Return" and header[9] == "ride-hailing-1 GMV"
    rows_by = {r[0]: r for r in rows}
    # Every paper row is there; the suite's cells say "not implemented", the others a dash.
    assert list(rows_by)[:6] == [
        "NoPS+IPPO (NoPS)", "PS+IPPO (PS)", "PS-id+IPPO (PS-id)", "PSA+IPPO (PSA)",
        "SePS+IPPO (SePS)", "DyPS+IPPO (DyPS (Ours))",
    ]  # fmt: skip
    dyps = rows_by["DyPS+IPPO (DyPS (Ours))"]
    assert dyps[1:3] == ["not implemented", "0.68 ± 0.02"]
    assert dyps[9:11] == ["not implemented", "318,200 ± 2,240"]
    assert rows_by["NoPS+IPPO (NoPS)"][1:3] == ["–", "0.31 ± 0.02"]
    # greedy is in no compared table: an extra row of this table (its scenarios).
    assert rows_by["greedy"][9] == "231,000 ± 100 (n=5)"
    assert "Not implemented yet:\n- method 'DyPS+IPPO': not yet (2 cells)" in md
    assert (
        "30,000 train steps, 10 eval episodes per seed; no training, 1 eval episode per seed." in md
    )


def test_methods_as_columns_tables_are_transposed() -> None:
    tables = get_tables(["tirl-aaai24/edrp"])
    md = render_markdown([not_implemented("TIRL", "edrp-v1-n300")], tables)
    header, *rows = rows_of(md, "tirl-aaai24/edrp · defaults")
    assert header[:3] == ["Scenario", "M3RL (M³RL)", "paper"]
    assert header[11] == "TIRL"
    assert rows[0][0] == "edrp-v1-n300 ORR (N = 300)"
    assert rows[0][1:3] == ["–", "0.84 ± 0.03"]
    assert rows[0][11:13] == ["not implemented", "0.82 ± 0.02"]
    # N/A in the paper: no entry, a dash.
    n5000 = next(r for r in rows if r[0].startswith("edrp-v1-n5000 "))
    assert n5000[2] == "–" and n5000[4] == "–"
    assert len(rows) == 8


def test_rows_sorted_by_mean_gmv_rank_across_scenarios() -> None:
    # GMV ranks: ride-hailing-1 greedy, nearest, random; ride-hailing-2 greedy, random, nearest.
    assert rank_methods(RESULTS[:3]) == ["greedy", "nearest", "random"]
    assert rank_methods(RESULTS[3:6]) == ["greedy", "random", "nearest"]
    # Mean ranks: greedy 1, nearest 2.5, random 2.5; the tie keeps the results' order.
    assert rank_methods(RESULTS[:6]) == ["greedy", "nearest", "random"]
    assert rank_methods([RESULTS[2], *RESULTS[:2], *RESULTS[3:6]]) == [
        "greedy", "random", "nearest",
    ]  # fmt: skip
    # Without published tables: the "other results" section, rows by rank.
    md = render_markdown([RESULTS[2], *RESULTS[:2], *RESULTS[3:6]])
    assert [r[0] for r in rows_of(md, "other results · defaults")[1:]] == [
        "greedy", "random", "nearest",
    ]  # fmt: skip
    # Results without numbers rank last.
    assert rank_methods([not_implemented("x", "ride-hailing-1"), *RESULTS[:3]])[-1] == "x"


def test_reference_section_has_its_scenarios_and_the_negative_difference() -> None:
    results = [*RESULTS, fake("nearest", "ride-hailing-1", 160185, 0.368, REF, n=3)]
    md = render_markdown(results, TABLES)
    _, *rows = rows_of(md, f"{T7} · demand=reference")
    nearest = next(r for r in rows if r[0] == "nearest")
    assert nearest[2] == f"162,590 (×{160185 / 162590:.3f})"  # ×0.985
    assert nearest[4] == "0.37 (-0.002)"
    # ride-hailing-2 is in the table but was not run with these options: dashes.
    assert nearest[5] == "–" and nearest[6] == "345,180"


def test_without_published_tables_every_paper_cell_is_a_dash() -> None:
    md = render_markdown(RESULTS[:3])
    assert all(row[2::2] == ["–"] * 2 for row in rows_of(md, "other results · defaults")[1:])


def test_published_std_and_cell_notes_are_shown() -> None:
    text = """
id = "x"
paper = "P"
venue = "V"
[tables.t]
caption = "c"
entries = [
  { method = "greedy", scenario = "ride-hailing-1", metric = "gmv", value = 200000, \
std = 5000, note = "a remark" },
]
"""
    tables = list(parse_published(text, "x.toml").values())
    md = render_markdown(RESULTS[:3], tables)
    greedy = next(r for r in rows_of(md, "x/t · defaults") if r[0] == "greedy")
    assert greedy[2] == "200,000 ± 5,000 †1 (×1.155)"
    assert "- †1 `x/t` greedy on ride-hailing-1 gmv: a remark" in md


def test_csv_has_one_row_per_metric_with_ratio_difference_and_ci() -> None:
    results = [*RESULTS[:-1], fake("random", "ride-hailing-1", 1, 0.1, REF, ci={"gmv": [0, 2]})]
    rows = list(csv.DictReader(io.StringIO(render_csv(results, TABLES))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert len(rows) == len(RESULTS) * 4
    gmv = next(r for r in rows if (r["method"], r["scenario"], r["metric"], r["options"])
               == ("greedy", "ride-hailing-1", "gmv", "defaults"))  # fmt: skip
    assert float(gmv["ours_mean"]) == 231000 and float(gmv["ours_std"]) == 100
    assert gmv["n"] == "5" and float(gmv["paper"]) == 220770
    assert float(gmv["ratio"]) == pytest.approx(231000 / 220770)
    assert float(gmv["difference"]) == pytest.approx(231000 - 220770)
    assert gmv["paper_table"] == "dyps-kdd24/table7" and gmv["status"] == "finished"
    orr = next(r for r in rows if (r["method"], r["scenario"], r["metric"], r["options"])
               == ("nearest", "ride-hailing-2", "orr", "defaults"))  # fmt: skip
    assert float(orr["difference"]) == pytest.approx(0.25 - 0.24)
    rand = next(r for r in rows if r["method"] == "random" and r["metric"] == "gmv")
    assert rand["paper"] == rand["ratio"] == rand["paper_std"] == rand["ci_low"] == ""
    last = next(r for r in rows if r["ours_mean"] == "1" and r["metric"] == "gmv")
    assert (last["ci_low"], last["ci_high"]) == ("0", "2")


def test_csv_lists_not_implemented_cells_with_the_published_metrics() -> None:
    tables = get_tables(["dyps-kdd24/table2"])
    rows = list(csv.DictReader(io.StringIO(render_csv([not_implemented("PS+IPPO", "lbf-2")],
                                                      tables))))  # fmt: skip
    # Every metric of the scenario has a row; the published one carries the paper's value.
    assert [(r["scenario"], r["metric"], r["status"], r["paper"]) for r in rows] == [
        ("lbf-2", "return", "not implemented", "0.83"),
        ("lbf-2", "foods_collected", "not implemented", ""),
    ]
    assert rows[0]["ours_mean"] == "" and rows[0]["reason"] == "method 'PS+IPPO': not yet"


def test_table_csv_has_the_paper_layout() -> None:
    section = build_sections(RESULTS, TABLES)[0]
    rows = list(csv.DictReader(io.StringIO(render_table_csv(section))))
    assert [r["Method"] for r in rows] == ["greedy", "nearest", "random"]
    assert float(rows[0]["ride-hailing-1 GMV: ours_mean"]) == 231000
    assert float(rows[0]["ride-hailing-1 GMV: paper"]) == 220770
    assert float(rows[0]["ride-hailing-1 GMV: ratio"]) == pytest.approx(231000 / 220770)
    assert rows[2]["ride-hailing-1 GMV: paper"] == ""


def lbf(method: str, value: float, scenario: str = "lbf-1") -> dict:
    return {
        "scenario": scenario, "method": method, "options": {}, "seeds": [0, 1], "episodes": 1,
        "mean": {"return": value, "foods_collected": 1.0},
        "std": {"return": 0.0, "foods_collected": 0.0},
    }  # fmt: skip


def test_methods_are_never_ranked_across_scenarios_they_did_not_share() -> None:
    # A ran only on ride-hailing-1 and B only on lbf-1: nothing to compare, no rank.
    apart = [fake("A", "ride-hailing-1", 1, 0.1), lbf("B", 0.3)]
    order = ranking(apart)
    assert (order.ranked, order.unranked, order.order) == ([], ["A", "B"], ["A", "B"])
    md = " ".join(render_compact(apart).split())  # the prose is wrapped
    assert "not ranked: no scenario was run by two or more of these methods" in md
    # random alone on LBF: first there, last on ride-hailing-1, yet ranked on ride-hailing-1
    # only (the scenario every method ran), not 2nd by a mean over LBF too.
    results = [*RESULTS[:3], lbf("random", 0.1), lbf("random", 0.2, "lbf-2")]
    order = ranking(results)
    assert order.order == ["greedy", "nearest", "random"] and order.scenarios == ["ride-hailing-1"]
    md = " ".join(render_compact(results).split())
    assert "over the scenarios every ranked method ran: ride-hailing-1 (GMV)." in md
    # C ran only on lbf-1 with random: ranked on lbf-1 would compare it with random alone; the
    # scenario most methods ran (ride-hailing-1) decides who is ranked, C is listed unranked.
    order = ranking([*results, lbf("C", 0.5)])
    assert order.ranked == ["greedy", "nearest", "random"] and order.unranked == ["C"]
    md = " ".join(render_compact([*results, lbf("C", 0.5)]).split())
    assert "Not ranked (they did not run all of these scenarios" in md


def test_the_terminal_leaderboard_fits_120_characters() -> None:
    tables = get_tables(["dyps-kdd24/table2", "dyps-kdd24/table7"])
    long_options = {f"option_{i}": f"value number {i}" for i in range(8)}
    results = [
        *RESULTS,
        fake("PS+IPPO", "ride-hailing-1", 249031, 0.424, ci={"gmv": [241103, 256960]}),
        fake("DyPS+IPPO", "ride-hailing-1", 252380, 0.431, planned_seeds=[0, 1, 2, 3, 4, 5]),
        not_implemented("DyPS+IPPO", "lbf-1"),
        fake("greedy", "ride-hailing-2", 1, 0.1, long_options),
    ]
    wide = render_markdown(results, tables, title="T")
    assert max(len(line) for line in wide.splitlines()) > 300
    md = render_compact(results, tables, title="T")
    longest = max(md.splitlines(), key=len)
    assert len(longest) <= 120, longest
    # Short cells: mean ± std, (n=k/N) only when seeds are missing, the ratio to 2 decimals.
    assert "| greedy | 231,000 ± 100 | 220,770 (×1.05) |" in md
    assert "| 252,380 ± 100 (n=5/6) | 318,200 (×0.79) |" in md
    assert "[241,103, 256,960]" not in md and "[241,103, 256,960]" in wide
    # A table too wide is split into parts, each with the row labels.
    part = md.split("## dyps-kdd24/table7 · defaults")[1].split("\n## ")[0]
    assert part.count("| Method | ") == 2
    # A heading too long for the line: the options on a line of their own (wrapped).
    assert "## dyps-kdd24/table7\n\nOptions: option_0=value number 0, " in md


def test_the_terminal_leaderboard_names_the_columns_it_leaves_out() -> None:
    """Table 2's columns where nothing ran are left out of the short leaderboard, by name; a
    table where nothing ran at all keeps its columns and says nothing."""
    tables = get_tables(["dyps-kdd24/table2"])
    md = render_compact([fake("PS+IPPO", "ride-hailing-1", 249031, 0.424)], tables, title="T")
    paragraph = next(x for x in md.split("\n\n") if x.startswith("Columns of the table"))
    line = " ".join(paragraph.splitlines())
    assert line.startswith("Columns of the table with no run of this suite are left out: lbf-1 ")
    assert "medical Infection Reduction" in line and "ride-hailing-1" not in line
    assert line.endswith("(`--wide` shows them).")
    assert "left out" not in render_markdown(
        [fake("PS+IPPO", "ride-hailing-1", 249031, 0.424)], tables, title="T"
    )
