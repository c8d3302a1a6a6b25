"""Seed lists and key=value options."""

from __future__ import annotations

import pytest

from alloc_bench.errors import BenchError
from alloc_bench.parsing import format_options, format_seeds, parse_options, parse_seeds


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("0", [0]), ("0,1,2", [0, 1, 2]), ("0-4", [0, 1, 2, 3, 4]), ("3-4, 9", [3, 4, 9])],
)
def test_parse_seeds_accepts_lists_and_ranges(text: str, seeds: list[int]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty item"),
        ("0,,1", "empty item"),
        ("a", "'a' is not a non-negative integer"),
        ("-1", "'' is not a non-negative integer"),
        ("4-2", "reversed"),
        ("0,1,1", "[1] given more than once"),
        ("0-3,2", "[2] given more than once"),
        ("1.5", "'1.5' is not"),
    ],
)
def test_parse_seeds_rejects_bad_input(text: str, message: str) -> None:
    with pytest.raises(BenchError, match="bad seeds") as info:
        parse_seeds(text)
    assert message in str(info.value)


def test_format_seeds_compacts_runs() -> None:
    assert format_seeds([0, 1, 2, 3, 4]) == "0-4"
    assert format_seeds([0, 1, 5, 7, 8, 9]) == "0,1,5,7-9"


def test_parse_options_reads_toml_values_and_plain_strings() -> None:
    options = parse_options(["demand=reference", "drivers_per_cell=5", "faithful=true", "x=0.5"])
    assert options == {"demand": "reference", "drivers_per_cell": 5, "faithful": True, "x": 0.5}
    assert format_options(options).startswith("demand=reference, drivers_per_cell=5")
    assert format_options({}) == "defaults"


@pytest.mark.parametrize("item", ["demand", "=x", "a b=1", "bad-key=1"])
def test_parse_options_rejects_bad_syntax(item: str) -> None:
    with pytest.raises(BenchError, match="expected key=value"):
        parse_options([item])


def test_parse_options_rejects_a_repeated_key() -> None:
    with pytest.raises(BenchError, match="given more than once"):
        parse_options(["demand=reference", "demand=stochastic"])
