"""Suites: TOML files that list runs (scenarios x methods x seeds x episodes x options).

File format (``suites/<name>.toml`` in this package, or any path)::

    name = "smoke"                          # defaults to the file name without .toml
    description = "one line"
    compare = ["dyps-kdd24/table7"]         # published tables to set the results against

    [[runs]]                                # one block = the product of its lists
    scenarios = ["ride-hailing-1", "ride-hailing-2"]
    methods = ["greedy", "nearest", "random"]
    seeds = [0, 1, 2, 3, 4]                 # or a string such as "0-4"
    episodes = 1                            # optional, default 1
    options = { demand = "stochastic" }     # optional environment overrides

Names are checked when the file is loaded (unknown scenario, method or compare reference, bad
seeds, unknown keys, a run listed twice); option values are checked by the environment when the
run starts.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from alloc_bench.errors import BenchError
from alloc_bench.evaluate import check_method
from alloc_bench.parsing import check_seeds, format_options, format_seeds, parse_seeds
from alloc_bench.published import load_published_tables
from alloc_bench.scenarios import get_scenario

_SUITE_KEYS = {"name", "description", "compare", "runs"}
_RUN_KEYS = {"scenarios", "methods", "seeds", "episodes", "options"}


@dataclass(frozen=True)
class RunSpec:
    """One evaluation: the arguments of :func:`alloc_bench.evaluate.evaluate`."""

    scenario: str
    method: str
    seeds: tuple[int, ...]
    episodes: int = 1
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str, str]:
        """``(scenario, method, options text)``: what identifies a row of a leaderboard."""
        return (self.scenario, self.method, format_options(self.options))

    def describe(self) -> str:
        """One line: ``ride-hailing-1 greedy [demand=reference] seeds 0-4 x1 episode``."""
        return (
            f"{self.scenario} {self.method} [{format_options(self.options)}] "
            f"seeds {format_seeds(self.seeds)} x{self.episodes} episode"
            + ("s" if self.episodes != 1 else "")
        )


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its runs in file order (scenario, then method, within a block)."""

    name: str
    description: str
    runs: tuple[RunSpec, ...]
    compare: tuple[str, ...] = ()
    source: str = ""


def _suite_dir() -> Any:
    return resources.files("alloc_bench").joinpath("suites")


def list_suites() -> dict[str, str]:
    """Suites shipped with the package: ``{name: description}``, sorted by name."""
    out: dict[str, str] = {}
    for entry in sorted(_suite_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            suite = parse_suite(entry.read_text(encoding="utf-8"), entry.name)
            out[suite.name] = suite.description
    return out


def load_suite(name: str) -> Suite:
    """The shipped suite called ``name``, or a :class:`BenchError` listing the known ones."""
    entry = _suite_dir().joinpath(f"{name}.toml")
    if not name or "/" in name or "\\" in name or not entry.is_file():
        known = ", ".join(list_suites())
        raise BenchError(f"unknown suite {name!r}; known suites: {known}")
    return parse_suite(entry.read_text(encoding="utf-8"), f"{name}.toml")


def load_suite_file(path: str | Path) -> Suite:
    """The suite in the TOML file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"cannot read suite file {str(path)!r}: {exc.strerror}") from None
    return parse_suite(text, str(path))


def parse_suite(text: str, source: str) -> Suite:
    """Parse and check suite TOML ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"suite {source}: invalid TOML: {exc}") from None
    _check_keys(data, _SUITE_KEYS, f"suite {source}")
    default_name = Path(source).name.removesuffix(".toml")
    name = _typed(data.get("name", default_name), str, f"suite {source}: name")
    description = _typed(data.get("description", ""), str, f"suite {source}: description")
    compare = tuple(_str_list(data.get("compare", []), f"suite {source}: compare"))
    known_tables = load_published_tables()
    for ref in compare:
        if ref not in known_tables:
            raise BenchError(
                f"suite {source}: unknown published table {ref!r}; "
                f"known: {', '.join(sorted(known_tables))}"
            )
    blocks = data.get("runs", [])
    if not isinstance(blocks, list) or not blocks:
        raise BenchError(f"suite {source}: needs at least one [[runs]] block")
    runs: list[RunSpec] = []
    seen: set[tuple[str, str, str]] = set()
    for i, block in enumerate(blocks):
        where = f"suite {source}: runs[{i}]"
        if not isinstance(block, dict):
            raise BenchError(f"{where}: must be a table")
        for run in _expand(block, where):
            if run.key in seen:
                raise BenchError(f"{where}: run {run.describe()!r} is listed twice")
            seen.add(run.key)
            runs.append(run)
    return Suite(name, description, tuple(runs), compare, source)


def _expand(block: dict[str, Any], where: str) -> list[RunSpec]:
    _check_keys(block, _RUN_KEYS, where)
    for required in ("scenarios", "methods", "seeds"):
        if required not in block:
            raise BenchError(f"{where}: missing {required!r}")
    scenarios = _str_list(block["scenarios"], f"{where}: scenarios", nonempty=True)
    methods = _str_list(block["methods"], f"{where}: methods", nonempty=True)
    try:
        for scenario in scenarios:
            for method in methods:
                check_method(method, get_scenario(scenario))
    except BenchError as exc:
        raise BenchError(f"{where}: {exc}") from None
    raw_seeds = block["seeds"]
    try:
        if isinstance(raw_seeds, str):
            seeds = parse_seeds(raw_seeds)
        elif isinstance(raw_seeds, list):
            seeds = check_seeds(raw_seeds)
        else:
            raise BenchError(f"bad seeds {raw_seeds!r}: use a list of ints or a string like '0-4'")
    except BenchError as exc:
        raise BenchError(f"{where}: {exc}") from None
    episodes = block.get("episodes", 1)
    if isinstance(episodes, bool) or not isinstance(episodes, int) or episodes < 1:
        raise BenchError(f"{where}: episodes must be a positive integer, got {episodes!r}")
    options = block.get("options", {})
    if not isinstance(options, dict):
        raise BenchError(f'{where}: options must be a table, e.g. {{ demand = "reference" }}')
    return [
        RunSpec(scenario, method, tuple(seeds), episodes, dict(options))
        for scenario, method in itertools.product(scenarios, methods)
    ]


def _check_keys(data: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BenchError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(allowed)}")


def _typed(value: Any, kind: type, where: str) -> Any:
    if not isinstance(value, kind):
        raise BenchError(f"{where} must be a {kind.__name__}, got {value!r}")
    return value


def _str_list(value: Any, where: str, nonempty: bool = False) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BenchError(f"{where} must be a list of strings, got {value!r}")
    if nonempty and not value:
        raise BenchError(f"{where} must not be empty")
    if len(set(value)) != len(value):
        raise BenchError(f"{where} lists a name twice: {value!r}")
    return list(value)
