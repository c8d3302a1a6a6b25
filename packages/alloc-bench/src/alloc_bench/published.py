"""Published numbers: tables transcribed from papers, shipped as TOML in ``published/``.

File format (one file per paper; ``id`` + table key give the reference ``"dyps-kdd24/table7"``)::

    id = "dyps-kdd24"
    paper = "DyPS: Dynamic Parameter Sharing in ..."
    venue = "KDD 2024"
    url = "https://..."                      # optional: the paper
    code = "https://..."                     # optional: the authors' code

    [tables.table7]
    label = "Table 7"                        # optional: how the paper names it (default: key)
    caption = "Results of rule-based methods in ride-hailing scenario"
    source = "papers/000_....txt, appendix A.2, transcribed by hand"   # optional: where from
    note = "No standard deviation is published for this table."     # optional
    layout = "methods-as-rows"               # optional; "methods-as-columns" for tables whose
                                             # rows are scenarios (TIRL's EDRP table)
    rows = { greedy = "Greedy" }             # optional: our method name -> the paper's row label
    columns = { "ride-hailing-1" = "Ride-Hailing (1)" }   # optional: scenario -> column label
    metrics = { gmv = "GMV" }                # optional: metric -> the paper's metric label
    formats = { gmv = ",.0f", orr = ".2f" }  # optional: how to print the published values
                                             # (Python format specs; keeps the paper's digits)
    entries = [
      # row (method), column (scenario + metric), the published value and, if given, its std
      { method = "greedy", scenario = "ride-hailing-1", metric = "gmv", value = 220770 },
      { method = "PS+MAPPO", scenario = "ride-hailing-2", metric = "gmv", value = 1.0, std = 0.1 },
      { method = "x", scenario = "y", metric = "z", value = 2, note = "a remark on this cell" },
    ]

Values are in the unit of the benchmark's metric (GMV in the paper's price unit, ORR a fraction).
Method and scenario names are the benchmark's; they may name things not implemented yet (such
names become known to suites, see :mod:`alloc_bench.availability`). A table may have no entries
when its ``note`` says why (results published only as a figure); its ``rows``, ``columns`` and
``metrics`` then give its layout.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from alloc_bench.errors import BenchError

_FILE_KEYS = {"id", "paper", "venue", "url", "code", "tables"}
_TABLE_KEYS = {
    "label",
    "caption",
    "source",
    "note",
    "layout",
    "rows",
    "columns",
    "metrics",
    "formats",
    "entries",
}
_ENTRY_KEYS = {"method", "scenario", "metric", "value", "std", "note"}
#: Table layouts: which of methods and scenarios are the rows.
LAYOUTS = ("methods-as-rows", "methods-as-columns")


@dataclass(frozen=True)
class PublishedEntry:
    """One published number: ``value`` (± ``std`` when published) of ``metric`` for
    ``method`` on ``scenario``, from table ``table`` (``"dyps-kdd24/table7"``)."""

    table: str
    method: str
    scenario: str
    metric: str
    value: float
    std: float | None = None
    note: str = ""


@dataclass(frozen=True)
class PublishedTable:
    """A transcribed table with its source."""

    ref: str
    paper: str
    venue: str
    label: str
    caption: str
    note: str
    url: str
    code: str
    rows: dict[str, str]
    columns: dict[str, str]
    entries: tuple[PublishedEntry, ...]
    metrics: dict[str, str] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    layout: str = "methods-as-rows"
    transcribed_from: str = ""

    def source(self) -> str:
        """``'paper' (venue), caption`` for citing under a leaderboard."""
        return f'"{self.paper}" ({self.venue}), {self.label}: "{self.caption}"'

    def methods(self) -> list[str]:
        """The table's methods in the paper's order (``rows`` first, then entry order)."""
        return list(dict.fromkeys([*self.rows, *(e.method for e in self.entries)]))

    def scenarios(self) -> list[str]:
        """The table's scenarios in the paper's order."""
        return list(dict.fromkeys(s for s, _ in self.cells()))

    def cells(self) -> list[tuple[str, str]]:
        """The table's ``(scenario, metric)`` columns in the paper's order."""
        cells = list(dict.fromkeys((e.scenario, e.metric) for e in self.entries))
        if not cells:
            cells = [(s, m) for s in self.columns for m in self.metrics]
        return cells

    def entry(self, method: str, scenario: str, metric: str) -> PublishedEntry | None:
        """The published number of one cell, or ``None``."""
        for entry in self.entries:
            if (entry.method, entry.scenario, entry.metric) == (method, scenario, metric):
                return entry
        return None


def parse_published(text: str, source: str) -> dict[str, PublishedTable]:
    """The tables of one published-numbers TOML file, by reference (``"<id>/<table>"``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"published numbers {source}: invalid TOML: {exc}") from None
    where = f"published numbers {source}"
    _check_keys(data, _FILE_KEYS, where)
    for key in ("id", "paper", "venue"):
        if not isinstance(data.get(key), str) or not data[key]:
            raise BenchError(f"{where}: {key!r} must be a non-empty string")
    tables = data.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise BenchError(f"{where}: needs at least one [tables.<name>] table")
    out: dict[str, PublishedTable] = {}
    for key, table in tables.items():
        ref = f"{data['id']}/{key}"
        out[ref] = _parse_table(ref, table, data, f"{where}: tables.{key}")
    return out


def _parse_table(ref: str, table: Any, data: dict[str, Any], where: str) -> PublishedTable:
    if not isinstance(table, dict):
        raise BenchError(f"{where}: must be a table")
    _check_keys(table, _TABLE_KEYS, where)
    if not isinstance(table.get("caption"), str):
        raise BenchError(f"{where}: 'caption' must be a string")
    entries: list[PublishedEntry] = []
    seen: set[tuple[str, str, str]] = set()
    raw_entries = table.get("entries")
    if not isinstance(raw_entries, list) or (not raw_entries and not table.get("note")):
        raise BenchError(
            f"{where}: 'entries' must be a non-empty list (or empty, with a 'note' saying why)"
        )
    layout = table.get("layout", LAYOUTS[0])
    if layout not in LAYOUTS:
        raise BenchError(f"{where}: layout must be one of {list(LAYOUTS)}, got {layout!r}")
    labels = {}
    for key in ("rows", "columns", "metrics", "formats"):
        value = table.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise BenchError(f"{where}: {key!r} must be a table of strings")
        labels[key] = dict(value)
    for metric, spec in labels["formats"].items():
        try:
            format(1.5, spec)
        except ValueError:
            raise BenchError(f"{where}: formats.{metric} {spec!r} is not a format spec") from None
    if not raw_entries and not (labels["rows"] and labels["columns"] and labels["metrics"]):
        raise BenchError(f"{where}: a table without entries needs rows, columns and metrics")
    for i, raw in enumerate(raw_entries):
        entry = _parse_entry(ref, raw, f"{where}: entries[{i}]")
        cell = (entry.method, entry.scenario, entry.metric)
        if cell in seen:
            raise BenchError(f"{where}: entries[{i}] repeats {cell}")
        seen.add(cell)
        entries.append(entry)
    return PublishedTable(
        ref=ref,
        paper=data["paper"],
        venue=data["venue"],
        label=str(table.get("label", ref.split("/")[-1])),
        caption=table["caption"],
        note=str(table.get("note", "")),
        url=str(data.get("url", "")),
        code=str(data.get("code", "")),
        rows=labels["rows"],
        columns=labels["columns"],
        entries=tuple(entries),
        metrics=labels["metrics"],
        formats=labels["formats"],
        layout=layout,
        transcribed_from=str(table.get("source", "")),
    )


def _parse_entry(ref: str, raw: Any, where: str) -> PublishedEntry:
    if not isinstance(raw, dict):
        raise BenchError(f"{where}: must be a table {{ method, scenario, metric, value }}")
    _check_keys(raw, _ENTRY_KEYS, where)
    for key in ("method", "scenario", "metric"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise BenchError(f"{where}: {key!r} must be a non-empty string")
    value = _number(raw.get("value"), f"{where}: value")
    std = _number(raw["std"], f"{where}: std") if "std" in raw else None
    if std is not None and std < 0:
        raise BenchError(f"{where}: std must be >= 0, got {std}")
    note = raw.get("note", "")
    if not isinstance(note, str):
        raise BenchError(f"{where}: note must be a string")
    return PublishedEntry(ref, raw["method"], raw["scenario"], raw["metric"], value, std, note)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BenchError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BenchError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


@cache
def load_published_tables() -> dict[str, PublishedTable]:
    """Every table shipped in the package's ``published/`` folder, by reference."""
    folder = resources.files("alloc_bench").joinpath("published")
    out: dict[str, PublishedTable] = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".toml"):
            continue
        for ref, table in parse_published(entry.read_text(encoding="utf-8"), entry.name).items():
            if ref in out:
                raise BenchError(f"published table {ref!r} is defined twice")
            out[ref] = table
    return out


def get_tables(refs: Iterable[str]) -> list[PublishedTable]:
    """The shipped tables named by ``refs`` (``"dyps-kdd24/table7"``), in order."""
    tables = load_published_tables()
    out = []
    for ref in refs:
        if ref not in tables:
            raise BenchError(f"unknown published table {ref!r}; known: {', '.join(sorted(tables))}")
        out.append(tables[ref])
    return out
