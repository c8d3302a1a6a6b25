"""Suites: TOML files that list runs (scenarios x methods x seeds x budget x options).

File format (``suites/<name>.toml`` in this package, or any path)::

    name = "smoke"                          # defaults to the file name without .toml
    description = "one line"
    compare = ["dyps-kdd24/table7"]         # published tables to set the results against
    include = ["paper-table2"]              # optional: shipped suites whose runs (and compare
                                            # lists) are added to this one's

    [[runs]]                                # one block = the product of its lists
    scenarios = ["ride-hailing-1", "ride-hailing-2"]
    methods = ["greedy", "nearest", "random"]
    seeds = [0, 1, 2, 3, 4]                 # or a string such as "0-4"
    train_steps = 30_000                    # optional, default 0; rule-based methods ignore it
    eval_episodes = 1                       # optional, default 1 (``episodes`` is an alias)
    options = { demand = "stochastic" }     # optional environment overrides

Names are checked when the file is loaded: a scenario or method must be registered or named by a
shipped published table (a paper's scenario or method that does not exist yet, reported as "not
implemented" when the suite runs); anything else is a typo and an error, as are bad seeds,
unknown keys and a run listed twice with different seeds or budget. Option values are checked by
the environment before the runs start.
"""

from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from alloc_bench.availability import Availability, availability, check_known
from alloc_bench.config import Budget, RunConfig
from alloc_bench.errors import BenchError
from alloc_bench.methods import trains
from alloc_bench.parsing import check_seeds, format_options, format_seeds, parse_seeds
from alloc_bench.published import load_published_tables

_SUITE_KEYS = {"name", "description", "compare", "include", "runs"}
_RUN_KEYS = {
    "scenarios",
    "methods",
    "seeds",
    "episodes",
    "eval_episodes",
    "train_steps",
    "options",
}


@dataclass(frozen=True)
class RunSpec:
    """One leaderboard cell: a method on a scenario with options, over seeds, with a budget.

    Each seed is one run (:meth:`configs`). ``budget`` is the effective one: rule-based methods
    have ``train_steps == 0`` whatever the suite says (they do not train).
    """

    scenario: str
    method: str
    seeds: tuple[int, ...]
    options: dict[str, Any] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)

    @property
    def episodes(self) -> int:
        """Evaluation episodes per seed."""
        return self.budget.eval_episodes

    @property
    def key(self) -> tuple[str, str, str]:
        """``(scenario, method, options text)``: what identifies a row of a leaderboard."""
        return (self.scenario, self.method, format_options(self.options))

    def configs(self) -> list[RunConfig]:
        """One :class:`RunConfig` per seed, in seed order."""
        return [
            RunConfig(self.scenario, self.method, seed, dict(self.options), self.budget)
            for seed in self.seeds
        ]

    def availability(self) -> Availability:
        """Whether this cell can run now (see :func:`alloc_bench.availability.availability`)."""
        return availability(self.scenario, self.method)

    def describe(self) -> str:
        """One line: ``ride-hailing-1 greedy [demand=reference] seeds 0-4, 1 eval episode``."""
        return (
            f"{self.scenario} {self.method} [{format_options(self.options)}] "
            f"seeds {format_seeds(self.seeds)}, {self.budget.describe()}"
        )


@dataclass(frozen=True)
class Suite:
    """A loaded suite: its runs in file order (scenario, then method, within a block; included
    suites' runs first)."""

    name: str
    description: str
    runs: tuple[RunSpec, ...]
    compare: tuple[str, ...] = ()
    source: str = ""

    def configs(self) -> list[RunConfig]:
        """Every run of the suite (each spec's seeds), in order."""
        return [config for spec in self.runs for config in spec.configs()]


def _suite_dir() -> Any:
    return resources.files("alloc_bench").joinpath("suites")


def list_suites() -> dict[str, str]:
    """Suites shipped with the package: ``{name: description}``, sorted by name."""
    out: dict[str, str] = {}
    for entry in sorted(_suite_dir().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            suite = parse_suite(entry.read_text(encoding="utf-8"), entry.name)
            out[suite.name] = suite.description
    return dict(sorted(out.items()))


def load_suite(name: str) -> Suite:
    """The shipped suite called ``name``, or a :class:`BenchError` listing the known ones."""
    return _load_shipped(name, ())


def _load_shipped(name: str, stack: tuple[str, ...]) -> Suite:
    entry = _suite_dir().joinpath(f"{name}.toml")
    if not name or "/" in name or "\\" in name or not entry.is_file():
        known = ", ".join(list_suites())
        raise BenchError(f"unknown suite {name!r}; known suites: {known}")
    return parse_suite(entry.read_text(encoding="utf-8"), f"{name}.toml", stack)


def load_suite_file(path: str | Path) -> Suite:
    """The suite in the TOML file at ``path``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BenchError(f"cannot read suite file {str(path)!r}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - data.rfind(b"\n", 0, exc.start)
        raise BenchError(
            f"suite {str(path)!r}, line {line}, byte column {column}: bytes that are not UTF-8 "
            "text (TOML files are UTF-8); save the file as UTF-8"
        ) from None
    return parse_suite(text, str(path))


def parse_suite(text: str, source: str, _stack: tuple[str, ...] = ()) -> Suite:
    """Parse and check suite TOML ``text``; ``source`` names it in error messages."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BenchError(f"suite {source}: invalid TOML: {exc}") from None
    _check_keys(data, _SUITE_KEYS, f"suite {source}")
    default_name = Path(source).name.removesuffix(".toml")
    name = _typed(data.get("name", default_name), str, f"suite {source}: name")
    description = _typed(data.get("description", ""), str, f"suite {source}: description")
    compare = _str_list(data.get("compare", []), f"suite {source}: compare")
    known_tables = load_published_tables()
    for ref in compare:
        if ref not in known_tables:
            raise BenchError(
                f"suite {source}: unknown published table {ref!r}; "
                f"known: {', '.join(sorted(known_tables))}"
            )
    runs: list[RunSpec] = []
    seen: dict[tuple[str, str, str], RunSpec] = {}

    def add(run: RunSpec, where: str) -> None:
        if run.key in seen:
            if seen[run.key] == run:
                return  # the same cell from two included tables: run it once
            raise BenchError(f"{where}: run {run.describe()!r} is listed twice")
        seen[run.key] = run
        runs.append(run)

    for included in _str_list(data.get("include", []), f"suite {source}: include"):
        if included in _stack or included == default_name:
            raise BenchError(f"suite {source}: include cycle through {included!r}")
        sub = _load_shipped(included, (*_stack, default_name))
        compare += [ref for ref in sub.compare if ref not in compare]
        for run in sub.runs:
            add(run, f"suite {source}: include {included!r}")
    blocks = data.get("runs", [])
    if not isinstance(blocks, list) or (not blocks and not runs):
        raise BenchError(f"suite {source}: needs at least one [[runs]] block or an include")
    for i, block in enumerate(blocks):
        where = f"suite {source}: runs[{i}]"
        if not isinstance(block, dict):
            raise BenchError(f"{where}: must be a table")
        for run in _expand(block, where):
            add(run, where)
    return Suite(name, description, tuple(runs), tuple(compare), source)


def _expand(block: dict[str, Any], where: str) -> list[RunSpec]:
    _check_keys(block, _RUN_KEYS, where)
    for required in ("scenarios", "methods", "seeds"):
        if required not in block:
            raise BenchError(f"{where}: missing {required!r}")
    scenarios = _str_list(block["scenarios"], f"{where}: scenarios", nonempty=True)
    methods = _str_list(block["methods"], f"{where}: methods", nonempty=True)
    try:
        for scenario, method in itertools.product(scenarios, methods):
            check_known(scenario, method)
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
        if "episodes" in block and "eval_episodes" in block:
            raise BenchError("give eval_episodes or its alias episodes, not both")
        episodes = block.get("eval_episodes", block.get("episodes", 1))
        budget = Budget(block.get("train_steps", 0), episodes)
    except BenchError as exc:
        raise BenchError(f"{where}: {exc}") from None
    options = block.get("options", {})
    if not isinstance(options, dict):
        raise BenchError(f'{where}: options must be a table, e.g. {{ demand = "reference" }}')
    return [
        RunSpec(scenario, method, tuple(seeds), dict(options), budget.effective(trains(method)))
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
