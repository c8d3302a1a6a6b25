"""The published-numbers files."""

from __future__ import annotations

import pytest

from alloc_bench.errors import BenchError
from alloc_bench.published import get_tables, load_published_tables, parse_published

TABLE7 = {
    ("greedy", "ride-hailing-1", "gmv"): 220770,
    ("greedy", "ride-hailing-1", "orr"): 0.37,
    ("greedy", "ride-hailing-2", "gmv"): 539450,
    ("greedy", "ride-hailing-2", "orr"): 0.23,
    ("nearest", "ride-hailing-1", "gmv"): 162590,
    ("nearest", "ride-hailing-1", "orr"): 0.37,
    ("nearest", "ride-hailing-2", "gmv"): 345180,
    ("nearest", "ride-hailing-2", "orr"): 0.24,
}


def test_dyps_table7_matches_the_paper() -> None:
    (table,) = get_tables(["dyps-kdd24/table7"])
    assert table.paper == (
        "DyPS: Dynamic Parameter Sharing in Multi-Agent Reinforcement Learning for "
        "Spatio-Temporal Resource Allocation"
    )
    assert table.venue == "KDD 2024" and table.label == "Table 7"
    assert table.caption == "Results of rule-based methods in ride-hailing scenario"
    got = {(e.method, e.scenario, e.metric): e.value for e in table.entries}
    assert got == TABLE7
    assert all(e.std is None and e.table == "dyps-kdd24/table7" for e in table.entries)


def test_every_shipped_file_loads() -> None:
    tables = load_published_tables()
    assert sorted(tables) == [
        "dyps-kdd24/table2", "dyps-kdd24/table3", "dyps-kdd24/table4", "dyps-kdd24/table5",
        "dyps-kdd24/table7", "tirl-aaai24/edrp", "tirl-aaai24/mtfg",
    ]  # fmt: skip
    for table in tables.values():
        assert table.transcribed_from.startswith("papers/") and table.note


# The tables' rows as printed in the papers' text extractions (papers/000_44b980e463756f11.txt
# and papers/004_bffafbe1608f0b4d.txt), cell by cell; markup removed (<u>...</u> underlines in
# Table 2, LaTeX $..{\\pm}..$ and \\textbf in the EDRP table). A second, independent copy of
# the transcription in published/*.toml.
TABLE2_TEXT = [
    (
        "NoPS",
        "0.31±0.02 0.91±0.05 2±0.15 0.35±0.12 230680±2550 0.40±0.02 519200±4250 0.20±0.01 253±24",
    ),
    (
        "PS",
        "0.25±0.03 0.83±0.04 2.5±0.22 1.21±0.15 250940±2230 0.43±0.01 542500±4140 0.23±0.02 345±43",
    ),
    (
        "PS-id",
        "0.52±0.02 0.91±0.05 4.6±0.20 10.45±1.15 260590±2150 "
        "0.45±0.03 556320±3970 0.24±0.01 378±55",
    ),
    (
        "PSA",
        "0.41±0.03 0.90±0.03 4.5±0.18 12.11±2.12 253920±2080 "
        "0.42±0.03 547500±4270 0.22±0.03 365±68",
    ),
    (
        "SePS",
        "0.61±0.04 0.96±0.03 6±0.15 33.21±2.50 257690±2210 0.43±0.02 545300±4210 0.23±0.02 452±72",
    ),
    (
        "DyPS (Ours)",
        "0.68±0.02 0.98±0.04 6.7±0.20 35.41±2.31 318200±2240 "
        "0.66±0.02 713520±3480 0.35±0.02 539±78",
    ),
]
TABLE3_TEXT = [
    ("w/o CVAE", "305750±2250 0.65±0.01 859430±4220 0.48±0.02"),
    ("w/o VLSTM", "301200±2100 0.64±0.02 865270±4010 0.49±0.04"),
    ("w/o Repr.", "290990±2190 0.62±0.03 849260±4190 0.46±0.03"),
    ("DyPS (Ours)", "318200±2240 0.66±0.02 873810±4080 0.50±0.01"),
]
TABLE4_TEXT = [
    ("IPPO", "519200±4250 0.20±0.01"),
    ("DyPS+IPPO", "713520±3480 0.35±0.02"),
    ("CoPO", "633410±2100 0.34±0.02"),
    ("DyPS+CoPO", "873810±4080 0.50±0.01"),
    ("MAPPO", "536300±21040 0.22±0.01"),
    ("DyPS+MAPPO", "591460±4705 0.34±0.02"),
]
TABLE5_TEXT = [
    ("Role-As-State", "573740±5310 0.26±0.01"),
    ("Rode", "781540±7830 0.40±0.02"),
    ("IPPO", "519200±4250 0.20±0.01"),
    ("CoPO", "633410±2100 0.34±0.02"),
    ("DyPS+IPPO", "713520±3480 0.35±0.02"),
    ("DyPS+CoPO", "873810±4080 0.50±0.01"),
]
TABLE7_TEXT = [
    ("Greedy", "220770 0.37 539450 0.23"),
    ("Nearest", "162590 0.37 345180 0.24"),
]
EDRP = [
    ("300", "0.84±0.03 0.81±0.01 0.76±0.00 0.79±0.02 0.81±0.00 0.82±0.02 0.81±0.01"),
    ("500", "0.85±0.04 0.84±0.01 0.79±0.01 0.88±0.02 0.85±0.00 0.83±0.04 0.85±0.01"),
    ("800", "0.84±0.05 0.85±0.03 0.80±0.01 0.86±0.04 0.87±0.01 0.85±0.04 0.87±0.01"),
    ("1,000", "0.88±0.04 0.87±0.03 0.81±0.01 0.86±0.04 0.88±0.01 0.83±0.04 0.88±0.01"),
    ("5,000", "N/A N/A 0.82±0.00 0.92±0.03 0.91±0.02 0.90±0.06 0.92±0.02"),
    ("10,000", "N/A N/A 0.82±0.01 0.89±0.06 0.90±0.06 0.86±0.06 0.89±0.05"),
    ("50,000", "N/A N/A 0.82±0.01 0.90±0.07 0.94±0.01 0.93±0.06 0.94±0.00"),
    ("100,000", "N/A N/A 0.82±0.00 0.88±0.07 0.88±0.07 0.90±0.07 0.94±0.00"),
]

DYPS_COLUMNS = {
    "table2": [("lbf-1", "return"), ("lbf-2", "return"), ("rware-1", "return"),
               ("rware-2", "return"), ("ride-hailing-1", "gmv"), ("ride-hailing-1", "orr"),
               ("ride-hailing-2", "gmv"), ("ride-hailing-2", "orr"),
               ("medical", "infection_reduction")],
    "table3": [("ride-hailing-1", "gmv"), ("ride-hailing-1", "orr"), ("ride-hailing-2", "gmv"),
               ("ride-hailing-2", "orr")],
    "table4": [("ride-hailing-2", "gmv"), ("ride-hailing-2", "orr")],
    "table5": [("ride-hailing-2", "gmv"), ("ride-hailing-2", "orr")],
    "table7": [("ride-hailing-1", "gmv"), ("ride-hailing-1", "orr"), ("ride-hailing-2", "gmv"),
               ("ride-hailing-2", "orr")],
}  # fmt: skip
EDRP_METHODS = ["M3RL", "EBPG", "SMFU-w/o-L", "SMFU", "Reg-SMFU", "TIRL", "Reg-TIRL"]


def _cell(text: str) -> tuple[float, float | None] | None:
    if text == "N/A":
        return None
    value, _, std = text.partition("±")
    return float(value), float(std) if std else None


def _published(ref: str) -> dict[tuple[str, str, str], tuple[float, float | None]]:
    (table,) = get_tables([ref])
    return {(e.method, e.scenario, e.metric): (e.value, e.std) for e in table.entries}


@pytest.mark.parametrize(
    ("key", "rows"),
    [("table2", TABLE2_TEXT), ("table3", TABLE3_TEXT), ("table4", TABLE4_TEXT),
     ("table5", TABLE5_TEXT), ("table7", TABLE7_TEXT)],
)  # fmt: skip
def test_dyps_tables_match_the_paper_cell_by_cell(key: str, rows: list) -> None:
    (table,) = get_tables([f"dyps-kdd24/{key}"])
    method_of = {label: method for method, label in table.rows.items()}
    expected = {}
    for label, cells in rows:
        for (scenario, metric), text in zip(DYPS_COLUMNS[key], cells.split(), strict=True):
            expected[(method_of[label], scenario, metric)] = _cell(text)
    assert _published(f"dyps-kdd24/{key}") == expected
    assert table.cells() == DYPS_COLUMNS[key]
    assert list(table.rows.values()) == [label for label, _ in rows]  # the paper's row order


def test_tirl_edrp_table_matches_the_paper_cell_by_cell() -> None:
    (table,) = get_tables(["tirl-aaai24/edrp"])
    assert table.layout == "methods-as-columns" and table.label == "Table 2"
    expected = {}
    for n, cells in EDRP:
        scenario = f"edrp-v1-n{n.replace(',', '')}"
        for method, text in zip(EDRP_METHODS, cells.split(), strict=True):
            if (cell := _cell(text)) is not None:
                expected[(method, scenario, "orr")] = cell
    assert _published("tirl-aaai24/edrp") == expected
    assert len(expected) == 8 * 7 - 8  # M3RL and EBPG are N/A for N >= 5,000


def test_mtfg_has_no_numbers_and_says_why() -> None:
    (table,) = get_tables(["tirl-aaai24/mtfg"])
    assert table.entries == ()
    assert "only as Figure 4" in table.note and "Appendix" in table.note
    assert table.methods() == EDRP_METHODS
    assert table.cells()[0] == ("mtfg-n300", "cr") and len(table.cells()) == 8


def test_ambiguities_are_noted() -> None:
    table2, table3 = get_tables(["dyps-kdd24/table2", "dyps-kdd24/table3"])
    assert "six scenarios but the table has seven" in table2.note
    assert "repeats DyPS+CoPO" in table3.note
    notes = {(e.method, e.scenario, e.metric) for e in table3.entries if e.note}
    assert notes == {("DyPS+IPPO", "ride-hailing-2", "gmv"), ("DyPS+IPPO", "ride-hailing-2", "orr")}


def test_a_table_without_entries_needs_a_note_and_a_layout() -> None:
    head = 'id = "x"\npaper = "P"\nvenue = "V"\n[tables.t]\ncaption = "c"\nentries = []\n'
    with pytest.raises(BenchError, match="with a 'note' saying why"):
        parse_published(head, "x.toml")
    with pytest.raises(BenchError, match="needs rows, columns and metrics"):
        parse_published(head + 'note = "figure only"\n', "x.toml")
    text = head + 'note = "n"\nrows = { m = "M" }\ncolumns = { s = "S" }\nmetrics = { cr = "CR" }\n'
    assert parse_published(text, "x.toml")["x/t"].cells() == [("s", "cr")]


def test_entries_may_carry_a_std() -> None:
    text = """
id = "x"
paper = "P"
venue = "V"
[tables.t2]
caption = "c"
entries = [{ method = "m", scenario = "s", metric = "gmv", value = 10, std = 1.5 }]
"""
    (entry,) = parse_published(text, "x.toml")["x/t2"].entries
    assert (entry.value, entry.std) == (10.0, 1.5)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('entries = [{ method = "m", scenario = "s", metric = "gmv" }]', "value must be a finite"),
        ('entries = [{ method = "m", scenario = "s", metric = "g", value = 1, sd = 1 }]',
         "unknown key(s) ['sd']"),
        ("entries = []", "'entries' must be a non-empty list"),
        ('entries = [{ method = "m", scenario = "s", metric = "g", value = 1 },'
         ' { method = "m", scenario = "s", metric = "g", value = 2 }]', "repeats"),
    ],
)  # fmt: skip
def test_bad_files_are_rejected(body: str, message: str) -> None:
    text = f'id = "x"\npaper = "P"\nvenue = "V"\n[tables.t]\ncaption = "c"\n{body}\n'
    with pytest.raises(BenchError) as info:
        parse_published(text, "x.toml")
    assert message in str(info.value)


def test_unknown_reference_lists_the_known_tables() -> None:
    with pytest.raises(BenchError, match=r"unknown published table 'x/y'; known: .*dyps-kdd24"):
        get_tables(["x/y"])
