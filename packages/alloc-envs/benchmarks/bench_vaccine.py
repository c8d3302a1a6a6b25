"""Speed of ``alloc/VaccineAllocation-v0`` on one core.

For each preset, times whole episodes (reset + 62 decisions = 63 simulated days of 24 hourly
sub-steps) of several variants and reports seconds per episode and the ratio to a baseline
measured in the same process: the no-vaccination rollout of a single trajectory
(``counterfactual=False``, every region off). The default variant runs the policy's trajectory
and the no-vaccination counterfactual side by side (what the ``*_averted`` metrics need).

    python packages/alloc-envs/benchmarks/bench_vaccine.py [--repeats 5] [--preset medical]

Pins BLAS / OpenMP to one thread before importing numpy. The best of ``--repeats`` rounds is kept,
and the variants take turns within a round, so they see the same machine load. Also reports the
time to build the synthetic city once (cached afterwards).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402

from alloc_envs.vaccine import (  # noqa: E402
    VaccineAllocationEnv,
    VaccineAllocationParallelEnv,
    make_config,
)
from alloc_envs.vaccine.synthetic import build_synthetic_city  # noqa: E402


def _gym(overrides: dict, policy: str) -> Callable[[int], None]:
    env = VaccineAllocationEnv(**overrides)
    n = env.scenario.n_agents
    off = -np.ones((n, 1), dtype=np.float32)

    def act(obs) -> np.ndarray:
        if policy == "off":
            return off
        population = np.exp(obs["observation"][:, :1].astype(np.float64))  # population shares
        return (1.0 + np.log(population / population.max()) / 10.0).astype(np.float32)

    def play(seed: int) -> None:
        obs, _ = env.reset(seed=seed)
        truncated = False
        while not truncated:
            obs, _, _, truncated, _ = env.step(act(obs))

    return play


def _parallel(overrides: dict) -> Callable[[int], None]:
    env = VaccineAllocationParallelEnv(**overrides)
    half = np.full(1, 0.5, dtype=np.float32)

    def play(seed: int) -> None:
        env.reset(seed=seed)
        while env.agents:
            env.step(dict.fromkeys(env.agents, half))

    return play


def variants(preset: str) -> dict[str, Callable[[int], None]]:
    """name -> play(seed), the first being the baseline."""
    base = {"preset": preset}
    out = {
        "baseline: no-vaccination rollout, 1 trajectory": _gym(
            {**base, "counterfactual": False}, "off"
        ),
        "population policy, 1 trajectory": _gym({**base, "counterfactual": False}, "pop"),
        "population policy + counterfactual (default)": _gym(base, "pop"),
        "stochastic, + counterfactual": _gym({**base, "dynamics": "stochastic"}, "pop"),
        "parallel view, + counterfactual": _parallel(base),
    }
    if preset == "medical-small":
        n = make_config(preset).n_regions
        out["dense kernel (top_k = N), + counterfactual"] = _gym({**base, "kernel_top_k": n}, "pop")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--preset", action="append", choices=["medical-small", "medical"])
    args = parser.parse_args()
    presets = args.preset or ["medical-small", "medical"]
    for preset in presets:
        cfg = make_config(preset)
        start = time.perf_counter()
        build_synthetic_city(cfg)
        build = time.perf_counter() - start
        players = variants(preset)
        for play in players.values():  # warm up (and build the cached cities)
            play(0)
        best = dict.fromkeys(players, float("inf"))
        for r in range(args.repeats):
            for name, play in players.items():
                start = time.perf_counter()
                play(r)
                best[name] = min(best[name], time.perf_counter() - start)
        baseline = next(iter(best.values()))
        print(f"\n{preset}: {cfg.n_regions} regions, {cfg.population:,} people "
              f"(synthetic city built in {build:.2f} s)")  # fmt: skip
        print("| variant | s / episode | x baseline |")
        print("|---|---:|---:|")
        for name, seconds in best.items():
            print(f"| {name} | {seconds:.4f} | {seconds / baseline:.2f} |")


if __name__ == "__main__":
    main()
