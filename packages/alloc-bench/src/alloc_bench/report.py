"""``alloc-bench report``: everything about a suite, from the store, into one folder.

Files written (each atomically; other files in the folder are left alone):

* ``leaderboard.md``: the Markdown leaderboard (:func:`alloc_bench.leaderboard.render_markdown`):
  lines of at most 120 characters (short cells, tables split into parts), or the full tables with
  ``wide`` (``--wide``);
* ``leaderboard.csv``: the long-format CSV (one row per options, scenario, method, metric);
* ``table-<paper>-<table>[-<options>].csv``: each leaderboard section in the paper's layout;
* ``results.json``: the aggregated results (:mod:`alloc_bench.results`) and the suite;
* ``marl_eval.json``: the per-episode values in marl-eval's format (:mod:`alloc_bench.marl_eval`);
* ``plots/<scenario>.png``: per scenario, the ranking metric per method with its CI beside the
  published value, and learning curves when runs logged them (:mod:`alloc_bench.plots`);
* ``plots/<scenario>_groups_vs_m.png``: the metric against DyPS's number of groups M, when the
  suite has DyPS runs with two or more M (``DyPS-M<M>+ALG``; the DyPS paper's Figure 6a);
* ``plots/groups/<scenario>_<method>_seed<s>_<hash>.png``: DyPS group-evolution maps of the runs
  that logged them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alloc_bench.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES
from alloc_bench.leaderboard import (
    build_sections,
    published_index,
    render_csv,
    render_markdown,
    render_table_csv,
)
from alloc_bench.marl_eval import marl_eval_document
from alloc_bench.output import write_files
from alloc_bench.published import PublishedTable, get_tables
from alloc_bench.results import collect
from alloc_bench.runner import suite_document
from alloc_bench.scenarios import SCENARIOS
from alloc_bench.store import Store
from alloc_bench.suites import Suite


@dataclass
class Report:
    """What :func:`write_report` produced."""

    markdown: str
    files: list[Path] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)


def leaderboard_files(
    suite: Suite,
    results: list[dict[str, Any]],
    tables: list[PublishedTable],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    wall_time_s: float | None = None,
    wide: bool = False,
) -> dict[str, str]:
    """``leaderboard.md``, ``leaderboard.csv`` and ``results.json`` as ``{name: text}``
    (``wide``: the Markdown's full tables; the CSV and JSON are the same either way)."""
    markdown = render_markdown(
        results,
        tables,
        title=f"alloc-bench leaderboard: {suite.name}",
        description=suite.description,
        resamples=resamples,
        confidence=confidence,
        wide=wide,
    )
    document = suite_document(suite, results, wall_time_s)
    return {
        "leaderboard.md": markdown,
        "leaderboard.csv": render_csv(results, tables),
        "results.json": json.dumps(document, indent=2) + "\n",
    }


def write_report(
    suite: Suite,
    store: Store,
    out_dir: Path,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    plots: bool = True,
    wide: bool = False,
) -> Report:
    """Write the report of ``suite`` from ``store`` into ``out_dir`` (module doc)."""
    from alloc_bench.plots import plot_group_counts, plot_groups, plot_scenario, safe_name

    results = collect(suite, store, resamples=resamples, confidence=confidence)
    tables = get_tables(suite.compare)
    files = leaderboard_files(
        suite, results, tables, resamples=resamples, confidence=confidence, wide=wide
    )
    for section in build_sections(results, tables):
        if section.table is None:
            continue
        suffix = "" if section.options == "defaults" else f"-{safe_name(section.options)}"
        name = f"table-{safe_name(section.table.ref.replace('/', '-'))}{suffix}.csv"
        files[name] = render_table_csv(section)
    files["marl_eval.json"] = json.dumps(marl_eval_document(results), indent=2) + "\n"
    written = write_files(out_dir, files)
    if plots:
        index = published_index(tables)
        for scenario in dict.fromkeys(r["scenario"] for r in results):
            if scenario in SCENARIOS:
                path = out_dir / "plots" / f"{safe_name(scenario)}.png"
                if plot_scenario(scenario, results, index, path) is not None:
                    written.append(path)
                path = out_dir / "plots" / f"{safe_name(scenario)}_groups_vs_m.png"
                if plot_group_counts(scenario, results, path) is not None:
                    written.append(path)
        for result in results:
            for run in result.get("groups", []):
                name = (
                    f"{safe_name(result['scenario'])}_{safe_name(result['method'])}"
                    f"_seed{run['seed']}_{run['config_hash']}.png"
                )
                title = f"{result['method']} on {result['scenario']}, seed {run['seed']}"
                written.append(plot_groups(run["maps"], title, out_dir / "plots" / "groups" / name))
    return Report(files["leaderboard.md"], written, results)
