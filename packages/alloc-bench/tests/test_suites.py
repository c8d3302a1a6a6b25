"""Suite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from alloc_bench.errors import BenchError
from alloc_bench.suites import list_suites, load_suite, load_suite_file, parse_suite


def test_smoke_suite_is_scenarios_x_methods_x_demand() -> None:
    suite = load_suite("smoke")
    assert suite.name == "smoke" and "smoke" in list_suites()
    assert suite.compare == ("dyps-kdd24/table7",)
    assert len(suite.runs) == 2 * 3 * 2
    combos = {(r.scenario, r.method, r.options["demand"]) for r in suite.runs}
    assert combos == {
        (s, m, d)
        for s in ("ride-hailing-1", "ride-hailing-2")
        for m in ("greedy", "nearest", "random")
        for d in ("stochastic", "reference")
    }
    assert all(r.seeds == (0, 1, 2, 3, 4) and r.episodes == 1 for r in suite.runs)


def test_seeds_may_be_a_range_string_and_the_name_defaults_to_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(
        '[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["greedy"]\nseeds = "2-4"\n'
    )
    suite = load_suite_file(path)
    assert suite.name == "mine" and suite.runs[0].seeds == (2, 3, 4)
    assert suite.runs[0].options == {} and suite.compare == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name = 1", "name must be a str"),
        ("[[runs]]\nscenarios = ['x']\nmethods = ['greedy']\nseeds = [0]", "unknown scenario 'x'"),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['x']\nseeds = [0]",
         "unknown method 'x'"),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']\nseeds = [-1]",
         "bad seeds"),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']", "missing 'seeds'"),
        ("[[runs]]\nscenarios = []\nmethods = ['greedy']\nseeds = [0]", "must not be empty"),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']\nseeds = [0]\nfoo = 1",
         "unknown key(s) ['foo']"),
        ("compare = ['a/b']\n[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']\n"
         "seeds = [0]", "unknown published table 'a/b'"),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy', 'greedy']\nseeds = [0]",
         "lists a name twice"),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']\nseeds = [0]\n"
         "[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']\nseeds = [1]",
         "is listed twice"),
        ("nope", "invalid TOML"),
        ("", "at least one [[runs]]"),
    ],
)  # fmt: skip
def test_bad_suites_are_rejected_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(BenchError) as info:
        parse_suite(text, "bad.toml")
    assert message in str(info.value)
    assert "bad.toml" in str(info.value)


def test_unknown_suite_lists_the_shipped_ones() -> None:
    with pytest.raises(BenchError, match="unknown suite 'nope'; known suites: smoke"):
        load_suite("nope")
    with pytest.raises(BenchError, match="unknown suite"):
        load_suite("../suites/smoke")
