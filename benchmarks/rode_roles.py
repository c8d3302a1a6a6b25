"""RODE's roles on Ride-Hailing's evaluation days: how many roles are used, how often a cell
switches, and what share of a cell's candidate orders its role lets it serve.

    alloc-bench run --suite value-based --store results/value-based.sqlite --jobs 1
    python benchmarks/rode_roles.py --store results/value-based.sqlite \\
        --export benchmarks/results/value-based/rode-roles.json
    python benchmarks/rode_roles.py --results benchmarks/results/value-based/rode-roles.json

For every finished RODE run in the store, the greedy policy is rebuilt from the run's checkpoint
(``alloc_agents.rode.load_rode_policy``) and replays the run's evaluation days exactly as the
benchmark did (``reset(seed=s)``, then ``reset()`` for the next days; the GMV of every day is
checked against the store's). Per day:

* ``gmv``: the day's GMV (equal to the store's);
* ``roles_used``: distinct roles chosen by any cell at any decision (every ``role_interval``
  steps);
* ``switching``: the share of a cell's consecutive decisions that changed its role;
* ``coverage``: over the (cell, step) pairs with at least one candidate order, the mean share of
  the candidates that belong to the cell's role (the orders it may serve; STAY is always
  allowed);
* ``decision_shares`` and ``order_shares``: per role, the share of the decisions that chose it
  and of the candidate orders that belong to it.

``--export`` writes them as JSON; ``--results`` prints the per-seed means (Markdown).
``--earlier EXPORT`` keeps the runs of an earlier export that the store does not hold (the same
scenario and seed), e.g. Ride-Hailing (1)'s when the store holds only (2)'s runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from alloc_agents.ppo.ride_hailing import CANDIDATE_COLUMNS, symlog
from alloc_agents.rode import load_rode_policy
from alloc_bench.rundirs import run_dir
from alloc_bench.scenarios import get_scenario
from alloc_bench.store import Store, artifacts_dir


def replay_days(row: dict[str, Any], checkpoint: Path) -> list[dict[str, Any]]:
    """Every evaluation day of the store row ``row`` (module docstring)."""
    spec = get_scenario(row["scenario"])
    options = json.loads(row["options"]) if isinstance(row["options"], str) else row["options"]
    env = spec.make_env(options or {})
    policy = load_rode_policy(checkpoint, spec.make_parallel_env(options or {}))
    agents = policy.model.groups[0]
    interval = policy.actor.role_interval
    days = []
    for day in range(int(row["eval_episodes"])):
        seed = int(row["seed"]) if day == 0 else None
        policy.reset(seed)
        obs, _ = env.reset(seed=seed)
        decisions, covered, orders_by_role = [], [], np.zeros(agents.n_roles)
        step, done, info = 0, False, {}
        while not done:
            actions = policy.act(obs)
            roles = policy.states[0][2][:, 0].cpu().numpy()
            if step % interval == 0:
                decisions.append(roles.copy())
            mask = np.asarray(obs["candidate_mask"])[:, 1:] > 0
            if mask.any():
                features = torch.as_tensor(np.asarray(obs["candidates"])[:, 1:, CANDIDATE_COLUMNS])
                with torch.no_grad():
                    z = agents.encoder.order_representations(
                        symlog(features[torch.as_tensor(mask)])
                    )
                    order_role = agents.order_roles(z).numpy()
                cell = np.nonzero(mask)[0]
                orders_by_role += np.bincount(order_role, minlength=agents.n_roles)
                inside = np.bincount(cell, weights=order_role == roles[cell], minlength=len(roles))
                count = mask.sum(1)
                covered.extend((inside[count > 0] / count[count > 0]).tolist())
            obs, _, terminated, truncated, info = env.step(actions)
            done = bool(terminated or truncated)
            step += 1
        chosen = np.stack(decisions)  # (D, cells)
        decision_shares = np.bincount(chosen.ravel(), minlength=agents.n_roles) / chosen.size
        days.append(
            {
                "gmv": float(info["gmv"]),
                "roles_used": len(np.unique(chosen)),
                "switching": float((chosen[1:] != chosen[:-1]).mean()) if len(chosen) > 1 else 0.0,
                "coverage": float(np.mean(covered)),
                "decision_shares": decision_shares.tolist(),
                "order_shares": (orders_by_role / orders_by_role.sum()).tolist(),
            }
        )
    stored = [float(e["gmv"]) for e in row["episodes"]]
    replayed = [d["gmv"] for d in days]
    if not np.allclose(stored, replayed):
        raise RuntimeError(f"replayed GMV {replayed} differs from the store's {stored}")
    return days


def collect_roles(store_path: Path) -> list[dict[str, Any]]:
    """The per-day role statistics of every finished RODE run in the store."""
    out = []
    with Store(store_path) as store:
        rows = [r for r in store.rows().values() if r["method"] == "RODE"]
    for row in sorted(rows, key=lambda r: (r["scenario"], r["seed"])):
        if row["status"] != "finished":
            continue
        checkpoint = run_dir(artifacts_dir(store_path), row) / "checkpoint.pt"
        days = replay_days(row, checkpoint)
        out.append({"scenario": row["scenario"], "seed": int(row["seed"]), "days": days})
    return out


def with_earlier(runs: list[dict[str, Any]], earlier: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``runs`` and the ``earlier`` runs of a (scenario, seed) that ``runs`` lacks, sorted."""
    have = {(r["scenario"], r["seed"]) for r in runs}
    kept = [r for r in earlier if (r["scenario"], r["seed"]) not in have]
    return sorted(runs + kept, key=lambda r: (r["scenario"], r["seed"]))


def print_table(runs: list[dict[str, Any]]) -> None:
    print("| scenario | seed | GMV | roles used | switching | coverage | decisions per role "
          "| orders per role |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---|---|")
    for run in runs:
        days = run["days"]

        def mean(key: str, days: list[dict[str, Any]] = days) -> Any:
            return np.mean([d[key] for d in days], axis=0)

        shares = " / ".join(f"{s:.2f}" for s in mean("decision_shares"))
        orders = " / ".join(f"{s:.2f}" for s in mean("order_shares"))
        print(
            f"| {run['scenario']} | {run['seed']} | {mean('gmv'):,.0f} | {mean('roles_used'):.1f} "
            f"| {mean('switching'):.3f} | {mean('coverage'):.3f} | {shares} | {orders} |"
        )
    for scenario in sorted({r["scenario"] for r in runs}):
        mine = [r for r in runs if r["scenario"] == scenario]
        coverage = [np.mean([d["coverage"] for d in r["days"]]) for r in mine]
        switching = [np.mean([d["switching"] for d in r["days"]]) for r in mine]
        print(f"\n{scenario}, over {len(mine)} seeds: coverage {np.mean(coverage):.3f} "
              f"(min {np.min(coverage):.3f}, max {np.max(coverage):.3f}), switching "
              f"{np.mean(switching):.3f}.")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--store", type=Path, help="the results store (SQLite)")
    source.add_argument("--results", type=Path, help="an exported JSON (--export)")
    parser.add_argument("--export", type=Path, help="write the per-day statistics here")
    parser.add_argument(
        "--earlier", type=Path, help="an earlier export whose runs the store lacks are kept"
    )
    args = parser.parse_args()
    runs = collect_roles(args.store) if args.store else json.loads(args.results.read_text())
    if args.earlier:
        runs = with_earlier(runs, json.loads(args.earlier.read_text()))
    if args.export:
        args.export.parent.mkdir(parents=True, exist_ok=True)
        args.export.write_text(json.dumps(runs, indent=1) + "\n")
    print_table(runs)


if __name__ == "__main__":
    main()
