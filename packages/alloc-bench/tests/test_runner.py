"""Running suites into the store: skip, retry, force, pools, not implemented, run logs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from alloc_bench import evaluate
from alloc_bench.errors import BenchError
from alloc_bench.results import collect
from alloc_bench.rundirs import run_dir
from alloc_bench.runner import plan_suite, run_suite
from alloc_bench.store import Store, artifacts_dir
from alloc_bench.suites import Suite, parse_suite


def numbers(store: Store) -> dict[str, tuple]:
    """What must not depend on how runs were executed: config -> (metrics, episodes)."""
    return {h: (r["metrics"], r["episodes"]) for h, r in store.rows().items()}


def test_a_second_invocation_skips_finished_runs_and_force_reruns_them(
    tiny: Suite, store: Store
) -> None:
    first = run_suite(tiny, store, jobs=1)
    assert (first.plan.total, first.executed, len(first.plan.finished)) == (6, 6, 0)
    stamps = {h: (r["finished_at"], r["wall_time_s"]) for h, r in store.rows().items()}
    second = run_suite(tiny, store, jobs=1)
    assert (second.executed, len(second.plan.finished), len(second.plan.pending)) == (0, 6, 0)
    assert {h: (r["finished_at"], r["wall_time_s"]) for h, r in store.rows().items()} == stamps
    forced = run_suite(tiny, store, jobs=1, force=True)
    assert forced.executed == 6
    after = store.rows()
    assert all(after[h]["finished_at"] != stamps[h][0] for h in stamps)
    assert all(row["attempts"] == 1 for row in after.values())  # finished rows are replaced


def test_process_pool_gives_the_same_numbers_as_jobs_1(tiny: Suite, tmp_path: Path) -> None:
    with Store(tmp_path / "serial.sqlite") as serial, Store(tmp_path / "pool.sqlite") as pool:
        run_suite(tiny, serial, jobs=1)
        summary = run_suite(tiny, pool, jobs=2)
        assert summary.jobs == 2 and summary.executed == 6
        assert numbers(pool) == numbers(serial)
        assert all(r["status"] == "finished" for r in pool.rows().values())


def test_the_store_aggregate_equals_evaluate(tiny: Suite, store: Store) -> None:
    run_suite(tiny, store, jobs=1)
    greedy = collect(tiny, store)[0]
    direct = evaluate("ride-hailing-1", "greedy", [0, 1, 2])
    assert greedy["per_seed"] == direct["per_seed"]
    assert greedy["mean"] == direct["mean"] and greedy["std"] == direct["std"]
    assert greedy["status"] == "finished" and greedy["seeds"] == [0, 1, 2]
    low, high = greedy["ci"]["gmv"]
    assert low <= greedy["mean"]["gmv"] <= high


def test_failed_runs_are_recorded_and_retried(store: Store) -> None:
    suite = parse_suite(
        '[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["greedy", "random"]\n'
        'seeds = [0]\noptions = { action_mode = "reposition" }\n',
        "bad.toml",
    )
    summary = run_suite(suite, store, jobs=1)
    assert len(summary.failed) == 1 and "greedy is a dispatch policy" in summary.failed[0]["error"]
    rows = {r["method"]: r for r in store.rows().values()}
    assert rows["greedy"]["status"] == "failed" and rows["random"]["status"] == "finished"
    log = run_dir(artifacts_dir(store.path), rows["greedy"]) / "run.log"
    assert log.parent.relative_to(artifacts_dir(store.path)).parts[:2] == (
        "ride-hailing-1",
        "greedy",
    )
    assert "status: failed" in log.read_text() and "Traceback" in log.read_text()
    again = run_suite(suite, store, jobs=1)
    assert again.executed == 1 and len(again.plan.finished) == 1
    assert store.get(rows["greedy"]["config_hash"])["attempts"] == 2
    result = collect(suite, store)[0]
    assert result["status"] == "failed" and "dispatch policy" in result["reason"]


def test_options_the_environment_rejects_stop_before_any_run(store: Store) -> None:
    suite = parse_suite(
        '[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["greedy"]\nseeds = [0]\n'
        'options = { demand = "nope" }\n',
        "bad.toml",
    )
    with pytest.raises(BenchError, match="demand must be one of"):
        run_suite(suite, store, jobs=1)
    assert store.rows() == {}


def test_not_implemented_runs_are_planned_reported_and_never_executed(
    store: Store, unbuilt: str
) -> None:
    suite = parse_suite(
        f"""
[[runs]]
scenarios = ["ride-hailing-1", "edrp-n300"]
methods = ["greedy", "{unbuilt}", "PS+IPPO", "TIRL"]
seeds = "0-1"
train_steps = 1000
""",
        "mixed.toml",
    )
    plan = plan_suite(suite, store)
    # Runnable: greedy and PS+IPPO on ride-hailing-1, TIRL on edrp-n300 (not executed here).
    assert plan.total == 16 and len(plan.pending) == 2 + 2 + 2
    reasons = {(c.scenario, c.method): r for c, r in plan.not_implemented}
    assert reasons[("edrp-n300", "greedy")] == "method 'greedy' does not apply to edrp scenarios"
    assert "alloc_agents.not_landed" in reasons[("ride-hailing-1", unbuilt)]
    assert "evaluates a trained leader" in reasons[("edrp-n300", "PS+IPPO")]
    assert "not an EDRP/MTFG scenario" in reasons[("ride-hailing-1", "TIRL")]
    # Only the runnable pair is executed; the rest are stored as "not implemented".
    suite = parse_suite(
        '[[runs]]\nscenarios = ["ride-hailing-1", "edrp-n300"]\n'
        f'methods = ["greedy", "{unbuilt}"]\nseeds = "0-1"\n',
        "mixed.toml",
    )
    plan = plan_suite(suite, store)
    assert len(plan.pending) == 2 and plan.total == 8
    summary = run_suite(suite, store, jobs=1)
    assert summary.executed == 2 and len(store.rows()) == 2
    statuses = {(r["scenario"], r["method"]): r["status"] for r in collect(suite, store)}
    assert statuses == {
        ("ride-hailing-1", "greedy"): "finished",
        **{k: "not implemented" for k in statuses if k != ("ride-hailing-1", "greedy")},
    }
    assert len(statuses) == 4


def test_progress_reports_every_executed_run(tiny: Suite, store: Store) -> None:
    seen: list[tuple[int, int]] = []
    plans = []
    run_suite(
        tiny, store, jobs=1, progress=lambda d, t, o, e: seen.append((d, t)),
        on_plan=lambda plan, workers: plans.append((len(plan.pending), workers)),
    )  # fmt: skip
    assert seen == [(i, 6) for i in range(1, 7)] and plans == [(6, 1)]


def test_jobs_must_be_positive(tiny: Suite, store: Store) -> None:
    with pytest.raises(BenchError, match="--jobs must be >= 1"):
        run_suite(tiny, store, jobs=0)


def test_an_unusable_executor_fails_before_marking_runs(
    tiny: Suite, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(BenchError, match="unknown executor 'dask'"):
        run_suite(tiny, store, executor="dask")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if Ray were not installed
    with pytest.raises(BenchError, match=r"pip install 'alloc-bench\[ray\]'"):
        run_suite(tiny, store, executor="ray")
    assert store.rows() == {}


def test_dyps_ablations_name_the_dyps_strategy_with_their_variant() -> None:
    from alloc_bench.learners import SHARING_VARIANTS, marl_support, parse_marl_name

    for method, variant in [("DyPS-noCVAE+IPPO", "no-cvae"), ("DyPS-noVLSTM+IPPO", "no-vlstm"),
                            ("DyPS-noRepr+IPPO", "no-repr")]:  # fmt: skip
        sharing, algorithm = parse_marl_name(method)
        assert SHARING_VARIANTS[sharing] == ("dyps", {"variant": variant})
        assert algorithm == "ippo" and marl_support(method, "ride-hailing-1") == ""
    assert "sharing strategy 'dyps-nolstm'" in marl_support("DyPS-noLSTM+IPPO", "ride-hailing-1")
