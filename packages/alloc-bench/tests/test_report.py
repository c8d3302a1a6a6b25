"""Reports: files, plots, marl-eval JSON, and a learned method's curves and group maps."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from alloc_agents import make_policy
from alloc_bench.marl_eval import marl_eval_document, task_name
from alloc_bench.methods import LEARNED, LearnedMethod, register_method
from alloc_bench.report import write_report
from alloc_bench.results import collect
from alloc_bench.rundirs import run_dir
from alloc_bench.runner import run_suite
from alloc_bench.store import Store, artifacts_dir
from alloc_bench.suites import Suite, parse_suite

PNG = b"\x89PNG\r\n\x1a\n"


def fake_trainer(make_env: Any, *, method: str, seed: int, train_steps: int, workdir: Path,
                 log: Any, scenario: str, make_parallel_env: Any) -> Any:  # fmt: skip
    """Pretends to train: a learning curve, DyPS-like group maps, a checkpoint; acts greedily."""
    for step in range(0, train_steps + 1, train_steps // 4):
        log.curve(step, gmv=1000.0 * step + seed, orr=0.1)
        log.groups(step, [(i + step // 50) % 4 for i in range(36)], shape=(6, 6),
                   diagnostics={"entropy_ratio": 0.5, "switched": 0.25})  # fmt: skip
    (workdir / "checkpoint.pt").write_text(f"seed {seed}")
    log.note("trained")
    return make_policy("greedy", seed=seed)


@pytest.fixture
def learner() -> Iterator[str]:
    register_method(LearnedMethod("fake-learner", "test double", fake_trainer))
    yield "fake-learner"
    del LEARNED["fake-learner"]


@pytest.fixture
def learned_suite(learner: str) -> Suite:
    return parse_suite(
        f"""
compare = ["dyps-kdd24/table7"]
[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["greedy", "{learner}"]
seeds = "0-1"
train_steps = 200
[[runs]]
scenarios = ["edrp-n300"]
methods = ["PS+IPPO"]
seeds = "0-1"
""",
        "learned.toml",
    )


def test_a_learned_method_stores_its_curve_groups_and_checkpoint(
    learned_suite: Suite, store: Store
) -> None:
    run_suite(learned_suite, store, jobs=1)
    greedy, learned, edrp = collect(learned_suite, store)
    assert greedy["train_steps"] == 0 and learned["train_steps"] == 200
    assert learned["per_seed"] == greedy["per_seed"]  # it acts greedily
    assert [p["step"] for p in learned["curves"]["1"]] == [0, 50, 100, 150, 200]
    assert learned["curves"]["1"][0]["metrics"] == {"gmv": 1.0, "orr": 0.1}
    assert [g["seed"] for g in learned["groups"]] == [0, 1]
    assert learned["groups"][0]["maps"][0]["shape"] == [6, 6]
    (config,) = [
        c for c in learned_suite.configs() if c.config_hash == learned["config_hashes"]["0"]
    ]
    folder = run_dir(artifacts_dir(store.path), config)
    assert folder.name == f"seed0-{config.config_hash[:8]}"
    assert (folder / "checkpoint.pt").read_text() == "seed 0"
    assert "log: trained" in (folder / "run.log").read_text()
    assert edrp["status"] == "not implemented"


def test_report_writes_tables_plots_group_maps_and_marl_eval(
    learned_suite: Suite, store: Store, tmp_path: Path
) -> None:
    run_suite(learned_suite, store, jobs=1)
    out = tmp_path / "report"
    report = write_report(learned_suite, store, out, resamples=500)
    names = sorted(str(p.relative_to(out)) for p in report.files)
    assert names[:6] == [
        "leaderboard.csv", "leaderboard.md", "marl_eval.json",
        "plots/groups/ride-hailing-1_fake-learner_seed0_"
        + report.results[1]["config_hashes"]["0"] + ".png",
        "plots/groups/ride-hailing-1_fake-learner_seed1_"
        + report.results[1]["config_hashes"]["1"] + ".png",
        "plots/ride-hailing-1.png",
    ]  # fmt: skip
    assert "table-dyps-kdd24-table7.csv" in names and "results.json" in names
    for path in report.files:
        if path.suffix == ".png":
            assert path.read_bytes()[:8] == PNG and path.stat().st_size > 5000
    markdown = (out / "leaderboard.md").read_text()
    assert markdown == report.markdown and "500 resamples" in markdown
    assert "| fake-learner | " in markdown and "not implemented" in markdown
    assert "200 train steps, 1 eval episode per seed" in markdown
    groups = markdown.split("## DyPS groups at the last iteration")[1]
    row = next(line for line in groups.splitlines() if line.startswith("| ride-hailing-1 |"))
    assert row.startswith("| ride-hailing-1 | fake-learner | 2 | 0.500 | 0.250 | nan | nan |")
    document = json.loads((out / "results.json").read_text())
    assert [r["status"] for r in document["results"]] == ["finished", "finished", "not implemented"]


def test_the_leaderboard_fits_a_terminal_unless_wide(
    learned_suite: Suite, store: Store, tmp_path: Path
) -> None:
    """Every line of the default leaderboard (printed by ``run`` and ``report``) fits 120
    characters; ``wide`` gives the full tables; the CSV and JSON files are the same either way."""
    run_suite(learned_suite, store, jobs=1)
    narrow = write_report(learned_suite, store, tmp_path / "narrow", resamples=100, plots=False)
    wide = write_report(
        learned_suite, store, tmp_path / "wide", resamples=100, plots=False, wide=True
    )
    longest = max(narrow.markdown.splitlines(), key=len)
    assert len(longest) <= 120, longest
    assert max(len(line) for line in wide.markdown.splitlines()) > 120
    assert "| fake-learner | " in narrow.markdown and "## DyPS groups" in narrow.markdown
    for name in (
        "leaderboard.csv",
        "results.json",
        "marl_eval.json",
        "table-dyps-kdd24-table7.csv",
    ):
        assert (tmp_path / "narrow" / name).read_text() == (tmp_path / "wide" / name).read_text()


def test_marl_eval_json_layout(learned_suite: Suite, store: Store) -> None:
    run_suite(learned_suite, store, jobs=1)
    results = collect(learned_suite, store)
    document = marl_eval_document(results)
    assert list(document) == ["ride-hailing"]
    task = document["ride-hailing"]["ride-hailing-1"]
    assert sorted(task) == ["fake-learner", "greedy"]
    greedy = task["greedy"]["seed_1"]
    assert list(greedy) == ["step_0", "absolute_metrics"]
    assert greedy["step_0"]["step_count"] == 0
    assert greedy["step_0"]["gmv"] == [results[0]["per_seed"][1]["gmv"]]
    learned = task["fake-learner"]["seed_0"]
    assert [learned[f"step_{k}"]["step_count"] for k in range(6)] == [0, 50, 100, 150, 200, 200]
    assert learned["step_1"]["gmv"] == [50_000.0]
    assert learned["absolute_metrics"] == {
        k: v for k, v in learned["step_5"].items() if k != "step_count"
    }
    assert task_name("ride-hailing-1", {"b": 1, "a": "x"}) == "ride-hailing-1[a=x;b=1]"


def test_report_before_any_run_says_not_run(tiny: Suite, store: Store, tmp_path: Path) -> None:
    report = write_report(tiny, store, tmp_path / "r", plots=True)
    assert "| greedy | not run | 220,770 |" in report.markdown
    assert not (tmp_path / "r" / "plots").exists()


def other_key_trainer(make_env: Any, *, seed: int, train_steps: int, log: Any, **_: Any) -> Any:
    """Logs curves under a key other than the ranking metric (as learned LBF runs once did)."""
    for step in (0, train_steps):
        log.curve(step, episode_return=float(step + seed))
    return make_policy("greedy", seed=seed)


def test_report_with_curves_of_another_key_than_the_metric_does_not_crash(
    store: Store, tmp_path: Path
) -> None:
    register_method(LearnedMethod("other-key", "test double", other_key_trainer))
    try:
        suite = parse_suite(
            """
[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["greedy", "other-key"]
seeds = "0-1"
train_steps = 100
""",
            "other.toml",
        )
        run_suite(suite, store, jobs=1)
        report = write_report(suite, store, tmp_path / "report", resamples=100)
    finally:
        del LEARNED["other-key"]
    plot = tmp_path / "report" / "plots" / "ride-hailing-1.png"
    assert plot in report.files and plot.read_bytes()[:8] == PNG
