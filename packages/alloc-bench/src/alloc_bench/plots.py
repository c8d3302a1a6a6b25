"""Report plots (PNG, matplotlib with the ``Agg`` backend: no display needed).

* :func:`plot_scenario`: one figure per scenario, one panel per option set. Top row: each
  method's ranking metric, mean over seeds with its bootstrap CI as an error bar, and the
  published value as a red cross where one exists. Second row, only when runs logged learning
  curves: the metric against training steps, mean over seeds with a ±std band per method.
* :func:`plot_groups`: a run's DyPS group-evolution map, the agents' group at up to three
  logged moments (first, middle, last), one colour per group: on Ride-Hailing's hexagonal city
  (the paper's Figure 6b) when the maps carry the grid's shape, else as a row of agents.
* :func:`plot_group_counts`: the ranking metric against DyPS's number of groups M (the DyPS
  paper's Figure 6a), one line per algorithm, from the ``DyPS-M<M>+ALG`` and ``DyPS+ALG``
  results of a scenario (mean over seeds with the bootstrap CI).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from alloc_bench.leaderboard import Key, group_by_options, has_numbers
from alloc_bench.published import PublishedEntry
from alloc_bench.scenarios import get_scenario
from alloc_envs.core.hexgrid import HexGrid

#: Resolution of the written PNGs (dots per inch).
DPI = 100


def _ticker() -> Any:
    import matplotlib.ticker

    return matplotlib.ticker


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def safe_name(text: str) -> str:
    """``text`` usable as a file name (anything but letters, digits, ``.+-`` becomes ``_``)."""
    return re.sub(r"[^A-Za-z0-9.+-]+", "_", text).strip("_")


def _has_curve(result: Mapping[str, Any], metric: str) -> bool:
    """Whether ``result`` logged a learning curve of ``metric`` (curves may log other keys)."""
    return any(
        metric in p["metrics"] for points in (result.get("curves") or {}).values() for p in points
    )


def _curve_stats(
    curves: Mapping[str, list[dict[str, Any]]], metric: str
) -> tuple[Any, Any, Any] | None:
    """Steps, mean and std over seeds of a metric's learning curve (steps of the first seed);
    ``None`` when no seed's curve has ``metric``."""
    series = [
        [(p["step"], p["metrics"][metric]) for p in points if metric in p["metrics"]]
        for points in curves.values()
    ]
    series = [s for s in series if s]
    if not series:
        return None
    steps = np.array([step for step, _ in series[0]], dtype=float)
    values = np.array(
        [np.interp(steps, [s for s, _ in one], [v for _, v in one]) for one in series]
    )
    return steps, values.mean(axis=0), values.std(axis=0)


def plot_scenario(
    scenario: str,
    results: Sequence[Mapping[str, Any]],
    published: Mapping[Key, PublishedEntry],
    path: Path,
) -> Path | None:
    """Write the scenario's figure to ``path`` (module doc); ``None`` when nothing to plot."""
    spec = get_scenario(scenario)
    metric = spec.metric(spec.rank_by)
    groups = {
        options: [r for r in group if has_numbers(r)]
        for options, group in group_by_options(
            r for r in results if r["scenario"] == scenario
        ).items()
    }
    groups = {k: v for k, v in groups.items() if v}
    if not groups:
        return None
    with_curves = any(_has_curve(r, metric.name) for group in groups.values() for r in group)
    plt = _pyplot()
    ticker = _ticker()
    rows = 2 if with_curves else 1
    height = max(2.2, 0.45 * max(len(g) for g in groups.values()) + 1.6)
    fig, axes = plt.subplots(
        rows,
        len(groups),
        figsize=(4.6 * len(groups), height + (2.6 if with_curves else 0.0)),
        squeeze=False,
    )
    for column, (options, group) in enumerate(groups.items()):
        ax = axes[0][column]
        labels = [r["method"] for r in group]
        means = np.array([r["mean"][metric.name] for r in group])
        cis = np.array(
            [r.get("ci", {}).get(metric.name, [m, m]) for r, m in zip(group, means, strict=True)]
        )
        y = np.arange(len(group))[::-1]
        ax.errorbar(
            means,
            y,
            xerr=[means - cis[:, 0], cis[:, 1] - means],
            fmt="o",
            capsize=4,
            color="tab:blue",
            label="ours (mean, 95% CI)",
        )
        paper = [published.get((r["method"], scenario, metric.name)) for r in group]
        marks = [(e.value, yy) for e, yy in zip(paper, y, strict=True) if e is not None]
        if marks:
            ax.plot(*zip(*marks, strict=True), "x", color="tab:red", ms=8, label="paper")
        ax.set_yticks(y, labels)
        ax.set_ylim(-0.6, len(group) - 0.4)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(nbins=4))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:{metric.fmt}}"))
        ax.margins(x=0.08)
        ax.set_xlabel(f"{metric.label} ({metric.unit})" if metric.unit else metric.label)
        ax.set_title(f"{scenario} · {options}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        if with_curves:
            _plot_curves(axes[1][column], group, metric.name, metric.label)
    legend: dict[str, Any] = {}
    for ax in axes[0]:
        for handle, name in zip(*ax.get_legend_handles_labels(), strict=True):
            legend.setdefault(name, handle)
    fig.legend(
        list(legend.values()), list(legend), loc="lower center", ncol=2, fontsize=8, frameon=False
    )
    fig.tight_layout(rect=(0, 0.1 if not with_curves else 0.05, 1, 1))
    return _save(plt, fig, path)


def _save(plt: Any, fig: Any, path: Path) -> Path:
    """Save ``fig`` as PNG to a temporary file next to ``path``, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        fig.savefig(tmp, dpi=DPI, format="png", metadata={"Software": None})
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        tmp.unlink(missing_ok=True)
    return path


def _plot_curves(ax: Any, group: Sequence[Mapping[str, Any]], metric: str, label: str) -> None:
    for result in group:
        stats = _curve_stats(result.get("curves") or {}, metric)
        if stats is None:  # no curve, or curves of other keys only
            continue
        steps, mean, std = stats
        (line,) = ax.plot(steps, mean, label=result["method"])
        ax.fill_between(steps, mean - std, mean + std, color=line.get_color(), alpha=0.2)
    ax.set_xlabel("training steps")
    ax.set_ylabel(label)
    ax.set_title("learning curves (mean ± std over seeds)", fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)


def hex_cell_vertices(rows: int, cols: int) -> np.ndarray:
    """(rows * cols, 6, 2) float64 corners of the cells of a ``rows x cols``
    :class:`~alloc_envs.core.hexgrid.HexGrid` (cell id order; flat-topped hexagons of unit
    circumradius around its ``centres``; y grows southwards)."""
    angles = np.deg2rad(60.0 * np.arange(6))
    corners = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return HexGrid(rows, cols).centres[:, None, :] + corners[None]


def plot_groups(maps: Sequence[Mapping[str, Any]], title: str, path: Path) -> Path:
    """Write a group-evolution map (module doc) of the logged ``maps`` to ``path``. A map's
    ``shape`` (rows, columns) is that of Ride-Hailing's hexagonal grid, agent i on cell i."""
    from matplotlib.collections import PolyCollection
    from matplotlib.patches import Patch

    plt = _pyplot()
    picks = sorted({0, len(maps) // 2, len(maps) - 1})
    n_groups = 1 + max(max(m["assignment"]) for m in maps)
    fig, axes = plt.subplots(1, len(picks), figsize=(2.8 * len(picks), 3.0), squeeze=False)
    cmap = plt.get_cmap("tab10" if n_groups <= 10 else "tab20", n_groups)
    for ax, index in zip(axes[0], picks, strict=True):
        snapshot = maps[index]
        values = np.asarray(snapshot["assignment"])
        if snapshot.get("shape"):
            rows, cols = snapshot["shape"]
            cells = PolyCollection(
                hex_cell_vertices(rows, cols), facecolors=cmap(values), edgecolors="white"
            )
            ax.add_collection(cells)
            ax.autoscale_view()
            ax.set_aspect("equal")
            ax.invert_yaxis()
        else:
            ax.imshow(values.reshape(1, -1), cmap=cmap, vmin=-0.5, vmax=n_groups - 0.5)
        ax.set_title(f"step {snapshot['step']:,}", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    handles = [Patch(color=cmap(m), label=f"group {m}") for m in range(n_groups)]
    fig.legend(handles=handles, loc="lower center", ncol=min(n_groups, 10), fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0.0, 0.08, 1.0, 1.0))
    return _save(plt, fig, path)


def plot_group_counts(
    scenario: str, results: Sequence[Mapping[str, Any]], path: Path
) -> Path | None:
    """Write the metric-vs-M figure (module doc) of ``scenario`` to ``path``; ``None`` when no
    algorithm has results for two or more values of M (per option set, the first one's)."""
    from alloc_bench.learners import dyps_group_count

    spec = get_scenario(scenario)
    metric = spec.metric(spec.rank_by)
    lines: dict[str, list[tuple[int, float, list[float]]]] = {}
    for options, group in group_by_options(r for r in results if r["scenario"] == scenario).items():
        for result in group:
            count = dyps_group_count(result["method"])
            if count is None or not has_numbers(result):
                continue
            mean = result["mean"][metric.name]
            ci = result.get("ci", {}).get(metric.name, [mean, mean])
            label = f"DyPS+{count[0]}" + ("" if options == "defaults" else f" · {options}")
            lines.setdefault(label, []).append((count[1], mean, ci))
    lines = {label: sorted(points) for label, points in lines.items() if len(points) >= 2}
    if not lines:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    for label, points in lines.items():
        m = np.array([p[0] for p in points])
        mean = np.array([p[1] for p in points])
        ci = np.array([p[2] for p in points])
        ax.errorbar(
            m, mean, yerr=[mean - ci[:, 0], ci[:, 1] - mean], fmt="o-", capsize=4, label=label
        )
    ax.set_xlabel("number of groups M")
    ax.set_ylabel(f"{metric.label} ({metric.unit})" if metric.unit else metric.label)
    ax.set_title(f"{scenario}: {metric.label} vs M (mean, 95% CI)", fontsize=10)
    ax.xaxis.set_major_locator(_ticker().MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _save(plt, fig, path)
