"""Roles or a quality ranking? Each DyPS member alone against the deployed groups.

    python benchmarks/dyps_member_quality.py --store results/dyps-selector.sqlite \\
        [--method DyPS+IPPO] [--scenario ride-hailing-1] [--episodes 5]

For every finished run of the method in the store, the final checkpoint (the run's artifacts
folder) is evaluated on the scenario's PettingZoo view (``alloc_agents.ppo.evaluate``, greedy,
reset seeds 10000, 10001, ...): with the deployed groups (each agent on its most probable
member) and with every agent on one member m, for each m. If the deployed groups earn no more
than the best member alone, the groups rank the members by quality rather than give agents
complementary roles: one network would do. Prints GMV per run and the mean over runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from alloc_agents.ppo import evaluate, load_policy
from alloc_bench.scenarios import get_scenario
from alloc_bench.store import Store, artifacts_dir


def member_gmv(checkpoint: Path, scenario: str, episodes: int) -> dict[str, float]:
    """GMV of the deployed groups (``"deployed"``) and of each member alone (``"m<k>"``)."""
    spec = get_scenario(scenario)

    def env():
        return spec.make_parallel_env({})

    policy = load_policy(checkpoint, env())
    gm = policy.model.groups[0]
    deployed = gm.assignment.cpu().numpy().copy()
    out = {"deployed": evaluate(policy, env, episodes)["info/gmv"]}
    out["sizes"] = np.bincount(deployed, minlength=gm.n_members).tolist()
    for m in range(gm.n_members):
        gm.reassign(np.full_like(deployed, m))
        out[f"m{m}"] = evaluate(policy, env, episodes)["info/gmv"]
    gm.reassign(deployed)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, required=True)
    parser.add_argument("--method", default="DyPS+IPPO")
    parser.add_argument("--scenario", default="ride-hailing-1")
    parser.add_argument("--episodes", type=int, default=5)
    args = parser.parse_args()
    store = Store(args.store)
    rows = [
        r
        for r in store.rows().values()
        if r["method"] == args.method and r["scenario"] == args.scenario
        and r["status"] == "finished"
    ]  # fmt: skip
    results = []
    for row in sorted(rows, key=lambda r: r["seed"]):
        checkpoint = artifacts_dir(args.store) / row["config_hash"] / "checkpoint.pt"
        if not checkpoint.exists():
            continue
        out = member_gmv(checkpoint, args.scenario, args.episodes)
        members = [k for k in out if k.startswith("m")]
        best = max(members, key=lambda k: out[k])
        results.append(out)
        print(
            f"seed {row['seed']}: deployed {out['deployed']:,.0f} (agents per member "
            f"{out['sizes']}); alone: "
            + ", ".join(f"{k} {out[k]:,.0f}" for k in members)
            + f"; deployed − best member ({best}) {out['deployed'] - out[best]:+,.0f}"
        )
    if results:
        gap = [r["deployed"] - max(r[k] for k in r if k.startswith("m")) for r in results]
        print(
            f"mean over {len(results)} runs: deployed − best single member "
            f"{np.mean(gap):+,.0f} GMV (min {min(gap):+,.0f}, max {max(gap):+,.0f})"
        )


if __name__ == "__main__":
    main()
