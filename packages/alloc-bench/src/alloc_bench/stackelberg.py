"""The bench's adapter to the Stackelberg leader trainers (``alloc_agents.stackelberg``): the TIRL
paper's scenarios ``edrp-n<N>`` / ``mtfg-n<N>`` and its methods.

* **Scenarios** (registered in :mod:`alloc_bench.scenarios`): EDRP and MTFG (their default
  presets) played by N sampled followers, N in
  :data:`~alloc_bench.scenarios.TIRL_POPULATIONS` (the paper's Table 2 grid).
  The scenario's Gymnasium view is the leader's (``EDRPLeaderEnv`` / ``MTFGLeaderEnv``) and its
  PettingZoo view the followers'.
* **Methods**: the bench names map to :func:`alloc_agents.stackelberg.make_trainer` names
  (:data:`TRAINER_NAMES`); :func:`stackelberg_support` reports a method the agents' package does
  not have yet as "not implemented". ``train_steps`` counts the leader's environment steps (T
  per episode), so a run trains ``ceil(train_steps / (T * follower_iterations))`` outer
  iterations with the trainer's default settings and the scenario's N. An interrupted run
  resumes from ``checkpoint.pt`` in its artifacts folder (the trainers resume exactly; one that
  cannot be resumed is set aside and the run starts over: :mod:`alloc_bench.checkpoints`).
* **Evaluation** (:func:`evaluate_stackelberg`, the scenarios' ``evaluator``): the paper's §5.1
  protocol, not episodes of the leader's view. The trained leader is fixed (its mean incentive),
  fresh PPO followers (N of them, :class:`FollowerPPOConfig` defaults but the learning rate
  :data:`EVAL_FOLLOWER_LR`) are trained from scratch against it for
  :data:`EVAL_FOLLOWER_ITERATIONS` episodes seeded with the run's seed, and the run's
  evaluation episodes are the last ``eval_episodes`` of those (the paper: 10). Their
  metrics: ``orr`` (EDRP) or ``cr`` (MTFG) and ``return``, the leader's return. Every method,
  SMFU-w/o-L included, is measured by the same follower solver.

Why not episodes of the leader's Gymnasium view: there the followers answer each incentive with
the exact solver's receding-horizon equilibrium (``alloc_envs.stackelberg.leader_env``), which
is neither the followers the leader was trained against nor the paper's "re-train the followers
from scratch".
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from alloc_bench.checkpoints import resume_or_restart
from alloc_bench.errors import BenchError
from alloc_bench.scenarios import EPISODE_RETURN, Scenario, get_scenario

#: Bench method name -> ``alloc_agents.stackelberg.make_trainer`` name.
TRAINER_NAMES = {
    "SMFU-w/o-L": "smfu-wo-l",
    "SMFU": "smfu",
    "Reg-SMFU": "reg-smfu",
    "TIRL": "tirl",
    "Reg-TIRL": "reg-tirl",
    "TIRL-pathwise": "tirl-pathwise",
    "Reg-TIRL-pathwise": "reg-tirl-pathwise",
    "TIRL-equilibrium": "tirl-equilibrium",
    "Reg-TIRL-equilibrium": "reg-tirl-equilibrium",
    "M3RL": "m3rl",
    "EBPG": "ebpg",
}

#: Episodes of follower training per evaluation seed (the common follower solver's budget; the
#: metric is averaged over the last ``eval_episodes`` of them).
EVAL_FOLLOWER_ITERATIONS = 100

#: Adam learning rate of the common follower solver (``FollowerPPOConfig.lr`` is 1e-3). Fresh
#: followers against no incentive, 100 episodes, N = 1,000 (exploitability on the exact model,
#: reward units per follower and episode):
#: MTFG, seeds 0-2: at 1e-3 they settle within 50 episodes on type-0 food (type 1 at 2%; CR
#: 0.856 in every seed, exploitability 2.2 / 3.6 / 1.3) where the exact equilibrium has CR 0.893;
#: at 3e-3 they reach CR 0.892-0.893 (exploitability 2.0 / 2.1 / 0.8). At N = 10,000 (seed 0):
#: CR 0.854 (exploitability 2.4) at 1e-3, 0.893 (0.7) at 3e-3.
#: EDRP, seeds 0-1: ORR 0.766 / 0.768 (exploitability 13.9 / 12.9) at 1e-3, 0.779 / 0.777 (12.6 /
#: 11.2) at 3e-3. 1e-2 is worse on EDRP (exploitability 17.1, seed 0).
EVAL_FOLLOWER_LR = 3e-3

#: The scenario families this adapter trains on.
FAMILIES = ("edrp", "mtfg")


def stackelberg_support(method: str, scenario: str) -> str:
    """Why ``method`` cannot run on ``scenario`` now (empty when it can)."""
    if get_scenario(scenario).family not in FAMILIES:
        return f"{method} trains a Stackelberg leader; {scenario!r} is not an EDRP/MTFG scenario"
    from alloc_agents.stackelberg import METHODS

    name = TRAINER_NAMES.get(method)
    if name not in METHODS:
        return f"alloc_agents.stackelberg does not implement {method!r} yet"
    return ""


#: The EDRP references (:data:`alloc_bench.methods.LEARNED` entries with ``reference=True``).
EDRP_REFERENCES = ("exact-leader", "exact-leader-fixed", "planner (ceiling)")


def edrp_reference_support(method: str, scenario: str) -> str:
    """Why an EDRP reference cannot run on ``scenario`` (empty when it can): EDRP only."""
    if get_scenario(scenario).family != "edrp":
        return f"{method} is computed on the EDRP model; {scenario!r} is not an EDRP scenario"
    return ""


class MeanFieldCeiling:
    """The planner's ceiling as a bench result: not a leader to play, a bound to report.
    :func:`evaluate_stackelberg` gives ``value`` for every evaluation episode."""

    def __init__(self, value: float) -> None:
        self.value = value


def compute_edrp_reference(
    make_env: Callable[[], Any],
    *,
    method: str,
    seed: int,
    train_steps: int,
    workdir: Path | None,
    log: Any,
    scenario: str,
    make_parallel_env: Callable[[], Any],
) -> TrainedLeader | MeanFieldCeiling:
    """An EDRP reference of the scenario's model (the trainer protocol; nothing is trained).
    ``exact-leader`` / ``exact-leader-fixed``: the exact-gradient leader's schedule / fixed
    vector (the package's stored ones for the default city, optimised otherwise:
    :func:`alloc_envs.edrp.exact_leader.exact_leader`), then evaluated like every leader;
    ``planner (ceiling)``: the LP's mean-field ORR, the same for every N and seed. The exact
    equilibrium's ORR of the charges goes to the run's log and curve."""
    from alloc_envs.edrp.exact_leader import exact_leader
    from alloc_envs.edrp.limits import planner_ceiling

    game = game_of(make_env)
    if method == "planner (ceiling)":
        ceiling = planner_ceiling(game)
        log.note(f"planner's ceiling {ceiling.orr:.4f} (rolled out {ceiling.rollout_orr:.4f})")
        return MeanFieldCeiling(ceiling.orr)
    fixed, schedule = exact_leader(game)
    leader = schedule if method == "exact-leader" else fixed
    log.note(f"exact-equilibrium ORR of the charges {leader.orr:.4f}")
    log.curve(0, orr=leader.orr)
    return TrainedLeader(leader, method)


def game_of(make_env: Callable[[], Any]) -> Any:
    """The model (``MatchingGame``) of the leader view ``make_env`` builds, the run's options
    included."""
    return make_env().unwrapped.game


def leader_callable(policy: Any) -> Callable[[int, np.ndarray, np.ndarray], np.ndarray]:
    """``policy.leader`` when the policy has one (:class:`TrainedLeader`), else a callable that
    asks ``policy.act`` with the leader view's observation (any policy of that view)."""
    leader = getattr(policy, "leader", None)
    if leader is not None:
        return leader

    def act(t: int, distribution: np.ndarray, exogenous: np.ndarray) -> np.ndarray:
        observation = {
            "time": np.array([t], dtype=np.float32),
            "distribution": distribution.astype(np.float32),
            "exogenous": exogenous.astype(np.float32),
        }
        return np.asarray(policy.act(observation), dtype=np.float64)

    return act


class TrainedLeader:
    """A trained leader as a bench policy: ``leader`` is the deterministic ``(t, m_t, x_t) ->
    u_t`` callable (the mean incentive); :meth:`act` plays it in the scenario's leader view."""

    def __init__(self, leader: Callable[[int, np.ndarray, np.ndarray], np.ndarray], name: str):
        self.leader = leader
        self.name = name

    def reset(self, seed: int | None = None) -> None:
        """Nothing to reset (the leader is deterministic)."""

    def act(self, observation: Mapping[str, np.ndarray]) -> np.ndarray:
        """(U,) float32 incentive for the leader view's observation (``time``,
        ``distribution``, ``exogenous``)."""
        t = int(np.asarray(observation["time"]).reshape(-1)[0])
        u = self.leader(
            t,
            np.asarray(observation["distribution"], dtype=np.float64),
            np.asarray(observation["exogenous"], dtype=np.float64),
        )
        return np.asarray(u, dtype=np.float32)


def train_stackelberg(
    make_env: Callable[[], Any],
    *,
    method: str,
    seed: int,
    train_steps: int,
    workdir: Path | None,
    log: Any,
    scenario: str,
    make_parallel_env: Callable[[], Any],
) -> TrainedLeader:
    """Train ``method``'s leader on ``scenario`` (module doc; the bench's trainer protocol)."""
    from alloc_agents.stackelberg import METHODS, FollowerPPOConfig, make_trainer, method_config

    spec = get_scenario(scenario)
    game = game_of(make_env)
    name = TRAINER_NAMES[method]
    n_followers = int(spec.env_kwargs["n_followers"])
    checkpoint = None if workdir is None else workdir / "checkpoint.pt"

    settings = {
        "log_dir": workdir,
        "progress": getattr(log, "progress", False),
        "threads": getattr(log, "threads", None),
    }

    def attempt(resume: bool) -> Any:
        if resume:
            return METHODS[name][0].load(checkpoint, game, **settings)
        per_iteration = game.horizon * method_config(name).follower_iterations
        return make_trainer(
            name,
            game,
            seed=seed,
            iterations=max(1, math.ceil(train_steps / per_iteration)),
            follower=FollowerPPOConfig(n_followers=n_followers),
            **settings,
        )

    trainer = resume_or_restart(checkpoint, log, attempt)
    trainer.train(checkpoint_path=checkpoint, checkpoint_every=25)
    metric = spec.rank_by
    for row in trainer.history:
        log.curve(
            int(row["env_steps"]), **{metric: row[metric], EPISODE_RETURN: row["leader_return"]}
        )
    log.device = str(trainer.device)
    return TrainedLeader(trainer.leader_policy(), method)


def evaluate_stackelberg(
    policy: Any, scenario: Scenario, options: Mapping[str, Any], seed: int, episodes: int
) -> list[dict[str, float]]:
    """The §5.1 evaluation of a fixed leader (module doc): one dict of the scenario's metrics
    per evaluation episode (the last ``episodes`` of the followers' training). The planner's
    ceiling (:class:`MeanFieldCeiling`) is reported as it is, every episode."""
    from alloc_agents.stackelberg import FollowerPPOConfig, evaluate_leader

    if isinstance(policy, MeanFieldCeiling):  # a bound, not a leader to play
        return [{scenario.rank_by: policy.value, EPISODE_RETURN: policy.value}] * episodes
    config = FollowerPPOConfig(
        n_followers=int(scenario.env_kwargs["n_followers"]),
        iterations=max(EVAL_FOLLOWER_ITERATIONS, episodes),
        lr=EVAL_FOLLOWER_LR,
    )
    import torch

    result = evaluate_leader(
        lambda: game_of(lambda: scenario.make_env(options)),
        leader_callable(policy),
        config,
        seeds=[seed],
        metric=scenario.rank_by,
        last=episodes,
        threads=torch.get_num_threads(),  # the run's (alloc_bench.execute.perform_run)
    )
    tail = result.histories[0][-episodes:]
    return [
        {
            scenario.rank_by: float(row[scenario.rank_by]),
            EPISODE_RETURN: float(row["leader_return"]),
        }
        for row in tail
    ]


def finished_leader_runs(store_path: str | Path) -> list[dict[str, Any]]:
    """The finished runs of the Stackelberg scenarios in the store at ``store_path`` (rows as
    :meth:`Store.rows` gives them), ordered by family, N, method (:data:`TRAINER_NAMES`'
    order) and seed; ``BenchError`` when there is no store there."""
    from alloc_bench.store import Store

    with Store(store_path, create=False) as store:
        rows = [
            row
            for row in store.rows().values()
            if row["status"] == "finished"
            and row["method"] in TRAINER_NAMES
            and get_scenario(row["scenario"]).family in FAMILIES
        ]
    methods = list(TRAINER_NAMES)

    def order(row: dict[str, Any]) -> tuple[str, int, int, int]:
        spec = get_scenario(row["scenario"])
        n = int(spec.env_kwargs["n_followers"])
        return spec.family, n, methods.index(row["method"]), int(row["seed"])

    return sorted(rows, key=order)


def restore_leader_run(store_path: str | Path, row: Mapping[str, Any]) -> tuple[Any, Any]:
    """``(game, trainer)`` of a finished leader run ``row`` of the store at ``store_path``: the
    scenario's model with the run's options and the trained trainer on the CPU, restored from
    ``checkpoint.pt`` in the run's artifacts folder (``BenchError`` naming the run when the
    checkpoint is missing)."""
    from alloc_agents.stackelberg import METHODS
    from alloc_bench.rundirs import run_dir
    from alloc_bench.store import artifacts_dir

    spec = get_scenario(row["scenario"])
    checkpoint = run_dir(artifacts_dir(store_path), row) / "checkpoint.pt"
    if not checkpoint.exists():
        raise BenchError(
            f"run {row['config_hash']} ({row['scenario']} {row['method']} seed {row['seed']}): "
            f"no checkpoint at {str(checkpoint)!r}"
        )
    game = game_of(lambda: spec.make_env(row["options"]))
    trainer_class = METHODS[TRAINER_NAMES[row["method"]]][0]
    return game, trainer_class.load(checkpoint, game, device="cpu", progress=False)
