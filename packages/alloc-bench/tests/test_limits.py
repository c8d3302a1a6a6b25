"""Shares of a scenario's limit (Ride-Hailing: % of the hindsight oracle; EDRP: % of headroom
between no charge and the planner's ceiling), paired per seed, as a column in the Markdown
and CSV leaderboards, in results.json and the marl-eval JSON; Ride-Hailing's oracle and mpc
run end to end through a suite."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from alloc_bench.leaderboard import render_csv, render_markdown
from alloc_bench.limits import add_shares, published_share, seed_shares
from alloc_bench.marl_eval import marl_eval_document
from alloc_bench.published import get_tables
from alloc_bench.report import write_report
from alloc_bench.runner import run_suite
from alloc_bench.scenarios import SCENARIOS, Limit, MetricSpec, Scenario, get_scenario
from alloc_bench.store import Store
from alloc_bench.suites import parse_suite

EDRP = "edrp-v1-n1000"
RIDE = "ride-hailing-1"


def result(method: str, per_seed: dict[int, list[float]], scenario: str = EDRP) -> dict:
    """A finished result whose seeds' evaluation episodes have these values of the scenario's
    limited metric (ORR on EDRP, GMV on Ride-Hailing)."""
    metrics = get_scenario(scenario).metric_names
    bounded = get_scenario(scenario).limited_metric
    seed_means = {s: sum(v) / len(v) for s, v in per_seed.items()}
    mean = sum(seed_means.values()) / len(seed_means)
    episodes = {
        str(s): [{m: (v if m == bounded else 1.0) for m in metrics} for v in vs]
        for s, vs in per_seed.items()
    }
    return {
        "scenario": scenario, "method": method, "options": {}, "seeds": list(per_seed),
        "episodes": len(next(iter(per_seed.values()))), "status": "finished",
        "mean": {m: (mean if m == bounded else 1.0) for m in metrics},
        "std": dict.fromkeys(metrics, 0.0), "ci": {},
        "per_seed": [{"seed": s, bounded: v} for s, v in seed_means.items()],
        "per_episode": episodes,
    }  # fmt: skip


def edrp_results() -> list[dict]:
    return [
        result("SMFU-w/o-L", {0: [0.75, 0.77], 1: [0.76, 0.76]}),  # mean 0.76
        result("planner (ceiling)", {0: [0.96, 0.96], 1: [0.96, 0.96]}),
        result("TIRL", {0: [0.86, 0.86], 1: [0.81, 0.81], 2: [0.90, 0.90]}),  # seed 2 unpaired
    ]


def by_cell(results: list[dict]) -> dict:
    return {(r["method"], r["scenario"]): r for r in results}


def test_the_scenarios_declare_their_limits() -> None:
    limit = get_scenario(EDRP).limit
    assert (limit.method, limit.floor, limit.label) == (
        "planner (ceiling)",
        "SMFU-w/o-L",
        "headroom",
    )
    assert get_scenario(EDRP).limited_metric == "orr" and limit.key == "share_of_headroom"
    assert get_scenario("edrp-n300").limit == limit  # the first EDRP too
    assert get_scenario("mtfg-n1000").limit is None
    for name in ("ride-hailing-1", "ride-hailing-2"):
        ride = get_scenario(name)
        assert (ride.limit.method, ride.limit.floor, ride.limited_metric) == ("oracle", "", "gmv")
        assert ride.with_shares(["gmv", "orr"]) == ["gmv", "share_of_oracle", "orr"]


def test_shares_are_paired_by_seed_over_the_seeds_the_limit_has() -> None:
    none, ceiling, tirl = results = edrp_results()
    # per seed: (0.86 - 0.76) / 0.2 and (0.81 - 0.76) / 0.2; seed 2 has no limit to pair with
    assert seed_shares(tirl, by_cell(results)) == pytest.approx({"0": 0.5, "1": 0.25})
    add_shares(results)
    assert tirl["mean"]["share_of_headroom"] == pytest.approx(0.375)
    assert tirl["std"]["share_of_headroom"] == pytest.approx(0.125)
    assert tirl["metric_seeds"]["share_of_headroom"] == [0, 1]
    assert [row.get("share_of_headroom") for row in tirl["per_seed"]] == pytest.approx(
        [0.5, 0.25, None]
    )
    assert none["mean"]["share_of_headroom"] == pytest.approx(0.0)
    assert ceiling["mean"]["share_of_headroom"] == pytest.approx(1.0)
    # no share without the limit, without the floor, or with a floor equal to the limit
    for partial in ([none, tirl], [ceiling, tirl]):
        assert seed_shares(tirl, by_cell(partial)) == {}
    flat = result("planner (ceiling)", {0: [0.76], 1: [0.76]})
    assert seed_shares(tirl, by_cell([none, flat, tirl])) == {}


def test_pairing_differs_from_a_ratio_of_means() -> None:
    greedy = result("greedy", {0: [100.0], 1: [300.0]}, RIDE)
    oracle = result("oracle", {0: [200.0], 1: [400.0]}, RIDE)
    add_shares([greedy, oracle])
    # paired: (0.5 + 0.75) / 2, not 400 / 600
    assert greedy["mean"]["share_of_oracle"] == pytest.approx(0.625)
    assert published_share(150.0, RIDE, by_cell([greedy, oracle])) == pytest.approx(0.5)


def test_markdown_csv_and_json_carry_the_share_beside_the_bounded_metric() -> None:
    results = [
        result("greedy", {0: [180_000.0], 1: [200_000.0]}, RIDE),
        result("mpc", {0: [300_000.0], 1: [330_000.0]}, RIDE),
        result("oracle", {0: [360_000.0], 1: [400_000.0]}, RIDE),
    ]
    add_shares(results)
    tables = get_tables(["dyps-kdd24/table7"])
    markdown = render_markdown(results, tables, wide=True)
    header = next(line for line in markdown.splitlines() if line.startswith("| Method"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    assert columns[1:5] == ["ride-hailing-1 GMV", "paper", "ride-hailing-1 % of oracle", "paper"]
    rows = {line.split("|")[1].strip(): line for line in markdown.splitlines() if "|" in line}
    assert "oracle (hindsight)" in rows and "mpc (demand model)" in rows
    greedy = [c.strip() for c in rows["greedy"].strip("|").split("|")]
    assert greedy[3].startswith("50.0% ± 0.0%") and greedy[3].endswith("(n=2)")
    # the paper's greedy (220,770) as a share of our oracle's mean (380,000)
    assert greedy[4] == f"{220_770 / 380_000:.1%}"
    assert "% of oracle: gmv / oracle's gmv, paired per seed" in markdown
    assert "Reference methods, with knowledge a learner does not have: mpc" in markdown
    lines = list(csv.DictReader(io.StringIO(render_csv(results, tables))))
    share = next(r for r in lines if r["method"] == "greedy" and r["metric"] == "share_of_oracle")
    assert float(share["ours_mean"]) == pytest.approx(0.5)
    assert float(share["paper"]) == pytest.approx(220_770 / 380_000)
    gmv = next(r for r in lines if r["method"] == "greedy" and r["metric"] == "gmv")
    assert float(gmv["share_of_limit"]) == pytest.approx(0.5) and gmv["limit"] == "oracle"
    mpc = marl_eval_document(results)["ride-hailing"][RIDE]["mpc"]
    assert mpc["seed_1"]["absolute_metrics"]["share_of_oracle"] == [pytest.approx(0.825)]


def test_edrp_tables_get_a_headroom_row_per_scenario() -> None:
    results = edrp_results()
    add_shares(results)
    markdown = render_markdown(results, get_tables(["tirl-aaai24/edrp"]), wide=True)
    row = next(line for line in markdown.splitlines() if "n1000 % of headroom" in line)
    assert "37.5% ± 12.5%" in row and "(n=2 of 3)" in row
    assert "exact-leader" not in markdown  # labels only for methods present
    document = marl_eval_document(results)
    runs = document["edrp"][EDRP]["TIRL"]
    assert runs["seed_0"]["absolute_metrics"]["share_of_headroom"] == [pytest.approx(0.5)]
    assert "share_of_headroom" not in runs["seed_2"]["absolute_metrics"]


def test_without_the_limit_there_is_no_share_column() -> None:
    alone = [result("greedy", {0: [100.0]}, RIDE)]
    add_shares(alone)
    assert "share_of_oracle" not in alone[0]["mean"]
    assert "% of oracle" not in render_markdown(alone, get_tables(["dyps-kdd24/table7"]), wide=True)


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError, match="floor"):
        Limit("oracle", "oracle", floor="oracle")
    with pytest.raises(ValueError, match="label"):
        Limit("oracle", "")
    with pytest.raises(ValueError, match="its limit bounds 'nope'"):
        Scenario(
            name="x", description="", family="ride-hailing", env_entry="m:C",
            metrics=(MetricSpec("gmv", "GMV"),), rank_by="gmv",
            limit=Limit("oracle", "oracle", metric="nope"),
        )  # fmt: skip


def test_a_floor_makes_the_share_a_share_of_the_headroom(monkeypatch) -> None:
    base = get_scenario(RIDE)
    fields = {f: getattr(base, f) for f in base.__dataclass_fields__}
    monkeypatch.setitem(
        SCENARIOS, RIDE, Scenario(**{**fields, "limit": Limit("oracle", "headroom", "random")})
    )
    results = [
        result("greedy", {0: [150.0]}, RIDE),
        result("random", {0: [100.0]}, RIDE),
        result("oracle", {0: [300.0]}, RIDE),
    ]
    add_shares(results)
    assert results[0]["mean"]["share_of_headroom"] == pytest.approx(0.25)
    assert "% of headroom" in render_markdown(results, wide=True)


def test_oracle_and_mpc_run_through_a_suite_into_every_report_file(tmp_path: Path) -> None:
    suite = parse_suite(
        """
compare = ["dyps-kdd24/table7"]
[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["greedy", "mpc", "oracle"]
seeds = "0-1"
options = { rows = 1, cols = 4, drivers_per_cell = 2, episode_steps = 12 }
""",
        "limits.toml",
    )
    out = tmp_path / "out"
    with Store(tmp_path / "store.sqlite") as store:
        summary = run_suite(suite, store, jobs=1)
        assert not summary.failed
        report = write_report(suite, store, out, plots=False)
    by_method = {r["method"]: r for r in report.results}
    oracle, greedy = by_method["oracle"], by_method["greedy"]
    assert oracle["mean"]["share_of_oracle"] == pytest.approx(1.0)
    for seed in (0, 1):
        paired = greedy["per_seed"][seed]["gmv"] / oracle["per_seed"][seed]["gmv"]
        assert greedy["per_seed"][seed]["share_of_oracle"] == pytest.approx(paired)
        assert paired <= 1.0
    assert "oracle (hindsight)" in (out / "leaderboard.md").read_text()
    assert "share_of_oracle" in (out / "leaderboard.csv").read_text()
    document = json.loads((out / "results.json").read_text())
    assert any("share_of_oracle" in r["mean"] for r in document["results"])
    marl = json.loads((out / "marl_eval.json").read_text())
    task = next(iter(marl["ride-hailing"].values()))
    assert "share_of_oracle" in task["greedy"]["seed_0"]["absolute_metrics"]
