"""Speed and equilibrium figures of the Stackelberg scenarios (EDRP and MTFG).

    python packages/alloc-envs/benchmarks/bench_stackelberg.py [--repeats 20]

Prints, on one core (BLAS / OpenMP pinned to one thread):

1. **Step times** of EDRP (default preset, 63 zones, S = 189 states): the N-agent step
   (``Population.sample_actions`` + ``Population.step``) at N = 1e3, 1e4, 1e5 and the mean-field
   step (outcome, rewards, leader reward, statistics, Fokker-Planck push-forward), medians over
   ``--repeats`` episodes of the equilibrium policy, and each one's ratio to the mean-field step
   measured in the same process. Also the leader view's step (exact response included).
2. **Exact solver**: wall time and iterations to reach the stated exploitability threshold (the
   preset's ``solver_tolerance``, in reward units per follower and episode) from the uniform
   policy, for the default EDRP and MTFG presets, no incentive.
3. **The leader moves the population**: the followers' equilibrium (mean field) with no
   incentive and with the hand-made rule (EDRP: ``oversupply_charge``; MTFG:
   ``value_gap_bonus``): ORR / CR overall and per type, the leader's return, and how far the
   follower distribution moved (largest total-variation distance over the episode).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from alloc_envs.edrp import EDRPLeaderEnv, oversupply_charge  # noqa: E402
from alloc_envs.edrp import make_game as edrp_game  # noqa: E402
from alloc_envs.mtfg import make_game as mtfg_game  # noqa: E402
from alloc_envs.mtfg import value_gap_bonus  # noqa: E402
from alloc_envs.stackelberg import Population, no_incentive, solve_equilibrium  # noqa: E402


def _median_ms(samples: list[float]) -> float:
    return 1000.0 * float(np.median(samples))


def mean_field_steps(game, policy: np.ndarray, repeats: int) -> list[float]:
    """Seconds per mean-field step (what the leader view does after the response)."""
    u = no_incentive(game)
    samples = []
    for _ in range(repeats):
        m, x = game.initial_distribution.copy(), game.initial_exogenous.copy()
        for t in range(game.horizon):
            start = time.perf_counter()
            joint = m[:, None] * policy[t]
            outcome = game.outcome(t, joint, x, u)
            game.follower_reward(t, outcome, x, u)
            game.leader_reward(t, outcome, x, u)
            game.step_statistics(t, outcome, x, u)
            m, x = game.push_forward(t, outcome, joint), game.next_exogenous(t, outcome, x)
            samples.append(time.perf_counter() - start)
    return samples


def n_agent_steps(game, policy: np.ndarray, n: int, repeats: int) -> tuple[list[float], float]:
    """Seconds per N-agent step (actions sampled from the policy + step), and the mean ORR."""
    pop = Population(game, n, seed=0)
    u = no_incentive(game)
    samples, orr = [], []
    for _ in range(repeats):
        pop.reset()
        while not pop.done:
            start = time.perf_counter()
            pop.step(pop.sample_actions(policy[pop.t]), u)
            samples.append(time.perf_counter() - start)
        orr.append(pop.metrics()["orr"])
    return samples, float(np.mean(orr))


def leader_view_steps(repeats: int) -> tuple[list[float], list[float]]:
    """Seconds per leader-view step (mean field), holding one incentive / a new one each step."""
    env = EDRPLeaderEnv()
    held, changing = [], []
    rng = np.random.default_rng(0)
    for _ in range(max(1, repeats // 10)):
        for samples, vary in ((held, False), (changing, True)):
            env.reset(seed=0)
            u = np.full(env.action_space.shape, 0.1, dtype=np.float32)
            done = False
            while not done:
                action = rng.uniform(0, 0.5, u.shape).astype(np.float32) if vary else u
                start = time.perf_counter()
                done = env.step(action)[3]
                samples.append(time.perf_counter() - start)
    return held, changing


def solver_time(game, repeats: int) -> tuple[float, int, float]:
    """Best wall time, iterations and final exploitability of the exact solver (no incentive)."""
    config = game.config
    times, result = [], None
    for _ in range(max(1, repeats // 10)):
        start = time.perf_counter()
        result = solve_equilibrium(
            game,
            no_incentive(game),
            temperature=config.follower_temperature,
            tolerance=config.solver_tolerance,
            max_iterations=config.solver_max_iterations,
        )
        times.append(time.perf_counter() - start)
    assert result is not None and result.converged
    return min(times), result.iterations, float(result.exploitability[-1])


def equilibrium(game, leader):
    config = game.config
    return solve_equilibrium(
        game,
        leader,
        temperature=config.follower_temperature,
        tolerance=config.solver_tolerance,
        max_iterations=config.solver_max_iterations,
    )


def moved(a, b) -> float:
    """Largest total-variation distance between two flows' follower distributions."""
    return float(0.5 * np.abs(a.flow.distributions - b.flow.distributions).sum(axis=1).max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    edrp, mtfg = edrp_game("edrp"), mtfg_game("mtfg")

    print(f"EDRP default preset: V = {edrp.n_zones} zones, S = {edrp.n_states} states, "
          f"A = {edrp.n_actions} actions, T = {edrp.horizon} slots")  # fmt: skip
    eq = equilibrium(edrp, no_incentive(edrp))
    mf = _median_ms(mean_field_steps(edrp, eq.policy, args.repeats))
    print("\n1. step time (median, ms)")
    print(f"{'fidelity':<22}{'ms / step':>11}{'x mean-field':>14}{'ORR':>8}")
    print(f"{'mean field':<22}{mf:>11.3f}{1.0:>14.1f}{eq.flow.metrics['orr']:>8.4f}")
    for n in (1_000, 10_000, 100_000):
        samples, orr = n_agent_steps(edrp, eq.policy, n, args.repeats)
        ms = _median_ms(samples)
        print(f"{f'N-agent, N = {n:,}':<22}{ms:>11.3f}{ms / mf:>14.1f}{orr:>8.4f}")
    held, changing = leader_view_steps(args.repeats)
    for label, samples in (("leader view, held u", held), ("leader view, new u", changing)):
        ms = _median_ms(samples)
        print(f"{label:<22}{ms:>11.3f}{ms / mf:>14.1f}{'':>8}")

    print("\n2. exact solver (OMD) from the uniform policy, no incentive")
    print(f"{'preset':<8}{'threshold':>11}{'seconds':>10}{'iterations':>12}{'reached':>12}")
    for name, game in (("edrp", edrp), ("mtfg", mtfg)):
        seconds, iterations, reached = solver_time(game, args.repeats)
        threshold = game.config.solver_tolerance
        print(f"{name:<8}{threshold:>11.0e}{seconds:>10.3f}{iterations:>12d}{reached:>12.2e}")

    print("\n3. equilibrium with no incentive vs the hand-made rule (mean field)")
    none, rule = eq, equilibrium(edrp, oversupply_charge(edrp))
    print("EDRP (oversupply charge)      ORR    leader return  charges $/driver")
    for label, result in (("no incentive", none), ("oversupply charge", rule)):
        metrics = result.flow.metrics
        print(f"  {label:<26}{metrics['orr']:.4f}{result.flow.leader_return:>15.4f}"
              f"{metrics['charges']:>18.2f}")  # fmt: skip
    print(f"  followers moved (max TV distance over the episode): {moved(none, rule):.3f}")
    none, rule = equilibrium(mtfg, no_incentive(mtfg)), equilibrium(mtfg, value_gap_bonus(mtfg))
    print(f"MTFG (value-gap bonus u = {np.array2string(value_gap_bonus(mtfg), precision=2)})"
          "   CR   CR per type     leader return  bonus paid")  # fmt: skip
    for label, result in (("no incentive", none), ("value-gap bonus", rule)):
        metrics = result.flow.metrics
        per_type = np.array2string(metrics["cr_per_type"], precision=3)
        print(f"  {label:<26}{metrics['cr']:.4f}  {per_type:<16}{result.flow.leader_return:>9.4f}"
              f"{metrics['bonus_paid']:>12.4f}")  # fmt: skip
    print(f"  followers moved (max TV distance over the episode): {moved(none, rule):.3f}")


if __name__ == "__main__":
    main()
