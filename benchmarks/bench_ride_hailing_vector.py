"""Cost per copy of E Ride-Hailing days stepped in one call against E environments in a loop.

Run from the repository root after installing the packages::

    python benchmarks/bench_ride_hailing_vector.py [--copies 1 4 16] [--rounds 5]

For each preset, policy and E, one round times (process CPU time) a whole day of E copies two
ways, in turn within one process: ``loop``, E ``RideHailingEnv`` s stepped one after the other
(what ``SyncVectorEnv`` does), and ``vector``, one ``RideHailingVectorEnv`` (what
``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")`` builds). The policy acts on
the copies' joint observation in one call (``greedy`` is per cell, so E cities are one batch of
E * G cells) in both, so the rows compare the environments. Printed: ms per copy-day (median over
rounds) of each and the speed-up of the vector env, of the medians and of the minima.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from alloc_agents import make_policy
from alloc_envs.ride_hailing import RideHailingEnv, RideHailingVectorEnv


def _act_fn(policy: str, action_shape: tuple[int, ...]) -> Callable[[dict], np.ndarray]:
    """A function from a batch of joint observations (E, G, ...) to actions (E, G, K)."""
    if policy == "stay":
        stay = np.zeros(action_shape, dtype=np.int64)
        return lambda obs: stay
    chosen = make_policy(policy, seed=0)

    def act(obs: dict) -> np.ndarray:
        cells = {key: value.reshape(-1, *value.shape[2:]) for key, value in obs.items()}
        return chosen.act(cells).reshape(action_shape)

    return act


def loop_day(envs: list[RideHailingEnv], act: Callable, seed: int) -> None:
    """One day of every env in ``envs``, stepped one after the other."""
    obs = [env.reset(seed=seed + e)[0] for e, env in enumerate(envs)]
    for _ in range(envs[0].config.episode_steps):
        joint = {key: np.stack([o[key] for o in obs]) for key in obs[0]}
        actions = act(joint)
        obs = [env.step(actions[e])[0] for e, env in enumerate(envs)]


def vector_day(env: RideHailingVectorEnv, act: Callable, seed: int) -> None:
    """One day of every copy of ``env``."""
    obs, _ = env.reset(seed=seed)
    for _ in range(env.config.episode_steps):
        obs = env.step(act(obs))[0]


def cpu_ms(work: Callable[..., None], *args: object) -> float:
    """CPU milliseconds of ``work(*args)``."""
    start = time.process_time()
    work(*args)
    return (time.process_time() - start) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["ride-hailing-1", "ride-hailing-2"])
    parser.add_argument("--policies", nargs="+", default=["stay", "greedy"])
    parser.add_argument("--copies", nargs="+", type=int, default=[1, 4, 16])
    parser.add_argument("--rounds", type=int, default=5, help="timed days per way and row")
    args = parser.parse_args()
    print(
        f"# Ride-Hailing, E copies per call, CPU time, {platform.processor() or platform.machine()}"
        f", {args.rounds} rounds (loop and vector in turn)"
    )
    print(
        "| preset | policy | E | loop ms / copy-day | vector ms / copy-day | speed-up (median) "
        "| speed-up (min) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    for preset in args.presets:
        for policy in args.policies:
            for copies in args.copies:
                envs = [RideHailingEnv(preset=preset) for _ in range(copies)]
                vector = RideHailingVectorEnv(copies, preset=preset)
                act = _act_fn(policy, vector.action_space.shape)
                loop_day(envs, act, 0)  # warm-up
                vector_day(vector, act, 0)
                loop, vec = [], []
                for r in range(1, args.rounds + 1):
                    loop.append(cpu_ms(loop_day, envs, act, r) / copies)
                    vec.append(cpu_ms(vector_day, vector, act, r) / copies)
                median_loop, median_vec = statistics.median(loop), statistics.median(vec)
                print(
                    f"| {preset} | {policy} | {copies} | {median_loop:.2f} | {median_vec:.2f} "
                    f"| {median_loop / median_vec:.2f} | {min(loop) / min(vec):.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
