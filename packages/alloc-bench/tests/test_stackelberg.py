"""The Stackelberg scenarios (edrp-n<N>, edrp-v1-n<N>, mtfg-n<N>), the leader methods of the TIRL
paper and the EDRP references: registration, availability, a training run with resume, and the
§5.1 evaluation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alloc_bench import stackelberg
from alloc_bench.availability import availability
from alloc_bench.config import Budget, RunConfig
from alloc_bench.execute import perform_run
from alloc_bench.scenarios import SCENARIOS, TIRL_POPULATIONS, get_scenario


@pytest.fixture
def short_evaluation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Evaluations train the followers for 3 episodes instead of 100 (test speed)."""
    monkeypatch.setattr(stackelberg, "EVAL_FOLLOWER_ITERATIONS", 3)


def test_every_population_of_the_paper_is_a_scenario_of_both_families() -> None:
    sets = (
        ("edrp", "edrp", "orr", {"version": 0}),  # the first EDRP keeps its names
        ("edrp-v1", "edrp", "orr", {"version": 1}),
        ("mtfg", "mtfg", "cr", {}),
    )
    for prefix, family, metric, version in sets:
        for n in TIRL_POPULATIONS:
            spec = SCENARIOS[f"{prefix}-n{n}"]
            assert spec.family == family and spec.rank_by == metric
            assert dict(spec.env_kwargs) == {"preset": family, **version, "n_followers": n}
            assert spec.metric_names == (metric, "return") and spec.evaluator
    assert get_scenario("edrp-n300").make_env().unwrapped.game.reach_hops == 1
    assert get_scenario("edrp-v1-n300").make_env().unwrapped.game.reach_hops == 4
    env = get_scenario("mtfg-n300").make_env()
    assert env.fidelity == "n-agent" and env.population.n_followers == 300
    assert len(get_scenario("mtfg-n300").make_parallel_env().possible_agents) > 0


def test_leader_methods_run_on_stackelberg_scenarios_only() -> None:
    for method in (
        "SMFU-w/o-L", "SMFU", "Reg-SMFU", "TIRL", "Reg-TIRL", "TIRL-pathwise", "Reg-TIRL-pathwise",
        "TIRL-equilibrium", "Reg-TIRL-equilibrium",
    ):  # fmt: skip
        assert availability("edrp-n100000", method).implemented
        reason = availability("ride-hailing-1", method).reason
        assert "not an EDRP/MTFG scenario" in reason
    # Agents of the followers' view are not what these scenarios measure.
    assert "evaluates a trained leader" in availability("mtfg-n300", "PS+IPPO").reason
    assert "does not apply to mtfg" in availability("mtfg-n300", "greedy").reason


def test_a_run_trains_checkpoints_resumes_and_evaluates_by_retraining_followers(
    tmp_path: Path, short_evaluation: None
) -> None:
    config = RunConfig("mtfg-n300", "SMFU", 0, {"horizon": 6}, Budget(3 * 6, 2))
    out = perform_run(config, tmp_path)
    assert (tmp_path / "checkpoint.pt").exists() and (tmp_path / "progress.csv").exists()
    # train_steps counts leader steps: 18 steps of a 6-step game = 3 outer iterations.
    assert [p["step"] for p in out["curve"]] == [6, 12, 18]
    assert set(out["curve"][0]["metrics"]) == {"cr", "return"}
    assert len(out["episodes"]) == 2 and 0.0 <= out["metrics"]["cr"] <= 1.0
    assert out["metrics"]["cr"] == pytest.approx(np.mean([e["cr"] for e in out["episodes"]]))
    # Again on the same folder: the finished checkpoint is resumed, not retrained.
    again = perform_run(config, tmp_path)
    assert again["curve"] == out["curve"] and again["metrics"] == out["metrics"]


def test_the_evaluation_of_any_leader_view_policy_matches_its_callable(
    short_evaluation: None,
) -> None:
    spec = get_scenario("mtfg-n300")
    options = {"horizon": 4}
    bonus = np.array([0.0, 0.25])  # exact in float32, which the leader view acts in

    class Constant:
        """A policy of the leader view (``act`` on its observation), not a trained leader."""

        def act(self, observation: dict) -> np.ndarray:
            assert observation["distribution"].shape == (100,)
            return bonus.astype(np.float32)

    by_act = stackelberg.evaluate_stackelberg(Constant(), spec, options, 1, 2)
    as_leader = stackelberg.TrainedLeader(lambda t, m, x: bonus, "constant")
    by_leader = stackelberg.evaluate_stackelberg(as_leader, spec, options, 1, 2)
    assert by_act == by_leader and len(by_act) == 2
    assert set(by_act[0]) == {"cr", "return"}
    observation = {"time": np.array([2.0]), "distribution": np.ones(100) / 100, "exogenous": []}
    np.testing.assert_array_equal(as_leader.act(observation), bonus.astype(np.float32))


def test_the_common_follower_solver_is_ppo_at_the_evaluation_learning_rate(
    monkeypatch: pytest.MonkeyPatch, short_evaluation: None
) -> None:
    import alloc_agents.stackelberg as agents

    seen = []
    real = agents.evaluate_leader

    def spy(game_factory, leader, config, seeds, **kwargs):
        seen.append((config, list(seeds), kwargs["last"]))
        return real(game_factory, leader, config, seeds, **kwargs)

    monkeypatch.setattr(agents, "evaluate_leader", spy)
    spec = get_scenario("mtfg-n300")
    stackelberg.evaluate_stackelberg(
        stackelberg.TrainedLeader(lambda t, m, x: np.zeros(2), "none"), spec, {"horizon": 4}, 7, 2
    )
    [(config, seeds, last)] = seen
    assert config.lr == stackelberg.EVAL_FOLLOWER_LR == 3e-3
    assert config.iterations == 3 and config.n_followers == 300
    assert seeds == [7] and last == 2


def test_finished_leader_runs_are_listed_in_order_and_restore_their_trained_leader(
    tmp_path: Path, short_evaluation: None
) -> None:
    from alloc_bench.errors import BenchError
    from alloc_bench.rundirs import run_dir
    from alloc_bench.runner import run_suite
    from alloc_bench.store import Store, artifacts_dir
    from alloc_bench.suites import parse_suite

    suite = parse_suite(
        '[[runs]]\nscenarios = ["mtfg-n1000", "mtfg-n300"]\nmethods = ["TIRL", "SMFU"]\n'
        "seeds = [0]\ntrain_steps = 8\neval_episodes = 1\noptions = { horizon = 4 }\n"
        '[[runs]]\nscenarios = ["ride-hailing-1"]\nmethods = ["random"]\nseeds = [0]\n',
        "leaders.toml",
    )
    path = tmp_path / "store.sqlite"
    with Store(path) as store:
        run_suite(suite, store, jobs=1)
    runs = stackelberg.finished_leader_runs(path)
    # Ordered by family, N, then the methods' order (SMFU before TIRL); no ride-hailing run.
    assert [(r["scenario"], r["method"]) for r in runs] == [
        ("mtfg-n300", "SMFU"),
        ("mtfg-n300", "TIRL"),
        ("mtfg-n1000", "SMFU"),
        ("mtfg-n1000", "TIRL"),
    ]
    game, trainer = stackelberg.restore_leader_run(path, runs[1])
    assert game.horizon == 4 and type(trainer).__name__ == "TIRL"
    assert len(trainer.history) == 2  # 8 leader steps of a 4-step game
    # The restored leader is the one the run evaluated (its curve's last leader return).
    assert trainer.history[-1]["leader_return"] == runs[1]["curve"][-1]["metrics"]["return"]
    (run_dir(artifacts_dir(path), runs[0]) / "checkpoint.pt").unlink()
    with pytest.raises(BenchError, match=r"\(mtfg-n300 SMFU seed 0\): no checkpoint"):
        stackelberg.restore_leader_run(path, runs[0])
    with pytest.raises(BenchError, match="no store"):
        stackelberg.finished_leader_runs(tmp_path / "missing.sqlite")


def test_the_edrp_references_run_on_edrp_only_and_do_not_train(
    tmp_path: Path, short_evaluation: None
) -> None:
    from alloc_bench.methods import trains
    from alloc_envs.edrp import make_game
    from alloc_envs.edrp.exact_leader import exact_leader

    for method in stackelberg.EDRP_REFERENCES:
        assert not trains(method) and availability("edrp-v1-n300", method).implemented
        assert "not an EDRP scenario" in availability("mtfg-n300", method).reason
    # The planner's ceiling is its LP value, whatever N and the seed: a bound, not played.
    ceiling = RunConfig("edrp-v1-n300", "planner (ceiling)", 3, {}, Budget(0, 2))
    out = perform_run(ceiling, tmp_path / "planner")
    assert out["metrics"]["orr"] == pytest.approx(0.954, abs=5e-4)
    assert [e["orr"] for e in out["episodes"]] == [out["metrics"]["orr"]] * 2
    # The exact leader is the package's stored schedule, evaluated like every leader (§5.1).
    leader = RunConfig("edrp-v1-n300", "exact-leader", 0, {}, Budget(0, 2))
    out = perform_run(leader, tmp_path / "exact")
    schedule = exact_leader(make_game("edrp"))[1]
    assert out["curve"] == [{"step": 0, "metrics": {"orr": schedule.orr}}]
    assert len(out["episodes"]) == 2 and 0.5 < out["metrics"]["orr"] < schedule.orr
