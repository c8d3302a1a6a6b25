"""Results in marl-eval's JSON format, for others' tools (marl-eval, BenchMARL plotting).

Layout (https://github.com/instadeepai/marl-eval)::

    {env_name: {task_name: {algo_name: {"seed_<s>": {
        "step_<k>": {"step_count": <env steps>, <metric>: [one value per evaluation episode]},
        ...,
        "absolute_metrics": {<metric>: [one value per evaluation episode]},
    }}}}}

* ``env_name``: the scenario's family (``"ride-hailing"``); ``task_name``: the scenario, with
  its options in brackets when it has any (``"ride-hailing-1[demand=reference]"``, several
  options joined by ``;``, since marl-eval splits names on commas); ``algo_name``: the method;
* steps: one ``step_<k>`` per learning-curve point a trainer logged (its metrics, each as a
  one-element list), then a last step at ``train_steps`` (or the last curve point's step, if
  the trainer rounded the budget up) holding the final evaluation episodes.
  A rule-based method has only that step (``step_0``, ``step_count`` 0);
* ``absolute_metrics``: the final evaluation episodes (we do not re-evaluate with 10x episodes),
  and on a scenario with a limit (:mod:`alloc_bench.limits`) ``share_of_<label>``: the seed's
  share of the limit, paired with the limit's (and floor's) result of the same seed, as a
  one-element list (absent for seeds the limit has not run).

marl-eval expects every algorithm of a task to have the same seeds and number of steps; a suite
with equal seeds and budgets per task meets that.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from alloc_bench.limits import by_options, limit_of, seed_shares
from alloc_bench.parsing import format_options
from alloc_bench.scenarios import get_scenario


def task_name(scenario: str, options: Mapping[str, Any]) -> str:
    """``scenario`` or ``scenario[k=v;k2=v2]`` (no commas)."""
    if not options:
        return scenario
    return f"{scenario}[{format_options(options).replace(', ', ';')}]"


def marl_eval_document(results: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The marl-eval JSON of the results with numbers (module doc)."""
    results = list(results)
    groups = by_options(results)
    out: dict[str, Any] = {}
    for result in results:
        if result.get("status", "finished") not in ("finished", "partial"):
            continue
        limit = limit_of(result["scenario"])
        shares = {}
        if limit is not None:
            shares = seed_shares(result, groups[format_options(result["options"])])
        spec = get_scenario(result["scenario"])
        algo = str(result["method"]).replace(",", ";")
        task = out.setdefault(spec.family, {}).setdefault(
            task_name(result["scenario"], result["options"]), {}
        )
        runs = task.setdefault(algo, {})
        for seed in result["seeds"]:
            episodes = result["per_episode"][str(seed)]
            final = {m: [float(ep[m]) for ep in episodes] for m in spec.metric_names}
            run: dict[str, Any] = {}
            last = int(result.get("train_steps", 0))
            for k, point in enumerate(result.get("curves", {}).get(str(seed), [])):
                run[f"step_{k}"] = {
                    "step_count": point["step"],
                    **{m: [float(v)] for m, v in point["metrics"].items()},
                }
                last = max(last, int(point["step"]))
            run[f"step_{len(run)}"] = {"step_count": last, **final}
            run["absolute_metrics"] = dict(final)
            if str(seed) in shares:
                run["absolute_metrics"][limit.key] = [shares[str(seed)]]
            runs[f"seed_{seed}"] = run
    return out
