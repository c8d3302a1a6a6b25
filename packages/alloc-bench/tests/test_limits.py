"""Shares of a scenario's limit (EDRP: % of headroom between no charge and the planner's
ceiling) in the Markdown and CSV leaderboards and the marl-eval JSON, on hand-made results."""

from __future__ import annotations

import csv
import io

import pytest

from alloc_bench.leaderboard import render_csv, render_markdown
from alloc_bench.limits import seed_shares, share_of_limit
from alloc_bench.marl_eval import marl_eval_document
from alloc_bench.published import get_tables
from alloc_bench.scenarios import get_scenario

SCENARIO = "edrp-v1-n1000"


def result(method: str, per_seed: dict[int, list[float]], scenario: str = SCENARIO) -> dict:
    """A finished result whose seeds' evaluation episodes have these ORRs."""
    means = [sum(v) / len(v) for v in per_seed.values()]
    mean = sum(means) / len(means)
    episodes = {str(s): [{"orr": v, "return": v} for v in vs] for s, vs in per_seed.items()}
    return {
        "scenario": scenario, "method": method, "options": {}, "seeds": list(per_seed),
        "episodes": 2, "mean": {"orr": mean, "return": mean}, "std": {"orr": 0.0, "return": 0.0},
        "per_episode": episodes,
    }  # fmt: skip


NONE = result("SMFU-w/o-L", {0: [0.75, 0.77], 1: [0.76, 0.76]})  # mean 0.76
CEILING = result("planner (ceiling)", {0: [0.96, 0.96], 1: [0.96, 0.96]})
TIRL = result("TIRL", {0: [0.86, 0.86], 1: [0.81, 0.81], 2: [0.90, 0.90]})  # seed 2 unpaired
RESULTS = [NONE, CEILING, TIRL]


def by_cell(results: list[dict]) -> dict:
    return {(r["method"], r["scenario"]): r for r in results}


def test_edrp_declares_the_planner_over_no_charge() -> None:
    limit = get_scenario(SCENARIO).limit
    assert (limit.method, limit.floor, limit.label) == (
        "planner (ceiling)",
        "SMFU-w/o-L",
        "headroom",
    )
    assert get_scenario("edrp-n300").limit == limit  # the first EDRP too
    assert get_scenario("mtfg-n1000").limit is None and get_scenario("ride-hailing-1").limit is None


def test_shares_of_the_means_and_paired_by_seed() -> None:
    cells = by_cell(RESULTS)
    assert share_of_limit(TIRL, cells) == pytest.approx((TIRL["mean"]["orr"] - 0.76) / 0.2)
    assert share_of_limit(NONE, cells) == pytest.approx(0.0)
    assert share_of_limit(CEILING, cells) == pytest.approx(1.0)
    # per seed: (0.86 - 0.76) / 0.2 and (0.81 - 0.76) / 0.2; seed 2 has no limit to pair with
    assert seed_shares(TIRL, cells) == pytest.approx({"0": 0.5, "1": 0.25})
    # no share without the limit, without the floor, or with a floor equal to the limit
    assert share_of_limit(TIRL, by_cell([NONE, TIRL])) is None
    assert share_of_limit(TIRL, by_cell([CEILING, TIRL])) is None
    flat = result("planner (ceiling)", {0: [0.76], 1: [0.76]})
    assert share_of_limit(TIRL, by_cell([NONE, flat, TIRL])) is None


def test_markdown_csv_and_json_carry_the_share() -> None:
    tables = get_tables(["tirl-aaai24/edrp"])
    markdown = render_markdown(RESULTS, tables)
    share = round(100 * share_of_limit(TIRL, by_cell(RESULTS)))
    assert f"(n=3) · {share}% of headroom" in markdown
    assert "(n=2) · 100% of headroom" in markdown and "(n=2) · 0% of headroom" in markdown
    rows = list(csv.DictReader(io.StringIO(render_csv(RESULTS, tables))))
    orr = {r["method"]: r for r in rows if r["metric"] == "orr"}
    assert float(orr["TIRL"]["share_of_limit"]) == pytest.approx(share / 100, abs=0.005)
    assert orr["TIRL"]["limit"] == "headroom"
    assert all(r["share_of_limit"] == "" for r in rows if r["metric"] == "return")
    document = marl_eval_document(RESULTS)
    runs = document["edrp"][SCENARIO]["TIRL"]
    assert runs["seed_0"]["absolute_metrics"]["share_of_headroom"] == [pytest.approx(0.5)]
    assert "share_of_headroom" not in runs["seed_2"]["absolute_metrics"]
