"""The MARL adapter's names: Role-As-State (DyPS Table 5) trains the agents' ``role-as-state``
strategy with IPPO; QMIX and RODE train where their actions fit."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import alloc_agents
import alloc_envs.ride_hailing
from alloc_bench.availability import availability
from alloc_bench.config import Budget, RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.learners import (
    SHARING_VARIANTS,
    dyps_group_count,
    marl_support,
    parse_marl_name,
    train_marl,
)
from alloc_bench.methods import LEARNED
from alloc_bench.plots import plot_group_counts
from alloc_bench.rundirs import run_dir, run_folder, safe_part
from alloc_bench.runner import run_suite
from alloc_bench.store import Store, artifacts_dir
from alloc_bench.suites import parse_suite


def test_role_as_state_is_the_role_as_state_strategy_with_ippo() -> None:
    assert parse_marl_name("Role-As-State") == ("role-as-state", "ippo")
    assert parse_marl_name("Role-As-State+MAPPO") == ("role-as-state", "mappo")
    assert marl_support("Role-As-State", "ride-hailing-1") == ""
    assert LEARNED["Role-As-State"].trainer_text() == "alloc_bench.learners:train_marl"
    for scenario in ("ride-hailing-1", "ride-hailing-2"):
        assert availability(scenario, "Role-As-State").implemented
    with pytest.raises(BenchError, match="not <sharing>"):
        parse_marl_name("Role-As-Stat")


def test_train_marl_passes_the_strategy_to_the_agents_trainer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_train(env_fn: Any, **kwargs: Any) -> SimpleNamespace:
        calls.append(kwargs)
        row = {"env_steps": 144, "episode_return": 1.0, "info/gmv": 2.0, "info/orr": 0.5}
        return SimpleNamespace(history=[row], extra={}, policy=SimpleNamespace(device="cpu"))

    monkeypatch.setattr(alloc_agents, "train", fake_train, raising=False)
    curves: list[tuple[int, dict[str, float]]] = []
    log = SimpleNamespace(curve=lambda step, **values: curves.append((step, values)))
    policy = train_marl(lambda: None, method="Role-As-State", seed=3, train_steps=144,
                        workdir=None, log=log, scenario="ride-hailing-1",
                        make_parallel_env=lambda: SimpleNamespace())  # fmt: skip
    (kwargs,) = calls
    assert (kwargs["sharing"], kwargs["algorithm"]) == ("role-as-state", "ippo")
    assert kwargs["sharing_options"] is None and kwargs["seed"] == 3
    assert kwargs["total_env_steps"] == 144
    assert curves == [(144, {"gmv": 2.0, "orr": 0.5, "episode_return": 1.0})]
    assert policy.device == "cpu" and log.device == "cpu"


def test_team_methods_train_on_the_team_reward_with_the_scenario_preset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_train(env_fn: Any, **kwargs: Any) -> SimpleNamespace:
        calls.append(kwargs)
        return SimpleNamespace(history=[], extra={}, policy=SimpleNamespace(device="cpu"))

    monkeypatch.setattr(alloc_agents, "train", fake_train, raising=False)
    log = SimpleNamespace(curve=lambda step, **values: None)
    for method in ("PS+IPPO-team", "PS+IPPO"):
        train_marl(lambda: None, method=method, seed=0, train_steps=144, workdir=None, log=log,
                   scenario="ride-hailing-1", make_parallel_env=SimpleNamespace)  # fmt: skip
    team, individual = calls
    assert parse_marl_name("DyPS+MAPPO-team") == ("dyps", "mappo")
    assert team["config"].reward_sharing == "team" and team["n_envs"] == individual["n_envs"]
    assert replace(team["config"], reward_sharing="individual") == individual["config"]
    assert LEARNED["PS+IPPO-team"].trainer_text() == "alloc_bench.learners:train_marl"
    with pytest.raises(BenchError, match="not <sharing>"):
        parse_marl_name("PS+team")


def test_train_marl_stores_the_team_return_as_the_return_metric_on_lbf(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    row = {"env_steps": 144, "episode_return": 0.75, "info/foods_collected": 3.0}
    result = SimpleNamespace(history=[row], extra={}, policy=SimpleNamespace())
    monkeypatch.setattr(alloc_agents, "train", lambda env_fn, **kw: result, raising=False)
    curves: list[tuple[int, dict[str, float]]] = []
    log = SimpleNamespace(curve=lambda step, **values: curves.append((step, values)))
    train_marl(lambda: None, method="PS+IPPO", seed=0, train_steps=144, workdir=None, log=log,
               scenario="lbf-1", make_parallel_env=lambda: SimpleNamespace())  # fmt: skip
    assert curves == [(144, {"return": 0.75, "foods_collected": 3.0, "episode_return": 0.75})]


def test_dyps_group_maps_carry_the_selector_diagnostics_of_their_iteration(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    history = [
        {"iteration": i, "env_steps": 720 * i, "episode_return": 1.0, "dyps_entropy_ratio": 1 / i,
         "dyps_switched": 0.5 / i, "dyps_members_argmax": 4.0, "dyps_size/0": 9.0}
        for i in (1, 2)
    ]  # fmt: skip
    groups = [{"iteration": i, "env_steps": 720 * i, "groups": [{"assignment": [i] * 36}]}
              for i in (1, 2)]  # fmt: skip
    result = SimpleNamespace(history=history, extra={"dyps": groups}, policy=SimpleNamespace())
    monkeypatch.setattr(alloc_agents, "train", lambda env_fn, **kw: result, raising=False)
    maps: list[tuple] = []
    log = SimpleNamespace(curve=lambda step, **values: None,
                          groups=lambda *args: maps.append(args))  # fmt: skip
    env = lambda: alloc_envs.ride_hailing.RideHailingParallelEnv(preset="ride-hailing-1")  # noqa: E731
    train_marl(lambda: None, method="DyPS+IPPO", seed=0, train_steps=1440, workdir=None, log=log,
               scenario="ride-hailing-1", make_parallel_env=env)  # fmt: skip
    assert maps == [
        (720, [1] * 36, (6, 6), {"entropy_ratio": 1.0, "switched": 0.5, "members_argmax": 4.0}),
        (1440, [2] * 36, (6, 6), {"entropy_ratio": 0.5, "switched": 0.25, "members_argmax": 4.0}),
    ]


def test_dyps_table6_is_the_agents_table6_selector() -> None:
    assert SHARING_VARIANTS["dyps-table6"] == ("dyps", alloc_agents.ppo.DYPS_TABLE6)
    assert parse_marl_name("DyPS-Table6+IPPO") == ("dyps-table6", "ippo")
    assert availability("ride-hailing-1", "DyPS-Table6+IPPO").implemented


def test_dyps_with_m_groups_trains_dyps_with_n_groups_and_is_plotted_against_m(
    tmp_path: Path,
) -> None:
    assert SHARING_VARIANTS["dyps-m6"] == ("dyps", {"n_groups": 6})
    assert dyps_group_count("DyPS-M2+IPPO") == ("IPPO", 2)
    assert dyps_group_count("DyPS+MAPPO") == ("MAPPO", alloc_agents.DyPSConfig().n_groups)
    assert dyps_group_count("DyPS-noCVAE+IPPO") is None and dyps_group_count("greedy") is None
    assert availability("ride-hailing-2", "DyPS-M3+IPPO").implemented

    def result(method: str, gmv: float, status: str = "finished") -> dict[str, Any]:
        return {
            "scenario": "ride-hailing-2",
            "method": method,
            "options": {},
            "status": status,
            "mean": {"gmv": gmv},
            "ci": {"gmv": [gmv - 1.0, gmv + 1.0]},
        }

    path = tmp_path / "m.png"
    alone = [result("DyPS-M2+IPPO", 5.0), result("PS+IPPO", 6.0)]
    assert plot_group_counts("ride-hailing-2", alone, path) is None  # one M: nothing to draw
    sweep = [*alone, result("DyPS+IPPO", 7.0), result("DyPS-M6+IPPO", 4.0, "failed")]
    assert plot_group_counts("ride-hailing-2", sweep, path) == path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


LEARNED_SUITE = """
name = "learned"
description = "PS+IPPO, one iteration of 12 steps"
[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["PS+IPPO"]
seeds = "{seed}"
train_steps = 12
options = {{ episode_steps = 12 }}
"""


def test_a_checkpoint_that_cannot_be_resumed_is_set_aside_and_the_run_starts_over(
    tmp_path: Path,
) -> None:
    """An empty ``checkpoint.pt`` (a run killed while writing it), then another run's checkpoint,
    in a run folder: each is renamed beside it (same bytes), the run log says so and the run
    finishes, instead of failing on every retry. The second is in a folder named the way older
    versions named them (the config hash alone), which is still used when it is the only one."""
    with Store(tmp_path / "store.sqlite") as store:
        folders = []
        for seed, planted in ((0, b""), (1, None)):
            suite = parse_suite(LEARNED_SUITE.format(seed=seed), "learned.toml")
            config = suite.configs()[0]
            if seed == 0:
                folder = run_dir(artifacts_dir(store.path), config)
                assert folder.parent.name == "PS_IPPO" and folder.name.startswith("seed0-")
            else:
                folder = artifacts_dir(store.path) / config.config_hash
            folder.mkdir(parents=True)
            if planted is None:  # seed 0's checkpoint: another run's (its seed differs)
                planted = (folders[0] / "checkpoint.pt").read_bytes()
            (folder / "checkpoint.pt").write_bytes(planted)
            summary = run_suite(suite, store, jobs=1)
            assert summary.executed == 1 and not summary.failed, summary.failed
            (aside,) = folder.glob("checkpoint.unusable-*.pt")
            assert aside.read_bytes() == planted
            assert (folder / "checkpoint.pt").exists()  # the new run's own
            log = (folder / "run.log").read_text()
            reason = ": empty" if seed == 0 else "seed differs"
            assert "could not resume from checkpoint.pt" in log and reason in log
            assert f"set it aside as {aside.name} and started over" in log
            folders.append(folder)


def test_run_folders_are_named_by_scenario_method_and_seed_with_tensorboard_inside(
    tmp_path: Path,
) -> None:
    """``<artifacts>/<scenario>/<method>/seed<k>-<short hash>``: readable in a file browser and
    in TensorBoard (pointed at the artifacts folder), unique per config."""
    suite = parse_suite(LEARNED_SUITE.format(seed="0-1"), "learned.toml")
    with Store(tmp_path / "store.sqlite") as store:
        summary = run_suite(suite, store, jobs=1)
        assert summary.executed == 2 and not summary.failed, summary.failed
        artifacts = artifacts_dir(store.path)
    hashes = {c.seed: c.config_hash for c in suite.configs()}
    folders = sorted(p for p in artifacts.glob("*/*/*") if p.is_dir())
    assert [p.relative_to(artifacts).as_posix() for p in folders] == [
        f"ride-hailing-1/PS_IPPO/seed{seed}-{hashes[seed][:8]}" for seed in (0, 1)
    ]
    for folder in folders:
        assert list((folder / "tb").glob("events.out.tfevents.*")), list(folder.iterdir())
        for name in ("checkpoint.pt", "progress.csv", "run.log"):
            assert (folder / name).is_file(), name
    # Paths are safe whatever the names; other options or budgets give other folders.
    assert run_folder("edrp-v1-n300", "SMFU-w/o-L", 3, "ab" * 8).as_posix() == (
        "edrp-v1-n300/SMFU-w_o-L/seed3-abababab"
    )
    assert safe_part("planner (ceiling)") == "planner_ceiling" and safe_part("..") == "_"
    other = RunConfig("ride-hailing-1", "PS+IPPO", 0, {"episode_steps": 8}, Budget(12))
    assert run_dir(artifacts, other).name != f"seed0-{hashes[0][:8]}"


VALUE_SUITE = """
name = "value"
description = "QMIX or RODE, two days of 6 steps"
[[runs]]
scenarios = ["ride-hailing-1"]
methods = ["{method}"]
seeds = [0]
train_steps = 12
eval_episodes = 1
options = { episode_steps = 6 }
"""


@pytest.mark.parametrize("method", ["QMIX", "RODE"])
def test_value_methods_train_through_the_bench_where_their_actions_fit(
    tmp_path: Path, method: str
) -> None:
    assert availability("lbf-1", method).implemented
    assert availability("ride-hailing-2", method).implemented
    edrp = availability("edrp-n300", method)
    assert not edrp.implemented and "leader" in edrp.reason
    suite = parse_suite(VALUE_SUITE.replace("{method}", method), "value.toml")
    with Store(tmp_path / "store.sqlite") as store:
        summary = run_suite(suite, store, jobs=1)
        assert summary.executed == 1 and not summary.failed, summary.failed
        (row,) = store.rows().values()
        folder = artifacts_dir(store.path) / "ride-hailing-1" / method
    assert row["status"] == "finished" and row["metrics"]["gmv"] >= 0
    (run,) = folder.iterdir()
    assert (run / "checkpoint.pt").exists() and (run / "progress.csv").exists()
