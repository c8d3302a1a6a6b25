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
    assert "dyps-kdd24/table7" in load_published_tables()


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
