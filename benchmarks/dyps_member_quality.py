"""Roles or a quality ranking? Each DyPS member alone against the deployed groups.

    python benchmarks/dyps_member_quality.py --store results/dyps-selector.sqlite \\
        [--method DyPS+IPPO] [--scenario ride-hailing-1] [--episodes 5]

For every finished run of the method in the store, the final checkpoint (the run's artifacts
folder) is evaluated on the scenario's PettingZoo view (``alloc_agents.ppo.evaluate``, greedy):
with the deployed groups (each agent on its most probable member) and with every agent on one
member m, for each m, on the selection days (reset seeds 10000, 10001, ...). The member that
earns most there is then played alone, beside the deployed groups, on held-out days (reset
seeds 20000, 20001, ...), so that picking the best of M members on the days it is scored on
does not flatter it. If the deployed groups earn no more than the best member alone, the
groups rank the members by quality rather than give agents complementary roles: one network
would do. Prints GMV per run (and on the held-out days the order response rate and the
KL(pending orders || idle drivers) over the cells at the day's last step,
``info["kl_orders_idle"]``)
and the mean over runs.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

import numpy as np

from alloc_agents.ppo import evaluate, load_policy
from alloc_bench.rundirs import run_dir
from alloc_bench.scenarios import get_scenario
from alloc_bench.store import Store, artifacts_dir

#: First reset seed of the days the best member is chosen on, and of the held-out days.
SELECTION_SEED = 10_000
HELD_OUT_SEED = 20_000


def member_gmv(checkpoint: Path, scenario: str, episodes: int) -> dict[str, Any]:
    """GMV on the selection days of the deployed groups (``"deployed"``) and of each member
    alone (``"m<k>"``); the best member's name (``"best"``) and, on the held-out days, the
    deployed groups' and the best member's GMV (``"held_out_deployed"``, ``"held_out_best"``)."""
    spec = get_scenario(scenario)

    def env():
        return spec.make_parallel_env({})

    policy = load_policy(checkpoint, env())
    gm = policy.model.groups[0]
    deployed = gm.assignment.cpu().numpy().copy()

    def gmv(seed: int) -> float:
        return evaluate(policy, env, episodes, seed=seed)["info/gmv"]

    def served(seed: int) -> tuple[float, float, float]:
        """GMV, ORR and KL(orders || idle drivers) on the held-out days."""
        out = evaluate(policy, env, episodes, seed=seed)
        return out["info/gmv"], out["info/orr"], out["info/kl_orders_idle"]

    out: dict[str, Any] = {"deployed": gmv(SELECTION_SEED)}
    out["sizes"] = np.bincount(deployed, minlength=gm.n_members).tolist()
    for m in range(gm.n_members):
        gm.reassign(np.full_like(deployed, m))
        out[f"m{m}"] = gmv(SELECTION_SEED)
    best = max(range(gm.n_members), key=lambda m: out[f"m{m}"])
    out["best"] = f"m{best}"
    gm.reassign(np.full_like(deployed, best))
    out["held_out_best"], out["orr_best"], out["kl_best"] = served(HELD_OUT_SEED)
    gm.reassign(deployed)
    out["held_out_deployed"], out["orr_deployed"], out["kl_deployed"] = served(HELD_OUT_SEED)
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
    gaps = []
    for row in sorted(rows, key=lambda r: r["seed"]):
        checkpoint = run_dir(artifacts_dir(args.store), row) / "checkpoint.pt"
        if not checkpoint.exists():
            continue
        out = member_gmv(checkpoint, args.scenario, args.episodes)
        members = [k for k in out if re.fullmatch(r"m\d+", k)]
        gap = out["held_out_deployed"] - out["held_out_best"]
        gaps.append(gap)
        print(
            f"seed {row['seed']}: selection days: deployed {out['deployed']:,.0f} (agents per "
            f"member {out['sizes']}); alone: "
            + ", ".join(f"{k} {out[k]:,.0f}" for k in members)
            + f"; held-out days: deployed {out['held_out_deployed']:,.0f} (ORR "
            f"{out['orr_deployed']:.3f}, KL(orders || idle) {out['kl_deployed']:.2f}), best "
            f"member ({out['best']}) alone {out['held_out_best']:,.0f} (ORR "
            f"{out['orr_best']:.3f}, KL {out['kl_best']:.2f}), deployed − best {gap:+,.0f}"
        )
    if gaps:
        print(
            f"mean over {len(gaps)} runs, held-out days: deployed − best single member "
            f"{np.mean(gaps):+,.0f} GMV (min {min(gaps):+,.0f}, max {max(gaps):+,.0f})"
        )


if __name__ == "__main__":
    main()
