"""Suite files."""

from __future__ import annotations

from pathlib import Path

import pytest

from alloc_bench.config import Budget
from alloc_bench.errors import BenchError
from alloc_bench.published import get_tables
from alloc_bench.suites import list_suites, load_suite, load_suite_file, parse_suite


def test_smoke_suite_runs_every_rule_based_method_on_every_scenario() -> None:
    suite = load_suite("smoke")
    assert suite.name == "smoke" and "smoke" in list_suites()
    assert suite.compare == ("dyps-kdd24/table7",)
    ride = {(r.scenario, r.method, r.options["demand"]) for r in suite.runs if r.options}
    rule_based = ("greedy", "nearest", "balance", "random", "mpc")
    assert ride == {
        (s, m, d)
        for s in ("ride-hailing-1", "ride-hailing-2")
        for m in rule_based + (("oracle",) if s == "ride-hailing-1" else ())
        for d in ("stochastic", "reference")
    }
    others = {(r.scenario, r.method) for r in suite.runs if not r.options}
    vaccine = ("none", "random", "population", "new-cases", "cumulative-cases", "elder-first")
    assert others == {(s, m) for s in ("medical-small", "medical") for m in vaccine} | {
        (s, "random") for s in ("lbf-1", "lbf-2", "rware-1", "rware-2")
    }
    assert all(r.availability().implemented for r in suite.runs)
    assert all(r.episodes == 1 and r.budget.train_steps == 0 for r in suite.runs)
    assert len(suite.configs()) == 110 + 60 + 10 + 6


def test_every_ride_hailing_suite_runs_the_oracle_beside_its_methods() -> None:
    """The limit of '% of oracle': on the seeds, episodes and options of every other method
    (smoke: on Ride-Hailing (1) only, an oracle day of Ride-Hailing (2) costing minutes)."""
    for name in list_suites():
        suite = load_suite(name)
        ride = [r for r in suite.runs if r.scenario.startswith("ride-hailing")]
        if name == "smoke":
            ride = [r for r in ride if r.scenario == "ride-hailing-1"]
        for run in ride:
            oracle = [
                o for o in ride if o.method == "oracle" and (o.scenario, o.options) == (
                    run.scenario, run.options)
            ]  # fmt: skip
            assert len(oracle) == 1, (name, run.describe())
            assert set(run.seeds) <= set(oracle[0].seeds), (name, run.describe())
            assert run.episodes <= oracle[0].episodes, (name, run.describe())
        assert not ride or {"mpc", "oracle"} <= {r.method for r in ride}, name


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
    known = r"unknown suite 'nope'; known suites: dyps-comparisons-.*, paper, .*smoke"
    with pytest.raises(BenchError, match=known):
        load_suite("nope")
    with pytest.raises(BenchError, match="unknown suite"):
        load_suite("../suites/smoke")


PAPER_SUITES = {
    # + mpc and oracle on each Ride-Hailing scenario (the reference rows and the limit)
    "paper-table2": ("dyps-kdd24/table2", 6 * 7 * 5 + 2 * 2 * 5),
    "paper-table3": ("dyps-kdd24/table3", 4 * 2 * 5 + 2 * 2 * 5),
    "paper-table4": ("dyps-kdd24/table4", 6 * 5 + 2 * 5),
    "paper-table5": ("dyps-kdd24/table5", 6 * 5 + 2 * 5),
    "paper-table7": ("dyps-kdd24/table7", 5 * 2 * 5),  # greedy, nearest, balance, mpc, oracle
    # + the exact-gradient leader and the planner's ceiling on the 8 populations
    "paper-tirl-edrp": ("tirl-aaai24/edrp", (2 * 4 + 5 * 8 + 2 * 8) * 5),
    "paper-tirl-mtfg": ("tirl-aaai24/mtfg", (2 * 4 + 5 * 8) * 5),
}


@pytest.mark.parametrize("name", sorted(PAPER_SUITES))
def test_one_suite_per_paper_table_lists_every_published_cell(name: str) -> None:
    ref, runs = PAPER_SUITES[name]
    suite = load_suite(name)
    assert suite.compare == (ref,) and len(suite.configs()) == runs
    (table,) = get_tables([ref])
    listed = {(r.method, r.scenario) for r in suite.runs}
    assert {(e.method, e.scenario) for e in table.entries} <= listed
    assert all(r.seeds == (0, 1, 2, 3, 4) for r in suite.runs)  # 5 seeds, as in the papers


def test_the_paper_suite_is_the_union_of_the_table_suites() -> None:
    paper = load_suite("paper")
    assert paper.compare == tuple(ref for ref, _ in PAPER_SUITES.values())
    union = {r.describe() for name in PAPER_SUITES for r in load_suite(name).runs}
    assert {r.describe() for r in paper.runs} == union and len(paper.runs) == len(union) == 176
    # Table 6's training budgets; rule-based Table 7 does not train.
    budgets = {(r.scenario, r.method): r.budget for r in paper.runs}
    assert budgets[("lbf-1", "DyPS+IPPO")] == Budget(1_000_000, 10)
    assert budgets[("ride-hailing-2", "DyPS+CoPO")] == Budget(30_000, 10)
    assert budgets[("medical", "SePS+IPPO")] == Budget(100_000, 10)
    assert budgets[("ride-hailing-1", "greedy")] == Budget(0, 10)
    # Nothing the papers list is dropped, and every run of theirs can run now.
    assert all(r.availability().implemented for r in paper.runs)


def test_includes_deduplicate_and_conflicts_are_errors(tmp_path: Path) -> None:
    run = '[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["greedy", "nearest"]\n'
    same = parse_suite(f'include = ["paper-table7"]\n{run}seeds = "0-4"\neval_episodes = 10\n', "x")
    assert len(same.runs) == 10 and same.compare == ("dyps-kdd24/table7",)  # 5 methods x 2
    with pytest.raises(BenchError, match="is listed twice"):
        parse_suite(f'include = ["paper-table7"]\n{run}seeds = "0-2"\n', "x")
    with pytest.raises(BenchError, match="include cycle"):
        parse_suite('include = ["x"]', "x.toml")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[[runs]]\nscenarios = ['lbf-3']\nmethods = ['greedy']\nseeds = [0]",
         "unknown scenario 'lbf-3'; known scenarios: edrp-n1000, edrp-n10000, "),
        ("[[runs]]\nscenarios = ['lbf-1']\nmethods = ['DyPS+IPO']\nseeds = [0]",
         "unknown method 'DyPS+IPO'; known methods: "),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']\nseeds = [0]\n"
         "episodes = 1\neval_episodes = 1", "give eval_episodes or its alias episodes"),
        ("[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['greedy']\nseeds = [0]\n"
         "train_steps = -5", "train_steps must be a non-negative integer"),
    ],
)  # fmt: skip
def test_typos_are_errors_but_known_unimplemented_names_are_not(
    text: str, message: str, unbuilt: str
) -> None:
    with pytest.raises(BenchError) as info:
        parse_suite(text, "bad.toml")
    assert message in str(info.value)
    text = f"[[runs]]\nscenarios = ['ride-hailing-1']\nmethods = ['{unbuilt}']\nseeds = [0]"
    ok = parse_suite(text, "x")
    assert "alloc_agents.not_landed" in ok.runs[0].availability().reason


def test_the_docs_suite_table_lists_every_shipped_suite() -> None:
    page = Path(__file__).resolve().parents[3] / "docs" / "benchmark" / "store-and-suites.md"
    rows = {
        line.split("`")[1]
        for line in page.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `")
    }
    assert set(list_suites()) <= rows, sorted(set(list_suites()) - rows)
