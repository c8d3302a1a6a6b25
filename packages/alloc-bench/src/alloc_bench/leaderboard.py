"""Leaderboards: evaluation results set against published numbers, as Markdown and CSV.

Markdown: one table per option set (e.g. ``demand=stochastic``), laid out like the DyPS paper's
Table 7: one row per method, and per scenario one column per headline metric (GMV, ORR) holding
``mean ± std (n=seeds)`` followed by a ``paper`` column holding the published value and how ours
compares (``×ratio`` = ours / paper, or ``+difference`` = ours - paper, as the metric's
:class:`~alloc_bench.scenarios.MetricSpec` says); ``–`` where nothing is published. Rows are
sorted by the mean, over the table's scenarios, of the method's rank on each scenario's ranking
metric (best first; ties keep the order of the results).

CSV: one row per (options, scenario, method, metric) over every reported metric.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from alloc_bench.parsing import format_options
from alloc_bench.published import PublishedEntry, PublishedTable
from alloc_bench.scenarios import MetricSpec, get_scenario

#: Placeholder for a missing value.
DASH = "–"
#: Columns of the CSV leaderboard.
CSV_COLUMNS = (
    "options",
    "scenario",
    "method",
    "metric",
    "ours_mean",
    "ours_std",
    "n",
    "episodes",
    "paper",
    "paper_std",
    "ratio",
    "difference",
    "paper_table",
)

Result = Mapping[str, Any]
Key = tuple[str, str, str]  # (method, scenario, metric)


def published_index(tables: Iterable[PublishedTable]) -> dict[Key, PublishedEntry]:
    """Published entries by ``(method, scenario, metric)``; the first table listed wins."""
    index: dict[Key, PublishedEntry] = {}
    for table in tables:
        for entry in table.entries:
            index.setdefault((entry.method, entry.scenario, entry.metric), entry)
    return index


def compare(ours: float, paper: float, spec: MetricSpec) -> float | None:
    """Ours against a published value: ``ours / paper`` (``None`` if paper is 0) or
    ``ours - paper``, per ``spec.compare``."""
    if spec.compare == "difference":
        return ours - paper
    return ours / paper if paper != 0 else None


def group_by_options(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Results by option-set text (``"demand=reference"``), in order of first appearance."""
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(format_options(result["options"]), []).append(result)
    return groups


def rank_methods(results: Sequence[Result]) -> list[str]:
    """Methods of ``results`` ordered by mean rank on each scenario's ranking metric."""
    methods = list(dict.fromkeys(r["method"] for r in results))
    ranks: dict[str, list[int]] = {m: [] for m in methods}
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        spec = get_scenario(scenario)
        metric = spec.metric(spec.rank_by)
        rows = [r for r in results if r["scenario"] == scenario]
        sign = -1.0 if metric.higher_is_better else 1.0
        ordered = sorted(rows, key=lambda r: sign * r["mean"][metric.name])
        for position, row in enumerate(ordered, start=1):
            ranks[row["method"]].append(position)
    return sorted(methods, key=lambda m: sum(ranks[m]) / len(ranks[m]))


def _ours_cell(result: Result | None, spec: MetricSpec) -> str:
    if result is None:
        return DASH
    mean, std = result["mean"][spec.name], result["std"][spec.name]
    return f"{mean:{spec.fmt}} ± {std:{spec.fmt}} (n={len(result['seeds'])})"


def _as_published(value: float, spec: MetricSpec) -> str:
    """``value`` in the metric's format without padding zeros (0.37, not 0.370)."""
    text = f"{value:{spec.fmt}}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _paper_cell(result: Result | None, entry: PublishedEntry | None, spec: MetricSpec) -> str:
    if entry is None:
        return DASH
    text = _as_published(entry.value, spec)
    if entry.std is not None:
        text += f" ± {_as_published(entry.std, spec)}"
    if result is not None:
        delta = compare(result["mean"][spec.name], entry.value, spec)
        if delta is not None and spec.compare == "ratio":
            text += f" (×{delta:.3f})"
        elif delta is not None:
            text += f" ({delta:+{spec.fmt}})"
    return text


def render_table(results: Sequence[Result], index: Mapping[Key, PublishedEntry]) -> str:
    """The Markdown table of one option set (see the module doc)."""
    scenarios = list(dict.fromkeys(r["scenario"] for r in results))
    by_key = {(r["method"], r["scenario"]): r for r in results}
    header = ["Method"]
    align = ["---"]
    for scenario in scenarios:
        for name in get_scenario(scenario).headline:
            header += [f"{scenario} {get_scenario(scenario).metric(name).label}", "paper"]
            align += ["---:", "---:"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    for method in rank_methods(results):
        cells = [method]
        for scenario in scenarios:
            spec = get_scenario(scenario)
            result = by_key.get((method, scenario))
            for name in spec.headline:
                metric = spec.metric(name)
                cells.append(_ours_cell(result, metric))
                cells.append(_paper_cell(result, index.get((method, scenario, name)), metric))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _explain(results: Sequence[Result]) -> str:
    episodes = sorted({r["episodes"] for r in results})
    per_seed = "/".join(str(e) for e in episodes)
    word = "episode" if episodes == [1] else "episodes"
    scenarios = dict.fromkeys(r["scenario"] for r in results)
    ranked = sorted({get_scenario(s).metric(get_scenario(s).rank_by).label for s in scenarios})
    return (
        f"Mean ± std across seeds (population std, ddof=0), n = seeds, {per_seed} {word} per "
        f"seed. Rows sorted by mean rank of {', '.join(ranked)} across scenarios, best first."
    )


def render_markdown(
    results: Sequence[Result],
    tables: Sequence[PublishedTable] = (),
    title: str | None = None,
    description: str = "",
) -> str:
    """The Markdown leaderboard: an optional title, one table per option set, the sources."""
    index = published_index(tables)
    parts: list[str] = []
    if title:
        parts.append(f"# {title}")
    if description:
        parts.append(description)
    for options, group in group_by_options(results).items():
        parts.append(f"## {options}")
        parts.append(_explain(group))
        parts.append(render_table(group, index))
    if tables:
        lines = [
            "Paper columns: published value (ours / paper for ratios, ours − paper for "
            "differences), from:"
        ]
        for table in tables:
            line = f"- `{table.ref}`: {table.source()}."
            if table.note:
                line += f" {table.note}"
            lines.append(line)
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def csv_rows(
    results: Sequence[Result], tables: Sequence[PublishedTable] = ()
) -> list[dict[str, Any]]:
    """One dict per (options, scenario, method, metric) with the :data:`CSV_COLUMNS`."""
    index = published_index(tables)
    rows: list[dict[str, Any]] = []
    for result in results:
        spec = get_scenario(result["scenario"])
        for metric in spec.metrics:
            mean = result["mean"][metric.name]
            entry = index.get((result["method"], result["scenario"], metric.name))
            ratio = diff = None
            if entry is not None:
                ratio = mean / entry.value if entry.value != 0 else None
                diff = mean - entry.value
            rows.append(
                {
                    "options": format_options(result["options"]),
                    "scenario": result["scenario"],
                    "method": result["method"],
                    "metric": metric.name,
                    "ours_mean": mean,
                    "ours_std": result["std"][metric.name],
                    "n": len(result["seeds"]),
                    "episodes": result["episodes"],
                    "paper": None if entry is None else entry.value,
                    "paper_std": None if entry is None else entry.std,
                    "ratio": ratio,
                    "difference": diff,
                    "paper_table": None if entry is None else entry.table,
                }
            )
    return rows


def render_csv(results: Sequence[Result], tables: Sequence[PublishedTable] = ()) -> str:
    """The CSV leaderboard (header + :func:`csv_rows`; empty cells where nothing is published)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in csv_rows(results, tables):
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()
