"""Leaderboards: a suite's results set against published numbers, as Markdown and CSV.

Layout. For each published table the suite compares with, and each option set (e.g.
``demand=reference``) in which the suite ran any of that table's cells, one section laid out like
the paper's table: the paper's rows in the paper's order (methods, or scenarios for a
``methods-as-columns`` table such as TIRL's EDRP table), the paper's columns, and per column two
Markdown columns: ours and ``paper``. Methods the suite ran on a table's scenarios that no
compared table lists (e.g. ``random``) are added as extra rows (or columns). Results that belong
to no compared table go to an "other results" section per option set: methods as rows and each
scenario's headline metrics as columns. Rows are sorted by mean rank on each scenario's ranking
metric, but only over scenarios every ranked method ran (:func:`ranking`; ties in suite order):
methods are never ranked across scenarios they did not share, those that ran elsewhere are
listed unranked after them, and the section's caption says which scenarios the rank is over.

Cells. Ours: ``mean ± std [low, high] (n=seeds)``: mean and population std across seeds, the
bootstrap CI of the mean (when the result carries one), ``n=3 of 5`` when only some seeds
finished; or ``not implemented`` / ``failed`` / ``not run``; ``–`` when the suite does not list
the cell. Paper: the published value (``± std`` where published) followed by ``×ours/paper`` or
``+ours−paper`` (the metric's :class:`~alloc_bench.scenarios.MetricSpec` says which; ratios for
totals such as GMV, differences for rates such as ORR); ``–`` where nothing is published. A
``†n`` marks a published cell with a note, given under the tables.

Limits: a scenario that declares one (:class:`~alloc_bench.scenarios.Limit`; Ride-Hailing:
the hindsight ``oracle``'s GMV, EDRP: the planner's ceiling over no charge) gets, wherever the
suite ran the limit's method with the same options, a column right after the metric it bounds
(``% of oracle`` beside GMV, ``% of headroom`` beside ORR) for every method: the share paired
per seed, mean ± std [CI] (:mod:`alloc_bench.limits`); its paper cell is the published value's
share of our limit's mean. The long CSV has the share as a metric row and, on the bounded
metric's row, ``share_of_limit`` and ``limit``. Methods with knowledge a learner does not have
are labelled so (``oracle (hindsight)``, ``mpc (demand model)``, ``exact-leader (knows the
model)``) and listed under the legend.

Width. By default the Markdown fits a terminal (lines of at most 120 characters,
:mod:`alloc_bench.mdtable`): cells are ``mean ± std`` (``(n=3/5)`` when seeds are missing) and
the published value with ``(×ratio)`` to two decimals or ``(+difference)``; columns the suite
ran nothing in, and ``paper`` columns without a published value, are left out; tables too wide
are split into parts of whole (ours, paper) pairs, each with the row labels; prose is wrapped.
``wide=True`` (``--wide``) gives the full tables described above. The CSV and JSON outputs do
not depend on it.

CSV: :func:`render_csv` writes one row per (options, scenario, method, metric) with every number
(long format); :func:`render_table_csv` writes one section in the paper's layout.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alloc_bench import dyps_maps, mdtable
from alloc_bench.bootstrap import DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES
from alloc_bench.limits import by_options, limit_of, published_share, with_shares
from alloc_bench.limits import legend as limit_legend
from alloc_bench.mdtable import WIDTH
from alloc_bench.methods import knowledge_of
from alloc_bench.parsing import format_options
from alloc_bench.published import PublishedEntry, PublishedTable
from alloc_bench.scenarios import SCENARIOS, MetricSpec, get_scenario

#: Placeholder for a missing value.
DASH = "–"
#: Columns of the long-format CSV leaderboard.
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
    "ci_low",
    "ci_high",
    "train_steps",
    "status",
    "reason",
    "share_of_limit",
    "limit",
)
#: Numbers per cell in a paper-layout CSV (each prefixed with the column's name).
TABLE_CSV_FIELDS = (
    "ours_mean",
    "ours_std",
    "ci_low",
    "ci_high",
    "n",
    "paper",
    "paper_std",
    "ratio",
    "status",
)
#: Result states that carry numbers.
HAS_NUMBERS = ("finished", "partial")

Result = Mapping[str, Any]
Key = tuple[str, str, str]  # (method, scenario, metric)


@dataclass(frozen=True)
class Cell:
    """One cell of a leaderboard: our result for a method on a scenario, one metric, and the
    published number (if any)."""

    method: str
    scenario: str
    metric: str
    result: Result | None
    entry: PublishedEntry | None
    spec: MetricSpec | None  # None when the scenario is not registered
    paper_fmt: str = ""  # the table's format of published values of this metric, if any
    paper_share: float | None = None  # a limit-share cell: the published value's share


@dataclass
class Section:
    """One leaderboard table: a published table (or the other results) for one option set."""

    heading: str
    intro: str
    corner: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]] = field(default_factory=list)
    table: PublishedTable | None = None
    options: str = "defaults"
    order: str = ""  # how the rows are ordered (a sentence for the table's caption)


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


def has_numbers(result: Result | None) -> bool:
    """Whether ``result`` carries metric values (finished, or some seeds finished)."""
    return result is not None and result.get("status", "finished") in HAS_NUMBERS


@dataclass(frozen=True)
class Ranking:
    """How :func:`ranking` ordered the methods of some results.

    Attributes:
        order: every method: the ranked ones best first, then the unranked ones with numbers,
            then those without numbers (both in the results' order).
        ranked: the methods ranked, best first.
        scenarios: the scenarios they were ranked over: every ranked method ran each of them.
        unranked: methods with numbers that were not ranked (they did not run all of
            ``scenarios``).
    """

    order: list[str]
    ranked: list[str]
    scenarios: list[str]
    unranked: list[str]

    def caption(self) -> str:
        """One or two sentences saying how the rows are ordered."""
        if not self.ranked:
            if not self.unranked:
                return "Rows in the suite's order."
            return (
                "Rows in the suite's order, not ranked: no scenario was run by two or more of "
                "these methods, and methods are never ranked across scenarios they did not share."
            )
        scenarios = ", ".join(
            f"{s} ({get_scenario(s).metric(get_scenario(s).rank_by).label})" for s in self.scenarios
        )
        text = (
            "Rows sorted by mean rank on each scenario's ranking metric, best first, over the "
            f"scenarios every ranked method ran: {scenarios}."
        )
        if self.unranked:
            text += (
                f" Not ranked (they did not run all of these scenarios, and methods are never "
                f"ranked across scenarios they did not share): {', '.join(self.unranked)}."
            )
        return text


def _ranked_metric(result: Result) -> bool:
    scenario = result["scenario"]
    if scenario not in SCENARIOS or not has_numbers(result):
        return False
    return get_scenario(scenario).rank_by in result["mean"]


def ranking(results: Sequence[Result]) -> Ranking:
    """Rank the methods of ``results`` by mean rank on each scenario's ranking metric, only over
    scenarios that every ranked method ran (never across scenarios they did not share).

    The scenarios are those every method with numbers ran, when there is one; else the methods
    that ran the scenario run by the most methods (the first such scenario on a tie) are ranked
    over the scenarios they all ran, and the others are listed unranked. Nothing is ranked when
    no scenario was run by two or more methods. Ties keep the order of the results; methods
    without numbers come last.
    """
    methods = list(dict.fromkeys(r["method"] for r in results))
    ran: dict[str, set[str]] = {m: set() for m in methods}
    for result in results:
        if _ranked_metric(result):
            ran[result["method"]].add(result["scenario"])
    candidates = [m for m in methods if ran[m]]
    ranked: list[str] = []
    common: set[str] = set()
    if candidates:
        common = set.intersection(*(ran[m] for m in candidates))
        ranked = candidates
        if not common:
            scenarios = list(dict.fromkeys(r["scenario"] for r in results))
            best = max(scenarios, key=lambda s: sum(s in ran[m] for m in candidates))
            ranked = [m for m in candidates if best in ran[m]]
            common = set.intersection(*(ran[m] for m in ranked))
        if len(ranked) < 2 and len(candidates) > 1:
            ranked, common = [], set()
    shared = [s for s in dict.fromkeys(r["scenario"] for r in results) if s in common]
    ranks: dict[str, list[int]] = {m: [] for m in ranked}
    for scenario in shared:
        spec = get_scenario(scenario)
        metric = spec.metric(spec.rank_by)
        rows = [
            r
            for r in results
            if r["scenario"] == scenario and r["method"] in ranks and _ranked_metric(r)
        ]
        sign = -1.0 if metric.higher_is_better else 1.0
        ordered = sorted(rows, key=lambda r: sign * r["mean"][metric.name])
        for position, row in enumerate(ordered, start=1):
            ranks[row["method"]].append(position)
    best_first = sorted(ranked, key=lambda m: sum(ranks[m]) / len(ranks[m]))
    unranked = [m for m in candidates if m not in ranks]
    rest = [m for m in methods if not ran[m]]
    return Ranking([*best_first, *unranked, *rest], best_first, shared, unranked)


def rank_methods(results: Sequence[Result]) -> list[str]:
    """Methods of ``results`` in :func:`ranking`'s order (ranked over shared scenarios only)."""
    return ranking(results).order


def _spec(scenario: str, metric: str) -> MetricSpec | None:
    if scenario not in SCENARIOS or not metric:
        return None
    try:
        return get_scenario(scenario).metric(metric)
    except KeyError:
        return None


def _metric_label(scenario: str, metric: str, table: PublishedTable | None) -> str:
    spec = _spec(scenario, metric)
    if spec is not None:
        return spec.label
    if table is not None and metric in table.metrics:
        return table.metrics[metric]
    return metric


def _method_label(method: str, table: PublishedTable | None) -> str:
    label = table.rows.get(method, method) if table is not None else method
    label = method if label.lower() == method.lower() else f"{method} ({label})"
    knowledge = knowledge_of(method)
    return f"{label} ({knowledge})" if knowledge else label


def build_sections(results: Sequence[Result], tables: Sequence[PublishedTable]) -> list[Section]:
    """The leaderboard's sections (module doc)."""
    groups = group_by_options(results)
    listed = {m for t in tables for m in t.methods()}
    shown: set[tuple[str, str, str]] = set()  # (options, method, scenario) placed in a table
    sections: list[Section] = []
    for table in tables:
        scenarios = table.scenarios()
        for options, group in groups.items():
            by_cell = {(r["method"], r["scenario"]): r for r in group}
            ours = [k for k in by_cell if k[1] in scenarios and k[0] in table.methods()]
            extras = [
                m
                for m in rank_methods([r for r in group if r["scenario"] in scenarios])
                if m not in listed
            ]
            if not ours and not extras:
                continue
            methods = [*table.methods(), *extras]
            shown |= {(options, m, s) for m in methods for s in scenarios if (m, s) in by_cell}
            sections.append(_table_section(table, options, methods, by_cell))
    for options, group in groups.items():
        rest = [r for r in group if (options, r["method"], r["scenario"]) not in shown]
        if rest:
            sections.append(_other_section(options, rest))
    return sections


def _cell(
    method: str,
    scenario: str,
    metric: str,
    by_cell: Mapping[Any, Result],
    table: PublishedTable | None,
) -> Cell:
    result = by_cell.get((method, scenario))
    spec = _spec(scenario, metric)
    limit = limit_of(scenario)
    if limit is not None and metric == limit.key:
        bounded = get_scenario(scenario).limited_metric
        base = table.entry(method, scenario, bounded) if table is not None else None
        share = None if base is None else published_share(base.value, scenario, by_cell)
        return Cell(method, scenario, metric, result, None, spec, paper_share=share)
    entry = table.entry(method, scenario, metric) if table is not None else None
    fmt = table.formats.get(metric, "") if table is not None else ""
    return Cell(method, scenario, metric, result, entry, spec, fmt)


def _table_section(
    table: PublishedTable, options: str, methods: list[str], by_cell: Mapping[Any, Result]
) -> Section:
    cells = with_shares(table.cells(), list(by_cell.values()))
    intro = f'{table.label} of "{table.paper}" ({table.venue}): {table.caption}'
    if table.layout == "methods-as-columns":
        section = Section(
            f"{table.ref} · {options}",
            intro,
            "Scenario",
            [_method_label(m, table) for m in methods],
            table=table,
            options=options,
        )
        for scenario, metric in cells:
            label = f"{scenario} {_metric_label(scenario, metric, table)}"
            if scenario in table.columns:
                label += f" ({table.columns[scenario]})"
            section.rows.append(
                (label, [_cell(m, scenario, metric, by_cell, table) for m in methods])
            )
        return section
    section = Section(
        f"{table.ref} · {options}",
        intro,
        "Method",
        [f"{s} {_metric_label(s, m, table)}" for s, m in cells],
        table=table,
        options=options,
    )
    for method in methods:
        section.rows.append(
            (_method_label(method, table), [_cell(method, s, m, by_cell, table) for s, m in cells])
        )
    return section


def _other_section(options: str, results: Sequence[Result]) -> Section:
    by_cell = {(r["method"], r["scenario"]): r for r in results}
    cells: list[tuple[str, str]] = []
    for scenario in dict.fromkeys(r["scenario"] for r in results):
        if scenario in SCENARIOS:
            cells += [(scenario, m) for m in get_scenario(scenario).headline]
        else:
            cells.append((scenario, ""))
    cells = with_shares(cells, results)
    columns = [f"{s} {_metric_label(s, m, None)}".strip() for s, m in cells]
    order = ranking(results)
    section = Section(
        f"other results · {options}", "", "Method", columns, options=options, order=order.caption()
    )
    for method in order.order:
        section.rows.append((method, [_cell(method, s, m, by_cell, None) for s, m in cells]))
    return section


def _fmt(value: float, spec: MetricSpec | None) -> str:
    return f"{value:{spec.fmt}}" if spec is not None else f"{value:g}"


def ours_text(cell: Cell, compact: bool = False) -> str:
    """Our side of a cell (module doc); ``compact``: ``mean ± std``, then ``(n=k/N)`` only when
    k of the N seeds have a value (no CI, no n when every seed has one)."""
    result = cell.result
    if result is None:
        return DASH
    if not has_numbers(result):
        return str(result.get("status"))
    if cell.metric not in result["mean"]:
        return DASH
    mean, std = result["mean"][cell.metric], result["std"][cell.metric]
    text = f"{_fmt(mean, cell.spec)} ± {_fmt(std, cell.spec)}"
    n = len(result.get("metric_seeds", {}).get(cell.metric, result["seeds"]))
    planned = len(result.get("planned_seeds", result["seeds"]))
    if compact:
        return text if n == planned else f"{text} (n={n}/{planned})"
    ci = result.get("ci", {}).get(cell.metric)
    if ci:
        text += f" [{_fmt(ci[0], cell.spec)}, {_fmt(ci[1], cell.spec)}]"
    return text + (f" (n={n})" if n == planned else f" (n={n} of {planned})")


def _as_published(value: float, spec: MetricSpec | None, paper_fmt: str = "") -> str:
    """``value`` as the table's ``formats`` say, else in the metric's format without padding
    zeros (0.37, not 0.370)."""
    if paper_fmt:
        return f"{value:{paper_fmt}}"
    text = _fmt(value, spec)
    return text.rstrip("0").rstrip(".") if "." in text and spec is not None else text


def paper_text(
    cell: Cell, footnotes: Mapping[PublishedEntry, int] | None = None, compact: bool = False
) -> str:
    """The published side of a cell (module doc); ``compact``: without the published std and
    with the ratio to two decimals."""
    entry = cell.entry
    if entry is None:
        return DASH if cell.paper_share is None else _fmt(cell.paper_share, cell.spec)
    text = _as_published(entry.value, cell.spec, cell.paper_fmt)
    if entry.std is not None and not compact:
        text += f" ± {_as_published(entry.std, cell.spec, cell.paper_fmt)}"
    if footnotes and entry in footnotes:
        text += f" †{footnotes[entry]}"
    if has_numbers(cell.result) and cell.spec is not None and cell.metric in cell.result["mean"]:
        delta = compare(cell.result["mean"][cell.metric], entry.value, cell.spec)
        if delta is not None and cell.spec.compare == "ratio":
            text += f" (×{delta:.2f})" if compact else f" (×{delta:.3f})"
        elif delta is not None:
            text += f" ({delta:+{cell.spec.fmt}})"
    return text


def _budgets(section: Section) -> str:
    budgets: dict[tuple[int, int], None] = {}
    for _, cells in section.rows:
        for cell in cells:
            if cell.result is not None:
                budgets[(cell.result.get("train_steps", 0), cell.result["episodes"])] = None
    trained = any(steps for steps, _ in budgets)
    parts = []
    for steps, episodes in budgets:
        text = f"{episodes} eval episode" + ("s" if episodes != 1 else "") + " per seed"
        if steps:
            parts.append(f"{steps:,} train steps, {text}")
        else:  # rule-based rows; named so when trained rows share the section
            parts.append(f"no training, {text}" if trained else text)
    return "; ".join(parts)


def render_section(
    section: Section,
    footnotes: Mapping[PublishedEntry, int],
    *,
    wide: bool = True,
    width: int = WIDTH,
) -> str:
    """One section as Markdown: heading, intro, budget line and the table.

    ``wide``: every column, and cells with the CI and the published std, as wide as they come.
    Else (the terminal leaderboard) the cells are short (:func:`ours_text`, :func:`paper_text`
    with ``compact``), columns in which the suite ran nothing are left out, the table is split
    into parts of whole (ours, paper) column pairs that fit ``width`` characters (a ``paper``
    column with no published value in any row is left out), and a heading that would not fit
    gives its options on a line of their own.
    """
    keep = list(range(len(section.columns)))
    dropped: list[str] = []
    if not wide:
        ran = [j for j in keep if any(cells[j].result is not None for _, cells in section.rows)]
        if ran:
            dropped = [section.columns[j] for j in keep if j not in ran]
            keep = ran
    # Per kept column: ours, and the paper's value unless (compact) there is none in any row.
    paper = {
        j: wide or any(paper_text(cells[j]) != DASH for _, cells in section.rows) for j in keep
    }
    header = [section.corner]
    rule = ["---"]
    for j in keep:
        header += [section.columns[j], "paper"] if paper[j] else [section.columns[j]]
        rule += ["---:", "---:"] if paper[j] else ["---:"]
    rows = []
    for label, cells in section.rows:
        texts = [label]
        for j in keep:
            texts.append(ours_text(cells[j], not wide))
            if paper[j]:
                texts.append(paper_text(cells[j], footnotes, not wide))
        rows.append(texts)
    heading = f"## {section.heading}"
    parts = [heading]
    if not wide and len(heading) > width:
        parts = [f"## {section.heading.rsplit(' · ', 1)[0]}", f"Options: {section.options}."]
    if section.intro:
        parts.append(section.intro)
    if section.table is not None:
        order = (
            "Rows in the paper's order, then other methods by mean rank over the scenarios they "
            "all ran (never across scenarios they did not share)."
        )
    else:
        order = section.order or "Rows sorted by mean rank across scenarios, best first."
    budget = _budgets(section)
    parts.append(f"{budget}. {order}" if budget else order)
    if dropped:
        parts.append(
            f"Columns of the table with no run of this suite are left out: {', '.join(dropped)} "
            "(`--wide` shows them)."
        )
    groups = [2 if paper[j] else 1 for j in keep]
    tables = mdtable.table(header, rows, rule, keep=1, group=groups, width=None if wide else width)
    parts += tables
    return "\n\n".join(parts)


def _legend(resamples: int, confidence: float, wide: bool = True) -> str:
    if not wide:
        return (
            "Ours: mean ± std across seeds (population std, ddof=0); (n=k/N): only k of the N "
            "seeds have a value. Paper: published value, then (×ours/paper) or (+ours−paper). "
            f"The {confidence:.0%} percentile-bootstrap CIs of the means ({resamples:,} "
            "resamples), the published stds and every number at full precision are in "
            "leaderboard.csv and results.json, and in this table with `--wide`."
        )
    return (
        "Ours: mean ± std across seeds (population std, ddof=0) "
        f"[{confidence:.0%} percentile-bootstrap CI of the mean over seeds, {resamples:,} "
        "resamples] (n = seeds). Paper: published value (± std where published), then "
        "(×ours/paper) or (+ours−paper)."
    )


def render_markdown(
    results: Sequence[Result],
    tables: Sequence[PublishedTable] = (),
    title: str | None = None,
    description: str = "",
    *,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    wide: bool = False,
    width: int = WIDTH,
) -> str:
    """The Markdown leaderboard (module doc): title, legend, sections, sources and notes.

    By default it fits a terminal: no line longer than ``width`` characters (120) unless a
    single cell or word is (:func:`render_section`; prose wrapped by
    :func:`alloc_bench.mdtable.wrap`). ``wide``: the full tables of earlier versions (CIs,
    published stds, every column, one table per section, lines as long as they come). The CSV
    and JSON outputs carry every number either way."""
    sections = build_sections(results, tables)
    notes = [e for t in tables for e in t.entries if e.note]
    footnotes = {entry: i for i, entry in enumerate(notes, start=1)}
    parts: list[str] = []
    if title:
        parts.append(f"# {title}")
    if description:
        parts.append(description)
    parts.append(_legend(resamples, confidence, wide))
    notes_on_limits = limit_legend(results) + _knowledge_legend(results)
    if notes_on_limits:
        parts.append("\n".join(f"- {line}" for line in notes_on_limits))
    parts += [render_section(section, footnotes, wide=wide, width=width) for section in sections]
    groups = dyps_maps.render_section(results, width=None if wide else width)
    if groups:
        parts.append(groups)
    if tables:
        lines = ["Published numbers from:"]
        for table in tables:
            line = f"- `{table.ref}`: {table.source()}."
            if table.note:
                line += f" {table.note}"
            lines.append(line)
        for entry, number in footnotes.items():
            lines.append(
                f"- †{number} `{entry.table}` {entry.method} on {entry.scenario} "
                f"{entry.metric}: {entry.note}"
            )
        parts.append("\n".join(lines))
    missing = _not_implemented(results)
    if missing:
        parts.append("Not implemented yet:\n" + "\n".join(missing))
    text = "\n\n".join(parts) + "\n"
    return text if wide else mdtable.wrap(text, width)


def _knowledge_legend(results: Iterable[Result]) -> list[str]:
    methods = {r["method"]: knowledge_of(r["method"]) for r in results}
    known = sorted(f"{m} ({k})" for m, k in methods.items() if k)
    if not known:
        return []
    return [f"Reference methods, with knowledge a learner does not have: {', '.join(known)}."]


def _not_implemented(results: Iterable[Result]) -> list[str]:
    reasons: dict[str, int] = {}
    for result in results:
        if result.get("status") == "not implemented":
            reason = result.get("reason") or "unknown reason"
            reasons[reason] = reasons.get(reason, 0) + 1
    return [
        f"- {reason} ({n} cell{'s' if n != 1 else ''})" for reason, n in sorted(reasons.items())
    ]


def csv_rows(
    results: Sequence[Result], tables: Sequence[PublishedTable] = ()
) -> list[dict[str, Any]]:
    """One dict per (options, scenario, method, metric) with the :data:`CSV_COLUMNS`.

    A result without numbers gives one row per metric its scenario reports (or, for a scenario
    not registered, per metric the tables publish for it; one row with an empty metric if none).
    """
    index = published_index(tables)
    groups = by_options(results)
    rows: list[dict[str, Any]] = []
    for result in results:
        scenario = result["scenario"]
        limit = limit_of(scenario)
        share, bounded = None, None
        if limit is not None:
            share = result.get("mean", {}).get(limit.key)
            bounded = get_scenario(scenario).limited_metric
        if scenario in SCENARIOS:
            spec = get_scenario(scenario)
            metrics = [
                m
                for m in spec.with_shares(spec.metric_names)
                if m in spec.metric_names or m in result.get("mean", {})
            ]
        else:
            cells = [m for t in tables for s, m in t.cells() if s == scenario]
            metrics = list(dict.fromkeys(cells)) or [""]
        for metric in metrics:
            entry = index.get((result["method"], scenario, metric))
            numbers = has_numbers(result) and metric in result["mean"]
            mean = result["mean"][metric] if numbers else None
            paper = None if entry is None else entry.value
            paper_table = None if entry is None else entry.table
            if limit is not None and metric == limit.key:
                base = index.get((result["method"], scenario, bounded))
                if base is not None:
                    cells_here = groups[format_options(result["options"])]
                    paper = published_share(base.value, scenario, cells_here)
                    paper_table = base.table
            ratio = diff = None
            if paper is not None and mean is not None:
                ratio = mean / paper if paper != 0 else None
                diff = mean - paper
            ci = result.get("ci", {}).get(metric) if numbers else None
            rows.append(
                {
                    "options": format_options(result["options"]),
                    "scenario": scenario,
                    "method": result["method"],
                    "metric": metric,
                    "ours_mean": mean,
                    "ours_std": result["std"][metric] if numbers else None,
                    "n": len(result["seeds"]),
                    "episodes": result["episodes"],
                    "paper": paper,
                    "paper_std": None if entry is None else entry.std,
                    "ratio": ratio,
                    "difference": diff,
                    "paper_table": paper_table,
                    "ci_low": ci[0] if ci else None,
                    "ci_high": ci[1] if ci else None,
                    "train_steps": result.get("train_steps", 0),
                    "status": result.get("status", "finished"),
                    "reason": result.get("reason", ""),
                    "share_of_limit": share if metric == bounded else None,
                    "limit": limit.label if limit is not None else None,
                }
            )
    return rows


def _write_csv(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return buffer.getvalue()


def render_csv(results: Sequence[Result], tables: Sequence[PublishedTable] = ()) -> str:
    """The long-format CSV leaderboard (header + :func:`csv_rows`; empty cells for no value)."""
    return _write_csv(CSV_COLUMNS, csv_rows(results, tables))


def cell_numbers(cell: Cell) -> dict[str, Any]:
    """The :data:`TABLE_CSV_FIELDS` of one cell (``None`` where there is no value)."""
    result, entry = cell.result, cell.entry
    out: dict[str, Any] = dict.fromkeys(TABLE_CSV_FIELDS)
    out["paper"] = cell.paper_share if entry is None else entry.value
    out["paper_std"] = None if entry is None else entry.std
    out["status"] = "" if result is None else result.get("status", "finished")
    if result is not None and has_numbers(result) and cell.metric in result["mean"]:
        mean = result["mean"][cell.metric]
        ci = result.get("ci", {}).get(cell.metric)
        out.update(ours_mean=mean, ours_std=result["std"][cell.metric], n=len(result["seeds"]))
        if ci:
            out.update(ci_low=ci[0], ci_high=ci[1])
        if out["paper"]:
            out["ratio"] = mean / out["paper"]
    return out


def render_table_csv(section: Section) -> str:
    """One section in the paper's layout: a row per paper row, and per paper column the
    :data:`TABLE_CSV_FIELDS` (named ``<column>: <field>``)."""
    columns = [section.corner]
    for column in section.columns:
        columns += [f"{column}: {name}" for name in TABLE_CSV_FIELDS]
    rows = []
    for label, cells in section.rows:
        row: dict[str, Any] = {section.corner: label}
        for column, cell in zip(section.columns, cells, strict=True):
            row.update({f"{column}: {k}": v for k, v in cell_numbers(cell).items()})
        rows.append(row)
    return _write_csv(columns, rows)
