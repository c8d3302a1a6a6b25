"""Do DyPS's groups mean something on the map? Association of Ride-Hailing groups with the
cells' demand and supply, and with their neighbourhoods (report time, from the stored maps).

For a group map (the deployed group of every cell, :class:`~alloc_bench.execute.RunLog`):

* **η²** of a cell feature against the groups: the share of the feature's variance across cells
  explained by the group means (between-group sum of squares / total sum of squares), beside
  its **permutation null**: the same statistic for the groups shuffled over the cells
  (``permutations`` shuffles, seeded): the null mean and the p-value, the share of shuffles with
  an η² at least the observed one (add-one smoothed). The features: *demand*, log(1 + the
  cell's mean pending orders per step), and *supply*, log(1 + its mean idle drivers per step),
  over one episode of the ``greedy`` rule (seed 0) on the run's scenario
  (:func:`cell_features`; the log keeps the few cells where drivers pile up from deciding η²).
* **neighbour agreement**: the share of adjacent cell pairs (hex grid) in the same group,
  beside **chance**, its expectation when the groups are shuffled over the cells,
  ``Σ_m n_m (n_m − 1) / (N (N − 1))``.

With a uniform or random selector, η² sits at its null and agreement at chance; groups that
follow demand and supply (the DyPS paper's Figures 6b, 7, 8) lift η² above its null.

On envs whose agents have known types (LBF's levels, RWARE's colours: the env's
``agent_types``), the **adjusted Rand index** (Hubert and Arabie, 1985) of the groups against
the types: 1 when the groups are the types (up to the labels), 0 in expectation for groups
drawn at random with the same group sizes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from alloc_bench import mdtable

#: Columns of a Ride-Hailing cell observation: idle drivers, pending orders.
IDLE, PENDING = 1, 2
#: Shuffles of the permutation null.
PERMUTATIONS = 2000


def eta_squared(groups: np.ndarray, values: np.ndarray) -> float:
    """Between-group share of the variance of ``values`` (N,) under ``groups`` (N,); 0 when
    the values do not vary."""
    total = float(((values - values.mean()) ** 2).sum())
    if total == 0.0:
        return 0.0
    labels, index = np.unique(groups, return_inverse=True)
    sums = np.bincount(index, weights=values, minlength=len(labels))
    counts = np.bincount(index, minlength=len(labels))
    between = float((sums**2 / counts).sum() - values.sum() ** 2 / len(values))
    return between / total


def eta_squared_test(
    groups: np.ndarray, values: np.ndarray, permutations: int = PERMUTATIONS, seed: int = 0
) -> dict[str, float]:
    """``eta2``, the permutation null's mean ``null`` and the p-value ``p`` (module doc)."""
    observed = eta_squared(groups, values)
    rng = np.random.default_rng(seed)
    null = np.array([eta_squared(rng.permutation(groups), values) for _ in range(permutations)])
    p = (1 + int((null >= observed - 1e-12).sum())) / (1 + permutations)
    return {"eta2": observed, "null": float(null.mean()), "p": p}


def neighbour_agreement(groups: np.ndarray, neighbors: np.ndarray) -> dict[str, float]:
    """``agreement``: the share of adjacent pairs (``neighbors`` (N, 6), ``-1`` off the map) in
    one group; ``chance``: its expectation under shuffled groups."""
    rows, cols = np.nonzero(neighbors >= 0)
    other = neighbors[rows, cols]
    pairs = rows < other  # each pair once
    same = groups[rows[pairs]] == groups[other[pairs]]
    n = len(groups)
    counts = np.bincount(np.unique(groups, return_inverse=True)[1])
    chance = float((counts * (counts - 1)).sum() / (n * (n - 1)))
    return {"agreement": float(same.mean()), "chance": chance}


@cache
def cell_features(scenario: str, options: tuple[tuple[str, Any], ...] = ()) -> dict[str, Any]:
    """``demand`` and ``supply`` (G,) of a Ride-Hailing scenario's cells (module doc) and its
    ``neighbors`` (G, 6); cached per (scenario, options)."""
    from alloc_bench.methods import rule_based
    from alloc_bench.scenarios import get_scenario

    spec = get_scenario(scenario)
    env = spec.make_env(dict(options))
    policy = rule_based(spec.family)["greedy"](seed=0)
    policy.reset(0)
    obs, _ = env.reset(seed=0)
    idle, pending = [], []
    done = False
    while not done:
        idle.append(obs["observation"][:, IDLE])
        pending.append(obs["observation"][:, PENDING])
        obs, _, terminated, truncated, _ = env.step(policy.act(obs))
        done = terminated or truncated
    neighbors = env.unwrapped.scenario.grid.neighbors
    env.close()
    return {
        "demand": np.log1p(np.mean(pending, 0)),
        "supply": np.log1p(np.mean(idle, 0)),
        "neighbors": np.asarray(neighbors),
    }


def map_association(
    assignment: Sequence[int], features: Mapping[str, Any], permutations: int = PERMUTATIONS
) -> dict[str, float]:
    """η² tests of demand and supply and the neighbour agreement of one group map, flat:
    ``eta2_demand``, ``eta2_demand_null``, ``eta2_demand_p``, the same for supply,
    ``neighbour_agreement`` and ``neighbour_chance``."""
    groups = np.asarray(assignment)
    out: dict[str, float] = {}
    for name in ("demand", "supply"):
        test = eta_squared_test(groups, np.asarray(features[name], float), permutations)
        out.update({f"eta2_{name}": test["eta2"], f"eta2_{name}_null": test["null"]})
        out[f"eta2_{name}_p"] = test["p"]
    agreement = neighbour_agreement(groups, features["neighbors"])
    out.update(neighbour_agreement=agreement["agreement"], neighbour_chance=agreement["chance"])
    return out


def adjusted_rand_index(a: Sequence[int], b: Sequence[int]) -> float:
    """The adjusted Rand index of two labellings of the same items (module docstring); 1.0
    when both put every item in one cluster."""
    _, a_ids = np.unique(np.asarray(a), return_inverse=True)
    _, b_ids = np.unique(np.asarray(b), return_inverse=True)
    table = np.zeros((a_ids.max() + 1, b_ids.max() + 1))
    np.add.at(table, (a_ids, b_ids), 1)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1) / 2).sum())

    index = pairs(table)
    rows, cols, total = pairs(table.sum(1)), pairs(table.sum(0)), pairs(np.array([len(a_ids)]))
    expected = rows * cols / total if total else 0.0
    best = (rows + cols) / 2
    return 1.0 if best == expected else (index - expected) / (best - expected)


@cache
def agent_types(scenario: str, options: tuple[tuple[str, Any], ...] = ()) -> tuple | None:
    """The scenario's per-agent types (``agent_types`` of its environment), ``None`` when it
    has none."""
    from alloc_bench.scenarios import get_scenario

    types = getattr(get_scenario(scenario).make_env(dict(options)), "agent_types", None)
    return None if types is None else tuple(types)


def is_ride_hailing(scenario: str) -> bool:
    """Whether the scenario's maps are Ride-Hailing cells (features are defined)."""
    from alloc_bench.scenarios import get_scenario

    return get_scenario(scenario).family == "ride-hailing"


#: Columns of :func:`render_section`: (header, selector diagnostic or association key).
_COLUMNS = (
    ("entropy / ln M", "entropy_ratio"),
    ("switched", "switched"),
    ("members sampled", "members_sampled"),
    ("members argmax", "members_argmax"),
)


def last_map_rows(results: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per result (leaderboard cell) with group maps: scenario, method, seeds and, per seed, the
    last map's diagnostics and (Ride-Hailing) association (:func:`map_association`)."""
    rows = []
    for result in results:
        runs = [run for run in result.get("groups", []) if run["maps"]]
        if not runs:
            continue
        ride_hailing = is_ride_hailing(result["scenario"])
        options = tuple(sorted(result.get("options", {}).items()))
        if ride_hailing:
            features = cell_features(result["scenario"], options)
        types = None if ride_hailing else agent_types(result["scenario"], options)
        per_seed = []
        for run in runs:
            last = run["maps"][-1]
            values = dict(last.get("diagnostics", {}))
            if ride_hailing:
                values.update(map_association(last["assignment"], features))
            if types is not None and len(types) == len(last["assignment"]):
                values["ari_types"] = adjusted_rand_index(last["assignment"], types)
            per_seed.append(values)
        rows.append(
            {"scenario": result["scenario"], "method": result["method"], "per_seed": per_seed}
        )
    return rows


def _mean(values: Sequence[Mapping[str, float]], key: str) -> float:
    found = [v[key] for v in values if key in v]
    return float(np.mean(found)) if found else float("nan")


def render_section(results: Sequence[Mapping[str, Any]], width: int | None = None) -> str:
    """The leaderboard's Markdown section on DyPS's groups at the last iteration (empty
    without group maps): the selector's diagnostics and, for Ride-Hailing, η² of demand and
    supply (null mean; seeds with p < 0.05) and the neighbour agreement (chance), means over
    seeds. ``width``: split the table into parts (scenario and method repeated) whose lines fit
    (:func:`alloc_bench.mdtable.table`)."""
    rows = last_map_rows(results)
    if not rows:
        return ""
    head = [h for h, _ in _COLUMNS] + ["η² demand (null; p<.05)", "η² supply (null; p<.05)"]
    head += ["neighbours same group (chance)", "ARI vs agent types"]
    lines = [
        "## DyPS groups at the last iteration",
        "",
        "Means over seeds. entropy / ln M: 1 is a uniform selector; switched: share of (agent, "
        "env copy) draws that changed group since the previous iteration; η²: share of the "
        "cells' log demand / supply variance explained by the groups, beside its mean under "
        "shuffled groups and the seeds whose permutation p < 0.05; ARI: adjusted Rand index "
        "of the groups against the agents' known types (LBF levels, RWARE colours; 1: the "
        "groups are the types, 0: chance) (alloc_bench.dyps_maps).",
        "",
    ]
    table = []
    for row in rows:
        seeds = row["per_seed"]
        cells = [f"{_mean(seeds, key):.3f}" for _, key in _COLUMNS]
        ride_hailing = any("eta2_demand" in v for v in seeds)
        for name in ("demand", "supply"):
            key = f"eta2_{name}"
            significant = sum(v.get(f"{key}_p", 1.0) < 0.05 for v in seeds)
            cells.append(
                f"{_mean(seeds, key):.3f} ({_mean(seeds, key + '_null'):.3f}; "
                f"{significant}/{len(seeds)})"
                if ride_hailing
                else "–"
            )
        agreement = _mean(seeds, "neighbour_agreement")
        chance = _mean(seeds, "neighbour_chance")
        cells.append(f"{agreement:.3f} ({chance:.3f})" if ride_hailing else "–")
        typed = any("ari_types" in v for v in seeds)
        cells.append(f"{_mean(seeds, 'ari_types'):.3f}" if typed else "–")
        table.append([row["scenario"], row["method"], str(len(seeds)), *cells])
    header = ["scenario", "method", "seeds", *head]
    parts = mdtable.table(header, table, ["---"] * len(header), keep=2, width=width)
    return "\n".join(lines) + "\n" + "\n\n".join(parts)
